#pragma once
// Binary logistic regression over sparse samples (bag-of-words, one-hot, hashed features): the
// loss of LogisticRegression, with the samples stored as a sparse matrix and a minibatch gradient
// that can be written as an Eigen::SparseVector holding only the features the batch touches.

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "descent/detail/checks.hpp"
#include "descent/detail/problems.hpp"
#include "descent/problems/logistic_regression.hpp"

namespace descent::problems {

/// Options of SparseLogisticRegression.
struct SparseLogisticRegressionOptions {
  /// Coefficient of the penalty (l2/2)·‖w‖² on the weights, never on the intercept (as
  /// LogisticRegressionOptions::l2). Default 0; finite and >= 0. The sparse minibatch gradient
  /// (SparseLogisticRegression::sparse()) needs l2 = 0: the penalty's gradient l2·w is dense, and
  /// applying it only where a batch touches would minimize another function (one that penalizes
  /// frequent features more than rare ones).
  double l2 = 0.0;
  /// Append an intercept c as the last parameter. Default true.
  bool fit_intercept = true;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const { detail::require_nonnegative("problems::SparseLogisticRegressionOptions", "l2", l2); }
};

/// LogisticRegression's loss over m sparse samples a_i ∈ ℝᵈ with labels y_i ∈ {0, 1}:
///
///   z_i = wᵀa_i + c,   f(w, c) = (1/m)·Σ_i [log(1 + e^{z_i}) − y_i·z_i] + (l2/2)·‖w‖²
///   ∇_w f = (1/m)·Σ_i (σ(z_i) − y_i)·a_i + l2·w,   ∂f/∂c = (1/m)·Σ_i (σ(z_i) − y_i)
///
/// with the same parameters x = (w_1, …, w_d, c) (the intercept last, only with fit_intercept)
/// and the same per-sample loss (detail::log_loss), so on the densified samples the two problems
/// agree up to the rounding of the dot products.
///
/// DATA LAYOUT: unlike the dense problems, the samples are the ROWS of an m × d row-major
/// Eigen::SparseMatrix (the layout of a document-term matrix: each sample's nonzeros are one
/// contiguous run), compressed at construction. A sample costs O(its nonzeros); a call adds O(d)
/// for a dense gradient, O(t log t) for a sparse one touching t features.
///
/// Three ways to evaluate it; the dense ones allocate nothing once their workspaces are sized, the
/// sparse one only when a batch touches more features than any batch before:
///   - `f(x, grad)`: the full loss and its dense gradient (an Objective, for descent::minimize);
///   - `f(x, batch, grad)`: the mean loss over the samples in batch (repeats count repeatedly) plus
///     the penalty, and its dense gradient (a StochasticObjective, for descent::train with any
///     optimizer);
///   - `f.sparse()`: a view whose `(x, batch, grad)` writes the same minibatch gradient into an
///     Eigen::SparseVector (a SparseStochasticObjective, for descent::train with SGD, Adagrad or
///     SparseAdam). It holds, in increasing index order, the features that some sample of the batch
///     stores (a stored zero counts; its value may be 0) and, with fit_intercept, the intercept.
///     Requires l2 = 0 (see SparseLogisticRegressionOptions::l2). The problem itself is not a
///     SparseStochasticObjective, so that train never picks the sparse path for it by accident.
///
/// `x` and a dense `grad` are any Eigen vectors (or vector expressions; `grad` writable) of `Scalar`
/// with dimension() coefficients, not aliasing each other. The workspaces are mutable members, so
/// one object (and its sparse() views) must not be called from several threads at once.
template <class Scalar = double>
class SparseLogisticRegression {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using SparseMatrix = Eigen::SparseMatrix<Scalar, Eigen::RowMajor>;
  using SparseVector = Eigen::SparseVector<Scalar>;
  using Options = SparseLogisticRegressionOptions;

  /// The sparse minibatch interface of a SparseLogisticRegression (see there), a
  /// SparseStochasticObjective. Refers to the problem, which must outlive it.
  class SparseBatches {
   public:
    /// Number of samples m.
    Eigen::Index size() const { return problem_->size(); }
    /// Number of parameters.
    Eigen::Index dimension() const { return problem_->dimension(); }
    /// The problem it evaluates.
    const SparseLogisticRegression& problem() const { return *problem_; }

    /// Returns the mean loss over the samples in batch and writes its gradient into grad (resized
    /// to dimension() when it is empty of size 0; any other size throws): the features the batch's
    /// samples store and the intercept, nothing else. Throws std::invalid_argument on a size
    /// mismatch, an empty batch or an index outside [0, size()).
    template <detail::ProblemInput<Scalar> X>
    Scalar operator()(const X& x, std::span<const Eigen::Index> batch, SparseVector& grad) const {
      return problem_->sparse_gradient(x, batch, grad);
    }

   private:
    friend class SparseLogisticRegression;
    explicit SparseBatches(const SparseLogisticRegression* problem) : problem_(problem) {}
    const SparseLogisticRegression* problem_;
  };

  /// `samples`: m × d, one sample per row; `labels`: m values, each exactly 0 or 1. Throws
  /// std::invalid_argument unless d >= 1, m >= 1, labels has m coefficients, every stored value is
  /// finite, the labels are 0 or 1 and the options are valid.
  SparseLogisticRegression(SparseMatrix samples, Vector labels, const Options& options = {})
      : X_(std::move(samples)), y_(std::move(labels)), options_(options) {
    options_.validate();
    X_.makeCompressed();
    if (X_.rows() == 0 || X_.cols() == 0) {
      detail::problem_error("SparseLogisticRegression",
                            detail::concat("samples is ", std::to_string(X_.rows()), "x", std::to_string(X_.cols()),
                                           " but needs at least one sample (row) and one feature (column)"));
    }
    if (y_.size() != X_.rows()) {
      detail::problem_error("SparseLogisticRegression",
                            detail::concat("labels has ", std::to_string(y_.size()), " coefficients but there are ",
                                           std::to_string(X_.rows()), " samples (rows of samples)"));
    }
    const Eigen::Map<const Vector> values(X_.valuePtr(), X_.nonZeros());
    if (!detail::all_finite(values)) {
      for (Eigen::Index i = 0; i < X_.outerSize(); ++i) {
        for (typename SparseMatrix::InnerIterator it(X_, i); it; ++it) {
          if (!std::isfinite(double(it.value()))) {
            detail::invalid_option(
                "problems::SparseLogisticRegression",
                detail::concat("samples(", std::to_string(it.row()), ", ", std::to_string(it.col()), ")"),
                double(it.value()), "must be finite");
          }
        }
      }
    }
    for (Eigen::Index i = 0; i < y_.size(); ++i) {
      if (y_[i] != Scalar(0) && y_[i] != Scalar(1)) {
        detail::invalid_option("problems::SparseLogisticRegression", detail::concat("labels(", std::to_string(i), ")"),
                               double(y_[i]), "must be 0 or 1");
      }
    }
  }

  /// Number of parameters: d + 1 with fit_intercept, else d.
  Eigen::Index dimension() const { return features() + (options_.fit_intercept ? 1 : 0); }
  /// Number of samples m.
  Eigen::Index size() const { return X_.rows(); }
  /// Number of features d.
  Eigen::Index features() const { return X_.cols(); }
  const Options& options() const { return options_; }
  /// The samples, m × d, one per row, compressed.
  const SparseMatrix& samples() const { return X_; }
  /// The labels, m values in {0, 1}.
  const Vector& labels() const { return y_; }

  /// Returns the full loss f(x) and writes ∇f(x) into grad. Throws std::invalid_argument on a size
  /// mismatch.
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, G&& grad) const {
    detail::check_call("SparseLogisticRegression", dimension(), x.rows(), x.cols(), grad.rows(), grad.cols());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_,
                                          [&](auto g) { return evaluate(xv, g, detail::AllSamples{size()}); });
  }

  /// Returns the mean loss over the samples in batch (plus the penalty) and writes its dense
  /// gradient into grad. Throws std::invalid_argument on a size mismatch, an empty batch or an
  /// index outside [0, size()).
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, std::span<const Eigen::Index> batch, G&& grad) const {
    detail::check_call("SparseLogisticRegression", dimension(), x.rows(), x.cols(), grad.rows(), grad.cols());
    detail::check_batch("SparseLogisticRegression", batch, size());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_, [&](auto g) { return evaluate(xv, g, batch); });
  }

  /// The sparse minibatch interface (see the class). Throws std::invalid_argument when l2 > 0.
  SparseBatches sparse() const {
    if (options_.l2 != 0.0) {
      detail::problem_error(
          "SparseLogisticRegression",
          detail::concat(
              "sparse(): the sparse minibatch gradient needs l2 = 0, but l2 = ", detail::format_number(options_.l2),
              " (the penalty's gradient l2*w is dense; use the dense f(x, batch, grad) with it)"));
    }
    return SparseBatches(this);
  }

  /// The logits wᵀa + c of the rows of `samples` (k × d, any sparse matrix with d columns).
  template <class Samples>
  Vector decision_function(const Eigen::Ref<const Vector>& x, const Eigen::SparseMatrixBase<Samples>& samples) const {
    check_prediction(x, samples.cols());
    Vector z = samples * x.head(features());
    z.array() += intercept(x);
    return z;
  }

  /// P(y = 1 | a) = σ(wᵀa + c) for each row a of `samples`.
  template <class Samples>
  Vector predict_proba(const Eigen::Ref<const Vector>& x, const Eigen::SparseMatrixBase<Samples>& samples) const {
    Vector p = decision_function(x, samples);
    for (Eigen::Index i = 0; i < p.size(); ++i) p[i] = detail::sigmoid(p[i]);
    return p;
  }
  /// The same on the training samples.
  Vector predict_proba(const Eigen::Ref<const Vector>& x) const { return predict_proba(x, X_); }

  /// Fraction of the rows of `samples` whose predicted class (1 when wᵀa + c > 0) is their label.
  template <class Samples>
  double accuracy(const Eigen::Ref<const Vector>& x, const Eigen::SparseMatrixBase<Samples>& samples,
                  const Eigen::Ref<const Vector>& labels) const {
    if (labels.size() != samples.rows()) {
      detail::problem_error("SparseLogisticRegression",
                            detail::concat("accuracy: ", std::to_string(samples.rows()), " samples but ",
                                           std::to_string(labels.size()), " labels"));
    }
    const Vector z = decision_function(x, samples);
    if (z.size() == 0) return 0.0;
    Eigen::Index right = 0;
    for (Eigen::Index i = 0; i < z.size(); ++i) right += (z[i] > Scalar(0)) == (labels[i] == Scalar(1)) ? 1 : 0;
    return double(right) / double(z.size());
  }
  /// The same on the training set.
  double accuracy(const Eigen::Ref<const Vector>& x) const { return accuracy(x, X_, y_); }

  /// The minimizer of the full loss, for reference, by LogisticRegression::minimizer's Newton
  /// method (the same stopping rule, failures and exceptions), computed in double whatever Scalar
  /// is. The Hessian is dense, (d + 1) × (d + 1), formed as XᵀDX from the sparse samples and
  /// factorized at every iteration: O(d²) memory and O(d³) time per iteration, so this is for
  /// problems of a few thousand features at most.
  Vector minimizer(const NewtonOptions& options = {}) const {
    if constexpr (std::is_same_v<Scalar, double>) {
      const auto hessian_at = [this](const Vector& x) { return hessian(x); };
      return detail::newton_minimizer("SparseLogisticRegression", *this, dimension(), hessian_at, options_.l2, options);
    } else {
      return SparseLogisticRegression<double>(X_.template cast<double>(), y_.template cast<double>(), options_)
          .minimizer(options)
          .template cast<Scalar>();
    }
  }

 private:
  using ConstMap = Eigen::Map<const Vector>;
  using Map = Eigen::Map<Vector>;
  using StorageIndex = typename SparseMatrix::StorageIndex;

  Scalar intercept(const Eigen::Ref<const Vector>& x) const {
    return options_.fit_intercept ? x[features()] : Scalar(0);
  }

  void check_prediction(const Eigen::Ref<const Vector>& x, Eigen::Index columns) const {
    detail::check_call("SparseLogisticRegression", dimension(), x.rows(), x.cols(), x.rows(), x.cols());
    if (columns != features()) {
      detail::problem_error("SparseLogisticRegression",
                            detail::concat("the samples have ", std::to_string(columns),
                                           " features (columns) but the problem has ", std::to_string(features())));
    }
  }

  // ∇²f(x) (see LogisticRegression::minimizer), for Scalar = double.
  Eigen::MatrixXd hessian(const Vector& x) const {
    const Eigen::Index d = features();
    Vector s = X_ * x.head(d);
    const Scalar c = intercept(x);
    for (Eigen::Index i = 0; i < s.size(); ++i)
      s[i] = detail::sigmoid(s[i] + c) * detail::sigmoid(-(s[i] + c)) / Scalar(size());
    const Eigen::Index r = dimension();
    Eigen::MatrixXd H(r, r);
    H.topLeftCorner(d, d) = Eigen::MatrixXd(X_.transpose() * s.asDiagonal() * X_);
    if (options_.fit_intercept) {
      const Eigen::VectorXd border = X_.transpose() * s;
      H.col(d).head(d) = border;
      H.row(d).head(d) = border.transpose();
      H(d, d) = s.sum();
    }
    H.diagonal().head(d).array() += options_.l2;
    return H;
  }

  // Sample i's log-loss and slope σ(z) − y, from its stored entries only.
  detail::LogLoss<Scalar> sample_loss(const ConstMap& x, Eigen::Index i, Scalar c) const {
    const StorageIndex* index = X_.innerIndexPtr();
    const Scalar* value = X_.valuePtr();
    Scalar z(0);
    for (StorageIndex k = X_.outerIndexPtr()[i]; k < X_.outerIndexPtr()[i + 1]; ++k) z += value[k] * x[index[k]];
    return detail::log_loss(z + c, y_[i] == Scalar(1));
  }

  template <class Indices>
  Scalar evaluate(const ConstMap& x, Map g, const Indices& batch) const {
    const Eigen::Index d = features();
    const auto w = x.head(d);
    auto gw = g.head(d);
    const Scalar c = options_.fit_intercept ? x[d] : Scalar(0);
    const StorageIndex* index = X_.innerIndexPtr();
    const Scalar* value = X_.valuePtr();
    Scalar loss(0), gc(0);
    gw.setZero();
    const auto count = Eigen::Index(batch.size());
    for (Eigen::Index k = 0; k < count; ++k) {
      const Eigen::Index i = batch[k];
      const auto [s_loss, slope] = sample_loss(x, i, c);
      loss += s_loss;
      for (StorageIndex e = X_.outerIndexPtr()[i]; e < X_.outerIndexPtr()[i + 1]; ++e) gw[index[e]] += slope * value[e];
      gc += slope;
    }
    const Scalar inv = Scalar(1) / Scalar(count);
    const auto l2 = Scalar(options_.l2);
    gw = inv * gw + l2 * w;
    if (options_.fit_intercept) g[d] = inv * gc;
    return inv * loss + l2 / Scalar(2) * w.squaredNorm();
  }

  // The same sums as evaluate (per coordinate, in batch order), gathered in a dense accumulator
  // over the touched features only, which are then written to grad in increasing order.
  template <class X>
  Scalar sparse_gradient(const X& x, std::span<const Eigen::Index> batch, SparseVector& grad) const {
    const Eigen::Index n = dimension();
    if (grad.size() == 0) grad.resize(n);
    detail::check_call("SparseLogisticRegression", n, x.rows(), x.cols(), grad.size(), 1);
    detail::check_batch("SparseLogisticRegression", batch, size());
    const auto xv = detail::contiguous_input(x, x_work_);
    const Eigen::Index d = features();
    if (accumulator_.size() != d) {
      accumulator_.setZero(d);
      seen_.assign(std::size_t(d), false);
    }
    touched_.clear();
    const Scalar c = options_.fit_intercept ? xv[d] : Scalar(0);
    const StorageIndex* index = X_.innerIndexPtr();
    const Scalar* value = X_.valuePtr();
    Scalar loss(0), gc(0);
    for (const Eigen::Index i : batch) {
      const auto [s_loss, slope] = sample_loss(xv, i, c);
      loss += s_loss;
      for (StorageIndex e = X_.outerIndexPtr()[i]; e < X_.outerIndexPtr()[i + 1]; ++e) {
        const StorageIndex j = index[e];
        if (!seen_[std::size_t(j)]) {
          seen_[std::size_t(j)] = true;
          touched_.push_back(j);
        }
        accumulator_[j] += slope * value[e];
      }
      gc += slope;
    }
    std::sort(touched_.begin(), touched_.end());
    const Scalar inv = Scalar(1) / Scalar(batch.size());
    grad.setZero();
    grad.reserve(Eigen::Index(touched_.size()) + 1);
    for (const StorageIndex j : touched_) {
      grad.insertBack(j) = inv * accumulator_[j];
      accumulator_[j] = Scalar(0);
      seen_[std::size_t(j)] = false;
    }
    if (options_.fit_intercept) grad.insertBack(d) = inv * gc;
    return inv * loss;
  }

  SparseMatrix X_;
  Vector y_;
  Options options_;
  mutable Vector x_work_, g_work_, accumulator_;
  mutable std::vector<bool> seen_;
  mutable std::vector<StorageIndex> touched_;
};

}  // namespace descent::problems
