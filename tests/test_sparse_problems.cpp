// SparseLogisticRegression: its gradient against finite differences (double and float), its loss
// and gradient against LogisticRegression on the densified samples, the sparse minibatch gradient
// against the dense one, training through the sparse train, and the errors for invalid problems
// and calls.
#include <Eigen/SparseCore>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <descent/check_gradient.hpp>
#include <descent/minimize.hpp>
#include <descent/objective.hpp>
#include <descent/optimizers/adagrad.hpp>
#include <descent/optimizers/lbfgs.hpp>
#include <descent/optimizers/sparse_adam.hpp>
#include <descent/problems/problems.hpp>
#include <descent/sampler.hpp>
#include <descent/train.hpp>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "problem_checks.hpp"

namespace {

using descent::check_gradient;
using descent::problems::LogisticRegression;
using descent::problems::SparseLogisticRegression;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using Eigen::VectorXf;
using Options = descent::problems::SparseLogisticRegressionOptions;
using Random = descent::detail::SplitMix64;
using SparseRows = Eigen::SparseMatrix<double, Eigen::RowMajor>;
using descent_test::evaluate;
using descent_test::require_invalid;

struct SparseData {
  SparseRows samples;  // m x d, one sample per row
  VectorXd labels;
};

// m samples over d features, each storing about `density`·d of them (at least one), with labels
// from a noisy linear model so that the classes are not separable. One stored value is an explicit
// zero, which the sparse gradient must list like any other stored feature.
SparseData sparse_data(Index m, Index d, double density, std::uint64_t seed) {
  Random rng(seed);
  std::vector<Eigen::Triplet<double>> entries;
  for (Index i = 0; i < m; ++i) {
    bool any = false;
    for (Index j = 0; j < d; ++j) {
      if (rng.uniform(0.0, 1.0) < density || (!any && j == d - 1)) {
        entries.emplace_back(int(i), int(j), rng.uniform(-2.0, 2.0));
        any = true;
      }
    }
  }
  entries.emplace_back(0, int(d / 2), 0.0);
  SparseData data{SparseRows(m, d), VectorXd(m)};
  data.samples.setFromTriplets(entries.begin(), entries.end());
  VectorXd truth(d);
  for (Index j = 0; j < d; ++j) truth[j] = rng.uniform(-2.0, 2.0);
  const VectorXd z = data.samples * truth;
  for (Index i = 0; i < m; ++i) data.labels[i] = z[i] + rng.uniform(-1.0, 1.0) > 0.1 ? 1.0 : 0.0;
  return data;
}

VectorXd random_point(Index n, Random& rng, double scale) {
  VectorXd x(n);
  for (Index i = 0; i < n; ++i) x[i] = rng.uniform(-scale, scale);
  return x;
}

std::vector<std::vector<Index>> some_batches(Index m) {
  std::vector<Index> all(static_cast<std::size_t>(m));
  std::iota(all.begin(), all.end(), Index(0));
  return {{0}, {m - 1}, {3, 1, 4}, {2, 2, 5, 2}, {m - 1, 0, m / 2, 7, 1, m - 2}, all};
}

const std::vector<Options> kOptions = {Options{}, Options{.l2 = 0.1}, Options{.fit_intercept = false},
                                       Options{.l2 = 0.5, .fit_intercept = false}};

}  // namespace

TEST_CASE("sparse problems: SparseLogisticRegression satisfies the objective concepts", "[sparse_problems]") {
  using Problem = SparseLogisticRegression<>;
  STATIC_REQUIRE(descent::Objective<Problem, VectorXd>);
  STATIC_REQUIRE(descent::StochasticObjective<Problem, VectorXd>);
  // The problem itself stays dense, so that train does not pick the sparse path by accident.
  STATIC_REQUIRE(!descent::SparseStochasticObjective<Problem, VectorXd>);
  STATIC_REQUIRE(descent::SparseStochasticObjective<Problem::SparseBatches, VectorXd>);
  STATIC_REQUIRE(!descent::StochasticObjective<Problem::SparseBatches, VectorXd>);
  STATIC_REQUIRE(descent::SparseStochasticObjective<SparseLogisticRegression<float>::SparseBatches, VectorXf>);
}

TEST_CASE("sparse problems: SparseLogisticRegression gradient by finite differences", "[sparse_problems]") {
  const SparseData data = sparse_data(40, 12, 0.3, 21);
  for (const Options& options : kOptions) {
    INFO("l2 = " << options.l2 << ", fit_intercept = " << options.fit_intercept);
    const SparseLogisticRegression<> problem(data.samples, data.labels, options);
    CHECK(problem.dimension() == (options.fit_intercept ? 13 : 12));
    CHECK(problem.size() == 40);
    CHECK(problem.features() == 12);
    Random rng(22);
    for (int point = 0; point < 4; ++point) {
      const VectorXd x = random_point(problem.dimension(), rng, 2.0);
      const auto full = check_gradient(problem, x);
      INFO("full: " << full.max_relative_error << " at " << full.worst_index);
      CHECK(full.max_relative_error < 1e-6);
      for (const auto& batch : some_batches(problem.size())) {
        const auto check = check_gradient(problem, x, batch);
        INFO("batch of " << batch.size() << ": " << check.max_relative_error);
        CHECK(check.max_relative_error < 1e-6);
      }
    }
  }

  // In float: finite differences with ∛ε ≈ 5e-3 are rough component-wise, not norm-wise.
  const SparseLogisticRegression<float> single(data.samples.cast<float>(), data.labels.cast<float>(), {.l2 = 0.1});
  Random rng(23);
  for (int point = 0; point < 4; ++point) {
    const VectorXf x = random_point(single.dimension(), rng, 1.0).cast<float>();
    const auto check = check_gradient(single, x);
    INFO("float: " << check.max_relative_error << " at " << check.worst_index << ", norm-wise "
                   << check.norm_relative_error);
    CHECK(check.norm_relative_error < 1e-3);
    const std::vector<Index> batch = {5, 1, 5, 30};
    CHECK(check_gradient(single, x, batch).norm_relative_error < 1e-3);
  }
}

TEST_CASE("sparse problems: SparseLogisticRegression equals LogisticRegression on dense samples", "[sparse_problems]") {
  const SparseData data = sparse_data(60, 15, 0.25, 31);
  const MatrixXd dense_columns = MatrixXd(data.samples).transpose();
  for (const Options& options : kOptions) {
    INFO("l2 = " << options.l2 << ", fit_intercept = " << options.fit_intercept);
    const SparseLogisticRegression<> sparse(data.samples, data.labels, options);
    const LogisticRegression<> dense(dense_columns, data.labels,
                                     {.l2 = options.l2, .fit_intercept = options.fit_intercept});
    Random rng(32);
    for (int point = 0; point < 4; ++point) {
      const VectorXd x = random_point(sparse.dimension(), rng, 3.0);
      const auto [fs, gs] = evaluate(sparse, x);
      const auto [fd, gd] = evaluate(dense, x);
      CHECK(std::abs(fs - fd) <= 1e-12 * std::abs(fd));
      CHECK((gs - gd).lpNorm<Eigen::Infinity>() <= 1e-12 * gd.lpNorm<Eigen::Infinity>());
      for (const auto& batch : some_batches(sparse.size())) {
        VectorXd bs(sparse.dimension()), bd(sparse.dimension());
        const double ls = sparse(x, batch, bs);
        const double ld = dense(x, batch, bd);
        CHECK(std::abs(ls - ld) <= 1e-12 * std::abs(ld));
        CHECK((bs - bd).lpNorm<Eigen::Infinity>() <= 1e-12 * bd.lpNorm<Eigen::Infinity>());
      }
      CHECK(sparse.accuracy(x) == dense.accuracy(x));
      CHECK(sparse.predict_proba(x).isApprox(dense.predict_proba(x), 1e-13));
      const VectorXd logits = (dense_columns.transpose() * x.head(15)).array() + (options.fit_intercept ? x[15] : 0.0);
      CHECK(sparse.decision_function(x, data.samples).isApprox(logits, 1e-13));
    }
  }
}

TEST_CASE("sparse problems: SparseLogisticRegression::minimizer and minimize", "[sparse_problems]") {
  const SparseData data = sparse_data(80, 10, 0.4, 35);
  const MatrixXd dense_columns = MatrixXd(data.samples).transpose();
  for (const Options& options : {Options{.l2 = 0.05}, Options{.l2 = 0.2, .fit_intercept = false}}) {
    INFO("l2 = " << options.l2 << ", fit_intercept = " << options.fit_intercept);
    const SparseLogisticRegression<> sparse(data.samples, data.labels, options);
    const LogisticRegression<> dense(dense_columns, data.labels,
                                     {.l2 = options.l2, .fit_intercept = options.fit_intercept});
    const VectorXd best = sparse.minimizer();
    CHECK((best - dense.minimizer()).norm() <= 1e-10 * (1 + best.norm()));
    CHECK(evaluate(sparse, best).second.norm() < 1e-10);
    CHECK(SparseLogisticRegression<float>(data.samples.cast<float>(), data.labels.cast<float>(), options)
              .minimizer()
              .cast<double>()
              .isApprox(best, 1e-5));

    // The full-batch Objective drives minimize to the same point. LBFGS's tolerances are lowered
    // from torch's (1e-7 on max|g|, 1e-9 on g·d and on loss changes), below which a step does not
    // move x, under the driver's 1e-8 on the gradient norm (1e-9 is below what the line search
    // resolves here: the loss then changes by about 1e-18).
    VectorXd x = VectorXd::Zero(sparse.dimension());
    const auto report = descent::minimize(
        sparse, x,
        descent::LBFGS<VectorXd>(
            {.tolerance_grad = 1e-12, .tolerance_change = 1e-20, .line_search = descent::LineSearch::StrongWolfe}),
        {.gradient_tolerance = 1e-8});
    INFO(report.reason << " after " << report.iterations << ": " << report.message);
    CHECK(report.reason == descent::StopReason::GradientTolerance);
    CHECK((x - best).norm() <= 1e-7 * (1 + best.norm()));
  }
  // Unpenalized on separable classes: no minimum, as LogisticRegression says.
  SparseRows separable(4, 2);
  separable.insert(0, 0) = 1.0;
  separable.insert(1, 0) = 2.0;
  separable.insert(2, 1) = 1.0;
  separable.insert(3, 1) = 3.0;
  descent_test::require_throws<std::runtime_error>(
      [&] { SparseLogisticRegression<>(separable, Eigen::Vector4d(1, 1, 0, 0)).minimizer(); },
      "descent::problems::SparseLogisticRegression::minimizer:");
}

TEST_CASE("sparse problems: the sparse minibatch gradient is the dense one on the touched features",
          "[sparse_problems]") {
  const SparseData data = sparse_data(50, 30, 0.08, 41);
  for (const bool intercept : {true, false}) {
    INFO("fit_intercept = " << intercept);
    const SparseLogisticRegression<> problem(data.samples, data.labels, {.fit_intercept = intercept});
    const auto batches = problem.sparse();
    CHECK(batches.size() == 50);
    CHECK(batches.dimension() == problem.dimension());
    Random rng(42);
    Eigen::SparseVector<double> sparse_grad(problem.dimension());
    for (int point = 0; point < 3; ++point) {
      const VectorXd x = random_point(problem.dimension(), rng, 1.5);
      for (const auto& batch : some_batches(problem.size())) {
        INFO("batch of " << batch.size());
        VectorXd dense_grad(problem.dimension());
        const double dense_loss = problem(x, batch, dense_grad);
        const double sparse_loss = batches(x, batch, sparse_grad);
        // The same sums in the same order: equal, not merely close.
        CHECK(sparse_loss == dense_loss);
        CHECK(VectorXd(sparse_grad) == dense_grad);

        // Exactly the stored features of the batch's samples, increasing, then the intercept.
        std::vector<Index> expected;
        for (Index j = 0; j < problem.features(); ++j) {
          bool stored = false;
          for (const Index i : batch)
            for (SparseRows::InnerIterator it(data.samples, i); it; ++it) stored = stored || it.col() == j;
          if (stored) expected.push_back(j);
        }
        if (intercept) expected.push_back(problem.features());
        const std::vector<Index> got(sparse_grad.innerIndexPtr(), sparse_grad.innerIndexPtr() + sparse_grad.nonZeros());
        CHECK(got == expected);
      }
    }
    // The explicit zero stored in sample 0 is a touched feature with a zero gradient entry.
    const std::vector<Index> first = {0};
    batches(VectorXd::Zero(problem.dimension()), first, sparse_grad);
    bool listed = false;
    for (Eigen::SparseVector<double>::InnerIterator it(sparse_grad); it; ++it) listed = listed || it.index() == 15;
    CHECK(listed);
  }

  // An empty (size 0) gradient is sized; float works the same way.
  const SparseLogisticRegression<float> single(data.samples.cast<float>(), data.labels.cast<float>());
  Eigen::SparseVector<float> g;
  const std::vector<Index> batch = {3, 9};
  const VectorXf x = VectorXf::Constant(single.dimension(), 0.25f);
  const float loss = single.sparse()(x, batch, g);
  VectorXf dense(single.dimension());
  CHECK(loss == single(x, batch, dense));
  CHECK(g.size() == single.dimension());
  CHECK(VectorXf(g) == dense);
}

TEST_CASE("sparse problems: SparseLogisticRegression trains with sparse and dense gradients", "[sparse_problems]") {
  const SparseData data = sparse_data(400, 60, 0.05, 51);
  const SparseLogisticRegression<> problem(data.samples, data.labels);
  VectorXd start = VectorXd::Zero(problem.dimension());
  const double initial = evaluate(problem, start).first;

  VectorXd sparse_x = start;
  descent::Adagrad<VectorXd> adagrad({.lr = 0.5});
  const auto report =
      descent::train(problem.sparse(), sparse_x, adagrad,
                     descent::MinibatchSampler(problem.size(), {.batch_size = 16, .seed = 3}), {.max_epochs = 20});
  CHECK(report.epochs == 20);
  const double trained = evaluate(problem, sparse_x).first;
  CHECK(trained < 0.8 * initial);
  CHECK(problem.accuracy(sparse_x) > 0.75);

  // Adagrad's sparse step equals its dense step where eps > 0 (docs/sparse.md): the dense train on
  // the same batches ends at the same point.
  VectorXd dense_x = start;
  descent::Adagrad<VectorXd> dense_adagrad({.lr = 0.5});
  descent::train(problem, dense_x, dense_adagrad,
                 descent::MinibatchSampler(problem.size(), {.batch_size = 16, .seed = 3}), {.max_epochs = 20});
  CHECK((dense_x - sparse_x).lpNorm<Eigen::Infinity>() <= 1e-12 * (1 + sparse_x.lpNorm<Eigen::Infinity>()));

  VectorXd adam_x = start;
  descent::train(problem.sparse(), adam_x, descent::SparseAdam<VectorXd>({.lr = 0.05}),
                 descent::MinibatchSampler(problem.size(), {.batch_size = 16, .seed = 3}), {.max_epochs = 20});
  CHECK(evaluate(problem, adam_x).first < 0.8 * initial);
}

TEST_CASE("sparse problems: SparseLogisticRegression rejects invalid problems and calls", "[sparse_problems]") {
  const SparseData data = sparse_data(20, 8, 0.4, 61);
  using Problem = SparseLogisticRegression<>;
  require_invalid([&] { Problem(SparseRows(0, 8), VectorXd()); },
                  "descent::problems::SparseLogisticRegression: samples is 0x8 but needs at least one sample");
  require_invalid([&] { Problem(SparseRows(20, 0), data.labels); }, "samples is 20x0");
  require_invalid([&] { Problem(data.samples, data.labels.head(7)); },
                  "descent::problems::SparseLogisticRegression: labels has 7 coefficients but there are 20 samples "
                  "(rows of samples)");
  VectorXd half = data.labels;
  half[4] = 0.5;
  require_invalid([&] { Problem(data.samples, half); },
                  "descent::problems::SparseLogisticRegression: invalid labels(4) = 0.5 (must be 0 or 1)");
  SparseRows bad = data.samples;
  bad.coeffRef(6, 3) = std::numeric_limits<double>::quiet_NaN();
  require_invalid([&] { Problem(bad, data.labels); },
                  "descent::problems::SparseLogisticRegression: invalid samples(6, 3) = nan (must be finite)");
  bad.coeffRef(6, 3) = std::numeric_limits<double>::infinity();
  require_invalid([&] { Problem(bad, data.labels); }, "invalid samples(6, 3) = inf");
  require_invalid([&] { Problem(data.samples, data.labels, {.l2 = -1.0}); },
                  "descent::problems::SparseLogisticRegressionOptions: invalid l2 = -1");

  const Problem problem(data.samples, data.labels);
  VectorXd x = VectorXd::Zero(9), g(9), short_g(8);
  require_invalid([&] { problem(x, short_g); },
                  "descent::problems::SparseLogisticRegression: grad is 8x1 but must be a vector of the problem's "
                  "dimension 9");
  const std::vector<Index> empty, outside = {0, 20};
  require_invalid([&] { problem(x, empty, g); }, "the batch is empty");
  require_invalid([&] { problem(x, outside, g); }, "invalid batch[1] = 20 (must be in [0, 20))");
  Eigen::SparseVector<double> sg(9), wrong(4);
  require_invalid([&] { problem.sparse()(x, outside, sg); }, "invalid batch[1] = 20");
  require_invalid([&] { problem.sparse()(x, empty, sg); }, "the batch is empty");
  const std::vector<Index> one = {1};
  require_invalid([&] { problem.sparse()(x, one, wrong); }, "grad is 4x1 but must be a vector");
  require_invalid([&] { problem.sparse()(VectorXd::Zero(3), one, sg); }, "x is 3x1");
  require_invalid([&] { problem.accuracy(x, data.samples, data.labels.head(3)); }, "accuracy: 20 samples but 3 labels");
  require_invalid([&] { problem.decision_function(x, SparseRows(2, 5)); },
                  "the samples have 5 features (columns) but the problem has 8");

  const Problem penalized(data.samples, data.labels, {.l2 = 0.25});
  require_invalid([&] { penalized.sparse(); },
                  "descent::problems::SparseLogisticRegression: sparse(): the sparse minibatch gradient needs l2 = 0, "
                  "but l2 = 0.25");
}
