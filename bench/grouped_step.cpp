// The cost of parameter groups: Grouped<O>'s step over a Layout of 10 blocks in 2 groups (weights
// with weight decay, biases without, as a real model's) against O's plain step over the same flat
// vector, at n = 1e5 and 1e6 floats and doubles. Issue 8's bar: within 1.10× at 1e6 floats.
//
//     build/release/bench/grouped_step --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// The ratio of the grouped/... and plain/... rows of one optimizer and size is the overhead.

#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <descent/descent.hpp>
#include <string>

#include "common.hpp"

namespace {

template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

/// Five layers W_i (r×c) and b_i (r) whose sizes add up to n exactly: 10 blocks.
descent::Layout ten_blocks(Eigen::Index n) {
  descent::Layout layout;
  const Eigen::Index rows = 40, per_layer = n / 5;
  for (int i = 0; i < 5; ++i) {
    const Eigen::Index cols = (i < 4 ? per_layer : n - 4 * per_layer) / rows - 1;
    layout.add(descent::detail::concat("W", std::to_string(i)), rows, cols);
    const Eigen::Index bias = (i < 4 ? per_layer : n - 4 * per_layer) - rows * cols;
    layout.add(descent::detail::concat("b", std::to_string(i)), bias);
  }
  return layout;
}

template <class T>
struct Data {
  explicit Data(Eigen::Index n) : p(n), g(n) {
    bench::random_values(p.data(), n, bench::params_seed, 0.0);
    bench::random_values(g.data(), n, bench::grads_seed, bench::grad_floor);
  }
  Vec<T> p, g;
};

template <class O>
void run(benchmark::State& state, O& opt, Data<typename O::Scalar>& d) {
  opt.step(d.p, d.g);  // the first step allocates the state: not timed
  for (auto _ : state) {
    opt.step(d.p, d.g);
    benchmark::DoNotOptimize(d.p.data());
    benchmark::ClobberMemory();
  }
  if (!d.p.allFinite()) state.SkipWithError("parameters became non-finite");
  state.SetItemsProcessed(state.iterations() * d.p.size());
}

template <template <class> class Opt, class T>
void plain(benchmark::State& state, typename Opt<Vec<T>>::Options options) {
  Data<T> d(state.range(0));
  Opt<Vec<T>> opt(options);
  run(state, opt, d);
}

template <template <class> class Opt, class T>
void grouped(benchmark::State& state, typename Opt<Vec<T>>::Options options) {
  const Eigen::Index n = state.range(0);
  Data<T> d(n);
  const descent::Layout layout = ten_blocks(n);
  auto biases = options;
  biases.weight_decay = 0.0;
  descent::Grouped<Opt<Vec<T>>> opt({{layout.blocks({"W0", "W1", "W2", "W3", "W4"}), options},
                                     {layout.blocks({"b0", "b1", "b2", "b3", "b4"}), biases}});
  run(state, opt, d);
}

template <template <class> class Opt, class T>
void add(const std::string& name, typename Opt<Vec<T>>::Options options) {
  for (std::int64_t n : {std::int64_t(100'000), std::int64_t(1'000'000)}) {
    const std::string suffix = descent::detail::concat("/", bench::type_name<T>());
    auto* p = benchmark::RegisterBenchmark(descent::detail::concat("plain/", name, suffix).c_str(),
                                           [options](benchmark::State& s) { plain<Opt, T>(s, options); });
    bench::configure(p, n);
    auto* g = benchmark::RegisterBenchmark(descent::detail::concat("grouped/", name, suffix).c_str(),
                                           [options](benchmark::State& s) { grouped<Opt, T>(s, options); });
    bench::configure(g, n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // weight decay 0 in the biases' group only: the weights' kernel differs from the biases'
  add<descent::Adam, float>("Adam", {.lr = 1e-3, .weight_decay = 0.0});
  add<descent::AdamW, float>("AdamW", {.lr = 1e-3});
  add<descent::SGD, float>("SGD_momentum", {.lr = 1e-3, .momentum = 0.9, .weight_decay = 1e-4});
  add<descent::Adam, double>("Adam", {.lr = 1e-3, .weight_decay = 0.0});
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
