// train's fused guard (detail/step_guard.hpp): descent's optimizers back the parameters up and
// check the gradient and the new parameters inside their one-pass step. Proved here: under a guard
// a step computes bitwise the same numbers, its backup holds exactly the old parameters and its sum
// is 0 exactly when everything is finite; and train with the fused path (a descent optimizer) ends
// every run bitwise where the separate passes end it (the same optimizer behind a wrapper train
// does not know), NaN losses and gradients and overflowing steps included, with the same report.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <descent/descent.hpp>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "support.hpp"

namespace {

template <class S>
using VX = Eigen::Matrix<S, Eigen::Dynamic, 1>;

/// The optimizer O, hidden from train's fused path: train sees an optimizer of the user's.
template <class O>
struct Hidden {
  O inner;
  template <class P, class G>
  void step(P&& params, const G& grads) {
    inner.step(std::forward<P>(params), grads);
  }
  void reset() { inner.reset(); }
};

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <class S>
using Poisoned = descent_test::Poisoned<S>;

template <class S>
struct Run {
  descent::Report report;
  VX<S> x;
  std::vector<VX<S>> path;  // x after every step, as callbacks see it
};

template <class S, class O>
Run<S> run(O&& opt, typename Poisoned<S>::Kind kind, int at) {
  Poisoned<S> f;
  f.kind = kind;
  f.at = at;
  Run<S> r;
  r.x = VX<S>::LinSpaced(f.n, S(0.5), S(-0.25));
  auto record = [&r](const descent::Progress<VX<S>>& p) {
    if (!p.end_of_epoch) r.path.emplace_back(p.params);
  };
  descent::MinibatchSampler sampler(f.size(), {.batch_size = 3, .seed = 7});
  r.report = descent::train(f, r.x, opt, sampler, {.max_iterations = 12}, record);
  return r;
}

template <class S>
bool same(const VX<S>& a, const VX<S>& b) {
  return a.size() == b.size() && (a.array() == b.array()).all();
}

/// train with `make()`'s optimizer, fused, against the same behind Hidden: bitwise the same runs.
template <class S, class Make>
void check_fused_equals_separate(const std::string& name, Make make) {
  using Kind = typename Poisoned<S>::Kind;
  for (Kind kind : {Kind::none, Kind::nan_loss, Kind::nan_gradient, Kind::inf_gradient, Kind::huge_gradient}) {
    for (int at : {1, 2, 5}) {
      INFO(name << ", poison " << int(kind) << " at call " << at);
      auto fused_opt = make();
      static_assert(descent::detail::guarded_kernels_v<decltype(fused_opt)>);
      CHECK(descent::detail::use_step_guard<decltype(fused_opt)>(VX<S>(Poisoned<S>{}.n)));
      const Run<S> fused = run<S>(fused_opt, kind, at);
      Hidden<decltype(make())> hidden{make()};
      static_assert(!descent::detail::guarded_kernels_v<decltype(hidden)>);
      const Run<S> separate = run<S>(hidden, kind, at);
      CHECK(fused.report.reason == separate.report.reason);
      CHECK(fused.report.iterations == separate.report.iterations);
      CHECK(fused.report.message == separate.report.message);
      CHECK(same(fused.x, separate.x));
      CHECK(fused.x.allFinite());
      REQUIRE(fused.path.size() == separate.path.size());
      for (std::size_t k = 0; k < fused.path.size(); ++k) CHECK(same(fused.path[k], separate.path[k]));
      if (kind == Kind::none) CHECK(fused.report.reason == descent::StopReason::MaxIterations);
      if (kind != Kind::none && kind != Kind::huge_gradient)
        CHECK(fused.report.reason == descent::StopReason::NonFinite);
    }
  }
}

template <template <class> class O, class S>
void check_all_runs(const std::string& name, typename O<VX<S>>::Options options = {}) {
  check_fused_equals_separate<S>(name, [&] { return O<VX<S>>(options); });
}

/// One step of `opt` under a guard against the same step without: the same numbers, the old
/// parameters in the backup, and a sum that is 0 exactly when g and the new x are finite.
template <class S, class O>
void check_guarded_step(const std::string& name, O opt) {
  const Eigen::Index n = 37;
  VX<S> x = VX<S>::LinSpaced(n, S(-2), S(3));
  VX<S> g = VX<S>::LinSpaced(n, S(1), S(-1.5));
  for (int warm = 0; warm < 3; ++warm) opt.step(x, g);  // some state

  for (int poison = 0; poison < 3; ++poison) {
    INFO(name << ", poison " << poison);
    VX<S> gp = g;
    if (poison == 1) gp(n - 1) = S(kNaN);  // in the scalar tail
    if (poison == 2) gp(4) = -std::numeric_limits<S>::infinity();
    O plain_opt = opt, guarded_opt = opt;
    VX<S> plain = x, guarded = x;
    plain_opt.step(plain, gp);
    VX<S> backup = VX<S>::Constant(n, S(-7));
    descent::detail::StepGuard<S> guard{guarded.data(), n, backup.data()};
    {
      const descent::detail::StepGuardScope<S> scope(guard);
      guarded_opt.step(guarded, gp);
    }
    CHECK(descent::detail::active_step_guard<S> == nullptr);
    CHECK(((plain.array() == guarded.array()) || (plain.array().isNaN() && guarded.array().isNaN())).all());
    CHECK(same(backup, x));
    CHECK(guard.covered == n);
    CHECK_FALSE(guard.outside);
    if (poison == 0) {
      CHECK(guard.zeros == S(0));
    } else {
      CHECK(std::isnan(guard.zeros));
    }
  }
}

}  // namespace

TEST_CASE("step guard: each optimizer's guarded step computes the same numbers and backs up the old ones",
          "[step_guard]") {
  check_guarded_step<double>("GradientDescent", descent::GradientDescent<VX<double>>({.lr = 0.1}));
  check_guarded_step<double>("SGD nesterov", descent::SGD<VX<double>>({.lr = 0.1, .momentum = 0.9, .nesterov = true}));
  check_guarded_step<float>("SGD momentum float", descent::SGD<VX<float>>({.lr = 0.1f, .momentum = 0.9}));
  check_guarded_step<double>("Adam amsgrad", descent::Adam<VX<double>>({.lr = 0.01, .amsgrad = true}));
  check_guarded_step<float>("Adam float", descent::Adam<VX<float>>({.lr = 0.01}));
  check_guarded_step<double>("AdamW", descent::AdamW<VX<double>>({.lr = 0.01}));
  check_guarded_step<double>("Adagrad", descent::Adagrad<VX<double>>({.lr = 0.1}));
  check_guarded_step<double>("RMSProp centered", descent::RMSProp<VX<double>>({.lr = 0.01, .momentum = 0.5, .centered = true}));
  check_guarded_step<double>("NAdam", descent::NAdam<VX<double>>());
  check_guarded_step<double>("RAdam", descent::RAdam<VX<double>>());
  check_guarded_step<double>("Adamax", descent::Adamax<VX<double>>());
  check_guarded_step<double>("Adadelta", descent::Adadelta<VX<double>>());
  check_guarded_step<double>("ASGD", descent::ASGD<VX<double>>());
  check_guarded_step<double>("Rprop", descent::Rprop<VX<double>>());
  check_guarded_step<double>("Lion", descent::Lion<VX<double>>());
  check_guarded_step<double>("ScheduleFreeAdamW", descent::ScheduleFreeAdamW<VX<double>>());
  check_guarded_step<double>("ScheduleFreeSGD", descent::ScheduleFreeSGD<VX<double>>());
}

TEST_CASE("step guard: a step that does not run on the guarded memory says so", "[step_guard]") {
  // A strided view is updated through a scratch copy, which the guard does not mirror.
  Eigen::VectorXd storage = Eigen::VectorXd::LinSpaced(20, 0.0, 1.0);
  Eigen::Map<Eigen::VectorXd, 0, Eigen::InnerStride<2>> strided(storage.data(), 10);
  const Eigen::VectorXd g = Eigen::VectorXd::Ones(10);
  Eigen::VectorXd backup(20);
  descent::detail::StepGuard<double> guard{storage.data(), storage.size(), backup.data()};
  descent::SGD<Eigen::VectorXd> opt({.lr = 0.1});
  {
    const descent::detail::StepGuardScope<double> scope(guard);
    opt.step(strided, g);
  }
  CHECK(guard.outside);
  CHECK(guard.covered == 0);
  CHECK_FALSE(descent::detail::is_contiguous(strided));
  CHECK(descent::detail::is_contiguous(storage));
  CHECK(descent::detail::is_contiguous(Eigen::Map<Eigen::VectorXd>(storage.data(), 20)));
}

TEST_CASE("step guard: train's fused path ends every run where the separate passes do", "[step_guard]") {
  check_all_runs<descent::GradientDescent, double>("GradientDescent", {.lr = 0.3});
  // lr 8 and a gradient of max/4: the poisoned step overflows.
  check_all_runs<descent::GradientDescent, double>("GradientDescent overflowing", {.lr = 8.0});
  check_all_runs<descent::SGD, float>("SGD overflowing float", {.lr = 8.0});
  check_all_runs<descent::SGD, double>("SGD nesterov", {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  check_all_runs<descent::SGD, float>("SGD float", {.lr = 0.2f});
  check_all_runs<descent::Adam, double>("Adam", {.lr = 0.05});
  check_all_runs<descent::Adam, float>("Adam float amsgrad", {.lr = 0.05f, .amsgrad = true});
  check_all_runs<descent::AdamW, double>("AdamW", {.lr = 0.05});
  check_all_runs<descent::Adagrad, double>("Adagrad", {.lr = 0.2});
  check_all_runs<descent::RMSProp, double>("RMSProp", {.lr = 0.01, .centered = true});
  check_all_runs<descent::NAdam, double>("NAdam");
  check_all_runs<descent::RAdam, double>("RAdam");
  check_all_runs<descent::Adamax, double>("Adamax");
  check_all_runs<descent::Adadelta, double>("Adadelta");
  check_all_runs<descent::ASGD, double>("ASGD");
  check_all_runs<descent::Rprop, double>("Rprop");
  check_all_runs<descent::Lion, double>("Lion");
  check_all_runs<descent::ScheduleFreeAdamW, double>("ScheduleFreeAdamW");
  check_all_runs<descent::ScheduleFreeSGD, double>("ScheduleFreeSGD");
}

TEST_CASE("step guard: Grouped with an uncovered block and Clipped take the fused path too", "[step_guard]") {
  using V = VX<double>;
  // The last 7 coefficients belong to no group: never stepped, and their gradient is still checked.
  descent::Layout layout;
  layout.add("W", 5, 4);
  layout.add("b", descent::detail::fused_guard_min_size + 10);
  layout.add("frozen", 7);
  auto grouped = [&] {
    return descent::Grouped<descent::Adam<V>>(
        {{layout.blocks({"W"}), {.lr = 0.05, .weight_decay = 0.1}}, {layout.blocks({"b"}), {.lr = 0.02}}});
  };
  check_fused_equals_separate<double>("Grouped<Adam>", grouped);
  check_fused_equals_separate<double>("Clipped<SGD>",
                                      [] { return descent::clipped(descent::SGD<V>({.lr = 0.3, .momentum = 0.5}), 1.0); });
  check_fused_equals_separate<double>("Clipped<Grouped<Adam>>", [&] { return descent::clipped(grouped(), 2.0); });
}

TEST_CASE("step guard: train over a Map takes the fused path and leaves no guard behind", "[step_guard]") {
  using V = VX<double>;
  const Eigen::Index n = descent::detail::fused_guard_min_size + 37;
  std::vector<double> memory(std::size_t(n), 0.25);
  Eigen::Map<V> x(memory.data(), n);
  Poisoned<double> f;
  f.kind = Poisoned<double>::Kind::nan_gradient;
  f.at = 4;
  descent::Adam<V> opt({.lr = 0.05});
  const auto r = descent::train(f, x, opt, descent::MinibatchSampler(8, {.batch_size = 3}), {.max_iterations = 10});
  CHECK(descent::detail::use_step_guard<descent::Adam<V>>(x));
  CHECK(r.reason == descent::StopReason::NonFinite);
  CHECK(r.iterations == 3);
  CHECK(x.allFinite());
  CHECK(descent::detail::active_step_guard<double> == nullptr);
}

TEST_CASE("step guard: small, fixed-size and strided parameters get the separate passes", "[step_guard]") {
  using V = VX<double>;
  CHECK_FALSE(descent::detail::use_step_guard<descent::Adam<V>>(V(descent::detail::fused_guard_min_size - 1)));
  CHECK(descent::detail::use_step_guard<descent::Adam<V>>(V(descent::detail::fused_guard_min_size)));
  CHECK_FALSE(descent::detail::use_step_guard<descent::Adam<Eigen::Vector2d>>(Eigen::Vector2d()));
  CHECK_FALSE(descent::detail::use_step_guard<Hidden<descent::Adam<V>>>(V(4096)));
  V storage(8192);
  CHECK_FALSE(descent::detail::use_step_guard<descent::Adam<V>>(
      Eigen::Map<V, 0, Eigen::InnerStride<2>>(storage.data(), 4096)));
}

namespace {

/// ½‖x − t‖² with t = (−1 … 1), whose gradient at call number `at` is max/4 everywhere (so that a
/// step with lr > 4 overflows) or, with `nan_loss`, whose loss there is NaN.
struct Bumpy {
  int at = -1;
  bool nan_loss = false;
  mutable int calls = 0;
  double operator()(const VX<double>& x, VX<double>& g) const {
    ++calls;
    const VX<double> t = VX<double>::LinSpaced(x.size(), -1.0, 1.0);
    g = x - t;
    double loss = 0.5 * (x - t).squaredNorm();
    if (calls == at) {
      if (nan_loss)
        loss = kNaN;
      else
        g.setConstant(std::numeric_limits<double>::max() / 4);
    }
    return loss;
  }
};

template <class Make>
void check_minimize_fused_equals_separate(const std::string& name, Make make) {
  for (bool nan_loss : {false, true}) {
    for (int at : {-1, 1, 2, 6}) {
      INFO(name << ", " << (nan_loss ? "NaN loss" : "huge gradient") << " at call " << at);
      auto run_with = [&](auto& opt) {
        Run<double> r;
        r.x = VX<double>::LinSpaced(descent::detail::fused_guard_min_size + 37, 0.5, -0.25);
        auto record = [&r](const descent::Progress<VX<double>>& p) { r.path.emplace_back(p.params); };
        r.report = descent::minimize(Bumpy{at, nan_loss}, r.x, opt, {.max_iterations = 10, .gradient_tolerance = 0},
                                     record);
        return r;
      };
      auto fused_opt = make();
      Hidden<decltype(make())> hidden{make()};
      const Run<double> fused = run_with(fused_opt);
      const Run<double> separate = run_with(hidden);
      CHECK(fused.report.reason == separate.report.reason);
      CHECK(fused.report.iterations == separate.report.iterations);
      CHECK(fused.report.message == separate.report.message);
      CHECK(same(fused.x, separate.x));
      CHECK(fused.x.allFinite());
      if (at > 0 && (nan_loss || name.find("lr 8") != std::string::npos))
        CHECK(fused.report.reason == descent::StopReason::NonFinite);
      REQUIRE(fused.path.size() == separate.path.size());
      for (std::size_t k = 0; k < fused.path.size(); ++k) CHECK(same(fused.path[k], separate.path[k]));
    }
  }
}

}  // namespace

TEST_CASE("step guard: minimize's fused path ends every run where the separate passes do", "[step_guard]") {
  using V = VX<double>;
  check_minimize_fused_equals_separate("GradientDescent lr 8", [] { return descent::GradientDescent<V>({.lr = 8.0}); });
  check_minimize_fused_equals_separate("GradientDescent", [] { return descent::GradientDescent<V>({.lr = 0.2}); });
  check_minimize_fused_equals_separate("SGD momentum lr 6",
                                       [] { return descent::SGD<V>({.lr = 6.0, .momentum = 0.5}); });
  check_minimize_fused_equals_separate("Adam", [] { return descent::Adam<V>({.lr = 0.1}); });
  check_minimize_fused_equals_separate("RMSProp centered",
                                       [] { return descent::RMSProp<V>({.lr = 0.01, .centered = true}); });
  descent::Layout layout;
  layout.add("w", descent::detail::fused_guard_min_size + 30);
  layout.add("frozen", 7);
  check_minimize_fused_equals_separate("Grouped<SGD> with a frozen block lr 8", [&] {
    return descent::Grouped<descent::SGD<V>>({{layout.blocks({"w"}), {.lr = 8.0}}});
  });
}
