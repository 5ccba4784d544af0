// Schedules inside the drivers (every_step, every_epoch), their composition with Grouped and
// Clipped, and the Scheduler's guarantees when the optimizer refuses a value.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <descent/descent.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"

namespace {

using V = Eigen::VectorXd;

using descent_test::Centroid;
using descent_test::make_centroid;

}  // namespace

TEST_CASE("drivers: every_step advances a schedule after each optimizer step, in the order of a hand loop",
          "[schedule][drivers]") {
  const Centroid f = make_centroid(3, 40);
  descent::StepLR schedule{.step_size = 7, .gamma = 0.5};

  // A hand loop with the same batches: step, then sched.step(), as in torch.
  V hand = V::Zero(3);
  {
    descent::SGD<V> opt({.lr = 0.2, .momentum = 0.5});
    descent::Scheduler sched(opt, schedule);
    descent::MinibatchSampler sampler(40, {.batch_size = 8, .seed = 3});
    V g(3);
    for (int i = 0; i < 25; ++i) {
      f(hand, sampler.next(), g);
      opt.step(hand, g);
      sched.step();
    }
  }

  V x = V::Zero(3);
  descent::SGD<V> opt({.lr = 0.2, .momentum = 0.5});
  descent::Scheduler sched(opt, schedule);
  std::vector<double> lr_seen;  // the lr each step used, read by a callback after the scheduler's
  auto watch = [&](const descent::Progress<V>& p) {
    if (!p.end_of_epoch) lr_seen.push_back(opt.lr());
  };
  const auto r = descent::train(f, x, opt, descent::MinibatchSampler(40, {.batch_size = 8, .seed = 3}),
                                {.max_iterations = 25}, descent::every_step(sched), watch);
  CHECK(r.iterations == 25);
  CHECK(sched.last_epoch() == 25);
  CHECK(x == hand);  // the same steps with the same lrs, bitwise
  REQUIRE(lr_seen.size() == 25);
  CHECK(lr_seen[5] == 0.2);    // after 6 steps: still 0.2
  CHECK(lr_seen[6] == 0.1);    // after 7 steps: halved
  CHECK(lr_seen[24] == 0.2 / 8);
}

TEST_CASE("drivers: every_epoch steps a schedule once per epoch, minimize refuses it", "[schedule][drivers]") {
  const Centroid f = make_centroid(2, 30);
  V x = V::Zero(2);
  descent::Adam<V> opt({.lr = 0.1});
  descent::Scheduler sched(opt, descent::ExponentialLR{.gamma = 0.5});
  std::vector<double> lr_per_step;
  auto watch = [&](const descent::Progress<V>& p) {
    if (!p.end_of_epoch) lr_per_step.push_back(opt.lr());
  };
  // the watcher comes first: it reads the lr the step used, before every_epoch changes it
  const auto r = descent::train(f, x, opt, descent::MinibatchSampler(30, {.batch_size = 10}),
                                {.max_iterations = 0, .max_epochs = 4}, watch, descent::every_epoch(sched));
  CHECK(r.epochs == 4);
  CHECK(sched.last_epoch() == 4);
  CHECK(opt.lr() == 0.1 / 16);
  REQUIRE(lr_per_step.size() == 12);
  CHECK(lr_per_step[0] == 0.1);
  CHECK(lr_per_step[2] == 0.1);
  CHECK(lr_per_step[3] == 0.05);
  CHECK(lr_per_step[11] == 0.1 / 8);

  auto quadratic = [](const V& p, V& g) {
    g = p;
    return 0.5 * p.squaredNorm();
  };
  V y = V::Ones(2);
  descent::Adam<V> adam({.lr = 0.1});
  descent::Scheduler per_epoch(adam, descent::ExponentialLR{.gamma = 0.5});
  CHECK_THROWS_WITH(descent::minimize(quadratic, y, adam, {.max_iterations = 3}, descent::every_epoch(per_epoch)),
                    Catch::Matchers::Contains("minimize has no epochs"));
}

TEST_CASE("drivers: ReduceLROnPlateau on the epoch's mean loss and on a validation metric", "[schedule][drivers]") {
  const Centroid f = make_centroid(2, 16);
  // On the epoch's mean loss, which falls every epoch here: never a reduction, and best() is the
  // last epoch's mean.
  V x = V::Constant(2, 5.0);
  descent::GradientDescent<V> falling({.lr = 0.05});
  descent::ReduceLROnPlateau plateau(falling, {.factor = 0.5, .patience = 0, .threshold = 0.0});
  descent::History history;
  descent::train(f, x, falling, descent::MinibatchSampler(16, {.batch_size = 16, .shuffle = false}),
                 {.max_iterations = 0, .max_epochs = 5}, history, descent::every_epoch(plateau));
  CHECK(plateau.last_epoch() == 5);
  CHECK(plateau.num_bad_epochs() == 0);
  CHECK(falling.lr() == 0.05);
  REQUIRE(history.epochs().size() == 5);
  CHECK(plateau.best() == history.epochs().back().loss);
  CHECK(history.epochs()[4].loss < history.epochs()[3].loss);

  // A metric that stops improving after epoch 3: the lr halves at epoch 3 + patience + 1 = 6.
  V w = V::Zero(2);
  descent::Adam<V> adam({.lr = 0.01});
  descent::ReduceLROnPlateau on_metric(adam, {.factor = 0.5, .patience = 2});
  std::int64_t calls = 0;
  auto metric = [&calls](const V&) {
    ++calls;
    return calls <= 3 ? 10.0 - double(calls) : 7.0;
  };
  std::vector<double> lr_after_epoch;
  auto watch = [&](const descent::Progress<V>& p) {
    if (p.end_of_epoch) lr_after_epoch.push_back(adam.lr());
  };
  descent::train(f, w, adam, descent::MinibatchSampler(16, {.batch_size = 8}), {.max_iterations = 0, .max_epochs = 8},
                 descent::every_epoch(on_metric, metric), watch);
  CHECK(calls == 8);
  REQUIRE(lr_after_epoch.size() == 8);
  CHECK(lr_after_epoch[4] == 0.01);   // epochs 4, 5: bad, within patience
  CHECK(lr_after_epoch[5] == 0.005);  // epoch 6: the third bad one
  CHECK(lr_after_epoch[7] == 0.005);
  CHECK(on_metric.best() == 7.0);
}

TEST_CASE("Scheduler over Clipped<Grouped>: each group from its own initial lr, momentum cycled per group",
          "[schedule][grouped]") {
  descent::Layout layout;
  layout.add("W", 2, 2);
  layout.add("b", 2);
  descent::Grouped<descent::SGD<V>> grouped({{layout.blocks({"W"}), {.lr = 0.4, .momentum = 0.9}},
                                             {layout.blocks({"b"}), {.lr = 0.1, .momentum = 0.9}}});
  auto opt = descent::clipped(grouped, 1.0);
  descent::Scheduler cosine(opt, descent::CosineAnnealingLR{.T_max = 4});
  CHECK(cosine.initial_lr() == std::vector<double>{0.4, 0.1});
  for (int i = 0; i < 2; ++i) cosine.step();
  CHECK(grouped.lr(0) == Approx(0.2).epsilon(1e-15));
  CHECK(grouped.lr(1) == Approx(0.05).epsilon(1e-15));
  CHECK(cosine.last_lr() == std::vector<double>{grouped.lr(0), grouped.lr(1)});

  descent::Scheduler cyclic(grouped, descent::CyclicLR{.base_lr = 0.01, .max_lr = 0.02, .step_size_up = 2});
  CHECK(grouped.lr(0) == 0.01);  // CyclicLR ignores the optimizer's lr, as torch
  CHECK(grouped.momentum(0) == 0.9);
  CHECK(grouped.momentum(1) == 0.9);
  cyclic.step();
  CHECK(grouped.lr(1) == Approx(0.015).epsilon(1e-15));
  CHECK(grouped.momentum(1) == Approx(0.85).epsilon(1e-15));
}

TEST_CASE("Scheduler: a value the optimizer refuses throws and changes nothing", "[schedule]") {
  // Two groups of Adam in float: a huge lr is fine for group 0 but makes group 1's first-step
  // size lr / (1 − beta1) overflow float, so group 1 refuses it after group 0 took it.
  using Vf = Eigen::VectorXf;
  descent::Layout layout;
  layout.add("a", 2);
  layout.add("b", 2);
  descent::Grouped<descent::Adam<Vf>> opt({{layout.blocks({"a"}), {.lr = 0.1, .beta1 = 0.9}},
                                           {layout.blocks({"b"}), {.lr = 0.1, .beta1 = 0.999999}}});
  descent::Scheduler sched(opt, descent::LambdaLR{[](std::int64_t t) { return t < 2 ? 1.0 - 0.25 * double(t) : 1e34; }});
  sched.step();
  const double lr0 = opt.lr(0), lr1 = opt.lr(1);
  CHECK(lr0 == 0.1 * 0.75);
  CHECK_THROWS_WITH(sched.step(), Catch::Matchers::Contains("lr / (1 - beta1)"));
  CHECK(sched.last_epoch() == 1);
  CHECK(opt.lr(0) == lr0);  // group 0 took the value, and was put back
  CHECK(opt.lr(1) == lr1);
  CHECK(sched.last_lr() == std::vector<double>{lr0, lr1});

  // Nesterov SGD refuses momentum 0: a cyclic momentum reaching it is refused, lr and momentum kept
  descent::SGD<V> nesterov({.lr = 0.1, .momentum = 0.9, .nesterov = true});
  descent::Scheduler cyc(nesterov, descent::CyclicLR{.base_lr = 0.01, .max_lr = 0.1, .step_size_up = 1,
                                                     .base_momentum = 0.0, .max_momentum = 0.9});
  CHECK_THROWS_AS(cyc.step(), std::invalid_argument);
  CHECK(nesterov.lr() == 0.01);
  CHECK(nesterov.momentum() == 0.9);
  CHECK(cyc.last_epoch() == 0);
}

TEST_CASE("Scheduler: momentum-less optimizers refuse cycle_momentum, Adam's beta1 is cycled", "[schedule]") {
  descent::Adagrad<V> adagrad;
  CHECK_THROWS_WITH((descent::Scheduler(adagrad, descent::OneCycleLR{.max_lr = 0.1, .total_steps = 10})),
                    Catch::Matchers::Contains("cycle_momentum"));
  descent::GradientDescent<V> gd;
  CHECK_THROWS_AS((descent::Scheduler(gd, descent::SequentialLR{{descent::ConstantLR{},
                                                                  descent::CyclicLR{.base_lr = 0.1, .max_lr = 1.0}},
                                                                 {3}})),
                  std::invalid_argument);
  CHECK_NOTHROW(descent::Scheduler(gd, descent::OneCycleLR{.max_lr = 0.1, .total_steps = 10, .cycle_momentum = false}));

  descent::AdamW<V> adamw;
  descent::Scheduler one_cycle(adamw, descent::OneCycleLR{.max_lr = 0.1, .total_steps = 10});
  CHECK(adamw.options().beta1 == 0.95);
  CHECK(adamw.options().weight_decay == 1e-2);  // AdamW<V>::Options is AdamWOptions
  for (int i = 0; i < 2; ++i) one_cycle.step();  // the peak: pct_start · 10 − 1 = 2
  CHECK(adamw.momentum() == Approx(0.85).epsilon(1e-15));
  CHECK(adamw.lr() == Approx(0.1).epsilon(1e-15));
}
