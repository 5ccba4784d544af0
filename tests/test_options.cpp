// Options: torch.optim's names, order and defaults; validation at construction and in set_lr.
#include <catch2/catch.hpp>
#include <descent/descent.hpp>
#include <limits>
#include <stdexcept>
#include <string>

namespace {

using V = Eigen::VectorXd;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// The message names the options struct, the field and the offending value.
template <class Make>
void require_rejected(Make make, const std::string& field, const std::string& value) {
  INFO("field " << field << " = " << value);
  try {
    make();
    FAIL("no exception for " << field << " = " << value);
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    INFO("message: " << what);
    CHECK(what.find(field + " = " + value) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("options: defaults are torch.optim's", "[options]") {
  const descent::GradientDescentOptions gd;
  CHECK(gd.lr == 0.01);
  CHECK(gd.weight_decay == 0.0);
  CHECK_FALSE(gd.maximize);

  const descent::SGDOptions sgd;
  CHECK(sgd.lr == 1e-3);
  CHECK(sgd.momentum == 0.0);
  CHECK(sgd.dampening == 0.0);
  CHECK(sgd.weight_decay == 0.0);
  CHECK_FALSE(sgd.nesterov);
  CHECK_FALSE(sgd.maximize);

  const descent::SparseAdamOptions sparse_adam;
  CHECK(sparse_adam.lr == 1e-3);
  CHECK(sparse_adam.beta1 == 0.9);
  CHECK(sparse_adam.beta2 == 0.999);
  CHECK(sparse_adam.eps == 1e-8);
  CHECK_FALSE(sparse_adam.maximize);

  const descent::AdamOptions adam;
  CHECK(adam.lr == 1e-3);
  CHECK(adam.beta1 == 0.9);
  CHECK(adam.beta2 == 0.999);
  CHECK(adam.eps == 1e-8);
  CHECK(adam.weight_decay == 0.0);
  CHECK_FALSE(adam.amsgrad);
  CHECK_FALSE(adam.decoupled_weight_decay);
  CHECK_FALSE(adam.maximize);

  const descent::AdagradOptions adagrad;
  CHECK(adagrad.lr == 1e-2);
  CHECK(adagrad.lr_decay == 0.0);
  CHECK(adagrad.weight_decay == 0.0);
  CHECK(adagrad.initial_accumulator_value == 0.0);
  CHECK(adagrad.eps == 1e-10);
  CHECK_FALSE(adagrad.maximize);

  const descent::RMSPropOptions rms;
  CHECK(rms.lr == 1e-2);
  CHECK(rms.alpha == 0.99);
  CHECK(rms.eps == 1e-8);
  CHECK(rms.weight_decay == 0.0);
  CHECK(rms.momentum == 0.0);
  CHECK_FALSE(rms.centered);
  CHECK_FALSE(rms.maximize);
}

TEST_CASE("options: designated initializers in declaration order", "[options]") {
  descent::GradientDescent<V> gd({.lr = 0.5, .weight_decay = 0.1, .maximize = true});
  CHECK(gd.options().lr == 0.5);
  CHECK(gd.options().weight_decay == 0.1);
  CHECK(gd.options().maximize);

  descent::SGD<V> sgd(
      {.lr = 0.1, .momentum = 0.9, .dampening = 0.0, .weight_decay = 1e-4, .nesterov = true, .maximize = false});
  CHECK(sgd.options().momentum == 0.9);
  CHECK(sgd.options().nesterov);

  descent::Adam<V> adam({.lr = 3e-4,
                         .beta1 = 0.8,
                         .beta2 = 0.99,
                         .eps = 1e-6,
                         .weight_decay = 0.1,
                         .amsgrad = true,
                         .decoupled_weight_decay = true,
                         .maximize = true});
  CHECK(adam.options().beta1 == 0.8);
  CHECK(adam.options().decoupled_weight_decay);

  descent::Adagrad<V> adagrad({.lr = 0.1,
                               .lr_decay = 0.01,
                               .weight_decay = 0.0,
                               .initial_accumulator_value = 0.1,
                               .eps = 1e-8,
                               .maximize = false});
  CHECK(adagrad.options().initial_accumulator_value == 0.1);

  descent::RMSProp<V> rms({.lr = 0.01,
                           .alpha = 0.9,
                           .eps = 1e-6,
                           .weight_decay = 0.0,
                           .momentum = 0.5,
                           .centered = true,
                           .maximize = false});
  CHECK(rms.options().centered);
  CHECK(rms.lr() == 0.01);
}

TEST_CASE("options: AdamW decouples the decay and keeps torch's default of 1e-2", "[options]") {
  const descent::AdamW<V> plain;
  CHECK(plain.options().weight_decay == 1e-2);
  CHECK(plain.options().decoupled_weight_decay);
  CHECK(plain.options().lr == 1e-3);

  const descent::AdamW<V> braces({.lr = 3e-4});
  CHECK(braces.options().weight_decay == 1e-2);
  CHECK(braces.options().lr == 3e-4);
  CHECK(braces.options().decoupled_weight_decay);

  const descent::AdamW<V> from_adam(descent::AdamOptions{.lr = 0.1, .weight_decay = 0.5});
  CHECK(from_adam.options().weight_decay == 0.5);
  CHECK(from_adam.options().decoupled_weight_decay);

  require_rejected([] { descent::AdamW<V>({.decoupled_weight_decay = false}); }, "decoupled_weight_decay", "false");
  require_rejected([] { descent::AdamW<V>({.weight_decay = -1.0}); }, "weight_decay", "-1");
}

TEST_CASE("options: invalid values throw std::invalid_argument naming option and value", "[options]") {
  require_rejected([] { descent::GradientDescent<V>({.lr = -0.1}); }, "lr", "-0.10000000000000001");
  require_rejected([] { descent::GradientDescent<V>({.lr = kNaN}); }, "lr", "nan");
  require_rejected([] { descent::GradientDescent<V>({.lr = kInf}); }, "lr", "inf");
  require_rejected([] { descent::GradientDescent<V>({.weight_decay = -1}); }, "weight_decay", "-1");

  require_rejected([] { descent::SGD<V>({.lr = -1}); }, "lr", "-1");
  require_rejected([] { descent::SGD<V>({.momentum = -0.5}); }, "momentum", "-0.5");
  require_rejected([] { descent::SGD<V>({.momentum = kNaN}); }, "momentum", "nan");
  require_rejected([] { descent::SGD<V>({.dampening = 1.5}); }, "dampening", "1.5");
  require_rejected([] { descent::SGD<V>({.dampening = -0.1}); }, "dampening", "-0.10000000000000001");
  require_rejected([] { descent::SGD<V>({.weight_decay = -2}); }, "weight_decay", "-2");
  require_rejected([] { descent::SGD<V>({.nesterov = true}); }, "momentum", "0");
  require_rejected([] { descent::SGD<V>({.momentum = 0.9, .dampening = 0.1, .nesterov = true}); }, "dampening",
                   "0.10000000000000001");

  require_rejected([] { descent::Adam<V>({.lr = -1e-3}); }, "lr", "-0.001");
  require_rejected([] { descent::Adam<V>({.beta1 = 1.0}); }, "beta1", "1");
  require_rejected([] { descent::Adam<V>({.beta1 = -0.1}); }, "beta1", "-0.10000000000000001");
  require_rejected([] { descent::Adam<V>({.beta2 = 1.0}); }, "beta2", "1");
  require_rejected([] { descent::Adam<V>({.beta2 = kNaN}); }, "beta2", "nan");
  require_rejected([] { descent::Adam<V>({.eps = -1e-8}); }, "eps", "-1e-08");
  require_rejected([] { descent::Adam<V>({.weight_decay = kNaN}); }, "weight_decay", "nan");

  require_rejected([] { descent::Adagrad<V>({.lr = -1}); }, "lr", "-1");
  require_rejected([] { descent::Adagrad<V>({.lr_decay = -1}); }, "lr_decay", "-1");
  require_rejected([] { descent::Adagrad<V>({.weight_decay = -1}); }, "weight_decay", "-1");
  require_rejected([] { descent::Adagrad<V>({.initial_accumulator_value = -1}); }, "initial_accumulator_value", "-1");
  require_rejected([] { descent::Adagrad<V>({.eps = kNaN}); }, "eps", "nan");

  require_rejected([] { descent::RMSProp<V>({.lr = -1}); }, "lr", "-1");
  require_rejected([] { descent::RMSProp<V>({.alpha = 1.01}); }, "alpha", "1.01");
  require_rejected([] { descent::RMSProp<V>({.alpha = -0.01}); }, "alpha", "-0.01");
  require_rejected([] { descent::RMSProp<V>({.eps = -1}); }, "eps", "-1");
  require_rejected([] { descent::RMSProp<V>({.weight_decay = -1}); }, "weight_decay", "-1");
  require_rejected([] { descent::RMSProp<V>({.momentum = -1}); }, "momentum", "-1");
}

TEST_CASE("options: boundary values that torch accepts are accepted", "[options]") {
  CHECK_NOTHROW(descent::Adam<V>({.lr = 0.0, .beta1 = 0.0, .beta2 = 0.0, .eps = 0.0}));
  CHECK_NOTHROW(descent::SGD<V>({.momentum = 0.9, .dampening = 1.0}));
  CHECK_NOTHROW(descent::RMSProp<V>({.alpha = 0.0}));
  CHECK_NOTHROW(descent::RMSProp<V>({.alpha = 1.0}));
  CHECK_NOTHROW(descent::Adagrad<V>({.eps = 0.0}));
}

TEST_CASE("options: set_lr changes the step size and validates it", "[options]") {
  descent::GradientDescent<V> gd({.lr = 0.1});
  V x = V::Ones(3);
  gd.set_lr(0.5);
  CHECK(gd.lr() == 0.5);
  gd.step(x, V::Ones(3));
  CHECK(x(0) == 0.5);
  require_rejected([&] { gd.set_lr(-1.0); }, "lr", "-1");
  require_rejected([&] { gd.set_lr(kNaN); }, "lr", "nan");
  CHECK(gd.lr() == 0.5);

  descent::SGD<V> sgd;
  descent::Adam<V> adam;
  descent::AdamW<V> adamw;
  descent::Adagrad<V> adagrad;
  descent::RMSProp<V> rms;
  sgd.set_lr(0.25);
  adam.set_lr(0.25);
  adamw.set_lr(0.25);
  adagrad.set_lr(0.25);
  rms.set_lr(0.25);
  CHECK(sgd.lr() == 0.25);
  CHECK(adam.lr() == 0.25);
  CHECK(adamw.lr() == 0.25);
  CHECK(adagrad.lr() == 0.25);
  CHECK(rms.lr() == 0.25);
  CHECK_THROWS_AS(adam.set_lr(-1), std::invalid_argument);
}

TEST_CASE("options: every optimizer satisfies the Optimizer and LearningRateControl concepts", "[options]") {
  using Vf = Eigen::VectorXf;
  using M = Eigen::Matrix<double, 3, 4>;
  using A = Eigen::ArrayXXf;
  STATIC_REQUIRE(descent::Optimizer<descent::GradientDescent<V>, V>);
  STATIC_REQUIRE(descent::Optimizer<descent::SGD<Vf>, Vf>);
  STATIC_REQUIRE(descent::Optimizer<descent::Adam<M>, M>);
  STATIC_REQUIRE(descent::Optimizer<descent::AdamW<A>, A>);
  STATIC_REQUIRE(descent::Optimizer<descent::Adagrad<Eigen::Vector4f>, Eigen::Vector4f>);
  STATIC_REQUIRE(descent::Optimizer<descent::RMSProp<V>, V>);
  STATIC_REQUIRE(descent::LearningRateControl<descent::Adam<V>>);
  STATIC_REQUIRE(descent::LearningRateControl<descent::RMSProp<Vf>>);
  // SparseAdam takes sparse gradients only: a SparseOptimizer, with an lr schedules can drive.
  STATIC_REQUIRE(descent::SparseOptimizer<descent::SparseAdam<Vf>, Vf>);
  STATIC_REQUIRE(descent::LearningRateControl<descent::SparseAdam<Vf>>);
  // Wrong scalar or a non-optimizer: not satisfied.
  STATIC_REQUIRE_FALSE(descent::Optimizer<descent::Adam<V>, Vf>);
  STATIC_REQUIRE_FALSE(descent::Optimizer<int, V>);
}
