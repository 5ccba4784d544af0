// Logistic regression on the breast cancer Wisconsin (diagnostic) data set: 569 tumours, 30
// features, benign (1) or malignant (0). Minibatch training through descent::train, with SGD with
// momentum and with Adam, a progress bar, and accuracy on a held-out test set.
//
// Usage: logistic_regression [path/to/breast_cancer.csv]
#include "common/csv.hpp"

#include <descent/descent.hpp>
#include <descent/problems/logistic_regression.hpp>

#include <cstdio>
#include <iostream>
#include <string>

int main(int argc, char** argv) try {
  namespace ex = descent::examples;
  using Model = descent::problems::LogisticRegression<double>;
  const std::string path = argc > 1 ? argv[1] : std::string(DESCENT_EXAMPLES_DATA_DIR) + "/breast_cancer.csv";
  const auto [X, y] = ex::split_features_labels(ex::read_csv(path));

  // 80% to train on, 20% never seen until the end. Features span five orders of magnitude
  // (areas ~1000, smoothness ~0.1): standardize them with the training part's statistics only.
  const ex::TrainTestSplit split = ex::train_test_split(X.rows(), 0.2, 2026);
  Eigen::MatrixXd X_train = X(split.train, Eigen::all), X_test = X(split.test, Eigen::all);
  ex::standardize(X_train, X_test);
  const Eigen::VectorXd y_train = y(split.train), y_test = y(split.test);

  // A small L2 penalty keeps the weights finite if the classes are (nearly) separable.
  const Model model = Model::from_rows(X_train, y_train, {.l2 = 1e-3});
  const Eigen::MatrixXd test_samples = X_test.transpose();  // the model's layout: one sample per column
  std::printf("breast cancer: %lld training and %lld test samples, %lld parameters\n\n",
              static_cast<long long>(model.size()), static_cast<long long>(X_test.rows()),
              static_cast<long long>(model.dimension()));

  const descent::StopCriteria stop{.max_iterations = 0, .max_epochs = 40};
  auto fit = [&](const char* name, auto optimizer) {
    Eigen::VectorXd w = Eigen::VectorXd::Zero(model.dimension());
    descent::MinibatchSampler batches(model.size(), {.batch_size = 32, .seed = 1});
    const descent::Report report = descent::train(model, w, optimizer, batches, stop, descent::ProgressBar({.label = name}));
    const double accuracy = model.accuracy(w, test_samples, y_test);
    std::cout << name << ": " << report << "\n  training accuracy " << model.accuracy(w) << ", test accuracy "
              << accuracy << "\n\n";
    return accuracy;
  };
  const double sgd = fit("SGD + momentum", descent::SGD<Eigen::VectorXd>({.lr = 0.05, .momentum = 0.9}));
  const double adam = fit("Adam", descent::Adam<Eigen::VectorXd>({.lr = 0.01}));

  std::printf("test accuracy: SGD + momentum %.4f, Adam %.4f (required: Adam >= 0.95)\n", sgd, adam);
  return adam >= 0.95 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "logistic_regression: %s\n", e.what());
  return 2;
}
