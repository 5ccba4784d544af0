// libtorch's optimizers as a reference in step_throughput (built only with -DDESCENT_BENCH_TORCH=ON;
// see docs/performance.md, "libtorch as a peer").
//
// A separate translation unit, linked into the step_throughput executable, so that torch's headers
// (and their compile time and warnings) stay out of step_throughput.cpp. Its benchmarks register
// themselves at static-initialization time, as BENCHMARK(...) does (the macro is a static
// initializer calling RegisterBenchmarkInternal), so step_throughput.cpp needs no change: Google
// Benchmark's registry is global to the executable. They are registered by hand rather than with
// the macro so that every size gets its own name and time unit, exactly like step_throughput's:
//
//   torch/<Variant>/<type>/<n>    torch::optim::<Optimizer>::step() on one parameter tensor of n
//                                 float or double, Variant in SGD_momentum, Adam, Adagrad, RMSProp
//
// Same options as step_throughput's descent/<Variant> and hand/<Variant> (lr = 1e-4, momentum 0.9
// for SGD, torch's defaults otherwise), the same data (parameters uniform in [-1, 1], gradients
// with 0.05 <= |g| <= 1, the same SplitMix64 streams), the same bytes_per_second convention (the
// minimal traffic of the formula: arrays read plus arrays written, once each) and the same
// ns_per_param counter and "min" statistic, so torch/..., descent/... and hand/... compare directly.
//
// The gradient is set once (p.mutable_grad() = g) and stays; the first step (which allocates the
// optimizer's state) is taken before timing starts; the timed loop runs under torch::NoGradGuard.
//
// Threads: at::set_num_threads(1), so that this is a single-thread comparison like descent's step
// (which never spawns threads). Left alone, torch runs its element-wise kernels on an intra-op pool
// sized to the machine's physical cores (OMP_NUM_THREADS overrides that) and splits tensors above
// 32 768 elements across it, which makes large-n steps faster on an idle machine. The default torch
// would have used here is reported in the benchmark context as torch_default_threads.
//
// What torch's C++ step does: torch::optim in libtorch 1.x is op-by-op (no foreach/fused kernels in
// the C++ frontend): Adam is mul_, add_, mul_, addcmul_, sqrt, div, add_, addcdiv_, so several passes
// over memory and two temporaries of n elements per step; that, not slower arithmetic, is most of
// the gap at large n.
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/optim/adagrad.h>
#include <torch/optim/adam.h>
#include <torch/optim/rmsprop.h>
#include <torch/optim/sgd.h>
#include <torch/types.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace {

// The same data as step_throughput.cpp's random_values(n, seed, lo): SplitMix64, random sign,
// lo <= |x| <= 1. Copied rather than shared so that this file needs neither Eigen nor descent.
std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

template <class T>
torch::Tensor random_values(std::int64_t n, std::uint64_t seed, double lo) {
  constexpr auto dtype = std::is_same_v<T, float> ? torch::kFloat32 : torch::kFloat64;
  torch::Tensor x = torch::empty({n}, torch::TensorOptions().dtype(dtype));
  T* data = x.data_ptr<T>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint64_t r = splitmix64(seed);
    const double u = double(r >> 11) * 0x1.0p-53;  // [0, 1)
    const double mag = lo + (1.0 - lo) * u;
    data[i] = T((r & 1) ? -mag : mag);
  }
  return x;
}

constexpr double grad_floor = 0.05;

template <class T>
constexpr const char* type_name() {
  return std::is_same_v<T, float> ? "float" : "double";
}

// The variants: step_throughput's names and array counts, torch's optimizer and options.
struct SGDMomentum {
  static constexpr const char* name = "SGD_momentum";
  static constexpr int arrays = 5;  // read p, g, buf; write p, buf
  static torch::optim::SGD make(std::vector<torch::Tensor> params) {
    return torch::optim::SGD(std::move(params), torch::optim::SGDOptions(1e-4).momentum(0.9));
  }
};

struct Adam {
  static constexpr const char* name = "Adam";
  static constexpr int arrays = 7;  // read p, g, m, v; write p, m, v
  static torch::optim::Adam make(std::vector<torch::Tensor> params) {
    return torch::optim::Adam(std::move(params), torch::optim::AdamOptions(1e-4));
  }
};

struct Adagrad {
  static constexpr const char* name = "Adagrad";
  static constexpr int arrays = 5;  // read p, g, sum; write p, sum
  static torch::optim::Adagrad make(std::vector<torch::Tensor> params) {
    return torch::optim::Adagrad(std::move(params), torch::optim::AdagradOptions(1e-4));
  }
};

struct RMSProp {
  static constexpr const char* name = "RMSProp";
  static constexpr int arrays = 5;  // read p, g, v; write p, v
  static torch::optim::RMSprop make(std::vector<torch::Tensor> params) {
    return torch::optim::RMSprop(std::move(params), torch::optim::RMSpropOptions(1e-4));
  }
};

template <class Case, class T>
void bench_torch(benchmark::State& state) {
  at::set_num_threads(1);  // also set at start-up (below); cheap, and robust to whoever ran before
  const std::int64_t n = state.range(0);
  torch::Tensor p = random_values<T>(n, 1, 0.0).requires_grad_(true);  // a leaf, like a model's parameter
  p.mutable_grad() = random_values<T>(n, 2, grad_floor);               // set once, never changed
  auto opt = Case::make({p});
  torch::NoGradGuard no_grad;
  opt.step();  // the first step allocates and fills the state: not timed
  for (auto _ : state) {
    opt.step();
    benchmark::DoNotOptimize(p.data_ptr());
    benchmark::ClobberMemory();
  }
  if (!torch::isfinite(p).all().item<bool>()) state.SkipWithError("parameters became non-finite");
  state.SetBytesProcessed(std::int64_t(state.iterations()) * n * Case::arrays * std::int64_t(sizeof(T)));
  state.counters["ns_per_param"] =
      benchmark::Counter(double(n) * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// step_throughput.cpp's sizes, time units and "min" statistic.
constexpr std::int64_t sizes[] = {100, 1'000, 10'000, 100'000, 1'000'000, 10'000'000};

benchmark::TimeUnit unit_for(std::int64_t n) {
  if (n <= 10'000) return benchmark::kNanosecond;
  if (n <= 1'000'000) return benchmark::kMicrosecond;
  return benchmark::kMillisecond;
}

template <class Case, class T>
void register_case() {
  const std::string name = std::string("torch/") + Case::name + "/" + type_name<T>();
  for (const std::int64_t n : sizes)
    benchmark::RegisterBenchmark(name.c_str(), bench_torch<Case, T>)
        ->Arg(n)
        ->Unit(unit_for(n))
        ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
}

bool register_all() {
  // Before the first parallel region: what torch would use by default, then one thread.
  benchmark::AddCustomContext("torch_version", TORCH_VERSION);
  benchmark::AddCustomContext("torch_default_threads", std::to_string(at::get_num_threads()));
  at::set_num_threads(1);
  benchmark::AddCustomContext("torch_threads", std::to_string(at::get_num_threads()));
  register_case<SGDMomentum, float>();
  register_case<SGDMomentum, double>();
  register_case<Adam, float>();
  register_case<Adam, double>();
  register_case<Adagrad, float>();
  register_case<Adagrad, double>();
  register_case<RMSProp, float>();
  register_case<RMSProp, double>();
  return true;
}

[[maybe_unused]] const bool registered = register_all();

}  // namespace
