#pragma once
// Shared by the multimodal test problems (Himmelblau, Beale, SixHumpCamel, Rastrigin, Ackley,
// StyblinskiTang): the size check of nearest_minimizer's argument, the nearest of a list of points,
// and Newton's method for the local minimizers that have no closed form.

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "descent/detail/problems.hpp"

namespace descent::detail {

/// Throws unless `x` is a vector (one row or one column) with `dimension` coefficients.
inline void check_point(std::string_view problem, Eigen::Index dimension, Eigen::Index rows, Eigen::Index cols) {
  if ((rows == 1 || cols == 1) && rows * cols == dimension) return;
  problem_error(problem, concat("x is ", shape_text(rows, cols), " but must be a vector of the problem's dimension ",
                                std::to_string(dimension)));
}

/// `x` (any vector expression of n coefficients) as a column of doubles, after the size check:
/// the minimizer searches run in double whatever the problem's scalar, so float problems get the
/// same minimizers, rounded once.
/// Throws unless x has `dimension` coefficients, all finite (a NaN has no nearest point).
template <class X>
Eigen::VectorXd point_in_double(std::string_view problem, Eigen::Index dimension, const X& x) {
  check_point(problem, dimension, x.rows(), x.cols());
  Eigen::VectorXd p = x.reshaped().template cast<double>();
  for (Eigen::Index i = 0; i < p.size(); ++i) {
    if (!std::isfinite(p[i])) {
      invalid_option(concat("problems::", problem, "::nearest_minimizer"), concat("x(", std::to_string(i), ")"), p[i],
                     "must be finite");
    }
  }
  return p;
}

/// The point of a non-empty list closest to x in Euclidean distance (the first one on ties).
inline std::size_t nearest_index(const std::vector<Eigen::VectorXd>& points, const Eigen::VectorXd& x) {
  std::size_t best = 0;
  double best_distance = (points[0] - x).squaredNorm();
  for (std::size_t k = 1; k < points.size(); ++k) {
    const double distance = (points[k] - x).squaredNorm();
    if (distance < best_distance) {
      best = k;
      best_distance = distance;
    }
  }
  return best;
}

/// Points given as rows of coordinates, as columns of the problem's scalar.
template <class Scalar, std::size_t N>
std::vector<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>> points_from(const double (&rows)[N][2]) {
  std::vector<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>> out;
  out.reserve(N);
  for (const auto& row : rows) {
    Eigen::Matrix<Scalar, Eigen::Dynamic, 1> p(2);
    p << Scalar(row[0]), Scalar(row[1]);
    out.push_back(p);
  }
  return out;
}

/// Newton's method for the stationary point of f near x0, in double, on the analytic gradient
/// `grad(x, g)` with the Hessian taken by central differences of it (step 1e-5·max(1, |x_i|), an
/// O(1e-10) relative error in H, which slows Newton's convergence slightly but does not move the
/// point it converges to: that is where the analytic gradient vanishes). It stops when the step is
/// below 1e-15·(1 + ‖x‖) or after 50 iterations, and returns the iterate of smallest gradient norm.
/// Throws std::runtime_error, naming `problem`, when the Hessian there is not positive definite
/// (x0 was not near a local minimizer).
template <class Gradient>
Eigen::VectorXd newton_local_minimizer(std::string_view problem, const Gradient& grad, Eigen::VectorXd x) {
  const Eigen::Index n = x.size();
  Eigen::VectorXd g(n), plus(n), minus(n), best = x;
  Eigen::MatrixXd hessian(n, n);
  double best_norm = std::numeric_limits<double>::infinity();
  bool positive_definite = false;
  for (int iteration = 0; iteration < 50; ++iteration) {
    grad(x, g);
    for (Eigen::Index j = 0; j < n; ++j) {
      const double h = 1e-5 * std::max(1.0, std::abs(x[j]));
      Eigen::VectorXd shifted = x;
      shifted[j] = x[j] + h;
      grad(shifted, plus);
      shifted[j] = x[j] - h;
      grad(shifted, minus);
      hessian.col(j) = (plus - minus) / (2 * h);
    }
    hessian = (0.5 * (hessian + hessian.transpose())).eval();
    const Eigen::LLT<Eigen::MatrixXd> llt(hessian);
    positive_definite = llt.info() == Eigen::Success;
    if (g.norm() < best_norm) {
      best_norm = g.norm();
      best = x;
    }
    if (!positive_definite) break;
    const Eigen::VectorXd step = llt.solve(g);
    x -= step;
    if (step.norm() <= 1e-15 * (1.0 + x.norm())) {
      grad(x, g);
      if (g.norm() < best_norm) best = x;
      break;
    }
  }
  if (!positive_definite) {
    throw std::runtime_error(
        concat("descent::problems::", problem,
               "::nearest_minimizer: Newton's method met a Hessian that is not positive definite"));
  }
  return best;
}

}  // namespace descent::detail
