#pragma once
// Linear least squares as a finite sum: the simplest stochastic problem with a closed-form answer.

#include <Eigen/Core>
#include <Eigen/QR>
#include <span>
#include <string>
#include <utility>

#include "descent/detail/problems.hpp"

namespace descent::problems {

/// f(x) = (1/(2m))·‖A·x − b‖² = (1/m)·Σ_i ½·(a_iᵀx − b_i)²,   ∇f(x) = (1/m)·Σ_i (a_iᵀx − b_i)·a_i
///
/// over m samples (a_i ∈ ℝᵈ, b_i ∈ ℝ), with A = samples()ᵀ the m × d matrix whose rows are the
/// a_iᵀ; x ∈ ℝᵈ, no intercept (append a constant feature 1 to the samples for one). Minimizers:
/// the least-squares solutions of A·x = b (unique when A has rank d); solution() is the one of
/// minimum norm, and the minimum is f(solution()).
///
/// DATA LAYOUT: the samples are stored as the columns of a d × m column-major matrix (samples()),
/// so each sample is contiguous in memory and a minibatch is `samples()(Eigen::all, batch)`, whole
/// columns read in place. The constructor takes that layout (moved in); from_rows() takes the usual
/// m × d one (A itself) and transposes it once.
///
/// An Objective and a StochasticObjective: `f(x, grad)` is the full loss above; `f(x, batch, grad)`
/// the mean of ½·(a_iᵀx − b_i)² over the samples whose indices are in batch (repeats count
/// repeatedly), and its gradient, computed one sample at a time with no allocation. `x` and `grad`
/// are any Eigen vectors (or vector expressions; `grad` writable) of `Scalar` with dimension()
/// coefficients, not aliasing each other. A non-contiguous argument is copied through an internal
/// workspace, so one object must not be called from several threads at once.
template <class Scalar = double>
class LeastSquares {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

  /// `samples`: d × m, one sample per column; `targets`: the m values b_i. Throws
  /// std::invalid_argument unless d >= 1, m >= 1, targets has m coefficients and all are finite.
  LeastSquares(Matrix samples, Vector targets) : X_(std::move(samples)), y_(std::move(targets)) {
    if (X_.rows() == 0 || X_.cols() == 0) {
      detail::problem_error("LeastSquares",
                            detail::concat("samples is ", std::to_string(X_.rows()), "x", std::to_string(X_.cols()),
                                           " but needs at least one feature (row) and one sample (column)"));
    }
    if (y_.size() != X_.cols()) {
      detail::problem_error("LeastSquares",
                            detail::concat("targets has ", std::to_string(y_.size()), " coefficients but there are ",
                                           std::to_string(X_.cols()), " samples (columns of samples)"));
    }
    detail::require_finite("LeastSquares", "samples", X_);
    detail::require_finite("LeastSquares", "targets", y_);
  }

  /// From the m × d design matrix A (one sample per row), transposed once into the stored layout.
  template <class Rows>
  static LeastSquares from_rows(const Eigen::MatrixBase<Rows>& rows, Vector targets) {
    return LeastSquares(Matrix(rows.transpose()), std::move(targets));
  }

  /// Number of parameters d.
  Eigen::Index dimension() const { return X_.rows(); }
  /// Number of samples m.
  Eigen::Index size() const { return X_.cols(); }
  /// The samples, d × m, one per column.
  const Matrix& samples() const { return X_; }
  /// The targets b, m coefficients.
  const Vector& targets() const { return y_; }

  /// The minimum-norm least-squares solution, from a complete orthogonal decomposition of A computed
  /// in double at each call (O(m·d²): keep the result). Orthogonal factorizations work on A itself,
  /// where the normal equations AᵀA·x = Aᵀb would square its condition number; the complete one
  /// also handles a rank-deficient A, returning the minimizer of least norm, the one gradient
  /// descent started from 0 converges to.
  Vector solution() const {
    const Eigen::CompleteOrthogonalDecomposition<Eigen::MatrixXd> cod(X_.transpose().template cast<double>());
    const Eigen::VectorXd x = cod.solve(y_.template cast<double>());
    return x.cast<Scalar>();
  }

  /// Returns the full loss f(x) and writes ∇f(x) into grad. Throws std::invalid_argument on a size
  /// mismatch.
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, G&& grad) const {
    detail::check_call("LeastSquares", dimension(), x.rows(), x.cols(), grad.rows(), grad.cols());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_,
                                          [&](auto g) { return evaluate(xv, g, detail::AllSamples{size()}); });
  }

  /// Returns the mean loss over the samples in batch and writes its gradient into grad. Throws
  /// std::invalid_argument on a size mismatch, an empty batch or an index outside [0, size()).
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, std::span<const Eigen::Index> batch, G&& grad) const {
    detail::check_call("LeastSquares", dimension(), x.rows(), x.cols(), grad.rows(), grad.cols());
    detail::check_batch("LeastSquares", batch, size());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_, [&](auto g) { return evaluate(xv, g, batch); });
  }

 private:
  using ConstMap = Eigen::Map<const Vector>;
  using Map = Eigen::Map<Vector>;

  // One pass per sample: the residual needs the whole dot product before the column can be added
  // to the gradient, and the column is still in cache for that second read.
  template <class Indices>
  Scalar evaluate(const ConstMap& x, Map g, const Indices& batch) const {
    Scalar loss(0);
    g.setZero();
    const auto count = Eigen::Index(batch.size());
    for (Eigen::Index k = 0; k < count; ++k) {
      const Eigen::Index i = batch[k];
      const Scalar residual = X_.col(i).dot(x) - y_[i];
      loss += residual * residual;
      g += residual * X_.col(i);
    }
    g /= Scalar(count);
    return loss / Scalar(2 * count);
  }

  Matrix X_;
  Vector y_;
  mutable Vector x_work_, g_work_;
};

}  // namespace descent::problems
