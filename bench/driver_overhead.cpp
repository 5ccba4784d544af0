// What the drivers cost on top of a hand-written loop.
//
// 1. 2-D Rosenbrock (Eigen::Vector2d) with GradientDescent and with Adam: the fixed cost of a step
//    and of the driver. Three loops per optimizer with the same functor: the update written
//    inline without a library (raw), `loss = f(x, g); opt.step(x, g);` (step_loop), and minimize
//    (its stop checks, finiteness checks and the backup of x on top).
// 2. train on a 100 000 × 100 logistic regression, batches of 256: the sampler and the driver
//    against the user's own minibatch gradient calls on the same batches and the same steps.
// 3. train with a cheap objective, g = x − target, and Adam on n = 1e5 and 1e7 coefficients (float
//    and double): where the step itself is the work, what the driver adds per step (its backup of
//    x, its finiteness checks of the gradient and of x) shows undiluted (issue 15). Each train
//    call runs 100 steps, so its one-time setup (the gradient buffer, the backups) is amortized
//    as in a real run only partly: it is included.
//
// Run: build/release/bench/driver_overhead (see docs/performance.md).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <descent/descent.hpp>
#include <descent/problems/problems.hpp>
#include <type_traits>
#include <vector>

#include "synthetic_logistic.hpp"

namespace {

using V2 = Eigen::Vector2d;

struct Rosenbrock2 {
  double operator()(const V2& p, V2& g) const {
    const double a = 1 - p.x(), b = p.y() - p.x() * p.x();
    g << -2 * a - 400 * p.x() * b, 200 * b;
    return a * a + 100 * b * b;
  }
};

constexpr std::int64_t kRosenbrockSteps = 100000;

void count_rosenbrock_steps(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * kRosenbrockSteps);
  state.counters["ns_per_iteration"] = benchmark::Counter(double(state.iterations() * kRosenbrockSteps),
                                                          benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// The reference: the loop a user writes without any library, the update inline on the Vector2d
// (what ensmallen's GradientDescent and Adam reduce to on Armadillo's fixed-size vectors).
void BM_rosenbrock_raw_gd(benchmark::State& state) {
  const Rosenbrock2 f;
  for (auto _ : state) {
    V2 x(-1.5, 2.0), g;
    const double lr = 1e-4;
    double loss = 0;
    for (std::int64_t i = 0; i < kRosenbrockSteps; ++i) {
      loss = f(x, g);
      x -= lr * g;
    }
    benchmark::DoNotOptimize(loss);
    benchmark::DoNotOptimize(x);
  }
  count_rosenbrock_steps(state);
}

// torch's Adam written inline: the bias corrections by std::pow each step, as torch computes them.
void BM_rosenbrock_raw_adam(benchmark::State& state) {
  const Rosenbrock2 f;
  for (auto _ : state) {
    V2 x(-1.5, 2.0), g, m = V2::Zero(), v = V2::Zero();
    const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double loss = 0;
    for (std::int64_t i = 0; i < kRosenbrockSteps; ++i) {
      loss = f(x, g);
      const double t = double(i + 1);
      const double bc1 = 1.0 - std::pow(b1, t), bc2 = 1.0 - std::pow(b2, t);
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g.cwiseAbs2();
      x.array() -= (lr / bc1) * (m.array() / (v.array().sqrt() / std::sqrt(bc2) + eps));
    }
    benchmark::DoNotOptimize(loss);
    benchmark::DoNotOptimize(x);
  }
  count_rosenbrock_steps(state);
}

template <class Opt>
void BM_rosenbrock_step_loop(benchmark::State& state) {
  const Rosenbrock2 f;
  for (auto _ : state) {
    V2 x(-1.5, 2.0), g;
    Opt opt({.lr = std::is_same_v<Opt, descent::Adam<V2>> ? 1e-3 : 1e-4});
    double loss = 0;
    for (std::int64_t i = 0; i < kRosenbrockSteps; ++i) {
      loss = f(x, g);
      opt.step(x, g);
    }
    benchmark::DoNotOptimize(loss);
    benchmark::DoNotOptimize(x);
  }
  count_rosenbrock_steps(state);
}

template <class Opt>
void BM_rosenbrock_minimize(benchmark::State& state) {
  const Rosenbrock2 f;
  for (auto _ : state) {
    V2 x(-1.5, 2.0);
    Opt opt({.lr = std::is_same_v<Opt, descent::Adam<V2>> ? 1e-3 : 1e-4});
    const auto report = descent::minimize(f, x, opt, {.max_iterations = kRosenbrockSteps, .gradient_tolerance = 0});
    benchmark::DoNotOptimize(report);
    benchmark::DoNotOptimize(x);
  }
  count_rosenbrock_steps(state);
}

BENCHMARK(BM_rosenbrock_raw_gd)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_rosenbrock_step_loop<descent::GradientDescent<V2>>)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_rosenbrock_minimize<descent::GradientDescent<V2>>)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_rosenbrock_raw_adam)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_rosenbrock_step_loop<descent::Adam<V2>>)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_rosenbrock_minimize<descent::Adam<V2>>)->Unit(benchmark::kMillisecond);

// A fixed, seeded synthetic data set (the same as convergence.cpp's logistic_100k).
const descent::problems::LogisticRegression<double>& logistic_problem() {
  static const auto problem = bench::synthetic_logistic(100, 100000, 42, 1e-4);
  return problem;
}

constexpr Eigen::Index kBatch = 256;

// The user's own loop: the same batches, prepared in advance, and the same optimizer.
void BM_logistic_hand_loop(benchmark::State& state) {
  const auto& f = logistic_problem();
  descent::MinibatchSampler sampler(f.size(), {.batch_size = kBatch, .seed = 1});
  const Eigen::Index batches = sampler.batches_per_epoch();
  std::vector<std::vector<Eigen::Index>> epoch;
  for (Eigen::Index b = 0; b < batches; ++b) {
    const auto batch = sampler.next();
    epoch.emplace_back(batch.begin(), batch.end());
  }
  for (auto _ : state) {
    Eigen::VectorXd x = Eigen::VectorXd::Zero(f.dimension()), g(f.dimension());
    descent::SGD<Eigen::VectorXd> opt({.lr = 0.1, .momentum = 0.9});
    double loss = 0;
    for (const auto& batch : epoch) {
      loss = f(x, std::span<const Eigen::Index>(batch), g);
      opt.step(x, g);
    }
    benchmark::DoNotOptimize(loss);
    benchmark::DoNotOptimize(x.data());
  }
  state.SetItemsProcessed(state.iterations() * batches);
}

void BM_logistic_train(benchmark::State& state) {
  const auto& f = logistic_problem();
  descent::MinibatchSampler sampler(f.size(), {.batch_size = kBatch, .seed = 1});
  const Eigen::Index batches = sampler.batches_per_epoch();
  for (auto _ : state) {
    Eigen::VectorXd x = Eigen::VectorXd::Zero(f.dimension());
    descent::SGD<Eigen::VectorXd> opt({.lr = 0.1, .momentum = 0.9});
    const auto report = descent::train(f, x, opt, sampler, {.max_iterations = 0, .max_epochs = 1});
    benchmark::DoNotOptimize(report);
    benchmark::DoNotOptimize(x.data());
  }
  state.SetItemsProcessed(state.iterations() * batches);
}

BENCHMARK(BM_logistic_hand_loop)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK(BM_logistic_train)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// The objective a new user tries first: every batch gives the gradient of ½‖x − target‖².
template <class V>
struct CheapObjective {
  const V& target;
  Eigen::Index size() const { return 1000; }
  double operator()(const V& x, descent::Batch, V& g) const {
    g = x - target;
    return 0.0;
  }
};

constexpr std::int64_t kCheapSteps = 100;

template <class S>
void BM_cheap_hand_loop(benchmark::State& state) {
  using V = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  const auto n = Eigen::Index(state.range(0));
  const V target = V::Constant(n, S(1));
  const CheapObjective<V> f{target};
  descent::MinibatchSampler sampler(f.size(), {.batch_size = 100, .seed = 1});
  V x = V::Zero(n), g(n);
  descent::Adam<V> opt({.lr = 1e-3});
  for (auto _ : state) {
    for (std::int64_t i = 0; i < kCheapSteps; ++i) {
      f(x, sampler.next(), g);
      opt.step(x, g);
    }
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["ms_per_step"] = benchmark::Counter(double(state.iterations() * kCheapSteps) / 1e3,
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

template <class S>
void BM_cheap_train(benchmark::State& state) {
  using V = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  const auto n = Eigen::Index(state.range(0));
  const V target = V::Constant(n, S(1));
  const CheapObjective<V> f{target};
  descent::MinibatchSampler sampler(f.size(), {.batch_size = 100, .seed = 1});
  V x = V::Zero(n);
  descent::Adam<V> opt({.lr = 1e-3});
  for (auto _ : state) {
    const auto report = descent::train(f, x, opt, sampler, {.max_iterations = kCheapSteps, .max_epochs = 0});
    benchmark::DoNotOptimize(report);
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["ms_per_step"] = benchmark::Counter(double(state.iterations() * kCheapSteps) / 1e3,
                                                     benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_cheap_hand_loop<float>)->Arg(100000)->Arg(10000000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cheap_train<float>)->Arg(100000)->Arg(10000000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cheap_hand_loop<double>)->Arg(100000)->Arg(10000000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cheap_train<double>)->Arg(100000)->Arg(10000000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
