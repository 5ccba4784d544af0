#pragma once
// Binary logistic regression (mean log-loss, optional L2 penalty): the standard smooth convex
// finite-sum problem.

#include <Eigen/Core>
#include <cmath>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "descent/detail/checks.hpp"
#include "descent/detail/problems.hpp"

namespace descent::problems {

/// Options of LogisticRegression.
struct LogisticRegressionOptions {
  /// Coefficient of the penalty (l2/2)·‖w‖² on the weights, never on the intercept (scikit-learn's
  /// convention, and the usual practice of exempting biases from weight decay in torch). Default 0;
  /// finite and >= 0. Without it the minimum is not attained when the data are linearly separable
  /// (the weights grow without bound).
  double l2 = 0.0;
  /// Append an intercept c as the last parameter. Default true.
  bool fit_intercept = true;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const { detail::require_nonnegative("problems::LogisticRegressionOptions", "l2", l2); }
};

}  // namespace descent::problems

namespace descent::detail {

/// σ(z) = 1/(1 + e^{−z}), formed from e^{−|z|} so that it never overflows.
template <class Scalar>
Scalar sigmoid(Scalar z) {
  using std::abs, std::exp;
  const Scalar e = exp(-abs(z));
  return z >= Scalar(0) ? Scalar(1) / (Scalar(1) + e) : e / (Scalar(1) + e);
}

template <class Scalar>
struct LogLoss {
  Scalar loss;
  Scalar slope;
};

/// The log-loss of one sample with logit z and label y ∈ {0, 1}, and its derivative σ(z) − y.
/// The loss is softplus(u) with u = z for y = 0 and u = −z for y = 1, written as
/// max(u, 0) + log1p(exp(−|u|)): exp never overflows, and no large terms cancel. The derivative is
/// σ(u) for y = 0 and −σ(u) for y = 1, formed from the same exp(−|z|) without a subtraction, so it
/// keeps its relative precision even when the prediction is nearly right.
template <class Scalar>
LogLoss<Scalar> log_loss(Scalar z, bool positive) {
  using std::abs, std::exp, std::log1p;
  const Scalar u = positive ? -z : z;
  const Scalar e = exp(-abs(u));
  const Scalar sigma_u = u >= Scalar(0) ? Scalar(1) / (Scalar(1) + e) : e / (Scalar(1) + e);
  const Scalar loss = (u > Scalar(0) ? u : Scalar(0)) + log1p(e);
  return {loss, positive ? -sigma_u : sigma_u};
}

}  // namespace descent::detail

namespace descent::problems {

/// Binary logistic regression over m samples a_i ∈ ℝᵈ with labels y_i ∈ {0, 1}:
///
///   z_i = wᵀa_i + c,   f(w, c) = (1/m)·Σ_i [log(1 + e^{z_i}) − y_i·z_i] + (l2/2)·‖w‖²
///   ∇_w f = (1/m)·Σ_i (σ(z_i) − y_i)·a_i + l2·w,   ∂f/∂c = (1/m)·Σ_i (σ(z_i) − y_i)
///
/// Parameters x = (w_1, …, w_d, c): the intercept c is the last one, present only with
/// fit_intercept (dimension() = d + 1, else d). The minimizer is unique when l2 > 0 and has no
/// closed form (minimizer() computes it by Newton's method); with l2 = 0 it may not exist
/// (separable data).
///
/// DATA LAYOUT: the samples are stored as the columns of a d × m column-major matrix (samples()),
/// so each sample is contiguous in memory and a minibatch is `samples()(Eigen::all, batch)`, whole
/// columns read in place. The constructor takes that layout (moved in); from_rows() takes the usual
/// m × d one and transposes it once.
///
/// An Objective and a StochasticObjective: `f(x, grad)` is the full loss above; `f(x, batch, grad)`
/// the mean log-loss over the samples whose indices are in batch (repeats count repeatedly) plus
/// the same penalty, so that its expectation over uniform batches is f; both computed one sample at
/// a time with no allocation. `x` and `grad` are any Eigen vectors (or vector expressions; `grad`
/// writable) of `Scalar` with dimension() coefficients, not aliasing each other. A non-contiguous
/// argument is copied through an internal workspace, so one object must not be called from
/// several threads at once.
template <class Scalar = double>
class LogisticRegression {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Options = LogisticRegressionOptions;

  /// `samples`: d × m, one sample per column; `labels`: m values, each exactly 0 or 1. Throws
  /// std::invalid_argument unless d >= 1, m >= 1, labels has m coefficients, the samples are finite,
  /// the labels are 0 or 1 and the options are valid.
  LogisticRegression(Matrix samples, Vector labels, const Options& options = {})
      : X_(std::move(samples)), y_(std::move(labels)), options_(options) {
    options_.validate();
    if (X_.rows() == 0 || X_.cols() == 0) {
      detail::problem_error("LogisticRegression",
                            detail::concat("samples is ", std::to_string(X_.rows()), "x", std::to_string(X_.cols()),
                                           " but needs at least one feature (row) and one sample (column)"));
    }
    if (y_.size() != X_.cols()) {
      detail::problem_error("LogisticRegression",
                            detail::concat("labels has ", std::to_string(y_.size()), " coefficients but there are ",
                                           std::to_string(X_.cols()), " samples (columns of samples)"));
    }
    detail::require_finite("LogisticRegression", "samples", X_);
    for (Eigen::Index i = 0; i < y_.size(); ++i) {
      if (y_[i] != Scalar(0) && y_[i] != Scalar(1)) {
        detail::invalid_option("problems::LogisticRegression", detail::concat("labels(", std::to_string(i), ")"),
                               double(y_[i]), "must be 0 or 1");
      }
    }
  }

  /// From an m × d matrix with one sample per row, transposed once into the stored layout.
  template <class Rows>
  static LogisticRegression from_rows(const Eigen::MatrixBase<Rows>& rows, Vector labels, const Options& options = {}) {
    return LogisticRegression(Matrix(rows.transpose()), std::move(labels), options);
  }

  /// Number of parameters: d + 1 with fit_intercept, else d.
  Eigen::Index dimension() const { return features() + (options_.fit_intercept ? 1 : 0); }
  /// Number of samples m.
  Eigen::Index size() const { return X_.cols(); }
  /// Number of features d.
  Eigen::Index features() const { return X_.rows(); }
  const Options& options() const { return options_; }
  /// The samples, d × m, one per column.
  const Matrix& samples() const { return X_; }
  /// The labels, m values in {0, 1}.
  const Vector& labels() const { return y_; }

  /// Returns the full loss f(x) and writes ∇f(x) into grad. Throws std::invalid_argument on a size
  /// mismatch.
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, G&& grad) const {
    detail::check_call("LogisticRegression", dimension(), x.rows(), x.cols(), grad.rows(), grad.cols());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_,
                                          [&](auto g) { return evaluate(xv, g, detail::AllSamples{size()}); });
  }

  /// Returns the mean loss over the samples in batch (plus the penalty) and writes its gradient
  /// into grad. Throws std::invalid_argument on a size mismatch, an empty batch or an index outside
  /// [0, size()).
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, std::span<const Eigen::Index> batch, G&& grad) const {
    detail::check_call("LogisticRegression", dimension(), x.rows(), x.cols(), grad.rows(), grad.cols());
    detail::check_batch("LogisticRegression", batch, size());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_, [&](auto g) { return evaluate(xv, g, batch); });
  }

  /// P(y = 1 | a) = σ(wᵀa + c) for each column a of `samples` (d × k); allocates the result.
  Vector predict_proba(const Eigen::Ref<const Vector>& x, const Eigen::Ref<const Matrix>& samples) const {
    check_prediction(x, samples.rows());
    Vector p = samples.transpose() * x.head(features());
    const Scalar c = intercept(x);
    for (Eigen::Index i = 0; i < p.size(); ++i) p[i] = detail::sigmoid(p[i] + c);
    return p;
  }
  /// The same on the training samples.
  Vector predict_proba(const Eigen::Ref<const Vector>& x) const { return predict_proba(x, X_); }

  /// Fraction of the columns of `samples` whose predicted class (1 when σ(wᵀa + c) > ½, i.e.
  /// wᵀa + c > 0) is their label.
  double accuracy(const Eigen::Ref<const Vector>& x, const Eigen::Ref<const Matrix>& samples,
                  const Eigen::Ref<const Vector>& labels) const {
    check_prediction(x, samples.rows());
    if (labels.size() != samples.cols()) {
      detail::problem_error("LogisticRegression",
                            detail::concat("accuracy: ", std::to_string(samples.cols()), " samples but ",
                                           std::to_string(labels.size()), " labels"));
    }
    if (samples.cols() == 0) return 0.0;
    const Scalar c = intercept(x);
    Eigen::Index right = 0;
    for (Eigen::Index i = 0; i < samples.cols(); ++i) {
      const bool positive = samples.col(i).dot(x.head(features())) + c > Scalar(0);
      if (positive == (labels[i] == Scalar(1))) ++right;
    }
    return double(right) / double(samples.cols());
  }
  /// The same on the training set.
  double accuracy(const Eigen::Ref<const Vector>& x) const { return accuracy(x, X_, y_); }

  /// The minimizer x* of the full loss, for reference (the optimum an optimizer is judged against),
  /// by Newton's method from x = 0 on the exact Hessian
  ///
  ///   ∇²f = (1/m)·Σ_i σ(z_i)·σ(−z_i)·ā_i·ā_iᵀ + l2·(I on the weights, 0 on the intercept),
  ///
  /// ā_i = (a_i, 1) with fit_intercept (a_i without), solved by Cholesky, with the step halved
  /// while it would raise the loss (detail::newton_minimizer). Stops where the gradient norm is at
  /// most options.gradient_tolerance (default 1e-10) and Newton's step is short, and returns that
  /// point or, if better, one more step from it: in practice a gradient norm at rounding level
  /// (~1e-16) after 5 to 15 iterations, each O(m·d²) for the Hessian and O(d³) for its
  /// factorization, with d × m of scratch. Computed in double whatever Scalar is (a float problem
  /// is copied to double first).
  ///
  /// Throws std::invalid_argument for invalid options, and std::runtime_error naming the gradient
  /// norm reached when Newton's method fails: it does not stop within options.max_iterations, or
  /// the Hessian is singular. With l2 = 0 that happens when the classes are linearly separable (the
  /// loss has no minimum: its gradient vanishes only far out, where Newton's step stays long) or
  /// when the samples do not span the feature space.
  Vector minimizer(const NewtonOptions& options = {}) const {
    if constexpr (std::is_same_v<Scalar, double>) {
      const auto hessian_at = [this](const Vector& x) { return hessian(x); };
      return detail::newton_minimizer("LogisticRegression", *this, dimension(), hessian_at, options_.l2, options);
    } else {
      return LogisticRegression<double>(X_.template cast<double>(), y_.template cast<double>(), options_)
          .minimizer(options)
          .template cast<Scalar>();
    }
  }

 private:
  using ConstMap = Eigen::Map<const Vector>;
  using Map = Eigen::Map<Vector>;

  Scalar intercept(const Eigen::Ref<const Vector>& x) const {
    return options_.fit_intercept ? x[features()] : Scalar(0);
  }

  void check_prediction(const Eigen::Ref<const Vector>& x, Eigen::Index rows) const {
    detail::check_call("LogisticRegression", dimension(), x.rows(), x.cols(), x.rows(), x.cols());
    if (rows != features()) {
      detail::problem_error("LogisticRegression",
                            detail::concat("the samples have ", std::to_string(rows),
                                           " features (rows) but the problem has ", std::to_string(features())));
    }
  }

  // ∇²f(x) (see minimizer), for Scalar = double.
  Eigen::MatrixXd hessian(const Vector& x) const {
    const Eigen::Index d = features();
    Vector z = X_.transpose() * x.head(d);
    const Scalar c = intercept(x);
    for (Eigen::Index i = 0; i < z.size(); ++i) z[i] = detail::sigmoid(z[i] + c) * detail::sigmoid(-(z[i] + c));
    Eigen::MatrixXd H = detail::weighted_gram(X_, z / Scalar(size()), options_.fit_intercept);
    H.diagonal().head(d).array() += options_.l2;
    return H;
  }

  // One pass per sample: its logit needs the whole dot product before the sample can be added to
  // the gradient, and the column is still in cache for that second read.
  template <class Indices>
  Scalar evaluate(const ConstMap& x, Map g, const Indices& batch) const {
    const Eigen::Index d = features();
    const auto w = x.head(d);
    auto gw = g.head(d);
    const Scalar c = options_.fit_intercept ? x[d] : Scalar(0);
    Scalar loss(0), gc(0);
    gw.setZero();
    const auto count = Eigen::Index(batch.size());
    for (Eigen::Index k = 0; k < count; ++k) {
      const Eigen::Index i = batch[k];
      const auto [sample_loss, slope] = detail::log_loss(X_.col(i).dot(w) + c, y_[i] == Scalar(1));
      loss += sample_loss;
      gw += slope * X_.col(i);
      gc += slope;
    }
    const Scalar inv = Scalar(1) / Scalar(count);
    const auto l2 = Scalar(options_.l2);
    gw = inv * gw + l2 * w;
    if (options_.fit_intercept) g[d] = inv * gc;
    return inv * loss + l2 / Scalar(2) * w.squaredNorm();
  }

  Matrix X_;
  Vector y_;
  Options options_;
  mutable Vector x_work_, g_work_;
};

}  // namespace descent::problems
