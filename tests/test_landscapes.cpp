// The multimodal test problems (Himmelblau, Beale, SixHumpCamel, Ackley, Rastrigin,
// StyblinskiTang): gradients against finite differences in double and float, values at hand-
// computed points, every listed minimizer a true local minimum (zero gradient, positive definite
// Hessian) at the listed value, nearest_minimizer, Ackley's kink, and the errors for bad n, bad
// sizes and non-finite points.
#include <Eigen/Eigenvalues>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <descent/check_gradient.hpp>
#include <descent/objective.hpp>
#include <descent/problems/problems.hpp>
#include <descent/sampler.hpp>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "problem_checks.hpp"

namespace {

using descent::check_gradient;
using descent::problems::Ackley;
using descent::problems::Beale;
using descent::problems::Himmelblau;
using descent::problems::Rastrigin;
using descent::problems::SixHumpCamel;
using descent::problems::StyblinskiTang;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using Eigen::VectorXf;
using Random = descent::detail::SplitMix64;
constexpr double pi = std::numbers::pi;

// A point uniform in the box [lo, hi]ⁿ.
VectorXd random_point(Index n, Random& rng, double lo, double hi) {
  VectorXd x(n);
  for (Index i = 0; i < n; ++i) x[i] = rng.uniform(lo, hi);
  return x;
}

using descent_test::evaluate;
using descent_test::require_invalid;
using descent_test::require_throws;

// The Hessian by central differences of the analytic gradient (which the gradient checks vouch for).
template <class P>
MatrixXd hessian(const P& p, const VectorXd& x) {
  const Index n = x.size();
  MatrixXd H(n, n);
  VectorXd plus(n), minus(n);
  for (Index j = 0; j < n; ++j) {
    VectorXd shifted = x;
    shifted[j] += 1e-5;
    p(shifted, plus);
    shifted[j] -= 2e-5;
    p(shifted, minus);
    H.col(j) = (plus - minus) / 2e-5;
  }
  return (H + H.transpose()) / 2;
}

// x is a strict local minimizer of p with value f: the gradient vanishes to rounding (relative to
// the curvature, which sets how far a rounded x is from the exact one) and the Hessian is positive
// definite.
template <class P>
void require_local_minimum(const P& p, const VectorXd& x, double f) {
  INFO("at " << x.transpose());
  const auto [value, g] = evaluate(p, x);
  CHECK(value == Approx(f).epsilon(1e-14).margin(1e-14));
  const MatrixXd H = hessian(p, x);
  const Eigen::SelfAdjointEigenSolver<MatrixXd> eigen(H);
  INFO("gradient " << g.transpose() << ", Hessian eigenvalues " << eigen.eigenvalues().transpose());
  CHECK(eigen.eigenvalues().minCoeff() > 0.0);
  CHECK(g.norm() <= 1e-13 * (1.0 + eigen.eigenvalues().maxCoeff()) * (1.0 + x.norm()));
}

// check_gradient at `points` random points of the box, in double and in float. `keep` rejects
// points (near a kink). In float the default step (∛ε·max(1, |x|) ≈ 5e-3·|x|) has a truncation
// error of h²·f'''/6 relative to f', up to about 1e-3 on these ripples, so float uses a smaller
// step, 1e-3, whose round-off (ε_float·|f|/h) is still small against the gradients here.
template <template <class> class P, class... Args>
void check_gradients(std::uint64_t seed, double lo, double hi, int points, auto keep, Args... args) {
  const P<double> problem(args...);
  const P<float> problem_float(args...);
  Random rng(seed);
  for (int k = 0; k < points;) {
    const VectorXd x = random_point(problem.dimension(), rng, lo, hi);
    if (!keep(x)) continue;
    ++k;
    INFO("point " << x.transpose());
    const auto check = check_gradient(problem, x);
    INFO("double: max relative error " << check.max_relative_error << " at " << check.worst_index);
    CHECK(check.max_relative_error < 1e-6);
    const auto check_float = check_gradient(problem_float, VectorXf(x.cast<float>()), {.step = 1e-3});
    INFO("float: norm relative error " << check_float.norm_relative_error);
    CHECK(check_float.norm_relative_error < 1e-3);
  }
}

const auto anywhere = [](const VectorXd&) { return true; };

}  // namespace

TEST_CASE("landscapes: every problem is an Objective", "[landscapes]") {
  using descent::Objective;
  using descent::StochasticObjective;
  STATIC_REQUIRE(Objective<Himmelblau<>, VectorXd>);
  STATIC_REQUIRE(Objective<Beale<>, VectorXd>);
  STATIC_REQUIRE(Objective<SixHumpCamel<>, VectorXd>);
  STATIC_REQUIRE(Objective<Ackley<>, VectorXd>);
  STATIC_REQUIRE(Objective<Rastrigin<>, VectorXd>);
  STATIC_REQUIRE(Objective<StyblinskiTang<>, VectorXd>);
  STATIC_REQUIRE(Objective<Himmelblau<float>, VectorXf>);
  STATIC_REQUIRE(Objective<Ackley<float>, VectorXf>);
  STATIC_REQUIRE(Objective<Rastrigin<float>, VectorXf>);
  STATIC_REQUIRE(Objective<StyblinskiTang<float>, VectorXf>);
  // Fixed-size and other holders, as the optimizers use them.
  STATIC_REQUIRE(Objective<Beale<>, Eigen::Vector2d>);
  STATIC_REQUIRE(Objective<SixHumpCamel<>, Eigen::RowVector2d>);
  STATIC_REQUIRE(Objective<Ackley<>, Eigen::Map<VectorXd>>);
  STATIC_REQUIRE(Objective<Rastrigin<>, Eigen::ArrayXd>);
  STATIC_REQUIRE(!StochasticObjective<Rastrigin<>, VectorXd>);
  STATIC_REQUIRE(!Objective<Himmelblau<>, VectorXf>);
}

TEST_CASE("landscapes: gradients against finite differences, double and float", "[landscapes]") {
  check_gradients<Himmelblau>(1, -5.0, 5.0, 8, anywhere);
  check_gradients<Beale>(2, -4.5, 4.5, 8, anywhere);
  check_gradients<SixHumpCamel>(3, -2.0, 2.0, 8, anywhere);
  // Away from the kink at 0.
  check_gradients<Ackley>(4, -5.0, 5.0, 8, [](const VectorXd& x) { return x.norm() > 0.1; });
  for (const Index n : {Index(1), Index(2), Index(7)}) {
    INFO("n = " << n);
    check_gradients<Rastrigin>(5 + std::uint64_t(n), -5.12, 5.12, 6, anywhere, n);
    check_gradients<StyblinskiTang>(9 + std::uint64_t(n), -5.0, 5.0, 6, anywhere, n);
  }
}

TEST_CASE("landscapes: values at hand-computed points", "[landscapes]") {
  {
    const auto [f, g] = evaluate(Himmelblau<>(), VectorXd(Eigen::Vector2d(1.0, -2.0)));
    CHECK(f == 144.0 + 4.0);  // (1 − 2 − 11)² + (1 + 4 − 7)²
    CHECK(g[0] == 4.0 * 1.0 * -12.0 + 2.0 * -2.0);
    CHECK(g[1] == 2.0 * -12.0 + 4.0 * -2.0 * -2.0);
  }
  {
    const Beale<> beale;
    const auto [f, g] = evaluate(beale, VectorXd(Eigen::Vector2d(0.0, 1.0)));
    CHECK(f == 14.203125);  // 1.5² + 2.25² + 2.625², the plateau value
    CHECK(g.isZero(0.0));   // the saddle where the plateaus cross
    // The whole lines x = 0 and y = 1 are at the plateau value.
    for (const double t : {-4.0, -0.5, 2.0, 4.5}) {
      CHECK(evaluate(beale, VectorXd(Eigen::Vector2d(0.0, t))).first == 14.203125);
      CHECK(evaluate(beale, VectorXd(Eigen::Vector2d(t, 1.0))).first == 14.203125);
    }
  }
  {
    const auto [f, g] = evaluate(SixHumpCamel<>(), VectorXd(Eigen::Vector2d(1.0, 1.0)));
    CHECK(f == Approx((4 - 2.1 + 1.0 / 3) + 1 + 0.0));
    CHECK(g[0] == Approx(8 - 8.4 + 2 + 1));
    CHECK(g[1] == Approx(1 - 8 + 16));
  }
  {
    // On the axes at half-integers the ripple is cos π = −1 and cos 0 = 1: c = 0.
    const auto [f, g] = evaluate(Ackley<>(), VectorXd(Eigen::Vector2d(0.5, 0.0)));
    const double r = std::sqrt(0.125);
    CHECK(f == Approx(20 - 20 * std::exp(-0.2 * r) + std::exp(1.0) - 1.0));
    CHECK(g[0] == Approx(2 * std::exp(-0.2 * r) / r * 0.5).margin(1e-12));
    CHECK(g[1] == 0.0);
  }
  {
    const Rastrigin<> r(3);
    const auto [f, g] = evaluate(r, VectorXd(Eigen::Vector3d(0.5, 1.0, -0.25)));
    CHECK(f == Approx(0.25 + 20 + 1 + 0 + 0.0625 + 10));
    CHECK(g[0] == Approx(1.0).margin(1e-12));
    CHECK(g[1] == Approx(2.0).margin(1e-12));
    CHECK(g[2] == Approx(-0.5 - 20 * pi));
  }
  {
    const StyblinskiTang<> st(2);
    const auto [f, g] = evaluate(st, VectorXd(Eigen::Vector2d(1.0, -2.0)));
    CHECK(f == 0.5 * (1 - 16 + 5) + 0.5 * (16 - 64 - 10));
    CHECK(g[0] == 2 - 16 + 2.5);
    CHECK(g[1] == -16 + 32 + 2.5);
  }
}

TEST_CASE("landscapes: the listed minimizers are local minima at the listed values", "[landscapes]") {
  SECTION("Himmelblau: four global minima, a local maximum") {
    const Himmelblau<> h;
    CHECK(h.dimension() == 2);
    const auto minimizers = h.global_minimizers();
    REQUIRE(minimizers.size() == 4);
    CHECK(minimizers.front() == h.minimizer());
    CHECK(h.minimizer() == VectorXd(Eigen::Vector2d(3.0, 2.0)));
    for (const VectorXd& m : minimizers) require_local_minimum(h, m, h.minimum());
    CHECK(h.local_minimizers().empty());
    const VectorXd top = h.local_maximizer();
    const auto [f, g] = evaluate(h, top);
    CHECK(f == Approx(181.61652152258270404).epsilon(1e-14));
    CHECK(g.norm() < 1e-12);
    CHECK(Eigen::SelfAdjointEigenSolver<MatrixXd>(hessian(h, top)).eigenvalues().maxCoeff() < 0.0);
  }
  SECTION("Beale") {
    const Beale<> b;
    REQUIRE(b.global_minimizers().size() == 1);
    CHECK(b.minimizer() == VectorXd(Eigen::Vector2d(3.0, 0.5)));
    require_local_minimum(b, b.minimizer(), 0.0);
    CHECK(evaluate(b, b.minimizer()).second.isZero(0.0));
    CHECK(b.local_minimizers().empty());
  }
  SECTION("six-hump camel: two global and four local minima, symmetric") {
    const SixHumpCamel<> c;
    const auto global = c.global_minimizers();
    const auto local = c.local_minimizers();
    REQUIRE(global.size() == 2);
    REQUIRE(local.size() == 4);
    CHECK(global[1] == -global[0]);
    for (const VectorXd& m : global) require_local_minimum(c, m, c.minimum());
    for (int k = 0; k < 2; ++k) require_local_minimum(c, local[k], -0.21546382438371763758);
    for (int k = 2; k < 4; ++k) require_local_minimum(c, local[k], 2.1042503103112582746);
    for (const VectorXd& m : local) CHECK(evaluate(c, m).first > c.minimum() + 0.5);
  }
  SECTION("Ackley: the origin, exactly") {
    const Ackley<> a;
    const auto [f, g] = evaluate(a, a.minimizer());
    CHECK(f == 0.0);
    CHECK(a.minimum() == 0.0);
    CHECK(g.isZero(0.0));
    const Ackley<float> af;
    VectorXf gf(2);
    CHECK(af(VectorXf(af.minimizer()), gf) == 0.0f);
    CHECK(gf.isZero(0.0f));
  }
  SECTION("Rastrigin: the origin, and the one-dimensional minimizers") {
    for (const Index n : {Index(1), Index(2), Index(5)}) {
      const Rastrigin<> r(n);
      CHECK(r.dimension() == n);
      const auto [f, g] = evaluate(r, r.minimizer());
      CHECK(f == 0.0);
      CHECK(r.minimum() == 0.0);
      CHECK(g.isZero(0.0));
    }
    const auto m = Rastrigin<>(1).coordinate_minimizers();
    REQUIRE(m.size() == 63);
    CHECK(m[31] == 0.0);
    CHECK(m[32] == Approx(0.994959).margin(1e-6));
    CHECK(m[33] == Approx(1.989918).margin(1e-6));
    for (std::size_t k = 0; k < m.size(); ++k) {
      const double t = m[k];
      INFO("m_" << int(k) - 31 << " = " << t);
      CHECK(t == -m[62 - k]);
      CHECK(std::abs(t - (double(k) - 31)) < 0.25);
      CHECK(std::abs(2 * t + 20 * pi * std::sin(2 * pi * t)) < 1e-12 * (1 + std::abs(t)));
      CHECK(2 + 40 * pi * pi * std::cos(2 * pi * t) > 0.0);
      if (k > 0) CHECK(t > m[k - 1]);
    }
    // A local minimizer of f: every coordinate one of the m_k, f the sum of their h.
    const Rastrigin<> r3(3);
    const VectorXd x = VectorXd(Eigen::Vector3d(m[32], m[29], m[36]));
    const auto h = [](double t) { return t * t + 10 * (1 - std::cos(2 * pi * t)); };
    require_local_minimum(r3, x, h(x[0]) + h(x[1]) + h(x[2]));
  }
  SECTION("Styblinski-Tang: all 2^n corners are local minima, one global") {
    for (const Index n : {Index(1), Index(2), Index(3)}) {
      const StyblinskiTang<> st(n);
      const auto ab = st.coordinate_minimizers();
      REQUIRE(ab.size() == 2);
      const auto h = [](double t) { return 0.5 * (t * t * t * t - 16 * t * t + 5 * t); };
      CHECK(st.minimum() == Approx(double(n) * h(ab[0])).epsilon(1e-15));
      CHECK(st.minimum() == Approx(-39.16616570377142 * double(n)).epsilon(1e-15));
      require_local_minimum(st, st.minimizer(), st.minimum());
      for (int corner = 0; corner < (1 << n); ++corner) {
        VectorXd x(n);
        double f = 0.0;
        for (Index i = 0; i < n; ++i) {
          x[i] = (corner >> i) & 1 ? ab[1] : ab[0];
          f += h(x[i]);
        }
        require_local_minimum(st, x, f);
        CHECK(st.nearest_minimizer(x) == x);
        if (corner != 0) CHECK(f > st.minimum() + 10.0);
      }
    }
  }
}

TEST_CASE("landscapes: nearest_minimizer", "[landscapes]") {
  SECTION("lists: each listed minimizer is its own nearest, also from a small offset") {
    const Himmelblau<> h;
    const SixHumpCamel<> c;
    std::vector<VectorXd> camel = c.global_minimizers();
    for (const VectorXd& m : c.local_minimizers()) camel.push_back(m);
    const VectorXd offset = VectorXd(Eigen::Vector2d(0.03, -0.04));
    for (const VectorXd& m : h.global_minimizers()) {
      CHECK(h.nearest_minimizer(m) == m);
      CHECK(h.nearest_minimizer(m + offset) == m);
    }
    for (const VectorXd& m : camel) {
      CHECK(c.nearest_minimizer(m) == m);
      CHECK(c.nearest_minimizer(m - offset) == m);
    }
    CHECK(Beale<>().nearest_minimizer(Eigen::Vector2d(-4.0, 4.0)) == VectorXd(Eigen::Vector2d(3.0, 0.5)));
    // Any vector shape of the right size.
    CHECK(h.nearest_minimizer(Eigen::RowVector2d(-3.0, -3.0)) == h.global_minimizers()[2]);
  }
  SECTION("Rastrigin: coordinatewise, also past the lattice") {
    const Rastrigin<> r(3);
    const auto m = r.coordinate_minimizers();
    // Midway between m_0 = 0 and m_1 = 0.994959 is 0.49748, not 0.5.
    CHECK(r.nearest_minimizer(Eigen::Vector3d(0.49, -2.2, 40.0)) == VectorXd(Eigen::Vector3d(0.0, m[29], m[62])));
    CHECK(r.nearest_minimizer(Eigen::Vector3d(0.4985, 1.3, -0.1)) == VectorXd(Eigen::Vector3d(m[32], m[32], 0.0)));
    CHECK(r.nearest_minimizer(Eigen::Vector3d(0.497, 1.3, -0.1)) == VectorXd(Eigen::Vector3d(0.0, m[32], 0.0)));
  }
  SECTION("Ackley: a minimum next to every lattice point of [-32, 32]^2") {
    const Ackley<> a;
    for (int i = -32; i <= 32; ++i) {
      for (int j = -32; j <= 32; ++j) {
        const VectorXd k = VectorXd(Eigen::Vector2d(i, j));
        const VectorXd m = a.nearest_minimizer(k);
        INFO("lattice point " << i << ", " << j << ": " << m.transpose());
        REQUIRE((m - k).norm() < 0.05);
        if (i == 0 && j == 0) {
          CHECK(m.isZero(0.0));
          continue;
        }
        const auto [f, g] = evaluate(a, m);
        CHECK(g.norm() < 1e-12);
        CHECK(f > 2.5);
        if (std::abs(i) <= 2 && std::abs(j) <= 2) require_local_minimum(a, m, f);
      }
    }
    // Between lattice points: the nearer neighbour's minimizer.
    const VectorXd near_one = a.nearest_minimizer(Eigen::Vector2d(0.52, 0.1));
    CHECK(near_one[0] == Approx(0.9521665).margin(1e-6));
    CHECK(near_one[1] == 0.0);
    CHECK(a.nearest_minimizer(Eigen::Vector2d(0.45, 0.1)).isZero(0.0));
    const Ackley<float> af;
    CHECK(af.nearest_minimizer(Eigen::Vector2f(1.1f, -0.2f))[0] == Approx(0.9521665f));
  }
  SECTION("Styblinski-Tang: a or b, whichever is closer") {
    const StyblinskiTang<> st(3);
    const auto ab = st.coordinate_minimizers();
    CHECK(st.nearest_minimizer(Eigen::Vector3d(-0.08, -0.07, 4.0)) == VectorXd(Eigen::Vector3d(ab[0], ab[1], ab[1])));
  }
}

TEST_CASE("landscapes: Ackley's kink gives no NaN", "[landscapes]") {
  const Ackley<> a;
  for (const double t : {1e-300, 1e-160, 1e-8}) {
    INFO("x = (" << t << ", 0)");
    const auto [f, g] = evaluate(a, VectorXd(Eigen::Vector2d(t, 0.0)));
    CHECK(std::isfinite(f));
    CHECK(g.allFinite());
    // The cone's gradient 2·exp(−0.2r)·x/r has length 2√2 on the way in.
    CHECK(g.norm() == Approx(2 * std::sqrt(2.0)).epsilon(1e-6));
  }
  const auto [f, g] = evaluate(a, VectorXd(Eigen::Vector2d(-1e-320, 1e-320)));
  CHECK(std::isfinite(f));
  CHECK(g.allFinite());
}

TEST_CASE("landscapes: errors", "[landscapes]") {
  require_invalid([] { Rastrigin<>(0); }, "descent::problems::Rastrigin: invalid n = 0 (must be >= 1)");
  require_invalid([] { StyblinskiTang<>(-3); }, "descent::problems::StyblinskiTang: invalid n = -3 (must be >= 1)");

  VectorXd g2(2), g3(3);
  const VectorXd x2 = VectorXd::Zero(2), x3 = VectorXd::Zero(3);
  require_invalid([&] { Himmelblau<>()(x3, g3); },
                  "descent::problems::Himmelblau: x is 3x1 but must be a vector of the problem's dimension 2");
  require_invalid([&] { Beale<>()(x2, g3); },
                  "descent::problems::Beale: grad is 3x1 but must be a vector of the problem's dimension 2");
  require_invalid([&] { SixHumpCamel<>()(x3, g2); }, "descent::problems::SixHumpCamel: x is 3x1");
  require_invalid([&] { Ackley<>()(Eigen::Matrix2d::Zero(), g2); }, "descent::problems::Ackley: x is 2x2");
  require_invalid([&] { Rastrigin<>(3)(x2, g3); }, "descent::problems::Rastrigin: x is 2x1");
  require_invalid([&] { StyblinskiTang<>(2)(x2, g3); }, "descent::problems::StyblinskiTang: grad is 3x1");

  require_invalid([&] { Himmelblau<>().nearest_minimizer(x3); },
                  "descent::problems::Himmelblau: x is 3x1 but must be a vector of the problem's dimension 2");
  require_invalid([&] { Rastrigin<>(3).nearest_minimizer(x2); }, "descent::problems::Rastrigin: x is 2x1");
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  require_invalid([&] { Ackley<>().nearest_minimizer(Eigen::Vector2d(0.0, nan)); },
                  "descent::problems::Ackley::nearest_minimizer: invalid x(1) = nan (must be finite)");
  require_invalid(
      [&] { Rastrigin<>(2).nearest_minimizer(Eigen::Vector2d(std::numeric_limits<double>::infinity(), 0.0)); },
      "descent::problems::Rastrigin::nearest_minimizer: invalid x(0) = inf (must be finite)");
  require_invalid([&] { StyblinskiTang<>(1).nearest_minimizer(Eigen::Matrix<double, 1, 1>(nan)); }, "invalid x(0)");
  require_invalid([&] { SixHumpCamel<>().nearest_minimizer(Eigen::Vector2d(nan, 0.0)); }, "invalid x(0) = nan");
}
