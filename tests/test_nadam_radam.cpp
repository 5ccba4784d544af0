// NAdam and RAdam (torch.optim 1.13's): defaults, option validation, the formulas against a plain
// scalar transcription of torch's single-tensor code (NAdam's mu_product quirk, RAdam's switch to
// the rectified step), momentum()/set_momentum(), Grouped and Scheduler, checkpoints of
// mu_product, and convergence on a quadratic. The trajectories against torch itself are in
// test_torch_reference.cpp; the generic step, allocation and checkpoint tests run both through
// DESCENT_TEST_ALL_VARIANTS.

#include <descent/descent.hpp>

// The checkpoint tests need <descent/checkpoint.hpp>'s dependencies (descent::checkpoint is linked
// into descent_tests when CMake finds them).
#if __has_include(<nlohmann/json.hpp>) && __has_include(<xxhash.h>)
#define DESCENT_TEST_HAS_CHECKPOINT 1
#include <descent/checkpoint.hpp>
#else
#define DESCENT_TEST_HAS_CHECKPOINT 0
#endif

#include <Eigen/Core>
#include <catch2/catch.hpp>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

namespace {

using VX = Eigen::VectorXd;
using VF = Eigen::VectorXf;

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no exception)";
}

#if DESCENT_TEST_HAS_CHECKPOINT
std::string bytes_of(const descent::Checkpoint& ck) {
  std::ostringstream out(std::ios::binary);
  ck.save(out);
  return out.str();
}

descent::Checkpoint from_bytes(const std::string& bytes) {
  std::istringstream in(bytes, std::ios::binary);
  return descent::Checkpoint::load(in);
}
#endif

/// torch 1.13's _single_tensor_nadam for one coefficient, in double, as written there.
struct NAdamScalar {
  descent::NAdamOptions o;
  double m = 0, v = 0, mu_product = 1;
  int t = 0;
  double step(double p, double g) {
    ++t;
    const double step = t;
    const double bc2 = 1 - std::pow(o.beta2, step);
    if (o.weight_decay != 0) g = g + o.weight_decay * p;
    const double mu = o.beta1 * (1. - 0.5 * std::pow(0.96, step * o.momentum_decay));
    const double mu_next = o.beta1 * (1. - 0.5 * std::pow(0.96, (step + 1) * o.momentum_decay));
    mu_product *= mu;
    const double mu_product_next = mu_product * mu * mu_next;
    m = m * o.beta1 + g * (1 - o.beta1);
    v = v * o.beta2 + g * g * (1 - o.beta2);
    const double denom = std::sqrt(v / bc2) + o.eps;
    p = p + (-o.lr * (1. - mu) / (1. - mu_product)) * g / denom;
    p = p + (-o.lr * mu_next / (1. - mu_product_next)) * m / denom;
    return p;
  }
};

/// torch 1.13's _single_tensor_radam for one coefficient, in double. `rectified` tells which branch ran.
struct RAdamScalar {
  descent::RAdamOptions o;
  double m = 0, v = 0;
  int t = 0;
  bool rectified = false;
  double step(double p, double g) {
    ++t;
    const double step = t;
    const double bc1 = 1 - std::pow(o.beta1, step);
    const double bc2 = 1 - std::pow(o.beta2, step);
    if (o.weight_decay != 0) g = g + o.weight_decay * p;
    m = m * o.beta1 + g * (1 - o.beta1);
    v = v * o.beta2 + g * g * (1 - o.beta2);
    const double corrected = m / bc1;
    const double rho_inf = 2 / (1 - o.beta2) - 1;
    const double rho_t = rho_inf - 2 * step * std::pow(o.beta2, step) / bc2;
    rectified = rho_t > 5.;
    if (rectified) {
      const double rect = std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
      const double adaptive_lr = std::sqrt(bc2) / (std::sqrt(v) + o.eps);
      return p - corrected * o.lr * adaptive_lr * rect;
    }
    return p - corrected * o.lr;
  }
};

double relative_error(const VX& x, const VX& ref) {
  return (x - ref).cwiseAbs().maxCoeff() / ref.cwiseAbs().maxCoeff();
}

/// ½ Σ a_i (x_i − c_i)²: its gradient a ⊙ (x − c).
struct Quadratic {
  VX a, c;
  explicit Quadratic(Eigen::Index n) : a(n), c(n) {
    for (Eigen::Index i = 0; i < n; ++i) {
      a[i] = 0.5 + 0.25 * double(i % 5);
      c[i] = std::sin(1.3 * double(i) + 0.2);
    }
  }
  VX grad(const VX& x) const { return a.cwiseProduct(x - c); }
};

}  // namespace

// ---- options ---------------------------------------------------------------------------------

TEST_CASE("nadam/radam: defaults are torch 1.13's", "[nadam][radam]") {
  const descent::NAdamOptions n{};
  CHECK(n.lr == 2e-3);
  CHECK(n.beta1 == 0.9);
  CHECK(n.beta2 == 0.999);
  CHECK(n.eps == 1e-8);
  CHECK(n.weight_decay == 0.0);
  CHECK(n.momentum_decay == 4e-3);
  const descent::RAdamOptions r{};
  CHECK(r.lr == 1e-3);
  CHECK(r.beta1 == 0.9);
  CHECK(r.beta2 == 0.999);
  CHECK(r.eps == 1e-8);
  CHECK(r.weight_decay == 0.0);
  // the field order of the issue, through designated initializers
  const descent::NAdamOptions all_n{
      .lr = 1, .beta1 = 0.5, .beta2 = 0.6, .eps = 0.1, .weight_decay = 0.2, .momentum_decay = 0.3};
  const descent::RAdamOptions all_r{.lr = 1, .beta1 = 0.5, .beta2 = 0.6, .eps = 0.1, .weight_decay = 0.2};
  CHECK(all_n.momentum_decay == 0.3);
  CHECK(all_r.weight_decay == 0.2);
  CHECK(descent::NAdam<VX>().lr() == 2e-3);
  CHECK(descent::RAdam<VF>().lr() == 1e-3);
}

TEST_CASE("nadam/radam: invalid options throw std::invalid_argument naming the field and value", "[nadam][radam]") {
  CHECK_THAT(error_of([] { descent::NAdam<VX>({.lr = -1.0}); }),
             Equals("descent::NAdamOptions: invalid lr = -1 (must be a finite number >= 0)"));
  CHECK_THAT(error_of([] { descent::NAdam<VX>({.beta1 = 1.0}); }),
             Equals("descent::NAdamOptions: invalid beta1 = 1 (must be in [0, 1))"));
  CHECK_THAT(error_of([] { descent::NAdam<VX>({.beta2 = -0.5}); }),
             Equals("descent::NAdamOptions: invalid beta2 = -0.5 (must be in [0, 1))"));
  CHECK_THAT(error_of([] { descent::NAdam<VX>({.eps = std::nan("")}); }),
             Equals("descent::NAdamOptions: invalid eps = nan (must be a finite number >= 0)"));
  CHECK_THAT(
      error_of([] { descent::NAdam<VX>({.weight_decay = -0.1}); }),
      Equals("descent::NAdamOptions: invalid weight_decay = -0.10000000000000001 (must be a finite number >= 0)"));
  CHECK_THAT(
      error_of([] { descent::NAdam<VX>({.momentum_decay = -4e-3}); }),
      Equals("descent::NAdamOptions: invalid momentum_decay = -0.0040000000000000001 (must be a finite number >= 0)"));
  CHECK_THAT(
      error_of([] { descent::NAdam<VF>({.lr = 1e39}); }),
      Equals("descent::NAdamOptions: invalid lr = 9.9999999999999994e+38 (must be finite in float, the optimizer's "
             "scalar type)"));
  CHECK_NOTHROW(descent::NAdam<VX>({.lr = 1e39}));

  CHECK_THAT(error_of([] { descent::RAdam<VX>({.lr = -1.0}); }),
             Equals("descent::RAdamOptions: invalid lr = -1 (must be a finite number >= 0)"));
  CHECK_THAT(error_of([] { descent::RAdam<VX>({.beta1 = -0.1}); }),
             Equals("descent::RAdamOptions: invalid beta1 = -0.10000000000000001 (must be in [0, 1))"));
  CHECK_THAT(error_of([] { descent::RAdam<VX>({.beta2 = 1.0}); }),
             Equals("descent::RAdamOptions: invalid beta2 = 1 (must be in [0, 1))"));
  CHECK_THAT(error_of([] { descent::RAdam<VX>({.eps = -1e-8}); }),
             Equals("descent::RAdamOptions: invalid eps = -1e-08 (must be a finite number >= 0)"));
  CHECK_THAT(error_of([] { descent::RAdam<VX>({.weight_decay = INFINITY}); }),
             Equals("descent::RAdamOptions: invalid weight_decay = inf (must be a finite number >= 0)"));
  CHECK_THAT(error_of([] { descent::RAdam<VF>({.eps = 1e40}); }),
             Contains("invalid eps = 1e+40 (must be finite in float"));
  // torch accepts lr = 0, eps = 0, beta = 0 and momentum_decay = 0; so does descent
  CHECK_NOTHROW(descent::NAdam<VX>({.lr = 0.0, .beta1 = 0.0, .beta2 = 0.0, .eps = 0.0, .momentum_decay = 0.0}));
  CHECK_NOTHROW(descent::RAdam<VX>({.lr = 0.0, .beta1 = 0.0, .beta2 = 0.0, .eps = 0.0}));
}

TEST_CASE("nadam/radam: set_lr and set_momentum validate, and momentum() is beta1", "[nadam][radam]") {
  descent::NAdam<VX> n({.lr = 0.1, .beta1 = 0.8});
  CHECK(n.momentum() == 0.8);
  n.set_momentum(0.7);
  CHECK(n.momentum() == 0.7);
  CHECK(n.options().beta1 == 0.7);
  CHECK_THAT(error_of([&] { n.set_momentum(1.0); }),
             Equals("descent::NAdamOptions: invalid beta1 = 1 (must be in [0, 1))"));
  CHECK(n.momentum() == 0.7);
  n.set_lr(0.25);
  CHECK(n.lr() == 0.25);
  CHECK_THAT(error_of([&] { n.set_lr(-2.0); }), Contains("invalid lr = -2"));
  CHECK(n.lr() == 0.25);

  descent::RAdam<VF> r({.beta1 = 0.85});
  CHECK(r.momentum() == 0.85);
  r.set_momentum(0.0);
  CHECK(r.options().beta1 == 0.0);
  CHECK_THAT(error_of([&] { r.set_momentum(-0.5); }), Contains("descent::RAdamOptions: invalid beta1 = -0.5"));
  CHECK_THAT(error_of([&] { r.set_lr(1e39); }), Contains("must be finite in float"));
  CHECK(r.lr() == 1e-3);
}

// ---- the formulas ----------------------------------------------------------------------------

TEST_CASE("nadam: matches torch 1.13's single-tensor code, mu_product included", "[nadam]") {
  const std::vector<descent::NAdamOptions> configs = {
      {.lr = 0.05},
      {.lr = 0.05, .weight_decay = 0.1, .momentum_decay = 0.2},
      {.lr = 0.02, .beta1 = 0.5, .beta2 = 0.9, .eps = 1e-3, .momentum_decay = 0.0},
  };
  for (const auto& o : configs) {
    const Eigen::Index n = 11;
    VX x(n), g(n);
    descent_test::fill_start(x);
    std::vector<NAdamScalar> ref(std::size_t(n), NAdamScalar{o});
    VX expected = x;
    descent::NAdam<VX> opt(o);
    CHECK(opt.mu_product() == 1.0);
    double product = 1.0;
    for (int t = 1; t <= 40; ++t) {
      descent_test::gradient(g, x, t);
      for (Eigen::Index i = 0; i < n; ++i) expected[i] = ref[std::size_t(i)].step(x[i], g[i]);
      opt.step(x, g);
      product *= o.beta1 * (1.0 - 0.5 * std::pow(0.96, double(t) * o.momentum_decay));
      INFO("step " << t << " lr " << o.lr << " momentum_decay " << o.momentum_decay);
      CHECK(relative_error(x, expected) <= 1e-14);
      CHECK(opt.mu_product() == ref[0].mu_product);
      CHECK(std::abs(opt.mu_product() - product) <= 1e-15 * product);
      x = expected;  // each step from the same parameters
    }
    CHECK(opt.steps() == 40);
    CHECK((opt.first_moment().array() != 0).all());
    CHECK((opt.second_moment().array() > 0).all());
    opt.reset();
    CHECK(opt.steps() == 0);
    CHECK(opt.mu_product() == 1.0);
  }
}

TEST_CASE("radam: matches torch 1.13's single-tensor code, unrectified until rho_t > 5", "[radam]") {
  struct Config {
    descent::RAdamOptions o;
    int first_rectified;  // the first step with rho_t > 5 (0: never)
  };
  // rho_t for beta2 = 0.999: 1, 1.9995, 2.999, 3.998, 4.996, then > 5 from step 6 on; beta2 = 0.6 gives
  // rho_inf = 4: never rectified.
  const std::vector<Config> configs = {
      {{.lr = 0.05}, 6},
      {{.lr = 0.05, .beta2 = 0.99, .weight_decay = 0.1}, 6},
      {{.lr = 0.02, .beta1 = 0.5, .beta2 = 0.6, .eps = 1e-3}, 0},
  };
  for (const auto& [o, first_rectified] : configs) {
    const Eigen::Index n = 11;
    VX x(n), g(n);
    descent_test::fill_start(x);
    std::vector<RAdamScalar> ref(std::size_t(n), RAdamScalar{o});
    VX expected = x;
    descent::RAdam<VX> opt(o);
    for (int t = 1; t <= 40; ++t) {
      descent_test::gradient(g, x, t);
      for (Eigen::Index i = 0; i < n; ++i) expected[i] = ref[std::size_t(i)].step(x[i], g[i]);
      const VX before = x;
      const VX m_before = t == 1 ? VX(VX::Zero(n)) : opt.first_moment();
      opt.step(x, g);
      INFO("step " << t << " beta2 " << o.beta2);
      CHECK(ref[0].rectified == (first_rectified != 0 && t >= first_rectified));
      CHECK(relative_error(x, expected) <= 1e-14);
      if (!ref[0].rectified) {  // an SGD-with-momentum step on the bias-corrected m
        const double bc1 = 1.0 - std::pow(o.beta1, double(t));
        const VX gd = o.weight_decay != 0.0 ? VX(g + o.weight_decay * before) : g;
        const VX m = o.beta1 * m_before + (1.0 - o.beta1) * gd;
        CHECK(relative_error(x, before - (m / bc1) * o.lr) <= 1e-14);
      }
      x = expected;
    }
  }
}

TEST_CASE("nadam/radam: float steps stay close to double ones", "[nadam][radam]") {
  const Eigen::Index n = 13;
  VX xd(n), gd(n);
  descent_test::fill_start(xd);
  VF xf = xd.cast<float>();
  descent::NAdam<VX> nd({.lr = 0.05, .weight_decay = 0.01});
  descent::NAdam<VF> nf({.lr = 0.05, .weight_decay = 0.01});
  VX yd = xd;
  VF yf = xf;
  descent::RAdam<VX> rd({.lr = 0.05});
  descent::RAdam<VF> rf({.lr = 0.05});
  for (int t = 0; t < 30; ++t) {
    descent_test::gradient(gd, xd, t);
    nd.step(xd, gd);
    nf.step(xf, VF(gd.cast<float>()));
    descent_test::gradient(gd, yd, t);
    rd.step(yd, gd);
    rf.step(yf, VF(gd.cast<float>()));
  }
  CHECK(relative_error(xf.cast<double>(), xd) <= 1e-5);
  CHECK(relative_error(yf.cast<double>(), yd) <= 1e-5);
}

// ---- Grouped and Scheduler -------------------------------------------------------------------

namespace {

/// Grouped<O> over two groups with a StepLR, against one O per block with the lr set by hand.
template <class O>
void grouped_step_lr(const typename O::Options& a, const typename O::Options& b) {
  descent::Layout layout;
  layout.add("W", 3, 2);
  layout.add("b", 3);
  layout.add("c", 2);
  const Eigen::Index n = layout.size();
  descent::Grouped<O> grouped({{layout.blocks({"W", "c"}), a}, {layout.blocks({"b"}), b}});
  descent::Scheduler sched(grouped, descent::StepLR{.step_size = 4, .gamma = 0.5});

  O w(a), c(a), bias(b);
  VX x(n), y(n), g(n);
  descent_test::fill_start(x);
  y = x;
  const auto W = layout.block("W");
  const auto B = layout.block("b");
  const auto C = layout.block("c");
  for (int t = 0; t < 13; ++t) {
    descent_test::gradient(g, x, t);
    grouped.step(x, g);
    sched.step();
    w.step(y.segment(W.offset, W.size()), g.segment(W.offset, W.size()));
    bias.step(y.segment(B.offset, B.size()), g.segment(B.offset, B.size()));
    c.step(y.segment(C.offset, C.size()), g.segment(C.offset, C.size()));
    const double factor = std::pow(0.5, double((t + 1) / 4));
    w.set_lr(a.lr * factor);
    c.set_lr(a.lr * factor);
    bias.set_lr(b.lr * factor);
    CHECK(grouped.lr(0) == a.lr * factor);
    CHECK(grouped.lr(1) == b.lr * factor);
    REQUIRE(x == y);  // bitwise: each block is one optimizer's step
  }
  CHECK(grouped.steps() == 13);
  CHECK(grouped.optimizer(0, 0).steps() == 13);
  CHECK(grouped.momentum(1) == b.beta1);

#if DESCENT_TEST_HAS_CHECKPOINT
  // a checkpoint of the whole Grouped continues bit-identically
  descent::Checkpoint ck;
  ck.put("opt", grouped);
  descent::Grouped<O> back({{layout.blocks({"W", "c"}), a}, {layout.blocks({"b"}), b}});
  from_bytes(bytes_of(ck)).get("opt", back);
  VX z = x;
  for (int t = 13; t < 18; ++t) {
    descent_test::gradient(g, x, t);
    grouped.step(x, g);
    back.step(z, g);
  }
  CHECK(z == x);
#endif
}

}  // namespace

TEST_CASE("nadam/radam: Grouped with a StepLR, per-block state, checkpointed", "[nadam][radam][grouped]") {
  SECTION("NAdam") {
    grouped_step_lr<descent::NAdam<VX>>({.lr = 0.05, .momentum_decay = 0.1}, {.lr = 0.02, .weight_decay = 0.1});
  }
  SECTION("RAdam") {
    grouped_step_lr<descent::RAdam<VX>>({.lr = 0.05}, {.lr = 0.02, .beta2 = 0.99, .weight_decay = 0.1});
  }
}

TEST_CASE("nadam/radam: OneCycleLR cycles beta1 as the momentum", "[nadam][radam][schedule]") {
  auto check = [](auto opt) {
    descent::Scheduler sched(opt, descent::OneCycleLR{.max_lr = 0.1, .total_steps = 10});
    CHECK(opt.momentum() == 0.95);  // OneCycleLR starts at max_momentum
    CHECK(opt.options().beta1 == 0.95);
    VX x = VX::Ones(4), g = VX::Constant(4, 0.5);
    for (int t = 0; t < 3; ++t) {
      opt.step(x, g);
      sched.step();
    }
    CHECK(opt.momentum() < 0.95);
    CHECK(opt.momentum() >= 0.85);
    CHECK(opt.lr() > 0.1 / 25.0);
  };
  check(descent::NAdam<VX>());
  check(descent::RAdam<VX>());
}

// ---- checkpoints -----------------------------------------------------------------------------

#if DESCENT_TEST_HAS_CHECKPOINT
TEST_CASE("nadam: mu_product goes into the checkpoint, other options must agree", "[nadam][checkpoint]") {
  descent::NAdam<VX> opt({.lr = 0.05, .momentum_decay = 0.1});
  VX x(5), g(5);
  descent_test::fill_start(x);
  for (int t = 0; t < 3; ++t) {
    descent_test::gradient(g, x, t);
    opt.step(x, g);
  }
  descent::Checkpoint ck;
  ck.put("o", opt);
  CHECK(ck.kind("o") == "NAdam");
  const auto loaded = from_bytes(bytes_of(ck));
  descent::NAdam<VX> back({.lr = 0.01, .beta1 = 0.8, .momentum_decay = 0.1});
  loaded.get("o", back);
  CHECK(back.mu_product() == opt.mu_product());
  CHECK(back.mu_product() < 1.0);
  CHECK(back.steps() == 3);
  CHECK(back.lr() == 0.05);
  CHECK(back.momentum() == 0.9);
  CHECK(back.first_moment() == opt.first_moment());

  descent::NAdam<VX> other({.lr = 0.05});  // momentum_decay 4e-3
  CHECK_THROWS_WITH(loaded.get("o", other),
                    Contains("was saved with momentum_decay = 0.10000000000000001, but the target "
                             "has momentum_decay = 0.0040000000000000001"));
  CHECK(other.steps() == 0);
  CHECK(other.mu_product() == 1.0);
  descent::RAdam<VX> radam;
  CHECK_THROWS_WITH(loaded.get("o", radam), Contains("RAdam"));
  CHECK(radam.steps() == 0);

  descent::RAdam<VF> r({.beta2 = 0.99});
  VF xf = VF::Ones(3);
  r.step(xf, VF::Constant(3, 0.5f));
  descent::Checkpoint rk;
  rk.put("r", r);
  descent::RAdam<VF> rback({.beta2 = 0.99});
  from_bytes(bytes_of(rk)).get("r", rback);
  CHECK(rback.second_moment() == r.second_moment());
  descent::RAdam<VF> rother;
  CHECK_THROWS_WITH(from_bytes(bytes_of(rk)).get("r", rother), Contains("was saved with beta2 = 0.98999999999999999"));
}

#endif

// ---- convergence -----------------------------------------------------------------------------

TEST_CASE("nadam/radam: converge on a quadratic", "[nadam][radam][convergence]") {
  const Quadratic f(20);
  auto run = [&](auto opt, int steps) {
    VX x = VX::Zero(20);
    descent::Scheduler sched(opt, descent::ExponentialLR{.gamma = 0.995});
    const double start = (x - f.c).norm();
    for (int t = 0; t < steps; ++t) {
      opt.step(x, f.grad(x));
      sched.step();
    }
    return (x - f.c).norm() / start;
  };
  CHECK(run(descent::NAdam<VX>({.lr = 0.05}), 1500) < 1e-3);
  CHECK(run(descent::RAdam<VX>({.lr = 0.05}), 1500) < 1e-3);
  CHECK(run(descent::NAdam<VX>({.lr = 0.05, .weight_decay = 1e-4, .momentum_decay = 0.0}), 1500) < 1e-2);
}
