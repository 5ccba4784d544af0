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
// NAdam, RAdam, Adamax, Adadelta, ASGD and Rprop have no torch/ peer: libtorch 1.13's C++ frontend
// (Debian 12's libtorch-dev, what this file builds against) has only SGD, Adam, AdamW, Adagrad,
// RMSprop and LBFGS; they exist only in Python's torch.optim there, whose per-step interpreter and
// dispatch cost would be measured instead of the update's. Newer PyTorch sources add C++ Adadelta,
// Adamax and NAdam: a peer for those is a case here once the build requires that libtorch.
//
// Same options as step_throughput's descent/<Variant> and hand/<Variant> (lr = 1e-4, momentum 0.9
// for SGD, torch's defaults otherwise), and from bench/common.hpp, which step_throughput.cpp uses
// too, the same data (parameters uniform in [-1, 1], gradients with 0.05 <= |g| <= 1, the same
// SplitMix64 streams), sizes, time units, "min" statistic and counters (bytes_per_second: the
// minimal traffic of the formula, arrays read plus arrays written, once each; ns_per_param), so
// torch/..., descent/... and hand/... compare directly.
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

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "common.hpp"

namespace {

// The same data as step_throughput's (bench/common.hpp), written into the tensor's own memory.
template <class T>
torch::Tensor random_values(std::int64_t n, std::uint64_t seed, double lo) {
  constexpr auto dtype = std::is_same_v<T, float> ? torch::kFloat32 : torch::kFloat64;
  torch::Tensor x = torch::empty({n}, torch::TensorOptions().dtype(dtype));
  bench::random_values(x.data_ptr<T>(), n, seed, lo);
  return x;
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
  torch::Tensor p = random_values<T>(n, bench::params_seed, 0.0).requires_grad_(true);  // a leaf, like a parameter
  p.mutable_grad() = random_values<T>(n, bench::grads_seed, bench::grad_floor);         // set once, never changed
  auto opt = Case::make({p});
  torch::NoGradGuard no_grad;
  opt.step();  // the first step allocates and fills the state: not timed
  for (auto _ : state) {
    opt.step();
    benchmark::DoNotOptimize(p.data_ptr());
    benchmark::ClobberMemory();
  }
  if (!torch::isfinite(p).all().item<bool>()) state.SkipWithError("parameters became non-finite");
  bench::report_step<T>(state, n, Case::arrays);
}

template <class Case, class T>
void register_case() {
  const std::string name = std::string("torch/") + Case::name + "/" + bench::type_name<T>();
  for (const std::int64_t n : bench::sizes)
    bench::configure(benchmark::RegisterBenchmark(name.c_str(), bench_torch<Case, T>), n);
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
