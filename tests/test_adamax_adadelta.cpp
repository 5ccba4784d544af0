// Adamax and Adadelta (torch.optim 1.13's set, issue 11): options, validation, the first step by
// hand, momentum (Adamax's beta1), parameter groups with a scheduler, checkpoints and convergence.
// Their torch trajectories are in test_torch_reference.cpp; the generic step, allocation and
// checkpoint tests run them through DESCENT_TEST_ALL_VARIANTS.

#include <catch2/catch.hpp>
#include <cmath>
#include <descent/descent.hpp>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

// The checkpoint parts need <descent/checkpoint.hpp>'s dependencies (descent::checkpoint in CMake).
#if __has_include(<nlohmann/json.hpp>) && __has_include(<xxhash.h>)
#define DESCENT_TEST_CHECKPOINTS 1
#include <descent/checkpoint.hpp>
#else
#define DESCENT_TEST_CHECKPOINTS 0
#endif

using Catch::Matchers::Contains;

namespace {

using V = Eigen::VectorXd;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

template <class Make>
void require_rejected(Make make, const std::string& message) {
  INFO("expected message: " << message);
  try {
    make();
    FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == message);
  }
}

template <class O>
concept HasMomentumAccessor = requires(O o) {
  o.momentum();
  o.set_momentum(0.5);
};

#if DESCENT_TEST_CHECKPOINTS
descent::Checkpoint round_trip(const descent::Checkpoint& ck) {
  std::stringstream bytes(std::ios::in | std::ios::out | std::ios::binary);
  ck.save(bytes);
  return descent::Checkpoint::load(bytes);
}
#endif

// The gradient of ½ Σ h_i (x_i − c_i)², h from 0.1 to 10.
struct Quadratic {
  V h, c;
  explicit Quadratic(Eigen::Index n) : h(n), c(n) {
    for (Eigen::Index i = 0; i < n; ++i) {
      h[i] = std::pow(10.0, -1.0 + 2.0 * double(i) / double(n - 1));
      c[i] = std::sin(1.3 * double(i) + 0.4);
    }
  }
  V grad(const V& x) const { return h.cwiseProduct(x - c); }
};

}  // namespace

// ---- options ---------------------------------------------------------------------------------

TEST_CASE("adamax/adadelta: defaults are torch 1.13's, fields in torch's order", "[adamax_adadelta]") {
  const descent::AdamaxOptions ax;
  CHECK(ax.lr == 2e-3);
  CHECK(ax.beta1 == 0.9);
  CHECK(ax.beta2 == 0.999);
  CHECK(ax.eps == 1e-8);
  CHECK(ax.weight_decay == 0.0);
  CHECK_FALSE(ax.maximize);
  const descent::Adamax<V> adamax(
      {.lr = 0.1, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1, .maximize = true});
  CHECK(adamax.options().beta2 == 0.99);
  CHECK(adamax.lr() == 0.1);

  const descent::AdadeltaOptions ad;
  CHECK(ad.lr == 1.0);
  CHECK(ad.rho == 0.9);
  CHECK(ad.eps == 1e-6);
  CHECK(ad.weight_decay == 0.0);
  CHECK_FALSE(ad.maximize);
  const descent::Adadelta<V> adadelta({.lr = 0.5, .rho = 0.95, .eps = 1e-5, .weight_decay = 0.1, .maximize = true});
  CHECK(adadelta.options().rho == 0.95);
  CHECK(adadelta.lr() == 0.5);
}

TEST_CASE("adamax/adadelta: invalid options throw, naming the field and the value", "[adamax_adadelta]") {
  using AX = descent::Adamax<V>;
  using AD = descent::Adadelta<V>;
  require_rejected([] { AX({.lr = -1.0}); }, "descent::AdamaxOptions: invalid lr = -1 (must be a finite number >= 0)");
  require_rejected([] { AX({.lr = kNaN}); }, "descent::AdamaxOptions: invalid lr = nan (must be a finite number >= 0)");
  require_rejected([] { AX({.beta1 = 1.0}); }, "descent::AdamaxOptions: invalid beta1 = 1 (must be in [0, 1))");
  require_rejected([] { AX({.beta2 = -0.5}); }, "descent::AdamaxOptions: invalid beta2 = -0.5 (must be in [0, 1))");
  require_rejected([] { AX({.eps = -1e-8}); },
                   "descent::AdamaxOptions: invalid eps = -1e-08 (must be a finite number >= 0)");
  require_rejected([] { AX({.weight_decay = kInf}); },
                   "descent::AdamaxOptions: invalid weight_decay = inf (must be a finite number >= 0)");
  require_rejected([] { descent::Adamax<Eigen::VectorXf>({.lr = 1e39}); },
                   "descent::AdamaxOptions: invalid lr = 9.9999999999999994e+38 (must be finite in float, the "
                   "optimizer's scalar type)");
  CHECK_NOTHROW(AX({.beta1 = 0.0, .beta2 = 0.0, .eps = 0.0}));

  require_rejected([] { AD({.lr = -0.1}); },
                   "descent::AdadeltaOptions: invalid lr = -0.10000000000000001 (must be a finite number >= 0)");
  require_rejected([] { AD({.rho = 1.5}); }, "descent::AdadeltaOptions: invalid rho = 1.5 (must be in [0, 1])");
  require_rejected([] { AD({.rho = kNaN}); }, "descent::AdadeltaOptions: invalid rho = nan (must be in [0, 1])");
  require_rejected([] { AD({.eps = -1.0}); },
                   "descent::AdadeltaOptions: invalid eps = -1 (must be a finite number >= 0)");
  require_rejected([] { AD({.weight_decay = -1.0}); },
                   "descent::AdadeltaOptions: invalid weight_decay = -1 (must be a finite number >= 0)");
  CHECK_NOTHROW(AD({.rho = 0.0}));
  CHECK_NOTHROW(AD({.rho = 1.0}));  // torch accepts rho = 1 (the averages then never move)

  // set_lr validates and leaves the options as they were on a bad value
  AX ax({.lr = 0.1});
  CHECK_THROWS_AS(ax.set_lr(-1.0), std::invalid_argument);
  CHECK(ax.lr() == 0.1);
  ax.set_lr(0.2);
  CHECK(ax.lr() == 0.2);
  AD ad;
  CHECK_THROWS_AS(ad.set_lr(kNaN), std::invalid_argument);
  CHECK(ad.lr() == 1.0);
  ad.set_lr(0.5);
  CHECK(ad.options().lr == 0.5);
}

TEST_CASE("adamax: momentum() is beta1, Adadelta has no momentum", "[adamax_adadelta]") {
  descent::Adamax<V> opt({.beta1 = 0.8});
  CHECK(opt.momentum() == 0.8);
  opt.set_momentum(0.95);
  CHECK(opt.momentum() == 0.95);
  CHECK(opt.options().beta1 == 0.95);
  require_rejected([&] { opt.set_momentum(1.0); }, "descent::AdamaxOptions: invalid beta1 = 1 (must be in [0, 1))");
  CHECK(opt.momentum() == 0.95);
  STATIC_REQUIRE(descent::Optimizer<descent::Adamax<V>, V>);
  STATIC_REQUIRE(descent::Optimizer<descent::Adadelta<Eigen::VectorXf>, Eigen::VectorXf>);
  STATIC_REQUIRE(descent::LearningRateControl<descent::Adamax<V>>);
  STATIC_REQUIRE(descent::LearningRateControl<descent::Adadelta<V>>);
  STATIC_REQUIRE(HasMomentumAccessor<descent::Adamax<V>>);
  STATIC_REQUIRE_FALSE(HasMomentumAccessor<descent::Adadelta<V>>);
}

// ---- the update ------------------------------------------------------------------------------

TEST_CASE("adamax: the first two steps by hand, eps inside the max", "[adamax_adadelta]") {
  const double lr = 0.1, b1 = 0.9, b2 = 0.5, eps = 0.25, wd = 0.2;
  descent::Adamax<V> opt({.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps, .weight_decay = wd});
  V x(3), g1(3), g2(3);
  x << 1.0, -2.0, 0.5;
  g1 << 0.5, 1.0, -3.0;
  g2 << -0.1, 4.0, 0.0;
  V m = V::Zero(3), u = V::Zero(3), p = x;
  for (int t = 1; t <= 2; ++t) {
    const V& graw = t == 1 ? g1 : g2;
    opt.step(x, graw);
    for (int i = 0; i < 3; ++i) {
      const double g = graw[i] + wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g;
      u[i] = std::max(b2 * u[i], std::abs(g) + eps);
      p[i] = p[i] - (lr / (1 - std::pow(b1, t))) * (m[i] / u[i]);
    }
    CHECK((x - p).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK((opt.first_moment() - m).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK((opt.infinity_norm() - u).cwiseAbs().maxCoeff() <= 1e-15);
  }
  CHECK(opt.steps() == 2);
  // eps enters the max: a zero gradient still leaves u >= eps (not eps added after the max)
  descent::Adamax<V> zero({.eps = 0.5});
  V y = V::Zero(2);
  zero.step(y, V::Zero(2));
  CHECK(zero.infinity_norm() == V::Constant(2, 0.5));
  CHECK(y == V::Zero(2));
}

TEST_CASE("adadelta: the first two steps by hand, lr scales the applied delta only", "[adamax_adadelta]") {
  const double lr = 0.5, rho = 0.8, eps = 1e-3, wd = 0.1;
  descent::Adadelta<V> opt({.lr = lr, .rho = rho, .eps = eps, .weight_decay = wd, .maximize = true});
  V x(3), g1(3), g2(3);
  x << 1.0, -2.0, 0.5;
  g1 << 0.5, 1.0, -3.0;
  g2 << -0.1, 4.0, 0.0;
  V v = V::Zero(3), a = V::Zero(3), p = x;
  for (int t = 1; t <= 2; ++t) {
    const V& graw = t == 1 ? g1 : g2;
    opt.step(x, graw);
    for (int i = 0; i < 3; ++i) {
      const double g = -graw[i] + wd * p[i];
      v[i] = rho * v[i] + (1 - rho) * g * g;
      const double d = std::sqrt(a[i] + eps) / std::sqrt(v[i] + eps) * g;
      a[i] = rho * a[i] + (1 - rho) * d * d;
      p[i] -= lr * d;
    }
    CHECK((x - p).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK((opt.square_average() - v).cwiseAbs().maxCoeff() <= 1e-15);
    CHECK((opt.accumulated_delta() - a).cwiseAbs().maxCoeff() <= 1e-15);
  }
  CHECK(opt.steps() == 2);
  opt.reset();
  CHECK(opt.steps() == 0);
}

TEST_CASE("adamax/adadelta: converge on an ill-conditioned quadratic", "[adamax_adadelta]") {
  const Quadratic q(17);
  SECTION("Adamax") {
    descent::Adamax<V> opt({.lr = 0.02});
    V x = V::Zero(17);
    for (int t = 0; t < 3000; ++t) opt.step(x, q.grad(x));
    CHECK((x - q.c).cwiseAbs().maxCoeff() < 1e-3);
  }
  SECTION("Adadelta") {
    descent::Adadelta<V> opt({.eps = 1e-4});
    V x = V::Zero(17);
    for (int t = 0; t < 3000; ++t) opt.step(x, q.grad(x));
    CHECK((x - q.c).cwiseAbs().maxCoeff() < 1e-3);
  }
}

// ---- groups, schedulers, checkpoints --------------------------------------------------------

TEMPLATE_TEST_CASE("adamax/adadelta: Grouped + StepLR equals one optimizer per block with the same lrs",
                   "[adamax_adadelta]", descent::Adamax<Eigen::VectorXd>, descent::Adadelta<Eigen::VectorXd>) {
  using O = TestType;
  using Options = typename O::Options;
  Options first{}, second{};
  first.lr = 0.05;
  second.lr = 0.2;
  second.weight_decay = 0.01;
  const std::vector<descent::Block> a{{"a", 0, 4, 1}}, b{{"b", 4, 3, 1}};
  descent::Grouped<O> grouped({{a, first}, {b, second}});
  descent::Scheduler sched(grouped, descent::StepLR{.step_size = 3, .gamma = 0.5});
  O one(first), two(second);

  const Quadratic q(7);
  V x = V::Zero(7), y = V::Zero(7);
  for (int t = 0; t < 10; ++t) {
    const double factor = std::pow(0.5, t / 3);
    CHECK(grouped.lr(0) == first.lr * factor);
    CHECK(grouped.lr(1) == second.lr * factor);
    one.set_lr(first.lr * factor);
    two.set_lr(second.lr * factor);
    grouped.step(x, q.grad(x));
    const V g = q.grad(y);
    one.step(y.head(4), g.head(4));
    two.step(y.tail(3), g.tail(3));
    sched.step();
  }
  CHECK(x == y);  // bitwise
  CHECK(grouped.optimizer(0, 0).steps() == 10);

#if DESCENT_TEST_CHECKPOINTS
  // the grouped optimizer and its scheduler survive a checkpoint round trip and continue identically
  descent::Checkpoint ck;
  ck.put("opt", grouped);
  ck.put("sched", sched);
  const descent::Checkpoint back = round_trip(ck);
  descent::Grouped<O> grouped2({{a, first}, {b, second}});
  descent::Scheduler sched2(grouped2, descent::StepLR{.step_size = 3, .gamma = 0.5});
  back.get("opt", grouped2);
  back.get("sched", sched2);
  V x2 = x;
  for (int t = 0; t < 5; ++t) {
    grouped.step(x, q.grad(x));
    sched.step();
    grouped2.step(x2, q.grad(x2));
    sched2.step();
  }
  CHECK(x == x2);
#endif
}

TEST_CASE("adamax/adadelta: OneCycleLR cycles Adamax's beta1 and refuses Adadelta", "[adamax_adadelta]") {
  descent::Adamax<V> adamax;
  descent::Scheduler s(adamax, descent::OneCycleLR{.max_lr = 0.01, .total_steps = 10});
  CHECK(adamax.momentum() == Approx(0.95));
  for (int t = 0; t < 2; ++t) s.step();  // the peak: step float(0.3 * 10) - 1 = 2
  CHECK(adamax.momentum() == Approx(0.85));
  CHECK(adamax.lr() == Approx(0.01));

  descent::Adadelta<V> adadelta;
  CHECK_THROWS_AS(descent::Scheduler(adadelta, descent::OneCycleLR{.max_lr = 0.01, .total_steps = 10}),
                  std::invalid_argument);
  descent::Scheduler ok(adadelta, descent::OneCycleLR{.max_lr = 0.01, .total_steps = 10, .cycle_momentum = false});
  CHECK(adadelta.lr() == Approx(0.01 / 25));
}

#if DESCENT_TEST_CHECKPOINTS
TEST_CASE("adamax/adadelta: checkpoints keep torch's state names and refuse other options", "[adamax_adadelta]") {
  V x(2), g(2);
  x << 1.0, 2.0;
  g << 0.5, -0.25;
  SECTION("Adamax") {
    descent::Adamax<V> opt({.lr = 0.1, .beta1 = 0.8});
    opt.step(x, g);
    descent::Checkpoint ck;
    ck.put("o", opt);
    const auto back = round_trip(ck);
    descent::Adamax<V> same({.lr = 0.5});  // lr and beta1 are restored (schedules change them)
    back.get("o", same);
    CHECK(same.lr() == 0.1);
    CHECK(same.momentum() == 0.8);
    CHECK(same.steps() == 1);
    CHECK(same.first_moment() == opt.first_moment());
    CHECK(same.infinity_norm() == opt.infinity_norm());
    descent::Adamax<V> other({.beta2 = 0.99});
    CHECK_THROWS_WITH(back.get("o", other), Contains("beta2"));
    CHECK(other.steps() == 0);  // untouched
    descent::Adadelta<V> wrong;
    CHECK_THROWS_AS(back.get("o", wrong), descent::CheckpointError);
  }
  SECTION("Adadelta") {
    descent::Adadelta<V> opt({.lr = 0.5, .rho = 0.7});
    opt.step(x, g);
    opt.step(x, g);
    descent::Checkpoint ck;
    ck.put("o", opt);
    const auto back = round_trip(ck);
    descent::Adadelta<V> same({.lr = 2.0, .rho = 0.7});
    back.get("o", same);
    CHECK(same.lr() == 0.5);
    CHECK(same.steps() == 2);
    CHECK(same.square_average() == opt.square_average());
    CHECK(same.accumulated_delta() == opt.accumulated_delta());
    descent::Adadelta<V> other({.lr = 0.5, .rho = 0.9});
    CHECK_THROWS_WITH(back.get("o", other), Contains("rho"));
    CHECK(other.steps() == 0);
  }
}
#endif
