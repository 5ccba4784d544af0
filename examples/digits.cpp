// Handwritten digits (8x8 images, 10 classes): softmax regression, then a one-hidden-layer network
// written as a StochasticObjective over a descent::Layout, trained until it overfits, the same
// network with early stopping, and with the modern recipe (parameter groups without weight decay
// on the biases, warmup + cosine schedule, gradient clipping).
//
//   digits [--quick] [path/to/digits.csv]
//
// --quick (for ctest) trains for fewer epochs. Either way the exit code is 0 only if every check
// printed at the end passes (2 if the data cannot be read).
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <descent/check_gradient.hpp>
#include <descent/descent.hpp>
#include <descent/problems/softmax_regression.hpp>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "common/csv.hpp"

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using Eigen::VectorXi;

// One part of the data set, samples as columns: a minibatch X(all, batch) then reads whole columns.
struct Part {
  MatrixXd X;  // 64 x n
  VectorXi y;
};

// 64 -> hidden (tanh) -> 10 (softmax). All parameters live in one VectorXd, the vector the
// optimizers step in one pass; a descent::Layout names its blocks W1 (hidden x inputs), b1, W2
// (classes x hidden) and b2, each matrix column-major, and maps them as Eigen matrices.
struct Mlp {
  Index inputs, hidden, classes;
  descent::Layout layout;

  Mlp(Index inputs_, Index hidden_, Index classes_) : inputs(inputs_), hidden(hidden_), classes(classes_) {
    layout.add("W1", hidden, inputs);
    layout.add("b1", hidden);
    layout.add("W2", classes, hidden);
    layout.add("b2", classes);
  }

  Index dimension() const { return layout.size(); }

  // The four layers as views into the parameter (or gradient) vector: no copies, read-only when
  // the vector is const.
  template <class Vec>
  auto layers(Vec& v) const {
    return std::tuple{layout.map<MatrixXd>(v, "W1"), layout.map<VectorXd>(v, "b1"), layout.map<MatrixXd>(v, "W2"),
                      layout.map<VectorXd>(v, "b2")};
  }

  // Hidden activations (hidden x m) and logits (classes x m) of the m columns of X, which may be
  // any Eigen expression, such as an indexed minibatch.
  template <class Samples>
  std::pair<MatrixXd, MatrixXd> forward(const VectorXd& w, const Samples& X) const {
    const auto [W1, b1, W2, b2] = layers(w);
    MatrixXd H = ((W1 * X).colwise() + b1).array().tanh().matrix();
    MatrixXd Z = (W2 * H).colwise() + b2;
    return {std::move(H), std::move(Z)};
  }

  // Mean cross-entropy over the columns of X; also writes its gradient into *grad when given.
  template <class Samples, class Labels>
  double loss(const VectorXd& w, const Samples& X, const Labels& y, VectorXd* grad = nullptr) const {
    auto [H, Z] = forward(w, X);
    const auto m = double(X.cols());
    // log-sum-exp with each column's largest logit taken out first, so exp cannot overflow.
    Z.rowwise() -= Z.colwise().maxCoeff();
    MatrixXd P = Z.array().exp().matrix();
    const Eigen::RowVectorXd total = P.colwise().sum();
    double sum = 0;
    for (Index i = 0; i < X.cols(); ++i) sum += std::log(total[i]) - Z(y[i], i);
    if (grad == nullptr) return sum / m;

    // Backpropagation: dZ = (softmax - onehot) / m, then through W2, tanh' = 1 - tanh^2, W1.
    P.array().rowwise() /= total.array();
    for (Index i = 0; i < X.cols(); ++i) P(y[i], i) -= 1;
    P /= m;
    const MatrixXd dH = ((std::get<2>(layers(w)).transpose() * P).array() * (1 - H.array().square())).matrix();
    auto [gW1, gb1, gW2, gb2] = layers(*grad);
    gW2.noalias() = P * H.transpose();
    gb2 = P.rowwise().sum();
    gW1.noalias() = dH * X.transpose();
    gb1 = dH.rowwise().sum();
    return sum / m;
  }

  double accuracy(const VectorXd& w, const Part& part) const {
    const MatrixXd Z = forward(w, part.X).second;
    Index correct = 0;
    for (Index i = 0; i < Z.cols(); ++i) {
      Index k = 0;
      Z.col(i).maxCoeff(&k);
      correct += (k == part.y[i]);
    }
    return double(correct) / double(Z.cols());
  }

  // Glorot-uniform weights, zero biases, from descent's SplitMix64 generator: unlike the std
  // distributions it is written out, so the same seed gives the same network everywhere.
  VectorXd initial(std::uint64_t seed) const {
    VectorXd w = VectorXd::Zero(dimension());
    descent::detail::SplitMix64 random(seed);
    const auto uniform = [&random](double bound) { return bound * random.uniform(-1.0, 1.0); };
    auto [W1, b1, W2, b2] = layers(w);
    for (double& v : W1.reshaped()) v = uniform(std::sqrt(6.0 / double(inputs + hidden)));
    for (double& v : W2.reshaped()) v = uniform(std::sqrt(6.0 / double(hidden + classes)));
    return w;
  }
};

// Index of the smallest value.
std::size_t argmin(const std::vector<double>& v) {
  return std::size_t(std::min_element(v.begin(), v.end()) - v.begin());
}

// What descent::train needs: the number of samples, and the mean loss and gradient on a batch.
struct MlpObjective {
  const Mlp& net;
  const Part& data;
  Index size() const { return data.X.cols(); }
  double operator()(const VectorXd& w, descent::Batch batch, VectorXd& grad) const {
    return net.loss(w, data.X(Eigen::all, batch), data.y(batch), &grad);
  }
};

int run(bool quick, const std::string& path) {
  // 60 / 20 / 20 split with fixed seeds (the test part first, then a quarter of the rest for
  // validation), standardized with the training part's statistics only, so nothing leaks from the
  // parts used to judge the models.
  namespace ex = descent::examples;
  const ex::Dataset all = ex::split_features_labels(ex::read_csv(path));
  const ex::TrainTestSplit outer = ex::train_test_split(all.X.rows(), 0.2, 1);
  const ex::TrainTestSplit inner = ex::train_test_split(Index(outer.train.size()), 0.25, 2);
  const auto rows_of = [&outer](const std::vector<Index>& positions) {  // positions within outer.train
    std::vector<Index> rows;
    for (Index k : positions) rows.push_back(outer.train[std::size_t(k)]);
    return rows;
  };
  const std::vector<Index> train_rows = rows_of(inner.train), val_rows = rows_of(inner.test);
  const ex::Standardizer scaler = ex::Standardizer::fit(all.X(train_rows, Eigen::all));
  const auto part = [&](const std::vector<Index>& rows) {
    MatrixXd X = all.X(rows, Eigen::all);
    scaler.transform(X);
    return Part{X.transpose(), all.y(rows).cast<int>()};
  };
  const Part train = part(train_rows), val = part(val_rows), test = part(outer.test);
  const Index classes = ex::class_count(all.y);
  std::cout << "digits: " << all.X.rows() << " samples, " << all.X.cols() << " features, " << classes
            << " classes; train " << train.X.cols() << ", validation " << val.X.cols() << ", test " << test.X.cols()
            << (quick ? " (--quick)" : "") << '\n';

  // 1. Softmax regression: a linear model is already good on this data set.
  std::cout << "\n== softmax regression, Adam lr 1e-2, batches of 32 ==\n";
  const descent::problems::SoftmaxRegression<> softmax(train.X, train.y, classes);
  VectorXd theta = VectorXd::Zero(softmax.dimension());
  const descent::Report softmax_report =
      descent::train(softmax, theta, descent::Adam<VectorXd>({.lr = 1e-2}),
                     descent::MinibatchSampler(softmax.size(), {.batch_size = 32, .seed = 1}),
                     {.max_iterations = 0, .max_epochs = quick ? 10 : 30});
  const double softmax_accuracy = softmax.accuracy(theta, test.X, test.y);
  std::cout << softmax_report << '\n';
  std::printf("test accuracy %.4f\n", softmax_accuracy);

  // 2. The network. A hand-written backward pass is checked against finite differences before it
  // is trusted: an optimizer fed a wrong gradient often still lowers the loss, just not to the end.
  // The largest relative error is reached on a tiny component, where the finite difference is
  // mostly round-off; the error of the whole gradient is the one to judge.
  const Mlp net{train.X.rows(), 32, classes};
  const MlpObjective objective{net, train};
  const VectorXd w0 = net.initial(42);
  std::cout << "\n== MLP " << net.inputs << " -> " << net.hidden << " tanh -> " << net.classes << " softmax ("
            << net.dimension() << " parameters), Adam lr 1e-2, batches of 32 ==\n";
  const std::vector<Index> few{0, 1, 2, 3, 4, 5, 6, 7};
  const auto gradient_check = descent::check_gradient(objective, w0, few);
  std::printf("gradient check on 8 samples: max relative error %.2e (coordinate %lld), whole gradient %.2e\n",
              gradient_check.max_relative_error, static_cast<long long>(gradient_check.worst_index),
              gradient_check.norm_relative_error);

  // 3. Train long, without regularization: the training loss keeps falling while the validation
  // loss turns around once the network starts memorizing the training set. History records the
  // training side (each epoch's mean batch loss); a lambda adds the validation loss.
  const auto validation_loss = [&](const VectorXd& w) { return net.loss(w, val.X, val.y); };
  const descent::AdamOptions adam{.lr = 1e-2};
  const descent::SamplerOptions batches{.batch_size = 32, .seed = 7};
  const descent::StopCriteria budget{.max_iterations = 0, .max_epochs = quick ? 60 : 300};
  VectorXd w = w0;
  descent::History history;
  std::vector<double> val_curve;
  auto record_validation = [&](const descent::Progress<VectorXd>& p) {
    if (p.end_of_epoch) val_curve.push_back(validation_loss(p.params));
  };
  const descent::Report long_report =
      descent::train(objective, w, descent::Adam<VectorXd>(adam), descent::MinibatchSampler(train.X.cols(), batches),
                     budget, history, record_validation);
  std::cout << "without early stopping: " << long_report << '\n';
  const std::size_t long_best = argmin(val_curve);  // val_curve[e] is after epoch e + 1
  std::puts("  epoch   train loss   validation loss");
  for (std::size_t e = 0; e < val_curve.size(); ++e) {
    if ((e + 1) % (quick ? 10 : 20) != 0 && e != long_best) continue;
    std::printf("  %5zu   %10.3g   %15.4f%s\n", e + 1, history.epochs()[e].loss, val_curve[e],
                e == long_best ? "   <- lowest validation loss" : "");
  }
  const double long_accuracy = net.accuracy(w, test);
  std::printf("test accuracy %.4f\n", long_accuracy);

  // 4. The same run (same start, same batches) with early stopping: it follows the same trajectory
  // until the validation loss has not improved for `patience` epochs, then puts back the best
  // parameters. (Test accuracy barely differs: overfitting first shows as overconfidence, which the
  // loss sees and accuracy does not.)
  w = w0;
  auto early = descent::early_stopping<VectorXd>(validation_loss, {.patience = 10});
  const descent::Report early_report = descent::train(
      objective, w, descent::Adam<VectorXd>(adam), descent::MinibatchSampler(train.X.cols(), batches), budget, early);
  const auto early_best = static_cast<std::size_t>(early.best_epoch());
  const double early_accuracy = net.accuracy(w, test);
  std::cout << "with early stopping:    " << early_report << '\n';
  std::printf("restored epoch %zu: validation loss %.4f (%.4f at epoch %lld, where it stopped); test accuracy %.4f\n",
              early_best, early.best_loss(), early.validation_history().back(),
              static_cast<long long>(early_report.epochs), early_accuracy);

  // 5. The recipe of modern training on the same network and batches: AdamW with weight decay on
  // the weights only (two parameter groups over the layout's blocks, the biases without decay), a
  // linear warmup of the lr for 5 epochs then a cosine decay to 0 over the rest (stepped per epoch),
  // and every gradient clipped to norm 1 before the step.
  const std::int64_t recipe_epochs = quick ? 30 : 100;
  descent::Grouped<descent::AdamW<VectorXd>> adamw({{net.layout.blocks({"W1", "W2"}), {.lr = 1e-2, .weight_decay = 1e-2}},
                                                    {net.layout.blocks({"b1", "b2"}), {.lr = 1e-2, .weight_decay = 0.0}}});
  descent::Scheduler schedule(adamw, descent::SequentialLR{{descent::LinearLR{.start_factor = 0.1, .total_iters = 5},
                                                            descent::CosineAnnealingLR{.T_max = recipe_epochs - 5}},
                                                           {5}});
  auto clipped_adamw = descent::clipped(adamw, 1.0);  // steps `adamw` itself, whose lrs `schedule` sets
  std::cout << "\n== the same MLP, AdamW (weight decay on W1, W2 only), warmup + cosine, gradients clipped to norm 1 ==\n";
  VectorXd w_recipe = w0;
  const descent::Report recipe_report =
      descent::train(objective, w_recipe, clipped_adamw, descent::MinibatchSampler(train.X.cols(), batches),
                     {.max_iterations = 0, .max_epochs = recipe_epochs}, descent::every_epoch(schedule));
  const double recipe_accuracy = net.accuracy(w_recipe, test);
  std::cout << recipe_report << '\n';
  std::printf("validation loss %.4f, test accuracy %.4f; last gradient norm before clipping %.3g; final lr %.3g\n",
              validation_loss(w_recipe), recipe_accuracy, clipped_adamw.last_norm(), adamw.lr());

  std::cout << "\n== checks ==\n";
  std::vector<std::string> failures;
  const auto check = [&failures](bool ok, const std::string& what) {
    std::printf("  [%s] %s\n", ok ? "pass" : "FAIL", what.c_str());
    if (!ok) failures.push_back(what);
  };
  check(softmax_accuracy >= 0.9, "softmax regression: test accuracy >= 0.9");
  check(gradient_check.norm_relative_error < 1e-6, "MLP gradient matches finite differences (relative error < 1e-6)");
  check(long_best + 1 < val_curve.size() && val_curve.back() > val_curve[long_best] &&
            history.epochs().back().loss < history.epochs()[long_best].loss,
        "MLP overfits: after the validation minimum the training loss falls and the validation loss rises");
  check(early_report.reason == descent::StopReason::Callback && early.stopped(),
        "early stopping ended the run (StopReason::Callback)");
  check(early_best == long_best + 1, "early stopping kept the epoch with the lowest validation loss of the long run");
  check(w == early.best_params() && validation_loss(w) == early.best_loss() &&
            early.best_loss() < early.validation_history().back(),
        "early stopping restored the best parameters, not the last ones");
  check(early_accuracy >= 0.9, "MLP with early stopping: test accuracy >= 0.9");
  check(schedule.last_epoch() == recipe_epochs && adamw.lr(0) == 0.0 && adamw.lr(1) == 0.0,
        "the schedule ran once per epoch and ended at eta_min = 0 in both groups");
  check(std::isfinite(clipped_adamw.last_norm()), "clipping saw every gradient (a finite norm before clipping)");
  check(recipe_accuracy >= 0.9, "MLP with groups, warmup + cosine and clipping: test accuracy >= 0.9");
  std::cout << (failures.empty() ? "all checks passed\n" : "SOME CHECKS FAILED\n");
  return failures.empty() ? 0 : 1;
}

int main(int argc, char** argv) {
  bool quick = false;
  std::string path = std::string(DESCENT_EXAMPLES_DATA_DIR) + "/digits.csv";
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--quick")
      quick = true;
    else
      path = argv[i];
  }
  try {
    return run(quick, path);
  } catch (const std::exception& e) {  // a missing or malformed file: say which, and where
    std::cerr << "digits: " << e.what() << '\n';
    return 2;
  }
}
