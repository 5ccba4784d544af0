// ASGD and Rprop (issue 11) beyond the torch reference trajectories: defaults, option validation,
// the quirks of torch 1.13's formulas checked by hand, no momentum, Grouped and Scheduler, and
// convergence on a quadratic.
#include <catch2/catch.hpp>
#include <descent/descent.hpp>

#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using V = Eigen::VectorXd;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// The message names the options struct, the field and the offending value.
template <class Make>
void require_rejected(Make make, const std::string& options, const std::string& field, const std::string& value) {
  INFO(options << "." << field << " = " << value);
  try {
    make();
    FAIL("no exception for " << field << " = " << value);
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    INFO("message: " << what);
    CHECK(what.find("descent::" + options) != std::string::npos);
    CHECK(what.find(field + " = " + value) != std::string::npos);
  }
}

// A deterministic, noise-free gradient of ½ Σ a_i (x_i − c_i)², a_i in [0.5, 2].
V quadratic_gradient(const V& x) {
  V g(x.size());
  for (Eigen::Index i = 0; i < x.size(); ++i)
    g[i] = (0.5 + 1.5 * double(i) / double(x.size())) * (x[i] - std::sin(double(i)));
  return g;
}

V quadratic_minimum(Eigen::Index n) {
  V c(n);
  for (Eigen::Index i = 0; i < n; ++i) c[i] = std::sin(double(i));
  return c;
}

V start(Eigen::Index n) {
  V x(n);
  for (Eigen::Index i = 0; i < n; ++i) x[i] = 2.0 * std::cos(1.7 * double(i));
  return x;
}

}  // namespace

TEST_CASE("asgd/rprop: defaults are torch.optim 1.13's", "[asgd_rprop]") {
  const descent::ASGDOptions a;
  CHECK(a.lr == 1e-2);
  CHECK(a.lambd == 1e-4);
  CHECK(a.alpha == 0.75);
  CHECK(a.t0 == 1e6);
  CHECK(a.weight_decay == 0.0);
  CHECK_FALSE(a.maximize);

  const descent::RpropOptions r;
  CHECK(r.lr == 1e-2);
  CHECK(r.eta_minus == 0.5);
  CHECK(r.eta_plus == 1.2);
  CHECK(r.step_size_min == 1e-6);
  CHECK(r.step_size_max == 50.0);
  CHECK_FALSE(r.maximize);

  // field order: designated initializers in declaration order compile
  [[maybe_unused]] const descent::ASGDOptions a2{
      .lr = 0.1, .lambd = 0.0, .alpha = 0.5, .t0 = 3, .weight_decay = 0.01, .maximize = true};
  [[maybe_unused]] const descent::RpropOptions r2{
      .lr = 0.1, .eta_minus = 0.4, .eta_plus = 1.1, .step_size_min = 0.0, .step_size_max = 1.0, .maximize = true};
}

TEST_CASE("asgd/rprop: invalid options are rejected with the field and the value", "[asgd_rprop]") {
  using AO = descent::ASGDOptions;
  require_rejected([] { descent::ASGD<V>(AO{.lr = -0.1}); }, "ASGDOptions", "lr", "-0.10000000000000001");
  require_rejected([] { descent::ASGD<V>(AO{.lr = kNaN}); }, "ASGDOptions", "lr", "nan");
  require_rejected([] { descent::ASGD<V>(AO{.lambd = -1.0}); }, "ASGDOptions", "lambd", "-1");
  require_rejected([] { descent::ASGD<V>(AO{.alpha = kInf}); }, "ASGDOptions", "alpha", "inf");
  require_rejected([] { descent::ASGD<V>(AO{.t0 = -2.0}); }, "ASGDOptions", "t0", "-2");
  require_rejected([] { descent::ASGD<V>(AO{.weight_decay = -0.5}); }, "ASGDOptions", "weight_decay", "-0.5");
  require_rejected([] { descent::ASGD<Eigen::VectorXf>(AO{.lr = 1e39}); }, "ASGDOptions", "lr", "9.9999999999999994e+38");
  CHECK_NOTHROW(descent::ASGD<V>(AO{.lr = 0.0, .lambd = 0.0, .alpha = 0.0, .t0 = 0.0}));

  using RO = descent::RpropOptions;
  require_rejected([] { descent::Rprop<V>(RO{.lr = -1.0}); }, "RpropOptions", "lr", "-1");
  require_rejected([] { descent::Rprop<V>(RO{.eta_minus = 0.0}); }, "RpropOptions", "eta_minus", "0");
  require_rejected([] { descent::Rprop<V>(RO{.eta_minus = 1.0}); }, "RpropOptions", "eta_minus", "1");
  require_rejected([] { descent::Rprop<V>(RO{.eta_minus = kNaN}); }, "RpropOptions", "eta_minus", "nan");
  require_rejected([] { descent::Rprop<V>(RO{.eta_plus = 1.0}); }, "RpropOptions", "eta_plus", "1");
  require_rejected([] { descent::Rprop<V>(RO{.eta_plus = kInf}); }, "RpropOptions", "eta_plus", "inf");
  require_rejected([] { descent::Rprop<V>(RO{.step_size_min = -1e-6}); }, "RpropOptions", "step_size_min", "-9.9999999999999995e-07");
  require_rejected([] { descent::Rprop<V>(RO{.step_size_max = kInf}); }, "RpropOptions", "step_size_max", "inf");
  require_rejected([] { descent::Rprop<V>(RO{.step_size_min = 2.0, .step_size_max = 1.0}); }, "RpropOptions",
                   "step_size_max", "1");
  require_rejected([] { descent::Rprop<Eigen::VectorXf>(RO{.step_size_max = 1e39}); }, "RpropOptions",
                   "step_size_max", "9.9999999999999994e+38");
  try {
    descent::Rprop<V>(RO{.step_size_min = 2.0, .step_size_max = 1.0});
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("must be >= step_size_min = 2") != std::string::npos);
  }

  // set_lr validates and keeps the old value on a refusal
  descent::ASGD<V> asgd({.lr = 0.1});
  require_rejected([&] { asgd.set_lr(-1.0); }, "ASGDOptions", "lr", "-1");
  CHECK(asgd.lr() == 0.1);
  asgd.set_lr(0.2);
  CHECK(asgd.lr() == 0.2);
  descent::Rprop<V> rprop({.lr = 0.1});
  require_rejected([&] { rprop.set_lr(kInf); }, "RpropOptions", "lr", "inf");
  CHECK(rprop.lr() == 0.1);
}

TEST_CASE("asgd/rprop: no momentum, a momentum-cycling schedule is refused", "[asgd_rprop]") {
  STATIC_REQUIRE_FALSE(descent::detail::HasMomentum<descent::ASGD<V>>);
  STATIC_REQUIRE_FALSE(descent::detail::HasMomentum<descent::Rprop<V>>);
  STATIC_REQUIRE_FALSE(descent::detail::HasMomentum<descent::Grouped<descent::ASGD<V>>>);
  STATIC_REQUIRE(descent::Optimizer<descent::ASGD<V>, V>);
  STATIC_REQUIRE(descent::Optimizer<descent::Rprop<V>, V>);
  descent::ASGD<V> asgd;
  descent::Rprop<V> rprop;
  const descent::CyclicLR cyclic{.base_lr = 0.01, .max_lr = 0.1};
  CHECK_THROWS_AS(descent::Scheduler(asgd, cyclic), std::invalid_argument);
  CHECK_THROWS_AS(descent::Scheduler(rprop, cyclic), std::invalid_argument);
  auto no_momentum = cyclic;
  no_momentum.cycle_momentum = false;
  descent::Scheduler s(asgd, no_momentum);
  s.step();
  CHECK(asgd.lr() > 0.01);
}

TEST_CASE("asgd: eta and mu come from the previous step, ax averages from step t0 + 2", "[asgd_rprop]") {
  const descent::ASGDOptions o{.lr = 0.05, .lambd = 0.1, .alpha = 0.75, .t0 = 2, .weight_decay = 0.01};
  descent::ASGD<V> opt(o);
  CHECK(opt.steps() == 0);
  V x = start(5), hand = x, avg = V::Zero(5);
  std::vector<V> iterates;
  double eta = o.lr, mu = 1.0;
  for (int t = 1; t <= 12; ++t) {
    const V g = quadratic_gradient(x);
    opt.step(x, g);
    // the formula, written out (Eigen expressions, double)
    const V gd = g + o.weight_decay * hand;
    hand = hand * (1.0 - o.lambd * eta);
    hand = hand - eta * gd;
    avg = mu != 1.0 ? V(avg + (hand - avg) * mu) : hand;
    iterates.push_back(hand);
    eta = o.lr / std::pow(1.0 + o.lambd * o.lr * t, o.alpha);
    mu = 1.0 / std::max(1.0, t - o.t0);
    INFO("step " << t);
    CHECK(opt.steps() == t);
    CHECK(opt.eta() == eta);
    CHECK(opt.mu() == mu);
    CHECK((x - hand).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK((opt.ax() - avg).cwiseAbs().maxCoeff() <= 1e-15);
    if (t <= 4) CHECK((opt.ax() - x).cwiseAbs().maxCoeff() == 0.0);  // mu = 1 up to step t0 + 2
  }
  // then ax is the running mean of the iterates of steps t0 + 2 = 4, 5, ..., t
  V mean = V::Zero(5);
  for (std::size_t i = 3; i < iterates.size(); ++i) mean += iterates[i];
  mean /= double(iterates.size() - 3);
  CHECK((opt.ax() - mean).cwiseAbs().maxCoeff() <= 1e-12);

  // an lr changed after the first step enters through the next eta, not the next step
  descent::ASGD<V> a({.lr = 0.1, .lambd = 0.0}), b({.lr = 0.1, .lambd = 0.0});
  V xa = start(5), xb = start(5);
  a.step(xa, quadratic_gradient(xa));
  b.step(xb, quadratic_gradient(xb));
  a.set_lr(0.5);
  const V before = xa, ga = quadratic_gradient(xa);
  a.step(xa, ga);
  CHECK((xa - (before - 0.1 * ga)).cwiseAbs().maxCoeff() <= 1e-15);  // still eta = 0.1
  CHECK(a.eta() == 0.5);

  opt.reset();
  CHECK(opt.steps() == 0);
  CHECK(opt.mu() == 1.0);
}

TEST_CASE("rprop: step sizes grow, shrink after a sign change, and the zeroed gradient is seen next", "[asgd_rprop]") {
  descent::Rprop<V> opt({.lr = 0.01, .eta_minus = 0.5, .eta_plus = 1.2, .step_size_min = 1e-3, .step_size_max = 0.0125});
  V x = V::Zero(1);
  const double grads[] = {2.0, 3.0, -1.0, 4.0, 5.0, -0.0};
  const double step_after[] = {0.01, 0.012, 0.006, 0.006, 0.0072, 0.0072};
  const double moved[] = {-0.01, -0.012, 0.0, -0.006, -0.0072, 0.0};
  const double prev_after[] = {2.0, 3.0, 0.0, 4.0, 5.0, 0.0};
  double expected = 0.0;
  for (int t = 0; t < 6; ++t) {
    opt.step(x, V::Constant(1, grads[t]));
    expected += moved[t];
    INFO("step " << t + 1);
    CHECK(opt.step_sizes()[0] == Approx(step_after[t]).epsilon(1e-15));
    CHECK(opt.previous_gradient()[0] == prev_after[t]);
    CHECK(x[0] == Approx(expected).epsilon(1e-15));
  }
  // the bounds clamp
  for (int t = 0; t < 5; ++t) opt.step(x, V::Constant(1, 1.0));
  CHECK(opt.step_sizes()[0] == 0.0125);
  for (int t = 0; t < 20; ++t) opt.step(x, V::Constant(1, t % 2 ? 1.0 : -1.0));
  CHECK(opt.step_sizes()[0] == 1e-3);

  // maximize ascends; NaN gradients leave the step size alone and do not move the parameter
  descent::Rprop<V> up({.lr = 0.1, .maximize = true});
  V y = V::Zero(2);
  up.step(y, V(V::Constant(2, 1.0)));
  CHECK(y[0] == 0.1);
  up.step(y, (V(2) << kNaN, 1.0).finished());
  CHECK(y[0] == 0.1);
  CHECK(up.step_sizes()[0] == 0.1);
  CHECK(std::isnan(up.previous_gradient()[0]));
  CHECK(y[1] == Approx(0.22).epsilon(1e-15));

  // lr only initializes the step sizes: set_lr after the first step changes nothing
  descent::Rprop<V> a({.lr = 0.05}), b({.lr = 0.05});
  V xa = start(7), xb = start(7);
  for (int t = 0; t < 10; ++t) {
    if (t == 1) a.set_lr(1.0);
    a.step(xa, quadratic_gradient(xa));
    b.step(xb, quadratic_gradient(xb));
  }
  CHECK((xa - xb).cwiseAbs().maxCoeff() == 0.0);
  a.reset();
  a.step(xa, quadratic_gradient(xa));  // after reset() the new lr is the initial step size
  CHECK((a.step_sizes().array() == 1.0).all());
}

TEMPLATE_TEST_CASE("asgd/rprop: Grouped + StepLR equals hand-driven per-group optimizers", "[asgd_rprop]",
                   descent::ASGD<Eigen::VectorXd>, descent::Rprop<Eigen::VectorXd>, descent::ASGD<Eigen::VectorXf>,
                   descent::Rprop<Eigen::VectorXf>) {
  using O = TestType;
  using VX = typename O::Vector;
  using S = typename O::Scalar;
  using Options = typename O::Options;
  descent::Layout layout;
  layout.add("w", 4);
  layout.add("b", 3);
  Options first{}, second{};
  first.lr = 0.05;
  second.lr = 0.02;
  second.maximize = false;
  descent::Grouped<O> grouped({{layout.blocks({"w"}), first}, {layout.blocks({"b"}), second}});
  descent::Scheduler sched(grouped, descent::StepLR{.step_size = 3, .gamma = 0.5});
  O w(first), b(second);
  VX x = start(7).cast<S>(), y = x;
  for (int t = 0; t < 10; ++t) {
    const VX gx = quadratic_gradient(x.template cast<double>()).template cast<S>();
    const VX gy = quadratic_gradient(y.template cast<double>()).template cast<S>();
    grouped.step(x, gx);
    sched.step();
    w.step(y.segment(0, 4), gy.segment(0, 4));
    b.step(y.segment(4, 3), gy.segment(4, 3));
    w.set_lr(0.05 * std::pow(0.5, (t + 1) / 3));
    b.set_lr(0.02 * std::pow(0.5, (t + 1) / 3));
  }
  CHECK(grouped.lr(0) == w.lr());
  CHECK(grouped.lr(1) == b.lr());
  CHECK(grouped.lr(0) == 0.05 * 0.125);
  CHECK((x - y).cwiseAbs().maxCoeff() == S(0));
}

TEST_CASE("asgd/rprop: convergence on a quadratic", "[asgd_rprop]") {
  const Eigen::Index n = 23;
  const V c = quadratic_minimum(n);
  {
    descent::ASGD<V> opt({.lr = 0.2, .t0 = 100});
    V x = start(n);
    for (int t = 0; t < 400; ++t) opt.step(x, quadratic_gradient(x));
    CHECK((x - c).cwiseAbs().maxCoeff() < 1e-3);
    CHECK((opt.ax() - c).cwiseAbs().maxCoeff() < 1e-3);  // the average of converged iterates
  }
  {
    descent::Rprop<V> opt;
    V x = start(n);
    for (int t = 0; t < 400; ++t) opt.step(x, quadratic_gradient(x));
    CHECK((x - c).cwiseAbs().maxCoeff() < 1e-4);
  }
  {
    descent::Rprop<Eigen::VectorXf> opt({.maximize = true});
    Eigen::VectorXf x = start(n).cast<float>();
    for (int t = 0; t < 400; ++t) opt.step(x, Eigen::VectorXf(-quadratic_gradient(x.cast<double>()).cast<float>()));
    CHECK((x.cast<double>() - c).cwiseAbs().maxCoeff() < 1e-3);
  }
}
