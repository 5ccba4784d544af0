// Compares every optimizer in descent on one real problem: L2-regularized logistic regression on
// the Breast Cancer Wisconsin data (examples/data/breast_cancer.csv). Each optimizer runs a small
// learning-rate grid and is shown at its best learning rate; the table says how close each gets to
// the optimum f* and how fast, and the loss curves go to a CSV for tools/plot_convergence.py.
//
//   compare_optimizers [--quick] [--csv PATH] [DATA_DIR]
//
// DATA_DIR defaults to DESCENT_EXAMPLES_DATA_DIR (set by CMake), PATH to convergence.csv; --quick
// (for ctest) runs a smaller grid and budget. The exit status is 1 if a check at the end fails.
//
// The choices, and why:
// - The problem is smooth and strongly convex (l2 > 0), so its minimum f* is unique; Newton's
//   method (the problem's minimizer()) computes it to a gradient norm below 1e-10, and "how far
//   from the optimum" has an exact answer.
// - GD, Rprop and L-BFGS step on the full training set (descent::minimize); the seventeen others on
//   minibatches of 32 (descent::train): each in the regime it is designed for. GD is SGD with a
//   batch of everything, so a full-batch SGD line would only repeat GD's; Rprop follows the signs
//   of the gradient, which minibatch noise flips at random (each flip shrinks its step). Steps
//   therefore differ in cost: the budget and the curves count epochs (passes over the training
//   set, the same gradient work for everybody) and seconds, not steps.
// - Learning rates are constant, other options torch.optim's defaults. A stochastic method with a
//   constant rate stalls at a noise floor that shrinks with the rate, so the final loss after a
//   fixed budget rewards the rate that balances speed against that floor.
// - Everything is seeded (split, minibatches): repeated runs give the same losses; only the
//   timings vary.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <descent/descent.hpp>
#include <descent/problems/logistic_regression.hpp>
#include <exception>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/csv.hpp"

namespace {

using V = Eigen::VectorXd;
using Problem = descent::problems::LogisticRegression<double>;
using Clock = std::chrono::steady_clock;

struct Point {
  std::int64_t iteration;
  double epoch;    // passes over the training set
  double seconds;  // training time, without the time spent recording
  double loss;     // the full training loss at the parameters
};

// Records the full training loss once per epoch. descent::History would record Progress::loss,
// which in train is the mean of the epoch's minibatch losses, each taken before its step: a noisy
// estimate, not the loss at the parameters. Evaluating the full loss costs about an epoch of
// minibatch steps, so the time spent here is left out of the recorded seconds.
class Curve {
 public:
  /// `judge(params, grad)`: the loss recorded for the parameters (the loss at them, unless set).
  using Judge = std::function<double(const V&, V&)>;

  Curve(const Problem& f, const V& x0, Judge judge = {}) : f_(&f), grad_(x0.size()), judge_(std::move(judge)) {
    if (!judge_) judge_ = [this](const V& x, V& g) { return (*f_)(x, g); };
    points_.push_back({0, 0.0, 0.0, judge_(x0, grad_)});
    start_ = Clock::now();
  }

  void operator()(const descent::Progress<V>& p) {
    if (p.stochastic && !p.end_of_epoch) return;
    const auto now = Clock::now();
    // minimize (GD): a step is an epoch, and p.loss is already the loss at p.params.
    const double loss = p.stochastic ? judge_(p.params, grad_) : p.loss;
    const double epoch = p.stochastic ? double(p.epoch) : double(p.iteration);
    points_.push_back({p.iteration, epoch, seconds(now), loss});
    recording_ += Clock::now() - now;
  }

  const std::vector<Point>& points() const { return points_; }

 private:
  double seconds(Clock::time_point t) const { return std::chrono::duration<double>(t - start_ - recording_).count(); }

  const Problem* f_;
  V grad_;
  Judge judge_;
  std::vector<Point> points_;
  Clock::time_point start_;
  Clock::duration recording_{};
};

// What every run shares: the data, the budget, the target.
struct Setup {
  Problem train;                 // the training set and its objective
  Eigen::MatrixXd test_samples;  // d × m_test, one sample per column, as the problem stores them
  V test_labels;
  double f_star = 0, target = 0;  // the minimum of the training loss, and the loss that counts as reached
  std::int64_t epochs = 0;
  Eigen::Index batch_size = 32;
  std::uint64_t sampler_seed = 1;
  int timing_repeats = 1;
};

enum Regime { FullBatch, Minibatch };

struct Run {
  double lr = 0;
  std::vector<Point> curve{};
  double final_loss = 0, test_accuracy = 0;
  std::optional<Point> reached{};  // the first recorded point at or below the target
};

/// A schedule-free optimizer trains on the interpolated point y that it keeps in the parameters,
/// but its answer is the averaged point x (eval()); the others' answer is the parameters.
template <class Optimizer>
constexpr bool schedule_free = descent::EvalModeOptimizer<Optimizer, V>;

template <class Optimizer>
Run run(const Setup& s, Optimizer optimizer, double lr, Regime regime) {
  V x = V::Zero(s.train.dimension());  // the same start for everybody: every probability ½
  Curve::Judge judge;
  V at_x;
  if constexpr (schedule_free<Optimizer>) {
    // The loss at x, from a copy of the parameters switched to x and back: the optimizer's state is
    // left exactly as it was (eval and train only move the copy and toggle the mode).
    judge = [&optimizer, &at_x, &s](const V& params, V& g) {
      at_x = params;
      optimizer.eval(at_x);
      const double loss = s.train(at_x, g);
      optimizer.train(at_x);
      return loss;
    };
  }
  Curve curve(s.train, x, judge);
  if (regime == FullBatch) {
    // gradient_tolerance = 0: spend the whole budget, like the others.
    descent::minimize(s.train, x, optimizer, descent::StopCriteria{.max_iterations = s.epochs, .gradient_tolerance = 0},
                      curve);
  } else if constexpr (descent::Optimizer<Optimizer, V>) {  // L-BFGS has the full-batch regime only
    // The same seed for every run: every optimizer sees the same sequence of minibatches.
    descent::MinibatchSampler sampler(s.train.size(), {.batch_size = s.batch_size, .seed = s.sampler_seed});
    descent::train(s.train, x, optimizer, sampler, descent::StopCriteria{.max_iterations = 0, .max_epochs = s.epochs},
                   curve);
  }
  Run r{.lr = lr, .curve = curve.points()};
  if constexpr (schedule_free<Optimizer>) optimizer.eval(x);
  V grad(x.size());
  r.final_loss = s.train(x, grad);
  r.test_accuracy = s.train.accuracy(x, s.test_samples, s.test_labels);
  return r;
}

void find_target(Run& r, double target) {
  const auto it = std::find_if(r.curve.begin(), r.curve.end(), [&](const Point& p) { return p.loss <= target; });
  r.reached = it == r.curve.end() ? std::nullopt : std::optional<Point>(*it);
}

struct Result {
  std::string name;
  Run best{};
  bool repeatable = true;  // the timing repeats gave exactly the same losses
};

constexpr const char* selection_rule =
    "lowest final training loss (a tie within 1e-9 relative goes to fewer epochs to target)";

// Runs `make(lr)`'s optimizer for every lr of the grid and keeps the best run by selection_rule,
// which looks at losses and epochs only: the choice does not depend on the timings.
template <class Make>
Result best_of_grid(const Setup& s, const std::vector<double>& grid, const std::string& name, Regime regime,
                    Make make) {
  Result result{.name = name};
  constexpr double never = std::numeric_limits<double>::infinity();
  const auto epochs_to_target = [](const Run& r) { return r.reached ? r.reached->epoch : never; };
  const double tie = 1e-9 * s.f_star;
  bool first = true;
  for (const double lr : grid) {
    Run r = run(s, make(lr), lr, regime);
    find_target(r, s.target);
    const Run& b = result.best;
    if (first || r.final_loss < b.final_loss - tie ||
        (std::abs(r.final_loss - b.final_loss) <= tie && epochs_to_target(r) < epochs_to_target(b)))
      result.best = std::move(r);
    first = false;
  }
  // These runs take milliseconds, where one preemption by another process shows as a cliff on the
  // time axis. So the best run is repeated, each epoch's duration is taken as its least over the
  // repeats, and the curve's times are the running sums of those.
  Run& best = result.best;
  std::vector<double> least(best.curve.size(), 0.0);
  for (std::size_t i = 1; i < least.size(); ++i) least[i] = best.curve[i].seconds - best.curve[i - 1].seconds;
  for (int k = 1; k < s.timing_repeats; ++k) {
    const Run again = run(s, make(best.lr), best.lr, regime);
    result.repeatable = result.repeatable && again.curve.size() == best.curve.size();
    for (std::size_t i = 1; i < std::min(least.size(), again.curve.size()); ++i) {
      result.repeatable = result.repeatable && again.curve[i].loss == best.curve[i].loss;
      least[i] = std::min(least[i], again.curve[i].seconds - again.curve[i - 1].seconds);
    }
  }
  for (std::size_t i = 1; i < least.size(); ++i) best.curve[i].seconds = best.curve[i - 1].seconds + least[i];
  find_target(best, s.target);
  return result;
}

// The shortest text that reads back as x: 0.003, not 0.0030000000000000001.
std::string shortest(double x) {
  char buffer[32];
  return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, x).ptr);
}

// One tidy table, a row per recorded point. f_star and target repeat on every row so that the
// file alone is enough to plot loss − f* and the target.
void write_csv(const std::string& path, const std::vector<Result>& results, const Setup& s) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot open " + path + " for writing");
  out << "optimizer,lr,iteration,seconds,loss,epoch,f_star,target\n";
  for (const Result& r : results)
    for (const Point& p : r.best.curve)
      out << r.name << ',' << shortest(r.best.lr) << ',' << p.iteration << ',' << shortest(p.seconds) << ','
          << shortest(p.loss) << ',' << shortest(p.epoch) << ',' << shortest(s.f_star) << ',' << shortest(s.target)
          << '\n';
  if (!out) throw std::runtime_error("error while writing " + path);
}

int usage(const char* program) {
  std::fprintf(stderr, "usage: %s [--quick] [--csv PATH] [DATA_DIR]\n", program);
  return 2;
}

}  // namespace

int main(int argc, char** argv) try {
  bool quick = false;
  std::string csv_path = "convergence.csv", data_dir;
#ifdef DESCENT_EXAMPLES_DATA_DIR
  data_dir = DESCENT_EXAMPLES_DATA_DIR;
#endif
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (arg == "--csv" && i + 1 < argc) {
      csv_path = argv[++i];
    } else if (!arg.starts_with("-")) {
      data_dir = arg;
    } else {
      return usage(argv[0]);
    }
  }
  if (data_dir.empty()) return usage(argv[0]);

  // The data: 80% to train on, 20% held out, features standardized with the training part's
  // statistics (the raw features differ in scale by four orders of magnitude).
  namespace ex = descent::examples;
  const auto [X, y] = ex::split_features_labels(ex::read_csv(data_dir + "/breast_cancer.csv"));
  const ex::TrainTestSplit split = ex::train_test_split(X.rows(), 0.2, /*seed=*/0);
  Eigen::MatrixXd X_train = X(split.train, Eigen::all), X_test = X(split.test, Eigen::all);
  ex::standardize(X_train, X_test);
  // l2 = 1/m is scikit-learn's default, LogisticRegression(C = 1), in the mean-loss scaling.
  const double l2 = 1.0 / double(X_train.rows());
  Setup s{.train = Problem::from_rows(X_train, y(split.train), {.l2 = l2}),
          .test_samples = X_test.transpose(),
          .test_labels = y(split.test)};

  // The optimum, by Newton's method on the exact Hessian (it throws if it does not converge).
  const V x_star = s.train.minimizer();
  V grad(x_star.size());
  s.f_star = s.train(x_star, grad);
  const double newton_gradient_norm = grad.norm();
  // Within 1% of the optimum: above the noise floor of every best run here, so that reaching it
  // is not a lucky dip of a noisy curve.
  constexpr double target_gap = 1e-2;
  s.target = s.f_star * (1 + target_gap);
  s.epochs = quick ? 25 : 300;
  s.timing_repeats = quick ? 2 : 7;
  // Half decades from 1e-4 to 10: every optimizer's best rate lies inside (GD's is the largest).
  const std::vector<double> grid = quick
                                       ? std::vector<double>{1e-2, 1e-1, 1}
                                       : std::vector<double>{1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1, 3, 10};

  std::printf("L2-regularized logistic regression on breast cancer%s\n", quick ? " (--quick)" : "");
  std::printf("  %lld training samples, %lld test, %lld parameters, l2 = 1/%lld; features standardized\n",
              static_cast<long long>(s.train.size()), static_cast<long long>(s.test_labels.size()),
              static_cast<long long>(s.train.dimension()), static_cast<long long>(s.train.size()));
  std::printf("  f* = %.12f (Newton's method, gradient norm %.1e); target: f - f* <= %g f* = %.2e\n", s.f_star,
              newton_gradient_norm, target_gap, s.target - s.f_star);
  std::printf("  GD, Rprop, L-BFGS: full batch (descent::minimize); the others: minibatches of %lld (descent::train);\n",
              static_cast<long long>(s.batch_size));
  std::printf("  all for %lld epochs from x = 0, compared per epoch and per second\n",
              static_cast<long long>(s.epochs));
  std::printf("  learning rate: constant, best of {");
  for (std::size_t i = 0; i < grid.size(); ++i) std::printf("%s%g", i ? ", " : "", grid[i]);
  std::printf("}\n  best lr: %s\n\n", selection_rule);

  std::vector<Result> results;
  auto compare = [&](const std::string& name, Regime regime, auto make) {
    results.push_back(best_of_grid(s, grid, name, regime, make));
  };
  compare("GD", FullBatch, [](double lr) { return descent::GradientDescent<V>({.lr = lr}); });
  compare("SGD", Minibatch, [](double lr) { return descent::SGD<V>({.lr = lr}); });
  compare("SGD+momentum", Minibatch, [](double lr) { return descent::SGD<V>({.lr = lr, .momentum = 0.9}); });
  compare("Nesterov", Minibatch,
          [](double lr) { return descent::SGD<V>({.lr = lr, .momentum = 0.9, .nesterov = true}); });
  compare("Adam", Minibatch, [](double lr) { return descent::Adam<V>({.lr = lr}); });
  compare("AMSGrad", Minibatch, [](double lr) { return descent::Adam<V>({.lr = lr, .amsgrad = true}); });
  // torch's default decoupled weight_decay = 1e-2, on top of the objective's L2 term.
  compare("AdamW", Minibatch, [](double lr) { return descent::AdamW<V>({.lr = lr}); });
  compare("Adagrad", Minibatch, [](double lr) { return descent::Adagrad<V>({.lr = lr}); });
  compare("RMSProp", Minibatch, [](double lr) { return descent::RMSProp<V>({.lr = lr}); });
  compare("RMSProp centered", Minibatch, [](double lr) { return descent::RMSProp<V>({.lr = lr, .centered = true}); });
  compare("NAdam", Minibatch, [](double lr) { return descent::NAdam<V>({.lr = lr}); });
  compare("RAdam", Minibatch, [](double lr) { return descent::RAdam<V>({.lr = lr}); });
  compare("Adamax", Minibatch, [](double lr) { return descent::Adamax<V>({.lr = lr}); });
  compare("Adadelta", Minibatch, [](double lr) { return descent::Adadelta<V>({.lr = lr}); });
  // The curve is the iterate's, which is what torch's ASGD leaves in the parameters; the average
  // ax never feeds back into it.
  compare("ASGD", Minibatch, [](double lr) { return descent::ASGD<V>({.lr = lr}); });
  // Lion steps by the sign of an interpolated momentum: every coordinate moves by lr each step.
  compare("Lion", Minibatch, [](double lr) { return descent::Lion<V>({.lr = lr}); });
  // Schedule-free (Defazio et al. 2024), judged at their averaged point x: no schedule, and yet
  // no noise floor of a constant rate (the average takes it away). Defaults otherwise (warmup 0).
  compare("SF-AdamW", Minibatch, [](double lr) { return descent::ScheduleFreeAdamW<V>({.lr = lr}); });
  compare("SF-SGD", Minibatch, [](double lr) { return descent::ScheduleFreeSGD<V>({.lr = lr}); });
  // lr is Rprop's initial step size only: the step sizes adapt per coefficient from there.
  compare("Rprop", FullBatch, [](double lr) { return descent::Rprop<V>({.lr = lr}); });
  // Fixed steps, one iteration per step: one gradient per iteration, so an iteration is an epoch
  // here too (a line search would spend several evaluations per iteration).
  compare("L-BFGS", FullBatch, [](double lr) {
    return descent::LBFGS<V>({.lr = lr, .max_iter = 1, .tolerance_grad = 0, .tolerance_change = 0});
  });

  std::printf("%-17s %7s %14s %9s %9s %16s %11s %9s\n", "optimizer", "best lr", "final loss", "f - f*", "test acc",
              "epochs (steps)", "time to", "total");
  std::printf("%-17s %7s %14s %9s %9s %16s %11s %9s\n", "", "", "", "", "", "to target", "target", "time");
  for (const Result& r : results) {
    const Run& b = r.best;
    char reached[32] = "not reached", when[32] = "-";
    if (b.reached) {
      std::snprintf(reached, sizeof reached, "%g (%lld)", b.reached->epoch,
                    static_cast<long long>(b.reached->iteration));
      std::snprintf(when, sizeof when, "%.2f ms", 1e3 * b.reached->seconds);
    }
    std::printf("%-17s %7g %14.10f %9.2e %9.4f %16s %11s %6.2f ms\n", r.name.c_str(), b.lr, b.final_loss,
                b.final_loss - s.f_star, b.test_accuracy, reached, when, 1e3 * b.curve.back().seconds);
  }
  std::printf(
      "\nTimes: each epoch's least over %d identical runs, without the loss evaluations for the curves.\n"
      "AdamW adds torch's default decoupled weight decay (0.01) to the L2 term: it settles slightly off the optimum.\n",
      s.timing_repeats);

  write_csv(csv_path, results, s);
  std::printf("Loss curves (each optimizer at its best lr): %s\n", csv_path.c_str());

  // What must hold on any run, --quick included (ctest runs it), beside the optimum (minimizer()
  // throws when it cannot reach it): every optimizer improving on the starting point without
  // passing below the optimum, deterministic runs, and Adam classifying the held-out tumours well.
  bool ok = true;
  auto check = [&ok](bool condition, const std::string& what) {
    if (!condition) {
      std::fprintf(stderr, "check failed: %s\n", what.c_str());
      ok = false;
    }
  };
  const double initial_loss = results.front().best.curve.front().loss;
  for (const Result& r : results) {
    check(std::isfinite(r.best.final_loss) && r.best.final_loss < initial_loss,
          r.name + ": final loss finite and below the initial loss");
    check(r.best.final_loss >= s.f_star - 1e-12, r.name + ": final loss not below f*");
    check(r.repeatable, r.name + ": repeated runs give the same losses");
    if (r.name == "Adam") check(r.best.test_accuracy >= 0.95, "Adam: test accuracy >= 0.95");
  }
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "compare_optimizers: %s\n", e.what());
  return 1;
}
