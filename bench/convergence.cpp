// Convergence speed: how many iterations (or epochs) and how much wall time each optimizer needs
// to reach a target loss, and the loss it reaches within a fixed budget, on six problems:
//
//   rosenbrock     2-D Rosenbrock from (−1.5, 2)                         minimize, 20 000 iterations
//   quadratic      n = 1000, condition number 1e4 (Quadratic::ill_conditioned, seed 1)
//                                                                         minimize, 5 000 iterations
//   least_squares  diabetes (442 × 10 + intercept, standardized)         minimize, 5 000 iterations
//   logistic       breast cancer (569 × 30 + intercept, standardized, l2 = 1e-3)
//                                                                         train, batch 32, 50 epochs
//   softmax        digits (1797 × 64 + intercept, scaled to [0, 1], 10 classes, l2 = 1e-3)
//                                                                         train, batch 64, 30 epochs
//   logistic_100k  synthetic 100 000 × 100 (+ intercept), bench::synthetic_logistic seed 42, l2 = 1e-4
//                                                                         train, batch 256, 5 epochs
//
// Target: f* + 1e-3 · (f(x₀) − f*), i.e. the initial suboptimality cut by 1000 (by 10⁶ for
// Rosenbrock, whose loss is still 0.2 at a thousandth of f(x₀), far along the valley; by 100 for
// the three minibatch problems, where a constant learning rate leaves a noise floor). f* is exact where
// known (Rosenbrock 0, the quadratic's A⁻¹b, the least-squares closed form) and otherwise the loss
// at the problem's minimizer() (Newton's method on the exact Hessian), computed once at start-up. In
// train the loss is judged on the full training set at every epoch end.
//
// Learning rate: for each optimizer the grid kGrid = {1e-4, 1e-3, 1e-2, 0.1, 1, 10}; rule: the value
// that reaches the target in the fewest iterations (epochs) and is still below it at the end of the
// budget (a rate that touches the target and then diverges does not count); if none does, the
// lowest final loss.
// Optimizers run with their torch defaults otherwise (momentum 0.9 for the SGD variants), so AdamW
// decays its weights by its default 1e-2 and converges to a different point than f*'s. The grid search runs once per
// (problem, optimizer) before timing; the timed benchmark then runs the chosen learning rate. Everything is seeded:
// runs are reproducible. ASGD is judged at its iterate, what torch leaves in the parameters: its
// average ax never feeds back into it, so t0 (when averaging starts) cannot change these losses.
// Rprop's lr is only its initial step size (the step sizes then adapt per coordinate), and Rprop
// is a full-batch method: on minibatches the gradient's sign flips with the noise and its steps shrink.
// ScheduleFreeAdamW and ScheduleFreeSGD are judged at their averaged point x (eval mode), which
// costs them one more evaluation of f per judged point (per iteration in minimize, where the others'
// loss comes free with the step): their seconds include it.
//
// Counters: lr, iterations_to_target (or epochs_to_target; -1 if not reached), seconds_to_target,
// final_loss, final_gap (final_loss − f*), f_star. The benchmark's own time is the whole budget.
//
// Run: build/release/bench/convergence --benchmark_format=json > convergence.json
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <descent/descent.hpp>
#include <descent/problems/problems.hpp>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/csv.hpp"
#include "synthetic_logistic.hpp"

namespace {

using V = Eigen::VectorXd;
using M = Eigen::MatrixXd;
namespace problems = descent::problems;
namespace ex = descent::examples;

std::string data_path(const char* file) { return std::string(DESCENT_EXAMPLES_DATA_DIR) + "/" + file; }

// ---------------------------------------------------------------------------------------------
// Problems.

template <class F>
double loss_at(F& f, const V& x) {
  V g(x.size());
  return double(f(x, g));
}

struct Outcome {
  double lr = 0;
  std::int64_t to_target = -1;  // iterations (minimize) or epochs (train); -1: not reached
  double seconds_to_target = std::numeric_limits<double>::quiet_NaN();
  double final_loss = std::numeric_limits<double>::infinity();
  bool stayed = false;  // reached the target and still below it at the end of the budget
};

// Outcomes rank by the rule in the header: reached the target sooner, else a lower final loss.
bool better(const Outcome& a, const Outcome& b) {
  if (a.stayed != b.stayed) return a.stayed;
  if (a.stayed) return a.to_target < b.to_target;
  return a.final_loss < b.final_loss;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

struct Setup {
  std::string name;
  V x0;
  double f_star = 0;
  double target = 0;
  std::int64_t budget = 0;  // iterations (minimize) or epochs (train)
  Eigen::Index batch = 0;   // 0: full batch (minimize)
};

template <class F>
Setup make_setup(std::string name, F& f, V x0, double f_star, std::int64_t budget, Eigen::Index batch,
                 double reduction = 1e-3) {
  const double f0 = loss_at(f, x0);
  return {std::move(name), std::move(x0), f_star, f_star + reduction * (f0 - f_star), budget, batch};
}

// A schedule-free optimizer trains on the interpolated point y that it keeps in the parameters; its
// answer is the averaged point x (eval()). It is judged there: from a copy of the parameters
// switched to x and back, which leaves its state exactly as it was.
template <class O>
constexpr bool schedule_free = descent::EvalModeOptimizer<O, V>;

// The loss a run is judged by; `known` is the loss at params when the driver has it already.
template <class F, class O>
double judged_loss(F& f, O& optimizer, const Eigen::Ref<const V>& params, std::optional<double> known, V& scratch) {
  if constexpr (schedule_free<O>) {
    scratch = params;
    optimizer.eval(scratch);
    const double loss = loss_at(f, scratch);
    optimizer.train(scratch);
    return loss;
  } else {
    return known ? *known : loss_at(f, V(params));
  }
}

template <class F, class O>
Outcome run(F& f, const Setup& s, O optimizer) {
  Outcome out;
  out.lr = optimizer.lr();
  V x = s.x0, scratch;
  double last = std::numeric_limits<double>::infinity();
  const auto start = std::chrono::steady_clock::now();
  if (s.batch == 0) {
    auto watch = [&](const descent::Progress<V>& p) {
      last = judged_loss(f, optimizer, p.params, p.loss, scratch);
      if (out.to_target < 0 && last <= s.target) {
        out.to_target = p.iteration;
        out.seconds_to_target = seconds_since(start);
      }
    };
    const auto r = descent::minimize(f, x, optimizer, {.max_iterations = s.budget, .gradient_tolerance = 0}, watch);
    out.final_loss = r.reason == descent::StopReason::NonFinite ? std::numeric_limits<double>::infinity()
                     : schedule_free<O>                            ? last
                                                                   : r.loss;
  } else {
    // L-BFGS needs the full objective: it is not registered for minibatch runs
    if constexpr (descent::StochasticObjective<F, V> && descent::Optimizer<O, V>) {
      descent::MinibatchSampler sampler(f.size(), {.batch_size = s.batch, .seed = 1});
      auto watch = [&](const descent::Progress<V>& p) {
        if (!p.end_of_epoch) return;
        // the full training loss, judged once per epoch
        last = judged_loss(f, optimizer, p.params, std::nullopt, scratch);
        if (out.to_target < 0 && last <= s.target) {
          out.to_target = p.epoch;
          out.seconds_to_target = seconds_since(start);
        }
      };
      const auto r = descent::train(f, x, optimizer, sampler, {.max_iterations = 0, .max_epochs = s.budget}, watch);
      out.final_loss = r.reason == descent::StopReason::NonFinite ? std::numeric_limits<double>::infinity() : last;
    }
  }
  out.stayed = out.to_target >= 0 && out.final_loss <= s.target;
  return out;
}

// The optimizers, each a factory from a learning rate.
const std::vector<double> kGrid = {1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0};

template <class Body>
void for_each_optimizer(Body&& body) {
  body("GradientDescent", [](double lr) { return descent::GradientDescent<V>({.lr = lr}); });
  body("SGD_momentum", [](double lr) { return descent::SGD<V>({.lr = lr, .momentum = 0.9}); });
  body("SGD_nesterov", [](double lr) { return descent::SGD<V>({.lr = lr, .momentum = 0.9, .nesterov = true}); });
  body("Adam", [](double lr) { return descent::Adam<V>({.lr = lr}); });
  body("AMSGrad", [](double lr) { return descent::Adam<V>({.lr = lr, .amsgrad = true}); });
  body("AdamW", [](double lr) { return descent::AdamW<V>({.lr = lr}); });
  body("Adagrad", [](double lr) { return descent::Adagrad<V>({.lr = lr}); });
  body("RMSProp", [](double lr) { return descent::RMSProp<V>({.lr = lr}); });
  body("RMSProp_centered", [](double lr) { return descent::RMSProp<V>({.lr = lr, .centered = true}); });
  body("NAdam", [](double lr) { return descent::NAdam<V>({.lr = lr}); });
  body("RAdam", [](double lr) { return descent::RAdam<V>({.lr = lr}); });
  body("Adamax", [](double lr) { return descent::Adamax<V>({.lr = lr}); });
  body("Adadelta", [](double lr) { return descent::Adadelta<V>({.lr = lr}); });
  body("ASGD", [](double lr) { return descent::ASGD<V>({.lr = lr}); });
  body("Rprop", [](double lr) { return descent::Rprop<V>({.lr = lr}); });
  body("Lion", [](double lr) { return descent::Lion<V>({.lr = lr}); });
  body("ScheduleFreeAdamW", [](double lr) { return descent::ScheduleFreeAdamW<V>({.lr = lr}); });
  body("ScheduleFreeSGD", [](double lr) { return descent::ScheduleFreeSGD<V>({.lr = lr}); });
  // max_iter = 1: one minimize iteration is one L-BFGS iteration (with its line search's
  // evaluations), so iteration counts compare with the others'
  body("LBFGS", [](double lr) {
    return descent::LBFGS<V>({.lr = lr, .max_iter = 1, .tolerance_grad = 0, .tolerance_change = 0,
                              .line_search = descent::LineSearch::StrongWolfe});
  });
}

// Registers one benchmark per optimizer for problem `f` (kept alive by the shared pointer).
template <class F>
void register_problem(std::shared_ptr<F> f, Setup setup) {
  auto shared_setup = std::make_shared<Setup>(std::move(setup));
  for_each_optimizer([&](const char* name, auto make) {
    if (shared_setup->batch != 0 && !descent::Optimizer<decltype(make(1.0)), V>) return;  // full batch only
    const std::string bench_name = "convergence/" + shared_setup->name + "/" + name;
    benchmark::RegisterBenchmark(bench_name.c_str(),
                                 [f, shared_setup, make](benchmark::State& state) {
                                   // Grid search once, outside the timing.
                                   Outcome best;
                                   bool first = true;
                                   for (double lr : kGrid) {
                                     const Outcome o = run(*f, *shared_setup, make(lr));
                                     if (first || better(o, best)) best = o;
                                     first = false;
                                   }
                                   Outcome timed;
                                   for (auto _ : state) timed = run(*f, *shared_setup, make(best.lr));
                                   const bool epochs = shared_setup->batch > 0;
                                   state.counters["lr"] = timed.lr;
                                   state.counters[epochs ? "epochs_to_target" : "iterations_to_target"] =
                                       double(timed.to_target);
                                   state.counters["seconds_to_target"] = timed.seconds_to_target;
                                   state.counters["final_loss"] = timed.final_loss;
                                   state.counters["final_gap"] = timed.final_loss - shared_setup->f_star;
                                   state.counters["f_star"] = shared_setup->f_star;
                                 })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(1);
  });
}

void register_all() {
  {
    auto f = std::make_shared<problems::Rosenbrock<double>>(2);
    V x0(2);
    x0 << -1.5, 2.0;
    register_problem(f, make_setup("rosenbrock", *f, x0, 0.0, 20000, 0, 1e-6));
  }
  {
    auto f = std::make_shared<problems::Quadratic<double>>(problems::Quadratic<double>::ill_conditioned(1000, 1e4, 1));
    register_problem(f, make_setup("quadratic", *f, V::Zero(1000), double(f->minimum()), 5000, 0));
  }
  {
    auto [X, y] = ex::split_features_labels(ex::read_csv(data_path("diabetes.csv")));
    ex::Standardizer::fit(X).transform(X);
    M rows(X.rows(), X.cols() + 1);
    rows << X, V::Ones(X.rows());
    auto f = std::make_shared<problems::LeastSquares<double>>(problems::LeastSquares<double>::from_rows(rows, y));
    const double f_star = loss_at(*f, f->solution());
    register_problem(f, make_setup("least_squares", *f, V::Zero(f->dimension()), f_star, 5000, 0));
  }
  {
    auto [X, y] = ex::split_features_labels(ex::read_csv(data_path("breast_cancer.csv")));
    ex::Standardizer::fit(X).transform(X);
    using LR = problems::LogisticRegression<double>;
    auto f = std::make_shared<LR>(LR::from_rows(X, y, {.l2 = 1e-3}));
    register_problem(f, make_setup("logistic", *f, V::Zero(f->dimension()), loss_at(*f, f->minimizer()), 50, 32, 1e-2));
  }
  {
    auto [X, y] = ex::split_features_labels(ex::read_csv(data_path("digits.csv")));
    X /= 16.0;  // pixel intensities 0..16
    using SR = problems::SoftmaxRegression<double>;
    auto f = std::make_shared<SR>(SR::from_rows(X, y.cast<int>(), 10, {.l2 = 1e-3}));
    register_problem(f, make_setup("softmax", *f, V::Zero(f->dimension()), loss_at(*f, f->minimizer()), 30, 64, 1e-2));
  }
  {
    auto f = std::make_shared<problems::LogisticRegression<double>>(bench::synthetic_logistic(100, 100000, 42, 1e-4));
    register_problem(
        f, make_setup("logistic_100k", *f, V::Zero(f->dimension()), loss_at(*f, f->minimizer()), 5, 256, 1e-2));
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
