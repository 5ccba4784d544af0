#pragma once
// Shared by the test problems in descent/problems/: the checks on a call's arguments, contiguous
// views of the caller's vectors, the full index set, and Newton's method for the reference
// minimizers of the convex problems that have no closed form.

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "descent/detail/checks.hpp"

namespace descent::problems {

/// Options of the reference minimizers LogisticRegression::minimizer and SoftmaxRegression::minimizer.
struct NewtonOptions {
  /// Stop as soon as the Euclidean norm of the full gradient is at most this. Default 1e-10: well
  /// above the rounding floor of the gradient of a mean loss over standardized data (1e-15 to
  /// 1e-12), and small enough that the loss is within ‖∇f‖² / (2·l2) of the minimum, which is
  /// negligible for any l2 a model would use. Finite and > 0.
  double gradient_tolerance = 1e-10;
  /// Newton iterations at most (one Hessian and one Cholesky factorization each). Default 100; a
  /// well-posed problem takes about 5 to 15 from x = 0. >= 1.
  int max_iterations = 100;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const {
    if (!(gradient_tolerance > 0.0) || !std::isfinite(gradient_tolerance)) {
      detail::invalid_option("problems::NewtonOptions", "gradient_tolerance", gradient_tolerance,
                             "must be a finite number > 0");
    }
    if (max_iterations < 1) {
      detail::invalid_option("problems::NewtonOptions", "max_iterations",
                             std::string_view(std::to_string(max_iterations)), "must be >= 1");
    }
  }
};

}  // namespace descent::problems

namespace descent::detail {

/// Every sample in order. Stands in for a batch, so that full and minibatch evaluations run the
/// same loop and round the same way.
struct AllSamples {
  Eigen::Index n;
  Eigen::Index size() const { return n; }
  Eigen::Index operator[](Eigen::Index i) const { return i; }
};

/// A problem's argument `x`: any Eigen expression over the problem's scalar.
template <class X, class Scalar>
concept ProblemInput = DenseExpression<X> && std::same_as<typename X::Scalar, Scalar>;

/// A problem's `grad`: a writable Eigen expression over the problem's scalar. A view may be a
/// temporary (`g.segment(0, n)`), a Matrix or Array may not: what was written into it would be
/// lost, and refusing it is what makes the problems satisfy descent::Objective.
template <class G, class Scalar>
concept ProblemOutput =
    DenseExpression<plain_t<G>> && !std::is_const_v<std::remove_reference_t<G>> &&
    bool(Eigen::internal::is_lvalue<plain_t<G>>::value) && std::same_as<typename plain_t<G>::Scalar, Scalar> &&
    (std::is_lvalue_reference_v<G> || !std::derived_from<plain_t<G>, Eigen::PlainObjectBase<plain_t<G>>>);

[[noreturn]] inline void problem_error(std::string_view problem, std::string_view message) {
  std::string msg = "descent::problems::";
  msg.append(problem).append(": ").append(message);
  throw std::invalid_argument(msg);
}

/// Throws unless `x` and `grad` are vectors (one row or one column) with `dimension` coefficients.
inline void check_call(std::string_view problem, Eigen::Index dimension, Eigen::Index xrows, Eigen::Index xcols,
                       Eigen::Index grows, Eigen::Index gcols) {
  auto check = [&](std::string_view what, Eigen::Index rows, Eigen::Index cols) {
    if ((rows == 1 || cols == 1) && rows * cols == dimension) return;
    problem_error(problem, concat(what, " is ", shape_text(rows, cols),
                                  " but must be a vector of the problem's dimension ", std::to_string(dimension)));
  };
  check("x", xrows, xcols);
  check("grad", grows, gcols);
}

/// Throws unless the batch is non-empty (its mean would be 0/0) and every index is in [0, n).
/// Repeated indices are allowed: a sample drawn twice counts twice.
inline void check_batch(std::string_view problem, std::span<const Eigen::Index> batch, Eigen::Index n) {
  if (batch.empty()) problem_error(problem, "the batch is empty (the mean loss over no samples is undefined)");
  for (std::size_t k = 0; k < batch.size(); ++k) {
    if (batch[k] < 0 || batch[k] >= n) {
      invalid_option(concat("problems::", problem), concat("batch[", std::to_string(k), "]"), std::to_string(batch[k]),
                     concat("must be in [0, ", std::to_string(n), ")"));
    }
  }
}

/// Throws unless every coefficient of a data set is finite, naming the first one that is not.
template <class M>
void require_finite(std::string_view problem, std::string_view name, const M& m) {
  if (detail::all_finite(m)) return;
  for (Eigen::Index j = 0; j < m.cols(); ++j) {
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      if (!std::isfinite(double(m(i, j)))) {
        const std::string at = m.cols() == 1 ? concat("(", std::to_string(i), ")")
                                             : concat("(", std::to_string(i), ", ", std::to_string(j), ")");
        invalid_option(concat("problems::", problem), concat(name, at), double(m(i, j)), "must be finite");
      }
    }
  }
}

/// Whether the coefficients of a vector-shaped `x` are one run in memory. Its stride is the inner
/// one when it extends along the inner dimension and the outer one otherwise: a 1 x n block of a
/// column-major matrix has inner stride 1, but its coefficients are a column apart.
template <class X>
bool is_contiguous_vector(const X& x) {
  if constexpr ((int(plain_t<X>::Flags) & Eigen::DirectAccessBit) == 0) {
    return false;
  } else {
    if (x.size() <= 1) return true;
    const bool along_inner = plain_t<X>::IsRowMajor ? x.rows() == 1 : x.cols() == 1;
    return (along_inner ? x.innerStride() : x.outerStride()) == 1;
  }
}

/// `x` as a contiguous vector: a Map over x's own memory when it is one run of coefficients,
/// otherwise over a copy in `workspace` (sized on first use). Either way the problems' loops then
/// see a single type, so they are compiled once per scalar type rather than once per caller type.
template <class Scalar, class X>
Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>> contiguous_input(
    const X& x, Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& workspace) {
  if constexpr ((int(X::Flags) & Eigen::DirectAccessBit) != 0) {
    if (is_contiguous_vector(x)) return {x.data(), x.size()};
  }
  if (workspace.size() != x.size()) workspace.resize(x.size());
  assign(workspace, x.reshaped());
  return {workspace.data(), workspace.size()};
}

/// Runs `compute` on `grad` as a contiguous vector: grad's own memory when it is one run of
/// coefficients, otherwise `workspace` (sized on first use), copied into grad afterwards.
template <class Scalar, class G, class Compute>
auto with_contiguous_output(G& grad, Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& workspace, Compute&& compute) {
  using Map = Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>;
  if constexpr ((int(plain_t<G>::Flags) & Eigen::DirectAccessBit) != 0) {
    if (is_contiguous_vector(grad)) return compute(Map(grad.data(), grad.size()));
  }
  if (workspace.size() != grad.size()) workspace.resize(grad.size());
  auto result = compute(Map(workspace.data(), workspace.size()));
  assign(grad.reshaped(), workspace);
  return result;
}

/// The r × r matrix Σ_i s_i·a_i·a_iᵀ over the samples a_i (the columns of the d × m matrix X),
/// each extended by a 1 when `intercept` (r = d + 1, else d): X·diag(s)·Xᵀ, bordered by X·s and
/// Σ_i s_i. The Hessians of the logistic and softmax losses are made of such blocks.
inline Eigen::MatrixXd weighted_gram(const Eigen::MatrixXd& X, const Eigen::VectorXd& s, bool intercept) {
  const Eigen::Index d = X.rows();
  Eigen::MatrixXd gram(d + (intercept ? 1 : 0), d + (intercept ? 1 : 0));
  gram.topLeftCorner(d, d).noalias() = X * s.asDiagonal() * X.transpose();
  if (intercept) {
    const Eigen::VectorXd border = X * s;
    gram.col(d).head(d) = border;
    gram.row(d).head(d) = border.transpose();
    gram(d, d) = s.sum();
  }
  return gram;
}

[[noreturn]] inline void newton_failure(std::string_view problem, const std::string& what, double l2) {
  std::string msg = "descent::problems::";
  msg.append(problem).append("::minimizer: ").append(what);
  if (!(l2 > 0.0)) msg.append("; with l2 = 0 the loss has no minimum when the classes are linearly separable");
  throw std::runtime_error(msg);
}

/// Newton's method from x = 0 on the full loss `f(x, grad)` of a classification problem in double
/// (LogisticRegression, SoftmaxRegression: their minimizer()), with the Hessian `hessian(x)`:
///   - each iteration solves H·step = ∇f(x) by Cholesky (Eigen's LLT) and takes x − t·step, with
///     t = 1, 1/2, 1/4, ... the first that does not raise the loss by more than rounding (a relative
///     1e-12): far from the minimum this keeps Newton from overshooting, near it the full step is
///     taken and the gradient norm falls quadratically;
///   - it stops at the first x where ‖∇f(x)‖ <= options.gradient_tolerance and Newton's step is
///     short, at most 1e-3·(1 + ‖x‖): a loss without a minimum (a logistic loss without l2 on
///     separable classes) also has points of tiny gradient, far out, from which the step is still
///     long. It returns x, or x − step if that has the smaller gradient norm (the extra step, which
///     costs one gradient, usually takes the gradient norm down to rounding).
/// Throws std::invalid_argument for invalid options, and std::runtime_error naming the problem and
/// what failed (and, when l2 = 0, that separable classes have no minimum) when the gradient norm is
/// not finite, H is not positive definite,
/// 40 halvings of the step all raise the loss, or options.max_iterations iterations do not end in
/// such an x.
template <class F, class Hessian>
Eigen::VectorXd newton_minimizer(std::string_view problem, const F& f, Eigen::Index n, Hessian&& hessian, double l2,
                                 const problems::NewtonOptions& options) {
  options.validate();
  Eigen::VectorXd x = Eigen::VectorXd::Zero(n), g(n), trial(n), trial_g(n);
  double loss = double(f(x, g));
  for (int iteration = 0;; ++iteration) {
    const double norm = g.norm();
    const auto fail = [&](const std::string& what) {
      char shown[32];
      std::snprintf(shown, sizeof shown, "%.3g", norm);
      newton_failure(problem,
                     concat(what, " (gradient norm ", shown, " after ", std::to_string(iteration), " iteration",
                            iteration == 1 ? ")" : "s)"),
                     l2);
    };
    if (!std::isfinite(norm)) fail("Newton's method diverged");
    const Eigen::LLT<Eigen::MatrixXd> cholesky(hessian(x));
    if (cholesky.info() != Eigen::Success) fail("the Hessian is not positive definite");
    const Eigen::VectorXd step = cholesky.solve(g);
    const double length = step.norm();
    const bool short_step = length <= 1e-3 * (1.0 + x.norm());
    if (norm <= options.gradient_tolerance && short_step) {
      trial = x - step;
      f(trial, trial_g);
      return trial_g.norm() < norm ? trial : x;
    }
    if (iteration == options.max_iterations) {
      if (norm > options.gradient_tolerance) {
        fail(std::string("Newton's method did not reach gradient_tolerance = ")
                 .append(format_number(options.gradient_tolerance)));
      }
      char shown[32];
      std::snprintf(shown, sizeof shown, "%.3g", length);
      fail(std::string("the gradient is below gradient_tolerance but Newton's step is still ")
               .append(shown)
               .append(" long: the minimizer is not determined"));
    }
    const double slack = 1e-12 * (1.0 + std::abs(loss));
    double t = 1.0;
    for (int halvings = 0;; ++halvings) {
      trial = x - t * step;
      const double trial_loss = double(f(trial, trial_g));
      if (trial_loss <= loss + slack) {  // false for NaN
        loss = trial_loss;
        break;
      }
      if (halvings == 40) fail("the line search found no step that does not raise the loss");
      t /= 2;
    }
    x.swap(trial);
    g.swap(trial_g);
  }
}

}  // namespace descent::detail
