// Threaded steps (descent/parallel.hpp) at 1e6, 1e7 and 1e8 floats on 1 and 2 threads, against the
// memory bandwidth the same threads reach: a STREAM-like triad a = b + s·c, split over the same
// pool in the same chunks. A step is a stream over its arrays, so the triad's bandwidth is the
// ceiling: a step that reaches it cannot go faster, whatever the thread count.
//
// Rows: triad/<threads>/<n>, triad_in_place/<threads>/<n>, Adam/<threads>/<n>,
// SGD_momentum/<threads>/<n>; and BatchSplit's logistic_gradient/<threads> and
// logistic_train_epoch/<threads> (below). bytes_per_second counts the traffic of a pass (the triad
// 4 arrays with write-allocate, the in-place triad 3, Adam 7: p, m, v read and written, g read;
// SGD with momentum 5), so the figures of a row and of the triads compare directly. Real time, since
// the work is spread over threads.
//
//   build/release/bench/thread_scaling --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <cstdint>
#include <descent/optimizers/adam.hpp>
#include <descent/optimizers/sgd.hpp>
#include <descent/parallel.hpp>
#include <descent/train.hpp>
#include <memory>
#include <vector>

#include "common.hpp"
#include "synthetic_logistic.hpp"

namespace {

constexpr std::int64_t kSizes[] = {1'000'000, 10'000'000, 100'000'000};

descent::ThreadPool& pool(int threads) {
  static descent::ThreadPool one(1), two(2);
  return threads == 1 ? one : two;
}

// in_place = false: STREAM's triad a = b + s·c. Its store to a, which is not read, first fetches
// each line of a (write-allocate), so 4 arrays of traffic are counted. in_place = true: a = a + s·b,
// the pattern of a step (every array written is read first), 3 arrays.
template <bool InPlace>
void triad(benchmark::State& state) {
  const auto threads = int(state.range(0));
  const std::int64_t n = state.range(1);
  Eigen::VectorXf a(n), b(n), c(n);
  bench::random_values(a.data(), n, bench::params_seed + 7, 0.0);
  bench::random_values(b.data(), n, bench::params_seed, 0.0);
  bench::random_values(c.data(), n, bench::grads_seed, bench::grad_floor);
  const float s = InPlace ? 1e-7f : 0.5f;
  descent::ThreadPool& p = pool(threads);
  const descent::detail::ChunkSplit split{n, Eigen::Index(p.size()), descent::detail::parallel_chunk_quantum<float>};
  for (auto _ : state) {
    p.run([&](unsigned part) {
      const Eigen::Index begin = split.begin(part), end = split.begin(part + 1);
      float* out = a.data();
      const float* x = InPlace ? a.data() : b.data();
      const float* y = InPlace ? b.data() : c.data();
      for (Eigen::Index i = begin; i < end; ++i) out[i] = x[i] + s * y[i];
    });
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
  }
  bench::report_step<float>(state, n, InPlace ? 3 : 4);
}

template <class O>
void step(benchmark::State& state, O opt, int arrays) {
  const auto threads = int(state.range(0));
  const std::int64_t n = state.range(1);
  Eigen::VectorXf x(n), g(n);
  bench::random_values(x.data(), n, bench::params_seed, 0.0);
  bench::random_values(g.data(), n, bench::grads_seed, bench::grad_floor);
  // With one thread no scope at all: the default, single-threaded step.
  std::unique_ptr<descent::ParallelSteps> parallel;
  if (threads > 1) parallel = std::make_unique<descent::ParallelSteps>(pool(threads), descent::ParallelStepOptions{.min_size = 1});
  for (auto _ : state) {
    opt.step(x, g);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  bench::report_step<float>(state, n, arrays);
}

void adam(benchmark::State& state) { step(state, descent::Adam<Eigen::VectorXf>({.lr = 1e-3}), 7); }
void sgd_momentum(benchmark::State& state) {
  step(state, descent::SGD<Eigen::VectorXf>({.lr = 1e-3, .momentum = 0.9}), 5);
}

void configure(benchmark::internal::Benchmark* b) {
  for (std::int64_t n : kSizes)
    for (int threads : {1, 2}) b->Args({threads, n});
  b->ArgNames({"threads", "n"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

// BatchSplit on the synthetic logistic regression of driver_overhead and convergence (100k samples,
// 100 features): the gradient of batches of 10k samples cut into 8 pieces, on 1 or 2 threads, and
// an epoch of train with Adam over such batches. The runs are bitwise the same on 1 and 2 threads.
const descent::problems::LogisticRegression<double>& logistic() {
  static const auto problem = bench::synthetic_logistic(100, 100'000, 42, 1e-4);
  return problem;
}

struct SplitLogistic {
  const descent::problems::LogisticRegression<double>* problem;
  descent::BatchSplit<Eigen::VectorXd>* split;
  Eigen::Index size() const { return problem->size(); }
  double operator()(const Eigen::VectorXd& x, descent::Batch batch, Eigen::VectorXd& g) const {
    // Each piece's mean loss and gradient, weighted by its share of the batch: their sum is the
    // batch's mean (the l2 term, in every piece's mean, weighs 1 in all).
    return (*split)(batch, g, [&](descent::Batch piece, Eigen::VectorXd& gp) {
      const double share = double(piece.size()) / double(batch.size());
      if (piece.empty()) return 0.0;
      const double loss = (*problem)(x, piece, gp);
      gp *= share;
      return share * loss;
    });
  }
};

void logistic_gradient(benchmark::State& state) {
  const auto threads = int(state.range(0));
  descent::BatchSplit<Eigen::VectorXd> split(pool(threads));
  const SplitLogistic f{&logistic(), &split};
  std::vector<Eigen::Index> batch(10'000);
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i] = Eigen::Index(i * 7 % 100'000);
  const Eigen::VectorXd x = Eigen::VectorXd::Constant(logistic().dimension(), 0.01);
  Eigen::VectorXd g(x.size());
  for (auto _ : state) benchmark::DoNotOptimize(f(x, batch, g));
}

void logistic_train_epoch(benchmark::State& state) {
  const auto threads = int(state.range(0));
  descent::BatchSplit<Eigen::VectorXd> split(pool(threads));
  const SplitLogistic f{&logistic(), &split};
  for (auto _ : state) {
    Eigen::VectorXd x = Eigen::VectorXd::Zero(logistic().dimension());
    descent::Adam<Eigen::VectorXd> opt({.lr = 1e-2});
    descent::MinibatchSampler sampler(f.size(), {.batch_size = 10'000, .seed = 1});
    benchmark::DoNotOptimize(descent::train(f, x, opt, sampler, {.max_epochs = 1}).iterations);
  }
}

}  // namespace

// The fixed cost of a split: one run() of an empty task, waking the worker and waiting for it.
void pool_run(benchmark::State& state) {
  descent::ThreadPool& p = pool(int(state.range(0)));
  for (auto _ : state) p.run([](unsigned i) { benchmark::DoNotOptimize(i); });
}

BENCHMARK(pool_run)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(logistic_gradient)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(logistic_train_epoch)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(triad<false>)->Name("triad")->Apply(configure);
BENCHMARK(triad<true>)->Name("triad_in_place")->Apply(configure);
BENCHMARK(adam)->Name("Adam")->Apply(configure);
BENCHMARK(sgd_momentum)->Name("SGD_momentum")->Apply(configure);

BENCHMARK_MAIN();
