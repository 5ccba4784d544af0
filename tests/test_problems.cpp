// Test problems and check_gradient: every problem's gradient against finite differences (full and
// on minibatches, at several points, in double and float), the closed forms, the stochastic loss
// over all samples against the full loss, every kind of Eigen holder for x and grad, and the
// errors for invalid problems and calls. Optimizer convergence is tested elsewhere.
#include <Eigen/Cholesky>
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <descent/check_gradient.hpp>
#include <descent/objective.hpp>
#include <descent/problems/problems.hpp>
#include <descent/sampler.hpp>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "problem_checks.hpp"

namespace {

using descent::check_gradient;
using descent::problems::LeastSquares;
using descent::problems::LogisticRegression;
using descent::problems::Quadratic;
using descent::problems::Rosenbrock;
using descent::problems::SoftmaxRegression;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using Eigen::VectorXi;
using Random = descent::detail::SplitMix64;

constexpr double kTolerance = 1e-6;  // max relative error of a correct gradient, in double
constexpr int kPoints = 5;           // random points per configuration

// Deterministic data and points, from the library's own generator (the same on every platform).
MatrixXd random_matrix(Index rows, Index cols, Random& rng, double lo = -1.0, double hi = 1.0) {
  MatrixXd m(rows, cols);
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < rows; ++i) m(i, j) = rng.uniform(lo, hi);
  return m;
}

VectorXd random_vector(Index n, Random& rng, double lo = -1.0, double hi = 1.0) {
  return random_matrix(n, 1, rng, lo, hi);
}

std::vector<Index> all_indices(Index n) {
  std::vector<Index> batch(std::size_t(n), 0);
  std::iota(batch.begin(), batch.end(), Index(0));
  return batch;
}

// Some minibatches of an m-sample set: one sample, a few, repeated indices, unsorted, all of them.
std::vector<std::vector<Index>> some_batches(Index m) {
  return {{0}, {m - 1}, {3, 1, 4}, {2, 2, 5, 2}, {m - 1, 0, m / 2, 7, 1, m - 2}, all_indices(m)};
}

struct Regression {
  MatrixXd samples;  // d x m
  VectorXd targets;
};

Regression regression_data(Index d, Index m, std::uint64_t seed) {
  Random rng(seed);
  Regression data{random_matrix(d, m, rng), VectorXd()};
  const VectorXd truth = random_vector(d, rng, -2.0, 2.0);
  data.targets = data.samples.transpose() * truth + 0.1 * random_vector(m, rng);
  return data;
}

// Labels from a noisy linear model, so that the data are not separable.
Regression binary_data(Index d, Index m, std::uint64_t seed) {
  Random rng(seed);
  Regression data{random_matrix(d, m, rng), VectorXd(m)};
  const VectorXd truth = random_vector(d, rng, -2.0, 2.0);
  for (Index i = 0; i < m; ++i)
    data.targets[i] = data.samples.col(i).dot(truth) + rng.uniform(-1.0, 1.0) > 0.2 ? 1.0 : 0.0;
  return data;
}

struct Multiclass {
  MatrixXd samples;  // d x m
  VectorXi labels;
};

Multiclass multiclass_data(Index d, Index m, Index classes, std::uint64_t seed) {
  Random rng(seed);
  Multiclass data{random_matrix(d, m, rng), VectorXi(m)};
  const MatrixXd truth = random_matrix(d, classes, rng, -2.0, 2.0);
  for (Index i = 0; i < m; ++i) {
    const VectorXd z = truth.transpose() * data.samples.col(i) + random_vector(classes, rng);
    Index best = 0;
    z.maxCoeff(&best);
    data.labels[i] = int(best);
  }
  return data;
}

template <class Check>
void require_passes(const Check& check, double tolerance = kTolerance) {
  INFO("max relative error " << check.max_relative_error << " at " << check.worst_index << ", max absolute error "
                             << check.max_absolute_error << "\nanalytic " << check.analytic.transpose() << "\nnumeric  "
                             << check.numeric.transpose());
  REQUIRE(check.max_relative_error < tolerance);
}

// The gradient of f at kPoints random points, full and (for stochastic problems) on some minibatches.
template <class P>
void check_problem(const P& problem, std::uint64_t seed, double scale = 1.0) {
  Random rng(seed);
  for (int point = 0; point < kPoints; ++point) {
    const VectorXd x = random_vector(problem.dimension(), rng, -scale, scale);
    INFO("point " << point << ": " << x.transpose());
    require_passes(check_gradient(problem, x));
    if constexpr (descent::StochasticObjective<P, VectorXd>) {
      for (const auto& batch : some_batches(problem.size())) {
        INFO("batch of " << batch.size());
        require_passes(check_gradient(problem, x, batch));
      }
    }
  }
}

// The extreme eigenvalues of a symmetric positive definite matrix: power iteration on A and on A⁻¹,
// then Rayleigh quotients (whose error is the square of the eigenvector's).
std::pair<double, double> extreme_eigenvalues(const MatrixXd& A) {
  const Eigen::LLT<MatrixXd> llt(A);
  VectorXd top = VectorXd::LinSpaced(A.rows(), 1.0, 2.0).normalized(), bottom = top;
  for (int iteration = 0; iteration < 1000; ++iteration) {
    top = (A * top).normalized();
    bottom = llt.solve(bottom).normalized();
  }
  const VectorXd Atop = A * top, Abottom = A * bottom;
  return {bottom.dot(Abottom), top.dot(Atop)};
}

using descent_test::evaluate;
using descent_test::require_invalid;
using descent_test::require_throws;

}  // namespace

// ---------------------------------------------------------------------------------------------
// check_gradient

TEST_CASE("check_gradient: an exact gradient passes and x is left untouched", "[check_gradient]") {
  const Rosenbrock<> f(6);
  Random rng(1);
  const VectorXd x = random_vector(6, rng, -2.0, 2.0);
  const VectorXd before = x;

  const auto check = check_gradient(f, x);
  CHECK(x == before);
  require_passes(check);
  const auto [value, gradient] = evaluate(f, x);
  CHECK(check.value == value);
  CHECK(check.analytic == gradient);
  CHECK(check.numeric.size() == 6);
  CHECK(check.worst_index >= 0);
  CHECK(check.worst_index < 6);
  CHECK(check.floor == std::sqrt(std::numeric_limits<double>::epsilon()));

  // A lambda objective; coordinates away from 1 in magnitude exercise the relative step.
  auto waves = [](const VectorXd& p, VectorXd& g) {
    double sum = 0;
    for (Index i = 0; i < p.size(); ++i) {
      sum += double(i + 1) * std::sin(p[i]);
      g[i] = double(i + 1) * std::cos(p[i]);
    }
    return sum;
  };
  const VectorXd y = (VectorXd(4) << 1e-3, -0.5, 3.0, 12.0).finished();
  require_passes(check_gradient(waves, y));
  // Large coordinates on a function whose scale grows with them: the step grows too.
  auto logs = [](const VectorXd& p, VectorXd& g) {
    g = (2 * p.array() / (1 + p.array().square())).matrix();
    return (p.array().square() + 1).log().sum();
  };
  require_passes(check_gradient(logs, VectorXd::LinSpaced(5, -3e4, 7e5)));
}

TEST_CASE("check_gradient: a wrong coordinate is flagged at its index", "[check_gradient]") {
  const Rosenbrock<> f(8);
  Random rng(2);
  const VectorXd x = random_vector(8, rng, -2.0, 2.0);
  for (const Index wrong : {Index(0), Index(3), Index(7)}) {
    INFO("coordinate " << wrong << " off by 10%");
    auto broken = [&](const VectorXd& p, VectorXd& g) {
      const double value = f(p, g);
      g[wrong] *= 1.1;
      return value;
    };
    const auto check = check_gradient(broken, x);
    CHECK(check.worst_index == wrong);
    // |1.1 a − a| / |1.1 a|, up to the finite-difference error.
    CHECK(check.max_relative_error == Approx(0.1 / 1.1).epsilon(1e-6));
    CHECK(check.max_absolute_error == Approx(0.1 * std::abs(check.numeric[wrong])).epsilon(1e-6));
    CHECK(check.norm_relative_error == Approx(check.max_absolute_error / check.analytic.norm()).epsilon(1e-6));
  }

  // A sign error, on a stochastic objective.
  const Regression data = regression_data(3, 10, 3);
  const LeastSquares<> ls(data.samples, data.targets);
  auto flipped = [&](const VectorXd& p, VectorXd& g) {
    const double value = ls(p, g);
    g[1] = -g[1];
    return value;
  };
  const VectorXd w = random_vector(3, rng);
  const auto check = check_gradient(flipped, w);
  CHECK(check.worst_index == 1);
  CHECK(check.max_relative_error == Approx(2.0).epsilon(1e-6));
}

TEST_CASE("check_gradient: zero components are measured against the floor", "[check_gradient]") {
  // f = x0² / 2 does not depend on x1, x2: both derivatives are exactly zero.
  auto f = [](const VectorXd& p, VectorXd& g) {
    g.setZero();
    g[0] = p[0];
    return 0.5 * p[0] * p[0];
  };
  const VectorXd x = (VectorXd(3) << 2.0, 0.0, -1.0).finished();
  const auto exact = check_gradient(f, x);
  CHECK(std::isfinite(exact.max_relative_error));
  CHECK(exact.max_relative_error < 1e-9);
  CHECK(exact.numeric[1] == 0.0);
  CHECK(exact.numeric[2] == 0.0);

  // A spurious 1e-12 where the derivative is zero counts relative to the floor.
  auto spurious = [&](const VectorXd& p, VectorXd& g) {
    const double value = f(p, g);
    g[2] = 1e-12;
    return value;
  };
  const auto default_floor = check_gradient(spurious, x);
  CHECK(default_floor.worst_index == 2);
  CHECK(default_floor.max_relative_error == Approx(1e-12 / default_floor.floor));
  const auto coarse = check_gradient(spurious, x, {.floor = 1e-3});
  CHECK(coarse.floor == 1e-3);
  CHECK(coarse.max_relative_error == Approx(1e-9).margin(1e-12));
}

TEST_CASE("check_gradient: NaN and unwritten components are infinite errors", "[check_gradient]") {
  const VectorXd x = VectorXd::LinSpaced(4, -1.0, 1.0);
  auto forgetful = [](const VectorXd& p, VectorXd& g) {
    for (Index i = 0; i < p.size(); ++i)
      if (i != 2) g[i] = 2 * p[i];
    return p.squaredNorm();
  };
  const auto unwritten = check_gradient(forgetful, x);
  CHECK(std::isnan(unwritten.analytic[2]));
  CHECK(unwritten.worst_index == 2);
  CHECK(unwritten.max_relative_error == std::numeric_limits<double>::infinity());
  CHECK(unwritten.norm_relative_error == std::numeric_limits<double>::infinity());

  auto nan_value = [&](const VectorXd& p, VectorXd& g) {
    g = 2 * p;
    return p[1] > x[1] ? std::numeric_limits<double>::quiet_NaN() : p.squaredNorm();
  };
  const auto poisoned = check_gradient(nan_value, x);
  CHECK(poisoned.worst_index == 1);
  CHECK(poisoned.max_relative_error == std::numeric_limits<double>::infinity());
  CHECK(poisoned.max_absolute_error == std::numeric_limits<double>::infinity());

  // An empty x has nothing to compare.
  const auto empty = check_gradient([](const VectorXd&, VectorXd&) { return 0.0; }, VectorXd());
  CHECK(empty.worst_index == -1);
  CHECK(empty.max_relative_error == 0.0);
  CHECK(empty.norm_relative_error == 0.0);
}

TEST_CASE("check_gradient: options", "[check_gradient]") {
  const descent::GradientCheckOptions defaults;
  CHECK(defaults.step == 0.0);
  CHECK(defaults.floor == 0.0);

  // Central differences are exact on a quadratic up to round-off, so even a large step passes.
  const Quadratic<> q = Quadratic<>::ill_conditioned(5, 10.0, 4);
  Random rng(4);
  const VectorXd x = random_vector(5, rng);
  require_passes(check_gradient(q, x, {.step = 0.1}), 1e-9);
  // On Rosenbrock the truncation error of a large step shows.
  const Rosenbrock<> r(4);
  CHECK(check_gradient(r, x.head(4), {.step = 0.1}).max_relative_error > 1e-4);

  require_invalid([&] { check_gradient(r, x.head(4), {.step = -1.0}); },
                  "descent::GradientCheckOptions: invalid step = -1");
  require_invalid([&] { check_gradient(r, x.head(4), {.floor = std::numeric_limits<double>::quiet_NaN()}); },
                  "invalid floor = nan");
}

TEST_CASE("check_gradient: stochastic objectives on a batch", "[check_gradient]") {
  const Regression data = regression_data(4, 20, 5);
  const LeastSquares<> ls(data.samples, data.targets);
  Random rng(5);
  const VectorXd x = random_vector(4, rng);
  const std::vector<Index> batch = {3, 9, 9, 0};

  const auto check = check_gradient(ls, x, batch);
  require_passes(check);
  VectorXd g(4);
  CHECK(check.value == ls(x, batch, g));
  CHECK(check.analytic == g);
  CHECK(check.value != ls(x, g));  // the batch loss, not the full one

  require_invalid(
      [&] {
        check_gradient(ls, x, std::vector<Index>{0, 20});
      },
      "descent::check_gradient: invalid batch[1] = 20 (must be in [0, f.size() = 20))");
  require_invalid([&] { check_gradient(ls, x, std::vector<Index>{-1}); }, "invalid batch[0] = -1");
}

TEST_CASE("check_gradient: Map, fixed-size, expression and float arguments", "[check_gradient]") {
  const Rosenbrock<> f(3);
  double buffer[3] = {0.5, -0.25, 1.5};
  const Eigen::Map<const VectorXd> mapped(buffer, 3);
  require_passes(check_gradient(f, mapped));
  CHECK(buffer[0] == 0.5);
  require_passes(check_gradient(f, 2.0 * mapped));  // a lazy expression is evaluated once

  // The objective is called with x's plain type: here Vector2d.
  auto fixed = [](const Eigen::Vector2d& p, Eigen::Vector2d& g) {
    g = Eigen::Vector2d(2 * p.x() * p.y(), p.x() * p.x());
    return p.x() * p.x() * p.y();
  };
  const auto check = check_gradient(fixed, Eigen::Vector2d(0.7, -1.3));
  require_passes(check);
  CHECK(check.analytic.size() == 2);

  // In float the default step is ∛ε ≈ 4.9e-3 and round-off is about 1e-7 relative.
  const Rosenbrock<float> ff(3);
  const auto float_check = check_gradient(ff, Eigen::VectorXf(Eigen::Vector3f(0.5f, -0.25f, 1.5f)));
  INFO("float: " << float_check.max_relative_error);
  CHECK(float_check.max_relative_error < 1e-3);
  CHECK(float_check.norm_relative_error < 1e-4);
  CHECK(float_check.floor == Approx(std::sqrt(double(std::numeric_limits<float>::epsilon()))));
}

// ---------------------------------------------------------------------------------------------
// Problems

TEST_CASE("problems: every problem satisfies the objective concepts", "[problems]") {
  using descent::Objective;
  using descent::StochasticObjective;
  using Eigen::VectorXf;
  STATIC_REQUIRE(Objective<Rosenbrock<>, VectorXd>);
  STATIC_REQUIRE(Objective<Quadratic<>, VectorXd>);
  STATIC_REQUIRE(Objective<LeastSquares<>, VectorXd>);
  STATIC_REQUIRE(Objective<LogisticRegression<>, VectorXd>);
  STATIC_REQUIRE(Objective<SoftmaxRegression<>, VectorXd>);
  STATIC_REQUIRE(StochasticObjective<LeastSquares<>, VectorXd>);
  STATIC_REQUIRE(StochasticObjective<LogisticRegression<>, VectorXd>);
  STATIC_REQUIRE(StochasticObjective<SoftmaxRegression<>, VectorXd>);
  STATIC_REQUIRE(!StochasticObjective<Rosenbrock<>, VectorXd>);
  STATIC_REQUIRE(!StochasticObjective<Quadratic<>, VectorXd>);

  // Const objects, float problems, other holders.
  STATIC_REQUIRE(Objective<const SoftmaxRegression<>, VectorXd>);
  STATIC_REQUIRE(StochasticObjective<const LogisticRegression<>, VectorXd>);
  STATIC_REQUIRE(Objective<Rosenbrock<float>, VectorXf>);
  STATIC_REQUIRE(StochasticObjective<SoftmaxRegression<float>, VectorXf>);
  STATIC_REQUIRE(Objective<Quadratic<>, Eigen::Vector3d>);
  STATIC_REQUIRE(Objective<LeastSquares<>, Eigen::Map<VectorXd>>);
  STATIC_REQUIRE(Objective<LogisticRegression<>, Eigen::ArrayXd>);
  STATIC_REQUIRE(Objective<Rosenbrock<>, Eigen::RowVectorXd>);
  // The scalar types must match: no silent conversions.
  STATIC_REQUIRE(!Objective<Rosenbrock<>, VectorXf>);
  STATIC_REQUIRE(!StochasticObjective<LeastSquares<float>, VectorXd>);

  // The scalar defaults to double, also through class template argument deduction.
  const Rosenbrock deduced(3);
  STATIC_REQUIRE(std::is_same_v<decltype(deduced), const Rosenbrock<double>>);
  const Eigen::MatrixXf A = Eigen::MatrixXf::Identity(2, 2);
  const Eigen::VectorXf b = Eigen::VectorXf::Ones(2);
  STATIC_REQUIRE(std::is_same_v<decltype(Quadratic(A, b)), Quadratic<float>>);
}

TEST_CASE("problems: Rosenbrock values, gradient and minimizer", "[problems]") {
  const Rosenbrock<> two(2);
  const auto [f, g] = evaluate(two, Eigen::Vector2d(-1.5, 2.0));
  CHECK(f == Approx(100 * 0.25 * 0.25 + 2.5 * 2.5));
  CHECK(g[0] == Approx(-400 * -1.5 * (2.0 - 2.25) - 2 * 2.5));
  CHECK(g[1] == Approx(200 * (2.0 - 2.25)));

  for (const Index n : {Index(2), Index(3), Index(10)}) {
    INFO("n = " << n);
    const Rosenbrock<> r(n);
    CHECK(r.dimension() == n);
    const auto [f0, g0] = evaluate(r, VectorXd::Zero(n));
    CHECK(f0 == double(n - 1));  // each term is (1 − 0)²
    CHECK(g0.head(n - 1) == VectorXd::Constant(n - 1, -2.0));
    CHECK(g0[n - 1] == 0.0);
    const auto [fmin, gmin] = evaluate(r, r.minimizer());
    CHECK(fmin == 0.0);
    CHECK(r.minimum() == 0.0);
    CHECK(gmin.isZero(0.0));
    check_problem(r, std::uint64_t(n), 2.0);
  }

  require_invalid([] { Rosenbrock<>(1); }, "descent::problems::Rosenbrock: invalid n = 1 (must be >= 2)");
}

TEST_CASE("problems: Quadratic closed form and gradient", "[problems]") {
  MatrixXd A(3, 3);
  A << 4, 1, 0.5,  //
      1, 3, -0.2,  //
      0.5, -0.2, 2;
  const VectorXd b = (VectorXd(3) << 1, -2, 0.5).finished();
  const Quadratic<> q(A, b);
  CHECK(q.dimension() == 3);
  CHECK(q.A() == A);
  CHECK(q.b() == b);

  const auto [f0, g0] = evaluate(q, VectorXd::Zero(3));
  CHECK(f0 == 0.0);
  CHECK(g0 == -b);
  const VectorXd x = (VectorXd(3) << 0.3, -1, 2).finished();
  const auto [f, g] = evaluate(q, x);
  const VectorXd Ax = A * x;
  CHECK(f == Approx(0.5 * x.dot(Ax) - b.dot(x)));
  CHECK(g.isApprox(A * x - b));

  const VectorXd expected = A.llt().solve(b);
  CHECK(q.minimizer().isApprox(expected, 1e-14));
  const auto [fmin, gmin] = evaluate(q, q.minimizer());
  CHECK(gmin.norm() < 1e-14);
  CHECK(q.minimum() == Approx(fmin).epsilon(1e-14));
  CHECK(q.minimum() == Approx(-0.5 * b.dot(expected)));
  check_problem(q, 6);

  // A tiny asymmetry (round-off in a product) is accepted and removed.
  MatrixXd nearly = A;
  nearly(0, 1) += 1e-14;
  const Quadratic<> symmetrized(nearly, b);
  CHECK(symmetrized.A()(0, 1) == symmetrized.A()(1, 0));
  check_problem(symmetrized, 7);
}

TEST_CASE("problems: Quadratic::ill_conditioned", "[problems]") {
  for (const double kappa : {1.0, 10.0, 1e4, 1e8}) {
    INFO("condition number " << kappa);
    const auto q = Quadratic<>::ill_conditioned(12, kappa, 42);
    CHECK(q.dimension() == 12);
    // The spectrum through its power sums and its extremes (an eigensolver would double the
    // compile time of this file). Rounding A = Q·diag(λ)·Qᵀ moves each eigenvalue by about ε·κ.
    VectorXd lambda(12);
    for (Index k = 0; k < 12; ++k) lambda[k] = std::pow(kappa, double(k) / 11.0);
    CHECK(q.A().trace() == Approx(lambda.sum()).epsilon(1e-12));
    CHECK(q.A().squaredNorm() == Approx(lambda.squaredNorm()).epsilon(1e-12));
    const auto [smallest, largest] = extreme_eigenvalues(q.A());
    CHECK(smallest == Approx(1.0).epsilon(1e-9).margin(1e-14 * kappa));
    CHECK(largest == Approx(kappa).epsilon(1e-9));
    const auto [fmin, gmin] = evaluate(q, q.minimizer());
    CHECK(gmin.norm() < 1e-15 * kappa * 10 * q.minimizer().norm() + 1e-14);
    CHECK(q.minimum() == Approx(fmin).epsilon(1e-8));
    if (kappa <= 1e4) check_problem(q, 8);
  }

  // Deterministic: the same seed is the same problem, another seed another one.
  const auto a = Quadratic<>::ill_conditioned(6, 100.0, 7);
  const auto b = Quadratic<>::ill_conditioned(6, 100.0, 7);
  const auto c = Quadratic<>::ill_conditioned(6, 100.0, 8);
  CHECK(a.A() == b.A());
  CHECK(a.b() == b.b());
  CHECK(a.A() != c.A());
  CHECK(b.b() != c.b());

  require_invalid([] { Quadratic<>::ill_conditioned(1, 10.0); },
                  "descent::problems::Quadratic::ill_conditioned: invalid n = 1 (must be >= 2)");
  require_invalid([] { Quadratic<>::ill_conditioned(3, 0.5); }, "invalid condition_number = 0.5");
  require_invalid([] { Quadratic<>::ill_conditioned(3, std::numeric_limits<double>::infinity()); },
                  "invalid condition_number = inf");
}

TEST_CASE("problems: Quadratic rejects invalid matrices", "[problems]") {
  const MatrixXd I = MatrixXd::Identity(3, 3);
  const VectorXd b = VectorXd::Ones(3);
  require_invalid([&] { Quadratic<>(MatrixXd::Identity(3, 2), b); },
                  "descent::problems::Quadratic: A is 3x2 but must be a non-empty square matrix");
  require_invalid([&] { Quadratic<>(MatrixXd(0, 0), VectorXd(0)); }, "A is 0x0");
  require_invalid([&] { Quadratic<>(I, VectorXd::Ones(2)); }, "b has 2 coefficients but A is 3x3");
  MatrixXd asymmetric = I;
  asymmetric(0, 2) = 0.5;
  require_invalid([&] { Quadratic<>(asymmetric, b); }, "A is not symmetric: |A(0, 2) - A(2, 0)| = 0.5");
  MatrixXd indefinite = I;
  indefinite(1, 1) = -1;
  require_invalid([&] { Quadratic<>(indefinite, b); }, "A is not positive definite");
  require_invalid([&] { Quadratic<>(MatrixXd::Zero(3, 3), b); }, "A is not positive definite");
  MatrixXd infinite = I;
  infinite(2, 1) = std::numeric_limits<double>::infinity();
  require_invalid([&] { Quadratic<>(infinite, b); }, "invalid A(2, 1) = inf (must be finite)");
  require_invalid([&] { Quadratic<>(I, VectorXd::Constant(3, std::nan(""))); }, "invalid b(0) = nan");
}

TEST_CASE("problems: LeastSquares gradient, solution and layouts", "[problems]") {
  const Regression data = regression_data(5, 40, 9);
  const LeastSquares<> ls(data.samples, data.targets);
  CHECK(ls.dimension() == 5);
  CHECK(ls.size() == 40);
  check_problem(ls, 10);

  // The formula, at one point.
  Random rng(11);
  const VectorXd x = random_vector(5, rng);
  const VectorXd residual = data.samples.transpose() * x - data.targets;
  const auto [f, g] = evaluate(ls, x);
  CHECK(f == Approx(residual.squaredNorm() / 80));
  CHECK(g.isApprox(data.samples * residual / 40, 1e-13));

  // The solution zeroes the gradient and is the normal equations' solution.
  const VectorXd solution = ls.solution();
  const auto [fmin, gmin] = evaluate(ls, solution);
  CHECK(gmin.norm() < 1e-13);
  const MatrixXd normal = data.samples * data.samples.transpose();
  CHECK(solution.isApprox(normal.llt().solve(data.samples * data.targets), 1e-10));
  CHECK(fmin < evaluate(ls, solution + 1e-3 * VectorXd::Unit(5, 2)).first);

  // from_rows takes the m x d design matrix.
  const MatrixXd rows = data.samples.transpose();
  const auto from_rows = LeastSquares<>::from_rows(rows, data.targets);
  CHECK(from_rows.samples() == data.samples);
  CHECK(evaluate(from_rows, x) == evaluate(ls, x));

  // Rank-deficient (a duplicated feature): the minimum-norm solution splits the weight evenly.
  MatrixXd twice(6, 40);
  twice << data.samples, data.samples.row(0);
  const LeastSquares<> deficient(twice, data.targets);
  const VectorXd least_norm = deficient.solution();
  CHECK(least_norm[0] == Approx(least_norm[5]).epsilon(1e-9));
  CHECK(least_norm[0] == Approx(solution[0] / 2).epsilon(1e-9));
  CHECK(evaluate(deficient, least_norm).second.norm() < 1e-13);
}

TEST_CASE("problems: LogisticRegression gradient, formula and stability", "[problems]") {
  const Regression data = binary_data(4, 50, 12);
  using Options = descent::problems::LogisticRegressionOptions;
  for (const Options options :
       {Options{}, Options{.l2 = 0.1}, Options{.fit_intercept = false}, Options{.l2 = 0.5, .fit_intercept = false}}) {
    INFO("l2 = " << options.l2 << ", fit_intercept = " << options.fit_intercept);
    const LogisticRegression<> lr(data.samples, data.targets, options);
    CHECK(lr.dimension() == (options.fit_intercept ? 5 : 4));
    CHECK(lr.size() == 50);
    check_problem(lr, 13, 2.0);

    // At x = 0 every probability is ½: the loss is log 2.
    const auto [f0, g0] = evaluate(lr, VectorXd::Zero(lr.dimension()));
    CHECK(f0 == Approx(std::log(2.0)));
    const VectorXd slopes = VectorXd::Constant(50, 0.5) - data.targets;
    CHECK(g0.head(4).isApprox(data.samples * slopes / 50, 1e-13));
    if (options.fit_intercept) CHECK(g0[4] == Approx(slopes.mean()));
  }

  // The formula with the intercept, and the intercept left out of the penalty.
  const LogisticRegression<> lr(data.samples, data.targets, {.l2 = 0.3});
  Random rng(14);
  const VectorXd x = random_vector(5, rng);
  const VectorXd z = (data.samples.transpose() * x.head(4)).array() + x[4];
  double expected = 0;
  for (Index i = 0; i < 50; ++i) expected += std::log(1 + std::exp(z[i])) - data.targets[i] * z[i];
  expected = expected / 50 + 0.15 * x.head(4).squaredNorm();
  const auto [f, g] = evaluate(lr, x);
  CHECK(f == Approx(expected).epsilon(1e-13));
  const LogisticRegression<> unpenalized(data.samples, data.targets);
  const auto [f_plain, g_plain] = evaluate(unpenalized, x);
  CHECK(g[4] == g_plain[4]);
  CHECK(g.head(4).isApprox(g_plain.head(4) + 0.3 * x.head(4), 1e-14));

  // Huge logits: the loss stays finite and exact (log(1 + e^z) = z to double precision).
  const VectorXd huge = 1e4 * x;
  const auto [fh, gh] = evaluate(unpenalized, huge);
  CHECK(std::isfinite(fh));
  CHECK(gh.allFinite());
  const VectorXd zh = (data.samples.transpose() * huge.head(4)).array() + huge[4];
  double hinge = 0;
  for (Index i = 0; i < 50; ++i) hinge += std::max(zh[i], 0.0) - data.targets[i] * zh[i];
  CHECK(fh == Approx(hinge / 50).epsilon(1e-12));

  // from_rows.
  const MatrixXd rows = data.samples.transpose();
  CHECK(evaluate(LogisticRegression<>::from_rows(rows, data.targets, {.l2 = 0.3}), x) == evaluate(lr, x));
}

TEST_CASE("problems: LogisticRegression predictions", "[problems]") {
  const Regression data = binary_data(3, 60, 15);
  const LogisticRegression<> lr(data.samples, data.targets);
  const VectorXd p0 = lr.predict_proba(VectorXd::Zero(4));
  CHECK(p0.size() == 60);
  CHECK(p0.isConstant(0.5));

  Random rng(16);
  const VectorXd x = random_vector(4, rng);
  const VectorXd p = lr.predict_proba(x);
  const VectorXd z = (data.samples.transpose() * x.head(3)).array() + x[3];
  for (Index i = 0; i < 60; ++i) CHECK(p[i] == Approx(1 / (1 + std::exp(-z[i]))).epsilon(1e-14));
  double right = 0;
  for (Index i = 0; i < 60; ++i) right += ((z[i] > 0) == (data.targets[i] == 1.0)) ? 1 : 0;
  CHECK(lr.accuracy(x) == Approx(right / 60));

  // On other samples.
  const MatrixXd fresh = data.samples.leftCols(7);
  CHECK(lr.predict_proba(x, fresh) == p.head(7));
  CHECK(lr.accuracy(x, fresh, data.targets.head(7)) >= 0.0);
  require_invalid([&] { lr.predict_proba(x, MatrixXd::Zero(2, 5)); }, "the samples have 2 features");
  require_invalid([&] { lr.accuracy(x, fresh, data.targets.head(6)); }, "accuracy: 7 samples but 6 labels");
}

TEST_CASE("problems: SoftmaxRegression gradient, layout and stability", "[problems]") {
  const Multiclass data = multiclass_data(4, 45, 3, 17);
  using Options = descent::problems::SoftmaxRegressionOptions;
  for (const Options options : {Options{}, Options{.l2 = 0.2}, Options{.fit_intercept = false}}) {
    INFO("l2 = " << options.l2 << ", fit_intercept = " << options.fit_intercept);
    const SoftmaxRegression<> sr(data.samples, data.labels, 3, options);
    CHECK(sr.weight_rows() == (options.fit_intercept ? 5 : 4));
    CHECK(sr.dimension() == 3 * sr.weight_rows());
    CHECK(sr.classes() == 3);
    check_problem(sr, 18, 2.0);
    // Uniform probabilities at x = 0: the loss is log K.
    CHECK(evaluate(sr, VectorXd::Zero(sr.dimension())).first == Approx(std::log(3.0)));
  }

  const SoftmaxRegression<> sr(data.samples, data.labels, 3, {.l2 = 0.4});
  Random rng(19);
  VectorXd x = random_vector(15, rng);

  // weights(x) is the 5 x 3 column-major view [W; cᵀ]: class k owns x[5k, 5k + 5).
  const auto W = sr.weights(std::as_const(x));
  STATIC_REQUIRE(std::is_same_v<decltype(W), const Eigen::Map<const MatrixXd>>);
  CHECK(W.rows() == 5);
  CHECK(W.cols() == 3);
  for (Index k = 0; k < 3; ++k)
    for (Index j = 0; j < 5; ++j) CHECK(W(j, k) == x[5 * k + j]);
  sr.weights(x)(4, 1) = 0.25;  // the intercept of class 1
  CHECK(x[9] == 0.25);
  require_invalid([&] { sr.weights(x.head(14).eval()); }, "x is 14x1");

  // The formula, with the intercepts left out of the penalty.
  double expected = 0;
  for (Index i = 0; i < 45; ++i) {
    const VectorXd z = W.topRows(4).transpose() * data.samples.col(i) + W.row(4).transpose();
    expected += std::log(z.array().exp().sum()) - z[data.labels[i]];
  }
  expected = expected / 45 + 0.2 * W.topRows(4).squaredNorm();
  const auto [f, g] = evaluate(sr, x);
  CHECK(f == Approx(expected).epsilon(1e-13));
  const SoftmaxRegression<> unpenalized(data.samples, data.labels, 3);
  const auto [f_plain, g_plain] = evaluate(unpenalized, x);
  const auto G = sr.weights(g), G_plain = unpenalized.weights(g_plain);
  CHECK(G.row(4) == G_plain.row(4));
  CHECK(G.topRows(4).isApprox(G_plain.topRows(4) + 0.4 * W.topRows(4), 1e-14));

  // Huge logits: finite, and equal to the margin of the wrong classes.
  const VectorXd huge = 1e4 * x;
  const auto [fh, gh] = evaluate(unpenalized, huge);
  CHECK(std::isfinite(fh));
  CHECK(gh.allFinite());
  const auto Wh = unpenalized.weights(huge);
  double margins = 0;
  for (Index i = 0; i < 45; ++i) {
    const VectorXd z = Wh.topRows(4).transpose() * data.samples.col(i) + Wh.row(4).transpose();
    margins += z.maxCoeff() - z[data.labels[i]];
  }
  CHECK(fh == Approx(margins / 45).epsilon(1e-10));

  const MatrixXd rows = data.samples.transpose();
  CHECK(evaluate(SoftmaxRegression<>::from_rows(rows, data.labels, 3, {.l2 = 0.4}), x) == evaluate(sr, x));
}

TEST_CASE("problems: SoftmaxRegression predictions", "[problems]") {
  const Multiclass data = multiclass_data(3, 30, 4, 20);
  const SoftmaxRegression<> sr(data.samples, data.labels, 4);
  Random rng(21);
  const VectorXd x = random_vector(sr.dimension(), rng);
  const MatrixXd p = sr.predict_proba(x);
  CHECK(p.rows() == 4);
  CHECK(p.cols() == 30);
  CHECK((p.colwise().sum().array() - 1.0).abs().maxCoeff() < 1e-14);
  const VectorXi predicted = sr.predict(x);
  for (Index i = 0; i < 30; ++i) {
    Index best = 0;
    p.col(i).maxCoeff(&best);
    CHECK(predicted[i] == best);
  }
  CHECK(sr.accuracy(x) == Approx(double((predicted.array() == data.labels.array()).count()) / 30));
  CHECK(sr.predict(x, data.samples.middleCols(3, 5)) == predicted.segment(3, 5));
  CHECK(sr.predict_proba(VectorXd::Zero(sr.dimension())).isConstant(0.25));
  require_invalid([&] { sr.accuracy(x, data.samples, data.labels.head(3)); }, "accuracy: 30 samples but 3 labels");
}

TEST_CASE("problems: two-class softmax regression is logistic regression", "[problems]") {
  // With class 0's weights and intercept at zero, softmax(0, z) is (1 − σ(z), σ(z)).
  const Regression data = binary_data(3, 25, 22);
  const VectorXi labels = data.targets.cast<int>();
  const LogisticRegression<> lr(data.samples, data.targets, {.l2 = 0.1});
  const SoftmaxRegression<> sr(data.samples, labels, 2, {.l2 = 0.1});
  Random rng(23);
  const VectorXd x = random_vector(4, rng);
  VectorXd both = VectorXd::Zero(8);
  both.tail(4) = x;
  const auto [f_lr, g_lr] = evaluate(lr, x);
  const auto [f_sr, g_sr] = evaluate(sr, both);
  CHECK(f_sr == Approx(f_lr).epsilon(1e-13));
  CHECK(g_sr.tail(4).isApprox(g_lr, 1e-13));
  // Class 0's column gets the opposite data term, and no penalty at zero weights.
  VectorXd data_term = g_lr;
  data_term.head(3) -= 0.1 * x.head(3);
  CHECK(g_sr.head(4).isApprox(-data_term, 1e-13));
  CHECK(sr.predict_proba(both).row(1).transpose().isApprox(lr.predict_proba(x), 1e-14));
}

// ---------------------------------------------------------------------------------------------
// The reference minimizers (Newton's method)

namespace {

// What minimizer() throws when Newton's method fails.
template <class Make>
void require_failure(Make make, const std::string& fragment) {
  require_throws<std::runtime_error>(make, fragment);
}

// The gradient norm of p at x.
template <class P>
double gradient_norm(const P& p, const VectorXd& x) {
  return evaluate(p, x).second.norm();
}

// Labels that the first feature separates: the logistic loss without l2 has no minimum.
Regression separable_data(Index d, Index m, std::uint64_t seed) {
  Regression data = binary_data(d, m, seed);
  for (Index i = 0; i < m; ++i) data.targets[i] = data.samples(0, i) > 0 ? 1.0 : 0.0;
  return data;
}

}  // namespace

TEST_CASE("problems: LogisticRegression::minimizer", "[problems][minimizer]") {
  const Regression data = binary_data(4, 50, 12);
  using Options = descent::problems::LogisticRegressionOptions;
  // x* as the Newton iterations that minimizer() replaced computed it (a finite-difference
  // Hessian of the analytic gradient, to a gradient norm of 1e-12).
  const std::vector<std::pair<Options, VectorXd>> cases = {
      {Options{.l2 = 0.1}, (VectorXd(5) << 0.48000920498537047, 0.4705693149624337, 0.33240079171059184,
                            -0.90896733254988082, -0.37800065056249554)
                               .finished()},
      {Options{.l2 = 0.5, .fit_intercept = false},
       (VectorXd(4) << 0.13444740713832679, 0.12581230171731053, 0.087378112754726511, -0.25888523366600869)
           .finished()},
      // No penalty: the data are not separable, so the minimum exists.
      {Options{}, (VectorXd(5) << 10.707679098911951, 10.568751836481496, 9.6909079526095603, -16.431542936954106,
                   -0.83576943095810585)
                      .finished()}};
  for (const auto& [options, expected] : cases) {
    INFO("l2 = " << options.l2 << ", fit_intercept = " << options.fit_intercept);
    const LogisticRegression<> lr(data.samples, data.targets, options);
    const VectorXd x = lr.minimizer();
    CHECK(gradient_norm(lr, x) <= 1e-10);  // the documented tolerance; it gets to rounding (~1e-16)
    CHECK(x.isApprox(expected, 1e-11));
    // A float problem: the same minimizer, computed in double.
    const LogisticRegression<float> single(data.samples.cast<float>(), data.targets.cast<float>(), options);
    CHECK(single.minimizer().cast<double>().isApprox(expected, 1e-5));
  }

  const LogisticRegression<> lr(data.samples, data.targets, {.l2 = 0.1});
  CHECK(lr.minimizer({.gradient_tolerance = 1e-3}).isApprox(cases[0].second, 1e-2));
  require_failure([&] { lr.minimizer({.max_iterations = 1}); },
                  "descent::problems::LogisticRegression::minimizer: Newton's method did not reach "
                  "gradient_tolerance = 1e-10 (gradient norm ");
  require_invalid([&] { lr.minimizer({.gradient_tolerance = 0}); },
                  "descent::problems::NewtonOptions: invalid gradient_tolerance = 0 (must be a finite number > 0)");
  require_invalid([&] { lr.minimizer({.gradient_tolerance = std::numeric_limits<double>::quiet_NaN()}); },
                  "invalid gradient_tolerance = nan");
  require_invalid([&] { lr.minimizer({.max_iterations = 0}); },
                  "descent::problems::NewtonOptions: invalid max_iterations = 0 (must be >= 1)");

  // Separable classes without a penalty: the loss has no minimum, and minimizer() says so rather
  // than return a point far out where the gradient happens to be tiny.
  const Regression separable = separable_data(3, 40, 31);
  const LogisticRegression<> unbounded(separable.samples, separable.targets);
  require_failure([&] { unbounded.minimizer(); },
                  "; with l2 = 0 the loss has no minimum when the classes are linearly separable");
  require_failure([&] { unbounded.minimizer({.gradient_tolerance = 1e-3, .max_iterations = 10}); },
                  "::minimizer: the gradient is below gradient_tolerance but Newton's step is still ");
  const LogisticRegression<> penalized(separable.samples, separable.targets, {.l2 = 1e-2});
  CHECK(gradient_norm(penalized, penalized.minimizer()) <= 1e-10);
  // A feature that is always 0 without a penalty: its weight is not determined.
  MatrixXd blank = data.samples;
  blank.row(2).setZero();
  require_failure([&] { LogisticRegression<>(blank, data.targets).minimizer(); },
                  "the Hessian is not positive definite (gradient norm ");
}

TEST_CASE("problems: SoftmaxRegression::minimizer", "[problems][minimizer]") {
  const Multiclass data = multiclass_data(4, 45, 3, 17);
  // x* as the Newton iterations that minimizer() replaced computed it (see LogisticRegression).
  const VectorXd expected =
      (VectorXd(12) << -0.15598050565183047, -0.47945755813322882, -0.077878326094486777, 0.3175290115526293,
       -0.16609082534666875, 0.31828576691014937, -0.3618001422455227, 0.27943698506336562, 0.32207133099849922,
       0.16117179122307945, 0.43967846834000945, -0.59696599661599492)
          .finished();
  const SoftmaxRegression<> unbiased(data.samples, data.labels, 3, {.l2 = 0.2, .fit_intercept = false});
  const VectorXd x = unbiased.minimizer();
  CHECK(gradient_norm(unbiased, x) <= 1e-10);
  CHECK(x.isApprox(expected, 1e-11));
  const SoftmaxRegression<float> single(data.samples.cast<float>(), data.labels, 3,
                                        {.l2 = 0.2, .fit_intercept = false});
  CHECK(single.minimizer().cast<double>().isApprox(expected, 1e-5));

  // With intercepts, adding the same number to all three leaves the loss unchanged: minimizer()
  // gives the minimizer whose intercepts sum to zero. The old computation ended at another point
  // of that line; the weights and the differences of the intercepts are the same.
  const SoftmaxRegression<> sr(data.samples, data.labels, 3, {.l2 = 0.2});
  const VectorXd z = sr.minimizer();
  CHECK(gradient_norm(sr, z) <= 1e-10);
  const auto W = sr.weights(z);
  CHECK(std::abs(W.row(4).sum()) < 1e-12);
  const MatrixXd expected_weights =
      (MatrixXd(4, 3) << -0.16366694885772443, -0.15792036308836691, 0.3215873119460913, -0.5156460547185604,
       0.35275595410980476, 0.16289010060875569, -0.087289084161355113, -0.36417852593326966, 0.45146761009462461,
       0.31259508585853307, 0.24761055524584574, -0.56020564110437898)
          .finished();
  CHECK(W.topRows(4).isApprox(expected_weights, 1e-11));
  const Eigen::RowVector3d expected_intercepts(17.71303485536156, 17.899280111941856, 18.431810585927192);
  CHECK((W.row(4).array() - W(4, 0))
            .matrix()
            .isApprox((expected_intercepts.array() - expected_intercepts[0]).matrix(), 1e-11));

  // Without a penalty these classes are separable: no minimum.
  require_failure([&] { SoftmaxRegression<>(data.samples, data.labels, 3).minimizer(); },
                  "; with l2 = 0 the loss has no minimum when the classes are linearly separable");

  // Two classes: the softmax minimizer is ±½ of the logistic one with half the penalty (at the
  // optimum class 0's column is minus class 1's, and the penalty on both is half that on their
  // difference).
  const Regression binary = binary_data(3, 25, 22);
  const LogisticRegression<> lr(binary.samples, binary.targets, {.l2 = 0.05});
  const SoftmaxRegression<> two(binary.samples, binary.targets.cast<int>(), 2, {.l2 = 0.1});
  const VectorXd w = lr.minimizer(), both = two.minimizer();
  CHECK((2 * both.tail(4)).isApprox(w, 1e-12));
  CHECK(both.head(4).isApprox(-both.tail(4), 1e-12));
  CHECK(evaluate(two, both).first == Approx(evaluate(lr, w).first).epsilon(1e-14));
}

TEST_CASE("problems: the stochastic loss over all samples is the full loss", "[problems]") {
  const Regression reg = regression_data(4, 33, 24);
  const Regression bin = binary_data(4, 33, 25);
  const Multiclass multi = multiclass_data(4, 33, 3, 26);
  const std::vector<Index> everything = all_indices(33);
  Random rng(27);

  auto same = [&](const auto& problem) {
    const VectorXd x = random_vector(problem.dimension(), rng);
    VectorXd full(x.size()), batched(x.size());
    // The same loop over the same samples in the same order: the same numbers, to the last bit.
    CHECK(problem(x, full) == problem(x, everything, batched));
    CHECK(full == batched);

    // A batch's loss is the mean of its samples' losses (each with the penalty).
    const std::vector<Index> batch = {5, 0, 17, 5, 32};
    VectorXd g(x.size()), single(x.size()), sum = VectorXd::Zero(x.size());
    double total = 0;
    for (const Index i : batch) {
      total += problem(x, std::vector<Index>{i}, single);
      sum += single;
    }
    CHECK(problem(x, batch, g) == Approx(total / 5).epsilon(1e-14));
    CHECK(g.isApprox(sum / 5, 1e-14));
  };
  same(LeastSquares<>(reg.samples, reg.targets));
  same(LogisticRegression<>(bin.samples, bin.targets, {.l2 = 0.2}));
  same(LogisticRegression<>(bin.samples, bin.targets, {.fit_intercept = false}));
  same(SoftmaxRegression<>(multi.samples, multi.labels, 3, {.l2 = 0.2}));
  same(SoftmaxRegression<>(multi.samples, multi.labels, 3, {.fit_intercept = false}));
}

TEST_CASE("problems: any Eigen vector holder gives the same numbers", "[problems]") {
  const Regression bin = binary_data(4, 20, 28);
  const Multiclass multi = multiclass_data(3, 20, 3, 29);

  auto holders = [](const auto& problem) {
    const Index n = problem.dimension();
    Random rng(30);
    const VectorXd x = random_vector(n, rng);
    const auto reference = evaluate(problem, x);
    const double f = reference.first;
    const VectorXd& g = reference.second;
    // `holder` is a view, read here, after the call has written through it.
    auto same = [&](double value, const auto& holder) {
      const VectorXd gradient = holder;
      CHECK(value == Approx(f).epsilon(1e-15));
      CHECK(gradient.isApprox(g, 1e-15));
    };

    // Map and Ref over contiguous memory: read and written in place.
    std::vector<double> xs(x.data(), x.data() + n), gs(static_cast<std::size_t>(n));
    Eigen::Map<VectorXd> gm(gs.data(), n);
    same(problem(Eigen::Map<const VectorXd>(xs.data(), n), gm), gm);
    Eigen::Ref<const VectorXd> xr(x);
    VectorXd gr(n);
    Eigen::Ref<VectorXd> gref(gr);
    same(problem(xr, gref), gr);

    // Segments of larger vectors, and a temporary writable view.
    VectorXd big = VectorXd::Zero(n + 3), gbig = VectorXd::Constant(n + 3, 7.0);
    big.segment(1, n) = x;
    same(problem(big.segment(1, n), gbig.segment(2, n)), gbig.segment(2, n));
    CHECK(gbig[0] == 7.0);
    CHECK(gbig[n + 2] == 7.0);

    // Strided and row vectors: copied through the workspaces.
    MatrixXd grid = MatrixXd::Zero(3, n), ggrid = MatrixXd::Zero(3, n);
    grid.row(1) = x.transpose();
    same(problem(grid.row(1), ggrid.row(2)), ggrid.row(2).transpose());
    CHECK(ggrid.row(0).isZero(0.0));
    Eigen::Map<const VectorXd, 0, Eigen::InnerStride<3>> strided(grid.data() + 1, n);
    Eigen::RowVectorXd grow(n);
    same(problem(strided, grow), grow.transpose());
    same(problem(x.transpose(), grow), grow.transpose());

    // Arrays and lazy expressions.
    Eigen::ArrayXd ga(n);
    same(problem(x.array(), ga), ga.matrix());
    same(problem(0.5 * (x + x), ga), ga.matrix());
    same(problem(x.reverse().reverse(), gr.reverse()), gr.reverse());

    // Wrong sizes are rejected before anything is written.
    VectorXd untouched = VectorXd::Constant(n, 3.0);
    require_invalid([&] { problem(x.head(n - 1), untouched); }, "x is " + std::to_string(n - 1) + "x1");
    require_invalid([&] { problem(x, untouched.head(n - 1)); }, "grad is " + std::to_string(n - 1) + "x1");
    MatrixXd square(n, 2);
    require_invalid([&] { problem(x, square); }, "grad is " + std::to_string(n) + "x2");
    CHECK(untouched.isConstant(3.0));
  };
  holders(Rosenbrock<>(5));
  holders(Quadratic<>::ill_conditioned(5, 30.0, 31));
  holders(LeastSquares<>(bin.samples, bin.targets));
  holders(LogisticRegression<>(bin.samples, bin.targets, {.l2 = 0.1}));
  holders(SoftmaxRegression<>(multi.samples, multi.labels, 3));
}

TEST_CASE("problems: invalid minibatches are rejected", "[problems]") {
  const Regression data = regression_data(3, 10, 32);
  const LeastSquares<> ls(data.samples, data.targets);
  const VectorXd x = VectorXd::Ones(3);
  VectorXd g = VectorXd::Constant(3, 5.0);
  require_invalid([&] { ls(x, std::vector<Index>{}, g); }, "descent::problems::LeastSquares: the batch is empty");
  require_invalid(
      [&] {
        ls(x, std::vector<Index>{1, 10}, g);
      },
      "descent::problems::LeastSquares: invalid batch[1] = 10 (must be in [0, 10))");
  const LogisticRegression<> lr(data.samples, (data.targets.array() > 0).cast<double>().matrix());
  require_invalid([&] { lr(VectorXd::Ones(4), std::vector<Index>{-3}, g); }, "grad is 3x1");
  VectorXd g4(4);
  require_invalid([&] { lr(VectorXd::Ones(4), std::vector<Index>{-3}, g4); }, "invalid batch[0] = -3");
  CHECK(g.isConstant(5.0));
}

TEST_CASE("problems: data-set problems reject invalid data", "[problems]") {
  const Regression data = binary_data(3, 10, 33);
  const Multiclass multi = multiclass_data(3, 10, 3, 34);

  require_invalid([&] { LeastSquares<>(data.samples, data.targets.head(9)); },
                  "descent::problems::LeastSquares: targets has 9 coefficients but there are 10 samples");
  require_invalid([&] { LeastSquares<>(MatrixXd(0, 4), VectorXd(4)); }, "samples is 0x4");
  require_invalid([&] { LeastSquares<>(MatrixXd(3, 0), VectorXd(0)); }, "samples is 3x0");
  MatrixXd nan_sample = data.samples;
  nan_sample(1, 6) = std::nan("");
  require_invalid([&] { LeastSquares<>(nan_sample, data.targets); },
                  "descent::problems::LeastSquares: invalid samples(1, 6) = nan (must be finite)");
  require_invalid(
      [&] { LeastSquares<>(data.samples, VectorXd::Constant(10, -std::numeric_limits<double>::infinity())); },
      "invalid targets(0) = -inf");

  VectorXd half = data.targets;
  half[4] = 0.5;
  require_invalid([&] { LogisticRegression<>(data.samples, half); },
                  "descent::problems::LogisticRegression: invalid labels(4) = 0.5 (must be 0 or 1)");
  half[4] = -1;
  require_invalid([&] { LogisticRegression<>(data.samples, half); }, "invalid labels(4) = -1");
  require_invalid([&] { LogisticRegression<>(data.samples, data.targets.head(3)); }, "labels has 3 coefficients");
  require_invalid([&] { LogisticRegression<>(nan_sample, data.targets); }, "invalid samples(1, 6) = nan");
  require_invalid([&] { LogisticRegression<>(data.samples, data.targets, {.l2 = -0.1}); },
                  "descent::problems::LogisticRegressionOptions: invalid l2 = -0.10000000000000001");

  VectorXi wrong = multi.labels;
  wrong[2] = 3;
  require_invalid([&] { SoftmaxRegression<>(multi.samples, wrong, 3); },
                  "descent::problems::SoftmaxRegression: invalid labels(2) = 3 (must be in [0, classes = 3))");
  wrong[2] = -1;
  require_invalid([&] { SoftmaxRegression<>(multi.samples, wrong, 3); }, "invalid labels(2) = -1");
  require_invalid([&] { SoftmaxRegression<>(multi.samples, VectorXi::Zero(10), 1); },
                  "invalid classes = 1 (must be >= 2)");
  require_invalid([&] { SoftmaxRegression<>(multi.samples, multi.labels.head(9), 3); }, "labels has 9 coefficients");
  require_invalid([&] { SoftmaxRegression<>(multi.samples, multi.labels, 3, {.l2 = std::nan("")}); },
                  "descent::problems::SoftmaxRegressionOptions: invalid l2 = nan");
}

TEST_CASE("problems: float versions agree with double", "[problems]") {
  using Eigen::MatrixXf;
  using Eigen::VectorXf;
  const Regression reg = regression_data(4, 30, 35);
  const Regression bin = binary_data(4, 30, 36);
  const Multiclass multi = multiclass_data(4, 30, 3, 37);
  const MatrixXf A = Quadratic<>::ill_conditioned(6, 20.0, 38).A().cast<float>();
  const VectorXf b = Quadratic<>::ill_conditioned(6, 20.0, 38).b().cast<float>();

  auto agree = [](const auto& single, const auto& twice) {
    Random rng(39);
    for (int point = 0; point < kPoints; ++point) {
      const VectorXd x = random_vector(twice.dimension(), rng);
      const VectorXf xf = x.cast<float>();
      VectorXf gf(xf.size());
      const float f = single(xf, gf);
      const auto [fd, gd] = evaluate(twice, xf.cast<double>());
      CHECK(double(f) == Approx(fd).epsilon(1e-5));
      CHECK((gf.cast<double>() - gd).norm() <= 1e-5 * (1 + gd.norm()));
      // Finite differences in float: a step of ∛ε ≈ 5e-3 and a round-off of about 1e-7·|f|/h, which
      // is large relative to the gradient's smallest components; the norm-wise error is not.
      const auto check = check_gradient(single, xf);
      INFO("float gradient check: " << check.max_relative_error << " at " << check.worst_index << ", norm-wise "
                                    << check.norm_relative_error);
      CHECK(check.max_relative_error < 5e-2);
      CHECK(check.norm_relative_error < 1e-3);
    }
  };
  agree(Rosenbrock<float>(4), Rosenbrock<double>(4));
  agree(Quadratic<float>(A, b), Quadratic<double>(A.cast<double>(), b.cast<double>()));
  agree(LeastSquares<float>(reg.samples.cast<float>(), reg.targets.cast<float>()),
        LeastSquares<double>(reg.samples.cast<float>().cast<double>(), reg.targets.cast<float>().cast<double>()));
  agree(LogisticRegression<float>(bin.samples.cast<float>(), bin.targets.cast<float>(), {.l2 = 0.1}),
        LogisticRegression<double>(bin.samples.cast<float>().cast<double>(), bin.targets, {.l2 = 0.1}));
  agree(SoftmaxRegression<float>(multi.samples.cast<float>(), multi.labels, 3, {.l2 = 0.1}),
        SoftmaxRegression<double>(multi.samples.cast<float>().cast<double>(), multi.labels, 3, {.l2 = 0.1}));

  // Minibatches in float, and the float closed forms.
  const LeastSquares<float> ls(reg.samples.cast<float>(), reg.targets.cast<float>());
  const VectorXf w = VectorXf::Constant(4, 0.3f);
  CHECK(check_gradient(ls, w, std::vector<Index>{1, 2, 2, 29}).norm_relative_error < 1e-3);
  VectorXf g(4);
  ls(ls.solution(), g);
  CHECK(g.norm() < 1e-5f);
  const Quadratic<float> q(A, b);
  VectorXf gq(6);
  q(q.minimizer(), gq);
  CHECK(gq.norm() < 1e-4f);
}
