// train: epochs and steps, every stop reason that applies, non-finite handling, callbacks.
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <descent/descent.hpp>
#include <descent/train.hpp>
#include <limits>
#include <thread>
#include <vector>

#include "support.hpp"

namespace {

using V = Eigen::VectorXd;

using descent_test::Centroid;
using descent_test::make_centroid;

}  // namespace

TEST_CASE("train: MaxEpochs, with epoch-end callbacks and epoch counting", "[train]") {
  const Centroid f = make_centroid(3, 100);
  V x = V::Zero(3);
  descent::MinibatchSampler sampler(100, {.batch_size = 32, .seed = 7});
  REQUIRE(sampler.batches_per_epoch() == 4);
  std::vector<std::int64_t> epoch_ends;
  std::int64_t steps = 0;
  auto watch = [&](const descent::Progress<V>& p) {
    CHECK(p.stochastic);
    CHECK(std::isnan(p.gradient_norm));
    if (p.end_of_epoch)
      epoch_ends.push_back(p.iteration);
    else
      ++steps;
  };
  descent::SGD<V> opt({.lr = 0.05, .momentum = 0.5});
  const auto r = descent::train(f, x, opt, sampler, {.max_iterations = 0, .max_epochs = 30}, watch);
  CHECK(r.reason == descent::StopReason::MaxEpochs);
  CHECK(r.epochs == 30);
  CHECK(r.iterations == 120);
  CHECK(opt.steps() == 120);
  CHECK(steps == 120);
  CHECK(epoch_ends.size() == 30);
  CHECK(epoch_ends.front() == 4);
  CHECK(std::isnan(r.gradient_norm));
  const V mean = f.a.rowwise().mean();
  CHECK((x - mean).norm() < 0.1);
  CHECK(r.loss > 0.0);
}

TEST_CASE("train: MaxIterations counts steps, and the sampler keeps its position", "[train]") {
  const Centroid f = make_centroid(2, 10);
  V x = V::Zero(2);
  descent::MinibatchSampler sampler(10, {.batch_size = 4});  // 3 batches per epoch
  auto r = descent::train(f, x, descent::Adam<V>({.lr = 0.1}), sampler, {.max_iterations = 5});
  CHECK(r.reason == descent::StopReason::MaxIterations);
  CHECK(r.iterations == 5);
  CHECK(r.epochs == 1);
  CHECK(sampler.epoch() == 1);
  // A second run continues where the sampler stopped: its first epoch ends after one batch.
  r = descent::train(f, x, descent::Adam<V>({.lr = 0.1}), sampler, {.max_iterations = 0, .max_epochs = 1});
  CHECK(r.reason == descent::StopReason::MaxEpochs);
  CHECK(r.iterations == 1);
}

TEST_CASE("train: a temporary sampler and a temporary optimizer", "[train]") {
  const Centroid f = make_centroid(2, 50);
  V x = V::Zero(2);
  const auto r = descent::train(f, x, descent::RMSProp<V>({.lr = 0.01}),
                                descent::MinibatchSampler(50, {.batch_size = 50, .shuffle = false}),
                                {.max_iterations = 0, .max_epochs = 3});
  CHECK(r.epochs == 3);
  CHECK(r.iterations == 3);
}

TEST_CASE("train: LossTolerance compares epoch means", "[train]") {
  const Centroid f = make_centroid(2, 64);
  V x = V::Constant(2, 3.0);
  descent::MinibatchSampler sampler(64, {.batch_size = 64, .shuffle = false});  // full batch: exact
  const auto r = descent::train(f, x, descent::GradientDescent<V>({.lr = 0.5}), sampler,
                                {.max_iterations = 0, .max_epochs = 1000, .loss_tolerance = 1e-10});
  CHECK(r.reason == descent::StopReason::LossTolerance);
  CHECK(r.epochs < 1000);
  CHECK(r.epochs > 2);
}

TEST_CASE("train: TimeLimit", "[train]") {
  const Centroid f = make_centroid(2, 8);
  auto slow = [&](const V& x, descent::Batch batch, V& grad) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return f(x, batch, grad);
  };
  struct Slow {
    decltype(slow)& fn;
    Eigen::Index size() const { return 8; }
    double operator()(const V& x, descent::Batch b, V& g) const { return fn(x, b, g); }
  } objective{slow};
  V x = V::Zero(2);
  descent::MinibatchSampler sampler(8, {.batch_size = 2});
  const auto r = descent::train(objective, x, descent::SGD<V>{}, sampler, {.max_iterations = 0, .time_limit = 0.05});
  CHECK(r.reason == descent::StopReason::TimeLimit);
  CHECK(r.seconds >= 0.05);
}

TEST_CASE("train: a callback can stop at an epoch end", "[train]") {
  const Centroid f = make_centroid(2, 20);
  V x = V::Zero(2);
  descent::MinibatchSampler sampler(20, {.batch_size = 5});
  auto two_epochs = [](const descent::Progress<V>& p) { return !(p.end_of_epoch && p.epoch == 2); };
  descent::History history;
  const auto r = descent::train(f, x, descent::Adam<V>{}, sampler, {}, history, two_epochs);
  CHECK(r.reason == descent::StopReason::Callback);
  CHECK(r.epochs == 2);
  CHECK(r.iterations == 8);
  CHECK(history.steps().size() == 8);
  CHECK(history.epochs().size() == 2);
  CHECK(r.loss == history.epochs().back().loss);
}

TEST_CASE("train: non-finite losses and gradients stop the run", "[train]") {
  struct Poisoned {
    Eigen::Index poisoned_sample;
    Eigen::Index size() const { return 10; }
    double operator()(const V& x, descent::Batch batch, V& grad) const {
      grad = x;
      for (Eigen::Index i : batch)
        if (i == poisoned_sample) grad(0) = std::numeric_limits<double>::quiet_NaN();
      return x.squaredNorm();
    }
  };
  V x = V::Ones(2);
  descent::MinibatchSampler sampler(10, {.batch_size = 1, .shuffle = false});
  const auto r = descent::train(Poisoned{3}, x, descent::GradientDescent<V>({.lr = 0.1}), sampler);
  CHECK(r.reason == descent::StopReason::NonFinite);
  CHECK(r.iterations == 3);  // samples 0, 1, 2 were stepped on; sample 3 was not
  CHECK(x.allFinite());
  // The gradient at x after 3 steps is NaN, so the last iterate where loss, gradient and
  // parameters were all finite is the one before the third step.
  CHECK(x(0) == Approx(std::pow(0.9, 2)));
  CHECK_THAT(r.message, Catch::Contains("gradient coefficient 0 is nan") && Catch::Contains("undone"));
}

TEST_CASE("train: mismatched sampler and invalid criteria throw", "[train]") {
  const Centroid f = make_centroid(2, 10);
  V x = V::Zero(2);
  descent::MinibatchSampler wrong(11, {.batch_size = 2});
  CHECK_THROWS_WITH(descent::train(f, x, descent::Adam<V>{}, wrong), Catch::Contains("11 samples"));
  descent::MinibatchSampler empty(10, {.batch_size = 20, .drop_last = true});
  CHECK_THROWS_WITH(descent::train(f, x, descent::Adam<V>{}, empty), Catch::Contains("no batch"));
  descent::MinibatchSampler ok(10, {.batch_size = 2});
  CHECK_THROWS_WITH(descent::train(f, x, descent::Adam<V>{}, ok, {.max_iterations = 0}),
                    Catch::Contains("every stopping criterion is off"));
}

TEST_CASE("train: EarlyStopping checks at epoch ends and restores the best parameters", "[train][callbacks]") {
  const Centroid f = make_centroid(2, 40);
  V x = V::Constant(2, 5.0);
  // Validation prefers a point the training objective moves away from, so it worsens after a while.
  const V preferred = V::Constant(2, 2.0);
  auto validation = [&](const V& p) { return (p - preferred).squaredNorm(); };
  descent::EarlyStopping<V, decltype(validation)> early(validation, {.patience = 2});
  descent::MinibatchSampler sampler(40, {.batch_size = 10});
  const auto r =
      descent::train(f, x, descent::SGD<V>({.lr = 0.05}), sampler, {.max_iterations = 0, .max_epochs = 500}, early);
  CHECK(r.reason == descent::StopReason::Callback);
  CHECK(early.stopped());
  CHECK(early.validation_history().size() == std::size_t(r.epochs));
  CHECK(x == early.best_params());
  CHECK(validation(x) == early.best_loss());
}
