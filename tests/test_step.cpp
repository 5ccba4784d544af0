// step(): the same numbers whatever holds the parameters (fixed or dynamic, Map, Ref, segment,
// matrix block, row-major, strided or reversed views, lazy gradient expressions); hand-checked
// first steps; shape errors that leave everything untouched; reset(). Holders whose coefficients
// are laid out as one run (or are copied into one) must give bitwise the same numbers; a matrix
// block, updated column by column, may round differently where packets and scalar tails split.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "support.hpp"

namespace {

using descent_test::fill_start;
using descent_test::gradient;
constexpr int kSteps = 60;
constexpr Eigen::Index kN = 19;  // odd: packets and a scalar tail

// The trajectory of kSteps steps on a VectorXd/VectorXf: the reference for every other holder.
template <class Cfg, class S>
Eigen::Matrix<S, Eigen::Dynamic, 1> reference_run(Eigen::Index n = kN) {
  using V = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  auto opt = Cfg::template make<V>();
  V x(n), g(n);
  fill_start(x);
  for (int t = 0; t < kSteps; ++t) {
    gradient(g, x, t);
    opt.step(x, g);
  }
  return x;
}

// Runs kSteps on `params` (any view), with gradient storage `g` of the view's shape.
template <class Cfg, class V, class P, class G>
void run_on(P&& params, G&& g) {
  auto opt = Cfg::template make<V>();
  for (int t = 0; t < kSteps; ++t) {
    gradient(g, params, t);
    opt.step(params, g);
  }
}

template <class A, class B>
double relative_error(const A& a, const B& b) {
  const double scale = std::max(b.template cast<double>().cwiseAbs().maxCoeff(), 1e-30);
  return (a.template cast<double>() - b.template cast<double>()).cwiseAbs().maxCoeff() / scale;
}

template <class S>
constexpr double tolerance() {
  return std::is_same_v<S, float> ? 1e-5 : 1e-12;
}

}  // namespace

TEMPLATE_TEST_CASE("step: fixed-size, Map, Ref and segment parameters give the same numbers", "[step]",
                   DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  auto check = [](auto scalar) {
    using S = decltype(scalar);
    using VX = Eigen::Matrix<S, Eigen::Dynamic, 1>;
    using VF = Eigen::Matrix<S, kN, 1>;
    const VX ref = reference_run<TestType, S>();

    VF fixed;
    VF gf;
    fill_start(fixed);
    run_on<TestType, VF>(fixed, gf);
    CHECK((fixed.array() == ref.array()).all());

    std::vector<S> buffer(kN);
    Eigen::Map<VX> mapped(buffer.data(), kN);
    fill_start(mapped);
    VX g(kN);
    run_on<TestType, VX>(mapped, g);
    CHECK((mapped.array() == ref.array()).all());

    Eigen::Map<VF> mapped_fixed(buffer.data());
    fill_start(mapped_fixed);
    run_on<TestType, VF>(mapped_fixed, gf);
    CHECK((mapped_fixed.array() == ref.array()).all());

    VX y(kN);
    fill_start(y);
    Eigen::Ref<VX> ref_view(y);
    run_on<TestType, VX>(ref_view, g);
    CHECK((y.array() == ref.array()).all());

    // A segment at an odd offset (unaligned) of a larger vector; the rest stays untouched.
    VX big = VX::Constant(kN + 8, S(7));
    fill_start(big.segment(3, kN));
    run_on<TestType, VX>(big.segment(3, kN), g);
    CHECK((big.segment(3, kN).array() == ref.array()).all());
    CHECK((big.head(3).array() == S(7)).all());
    CHECK((big.tail(5).array() == S(7)).all());
  };
  check(double{});
  check(float{});
}

// Fixed-size V take their own path through the kernels (straight-line code: detail::run_contiguous
// with a compile-time size): sizes below, at and above a packet, with and without a scalar tail,
// and a fixed-size matrix updated inside a larger one (spans a column apart, where the fixed path
// must not be taken), all bitwise equal to the dynamic-size run.
TEMPLATE_TEST_CASE("step: small fixed-size parameters give the numbers of dynamic ones", "[step]",
                   DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  auto check = [](auto scalar) {
    using S = decltype(scalar);
    INFO((std::is_same_v<S, float> ? "float" : "double"));
    auto same_as_dynamic = [](auto size) {
      constexpr int n = decltype(size)::value;
      using VF = Eigen::Matrix<S, n, 1>;
      VF x, g;
      fill_start(x);
      run_on<TestType, VF>(x, g);
      INFO("size " << n);
      CHECK((x.array() == reference_run<TestType, S>(n).array()).all());
    };
    // 1: a tail only; 2: one SSE packet of double; 3: a packet and a tail (or a tail only); 5: wider
    // packets, halves and a tail. (kN = 19 is tested above.)
    same_as_dynamic(std::integral_constant<int, 1>{});
    same_as_dynamic(std::integral_constant<int, 2>{});
    same_as_dynamic(std::integral_constant<int, 3>{});
    same_as_dynamic(std::integral_constant<int, 5>{});

    using M32 = Eigen::Matrix<S, 3, 2>;
    using MX = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
    MX big = MX::Constant(5, 4, S(7));
    M32 start, g;
    fill_start(start.reshaped());
    big.template block<3, 2>(1, 1) = start;
    {
      auto opt = TestType::template make<M32>();
      for (int t = 0; t < kSteps; ++t) {
        const M32 current = big.template block<3, 2>(1, 1);
        gradient(g.reshaped(), current.reshaped(), t);
        opt.step(big.template block<3, 2>(1, 1), g);
      }
    }
    const M32 updated = big.template block<3, 2>(1, 1);
    CHECK((updated.reshaped().array() == reference_run<TestType, S>(6).array()).all());
    big.template block<3, 2>(1, 1).setConstant(S(7));
    CHECK((big.array() == S(7)).all());
  };
  check(double{});
  check(float{});
}

TEMPLATE_TEST_CASE("step: matrices and arrays, packed, blocked and row-major", "[step]", DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  auto check = [](auto scalar) {
    using S = decltype(scalar);
    using VX = Eigen::Matrix<S, Eigen::Dynamic, 1>;
    using MX = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
    using MR = Eigen::Matrix<S, 4, 5, Eigen::RowMajor>;
    using AX = Eigen::Array<S, Eigen::Dynamic, Eigen::Dynamic>;
    const VX ref = reference_run<TestType, S>(20);

    // A column-major 4x5 matrix is the vector of its columns.
    MX m(4, 5), gm(4, 5);
    fill_start(m.reshaped());
    {
      auto opt = TestType::template make<MX>();
      for (int t = 0; t < kSteps; ++t) {
        gradient(gm.reshaped(), m.reshaped(), t);
        opt.step(m, gm);
      }
    }
    CHECK((m.reshaped().array() == ref.array()).all());

    AX a(4, 5), ga(4, 5);
    fill_start(a.reshaped());
    {
      auto opt = TestType::template make<AX>();
      for (int t = 0; t < kSteps; ++t) {
        gradient(ga.reshaped(), a.reshaped(), t);
        opt.step(a, ga);
      }
    }
    CHECK((a.reshaped().array() == ref.array()).all());

    // A row-major matrix is the vector of its rows.
    MR r, gr;
    fill_start(r.template reshaped<Eigen::RowMajor>());
    {
      auto opt = TestType::template make<MR>();
      for (int t = 0; t < kSteps; ++t) {
        gradient(gr.template reshaped<Eigen::RowMajor>(), r.template reshaped<Eigen::RowMajor>(), t);
        opt.step(r, gr);
      }
    }
    CHECK((r.template reshaped<Eigen::RowMajor>().array() == ref.array()).all());

    // A 4x5 block of a 9x8 matrix: column by column (outer stride 9), the border untouched.
    MX big = MX::Constant(9, 8, S(7));
    MX gb(4, 5);
    auto block = big.block(2, 1, 4, 5);
    fill_start(block.reshaped());
    {
      auto opt = TestType::template make<MX>();
      for (int t = 0; t < kSteps; ++t) {
        gradient(gb.reshaped(), block.reshaped(), t);
        opt.step(block, gb);
      }
    }
    CHECK(relative_error(MX(block).reshaped(), ref) <= tolerance<S>());
    MX outside = big;
    outside.block(2, 1, 4, 5).setConstant(S(7));
    CHECK((outside.array() == S(7)).all());
  };
  check(double{});
  check(float{});
}

TEMPLATE_TEST_CASE("step: strided and reversed views and lazy gradient expressions", "[step]",
                   DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  using VX = Eigen::VectorXd;
  const VX ref = reference_run<TestType, double>();

  // Every other element of a buffer: inner stride 2.
  std::vector<double> buffer(2 * kN, -5.0);
  Eigen::Map<VX, 0, Eigen::InnerStride<2>> strided(buffer.data(), kN);
  fill_start(strided);
  VX g(kN);
  run_on<TestType, VX>(strided, g);
  CHECK((VX(strided).array() == ref.array()).all());
  for (Eigen::Index i = 0; i < kN; ++i) CHECK(buffer[std::size_t(2 * i + 1)] == -5.0);

  // A reversed view: params.reverse() is written in reverse order.
  VX y(kN);
  fill_start(y.reverse());
  run_on<TestType, VX>(y.reverse(), g);
  CHECK((VX(y.reverse()).array() == ref.array()).all());

  // The gradient as a lazy expression: 2 * (half the gradient).
  VX z(kN), half(kN);
  fill_start(z);
  auto opt = TestType::template make<VX>();
  for (int t = 0; t < kSteps; ++t) {
    gradient(g, z, t);
    half = 0.5 * g;
    opt.step(z, 2.0 * half);
  }
  CHECK((z.array() == ref.array()).all());

  // The gradient as a matrix product (evaluated by Eigen): identity * g.
  VX w(kN);
  fill_start(w);
  const Eigen::MatrixXd identity = Eigen::MatrixXd::Identity(kN, kN);
  auto opt2 = TestType::template make<VX>();
  for (int t = 0; t < kSteps; ++t) {
    gradient(g, w, t);
    opt2.step(w, identity * g);
  }
  CHECK((w.array() == ref.array()).all());

  // Array expressions for a Matrix optimizer, both ways.
  VX u(kN);
  fill_start(u);
  auto opt3 = TestType::template make<VX>();
  for (int t = 0; t < kSteps; ++t) {
    gradient(g, u, t);
    opt3.step(u.array(), g.array());
  }
  CHECK((u.array() == ref.array()).all());
}

TEMPLATE_TEST_CASE("step: a shape mismatch throws before anything is written", "[step]", DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  using VX = Eigen::VectorXd;
  auto opt = TestType::template make<VX>();
  VX x = VX::LinSpaced(10, -1.0, 1.0);
  const VX x0 = x;

  // Before any state exists.
  CHECK_THROWS_WITH(opt.step(x, VX::Ones(9)), Catch::Contains("params is 10x1 but grads is 9x1"));
  CHECK((x.array() == x0.array()).all());
  CHECK(opt.steps() == 0);

  // With state: a second step of another size.
  opt.step(x, VX::Ones(10));
  const auto opt_after_one = opt;
  const VX x1 = x;
  if constexpr (TestType::stateful) {
    VX other = VX::Ones(12);
    CHECK_THROWS_WITH(opt.step(other, VX::Ones(12)), Catch::Contains("state is 10x1"));
    CHECK((other.array() == 1.0).all());
  }
  CHECK_THROWS_AS(opt.step(x, VX::Ones(11)), std::invalid_argument);
  CHECK((x.array() == x1.array()).all());
  CHECK(opt.steps() == 1);
  // The failed calls changed nothing: the next step is the one the untouched copy takes.
  auto copy = opt_after_one;
  VX xa = x, xb = x;
  opt.step(xa, VX::Constant(10, 0.5));
  copy.step(xb, VX::Constant(10, 0.5));
  CHECK((xa.array() == xb.array()).all());

  // Matrices: same size, different shape.
  using MX = Eigen::MatrixXd;
  auto mopt = TestType::template make<MX>();
  MX m = MX::Ones(3, 4);
  CHECK_THROWS_WITH(mopt.step(m, MX::Ones(4, 3)), Catch::Contains("params is 3x4 but grads is 4x3"));
  CHECK((m.array() == 1.0).all());

  // A fixed-size optimizer handed a dynamic view of the wrong size.
  using V3 = Eigen::Vector3d;
  auto fopt = TestType::template make<V3>();
  VX five = VX::Ones(5);
  CHECK_THROWS_WITH(fopt.step(Eigen::Map<VX>(five.data(), 5), VX::Ones(5)), Catch::Contains("holds 3x1"));
  CHECK((five.array() == 1.0).all());
}

TEMPLATE_TEST_CASE("step: reset() makes the next step a first step", "[step]", DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  using VX = Eigen::VectorXd;
  auto opt = TestType::template make<VX>();
  VX x(kN), g(kN);
  fill_start(x);
  for (int t = 0; t < 5; ++t) {
    gradient(g, x, t);
    opt.step(x, g);
  }
  CHECK(opt.steps() == 5);
  opt.reset();
  CHECK(opt.steps() == 0);
  // Afterwards it behaves exactly as a fresh optimizer, even on another size.
  CHECK(reference_run<TestType, double>(7).size() == 7);
  VX y(7), gy(7);
  fill_start(y);
  for (int t = 0; t < kSteps; ++t) {
    gradient(gy, y, t);
    opt.step(y, gy);
  }
  CHECK((y.array() == reference_run<TestType, double>(7).array()).all());
}

TEST_CASE("step: first steps computed by hand", "[step]") {
  using V = Eigen::Vector3d;
  const V g(2.0, -0.5, 0.0);

  SECTION("GradientDescent with L2 and maximize") {
    V x(1.0, 2.0, 3.0);
    descent::GradientDescent<V>({.lr = 0.1, .weight_decay = 0.5, .maximize = true}).step(x, g);
    // g' = -g + 0.5 x
    CHECK(x(0) == Approx(1.0 - 0.1 * (-2.0 + 0.5)));
    CHECK(x(1) == Approx(2.0 - 0.1 * (0.5 + 1.0)));
    CHECK(x(2) == Approx(3.0 - 0.1 * 1.5));
  }
  SECTION("SGD momentum: the first buffer is the gradient, undampened") {
    V x = V::Zero();
    descent::SGD<V> opt({.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
    opt.step(x, g);
    CHECK(x(0) == Approx(-0.2));
    CHECK(opt.momentum_buffer()(0) == 2.0);
    opt.step(x, g);  // buf = 0.9 * 2 + 0.5 * 2 = 2.8
    CHECK(opt.momentum_buffer()(0) == Approx(2.8));
    CHECK(x(0) == Approx(-0.2 - 0.28));
  }
  SECTION("SGD Nesterov steps along g + mu * buf") {
    V x = V::Zero();
    descent::SGD<V> opt({.lr = 0.1, .momentum = 0.9, .nesterov = true});
    opt.step(x, g);
    CHECK(x(0) == Approx(-0.1 * (2.0 + 0.9 * 2.0)));
  }
  SECTION("Adam: the first step is lr * sign(g)") {
    V x = V::Zero();
    descent::Adam<V> opt({.lr = 0.01});
    opt.step(x, g);
    CHECK(x(0) == Approx(-0.01).epsilon(1e-6));
    CHECK(x(1) == Approx(0.01).epsilon(1e-6));
    CHECK(x(2) == 0.0);
    CHECK(opt.first_moment()(0) == Approx(0.2));
    CHECK(opt.second_moment()(0) == Approx(0.004));
  }
  SECTION("AdamW shrinks the weights by lr * weight_decay before the update") {
    V x(1.0, 1.0, 1.0);
    descent::AdamW<V> opt({.lr = 0.1, .weight_decay = 0.5});
    opt.step(x, g);
    CHECK(x(2) == Approx(0.95));
    CHECK(x(0) == Approx(0.95 - 0.1).epsilon(1e-6));
  }
  SECTION("Adagrad: lr * g / (|g| + eps), then a decayed rate") {
    V x = V::Zero();
    descent::Adagrad<V> opt({.lr = 0.1, .lr_decay = 1.0});
    opt.step(x, g);
    CHECK(x(0) == Approx(-0.1));
    CHECK(opt.sum_of_squares()(0) == 4.0);
    opt.step(x, g);  // clr = 0.1 / 2, sum = 8
    CHECK(x(0) == Approx(-0.1 - 0.05 * 2.0 / std::sqrt(8.0)));
  }
  SECTION("RMSProp centered: sqrt(v - ga^2)") {
    V x = V::Zero();
    descent::RMSProp<V> opt({.lr = 0.01, .alpha = 0.9, .centered = true});
    opt.step(x, g);
    // v = 0.1 * 4 = 0.4, ga = 0.2, v - ga^2 = 0.36
    CHECK(x(0) == Approx(-0.01 * 2.0 / (0.6 + 1e-8)));
  }
}

TEST_CASE("step: maximize ascends", "[step]") {
  using V = Eigen::VectorXd;
  // f(x) = -|x|^2 has its maximum at 0; grad = -2x.
  descent::Adam<V> opt({.lr = 0.05, .maximize = true});
  V x = V::Constant(4, 1.0);
  for (int i = 0; i < 500; ++i) opt.step(x, -2.0 * x);
  CHECK(x.norm() < 1e-2);
}

// The bias corrections 1 − betaᵗ skip std::pow once the answer is 1 (detail::BiasCorrection): the
// same values as torch's `1 - beta ** step` at every step, through the saturation, when beta
// changes (OneCycleLR cycles beta1) and when the step count goes back (reset, a loaded checkpoint).
TEST_CASE("bias corrections equal 1 - pow(beta, t) at every step", "[step]") {
  descent::detail::BiasCorrection correction;
  std::int64_t saturated = 0;
  for (const double beta : {0.0, 0.3, 0.9, 0.99, 0.999, 0.9999, 0.95}) {
    INFO("beta " << beta);
    const std::int64_t last = beta == 0.9999 ? 420000 : 60000;
    for (std::int64_t t = 1; t <= last; ++t) {
      const double expected = 1.0 - std::pow(beta, double(t));
      if (correction(beta, t) != expected) {
        FAIL_CHECK("t = " << t);
        break;
      }
      if (expected == 1.0) ++saturated;
    }
    // Back to earlier steps with the same beta, and alternating betas.
    for (const std::int64_t t : {std::int64_t(1), std::int64_t(2), std::int64_t(300), std::int64_t(59999)}) {
      CHECK(correction(beta, t) == 1.0 - std::pow(beta, double(t)));
      CHECK(correction(0.5, t) == 1.0 - std::pow(0.5, double(t)));
    }
  }
  CHECK(saturated > 100000);  // the saturated range was exercised
}
