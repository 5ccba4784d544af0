// Linear regression on the diabetes data set (442 patients, 10 features, a disease-progression
// score): least squares fitted with plain gradient descent, checked against the closed form.
//
// Usage: linear_regression [path/to/diabetes.csv]
#include "common/csv.hpp"

#include <descent/descent.hpp>
#include <descent/problems/least_squares.hpp>

#include <Eigen/Eigenvalues>

#include <cstdio>
#include <iostream>
#include <string>

int main(int argc, char** argv) try {
  const std::string path = argc > 1 ? argv[1] : std::string(DESCENT_EXAMPLES_DATA_DIR) + "/diabetes.csv";
  auto [X, y] = descent::examples::split_features_labels(descent::examples::read_csv(path));

  // Standardized features converge far faster (and alike in every direction); a constant column
  // of ones, appended after standardizing, gives the model its intercept.
  const descent::examples::Standardizer scaler = descent::examples::Standardizer::fit(X);
  scaler.transform(X);
  Eigen::MatrixXd rows(X.rows(), X.cols() + 1);
  rows << X, Eigen::VectorXd::Ones(X.rows());
  const auto problem = descent::problems::LeastSquares<double>::from_rows(rows, y);
  std::printf("diabetes: %lld samples, %lld parameters (10 features + intercept)\n",
              static_cast<long long>(problem.size()), static_cast<long long>(problem.dimension()));

  // Gradient descent converges for lr < 2/L, where L = λ_max(AᵀA)/m bounds the curvature of
  // f = ‖Aw − y‖²/(2m); lr = 1/L is the classical safe choice.
  const Eigen::MatrixXd AtA = problem.samples() * problem.samples().transpose() / double(problem.size());
  const double L = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(AtA).eigenvalues().maxCoeff();
  descent::GradientDescent<Eigen::VectorXd> gd({.lr = 1.0 / L});

  Eigen::VectorXd w = Eigen::VectorXd::Zero(problem.dimension());
  const descent::Report report =
      descent::minimize(problem, w, gd, {.max_iterations = 1000000, .gradient_tolerance = 1e-9});
  std::cout << "gradient descent (lr = 1/L = " << 1.0 / L << "): " << report << "\n";

  const Eigen::VectorXd closed_form = problem.solution();
  const double error = (w - closed_form).norm() / closed_form.norm();
  Eigen::VectorXd g(problem.dimension());
  const double mse = 2.0 * problem(closed_form, g);
  std::printf("closed form (complete orthogonal decomposition): training MSE %.2f (RMSE %.2f)\n", mse,
              std::sqrt(mse));
  std::printf("relative distance between the two: %.3g (required <= 1e-6)\n", error);
  std::printf("%-10s %12s %12s\n", "parameter", "descent", "closed form");
  const char* names[] = {"age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "intercept"};
  for (Eigen::Index i = 0; i < w.size(); ++i) std::printf("%-10s %12.4f %12.4f\n", names[i], w[i], closed_form[i]);
  return error <= 1e-6 && report.reason == descent::StopReason::GradientTolerance ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "linear_regression: %s\n", e.what());
  return 2;
}
