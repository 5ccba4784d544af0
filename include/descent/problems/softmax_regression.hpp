#pragma once
// Multinomial (softmax) logistic regression: mean cross-entropy with an optional L2 penalty, and
// a matrix of parameters flattened into one vector.

#include <Eigen/Core>
#include <cmath>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "descent/detail/checks.hpp"
#include "descent/detail/problems.hpp"

namespace descent::problems {

/// Options of SoftmaxRegression.
struct SoftmaxRegressionOptions {
  /// Coefficient of the penalty (l2/2)·‖W‖² on the weights, never on the intercepts (scikit-learn's
  /// convention, and the usual practice of exempting biases from weight decay in torch). Default 0;
  /// finite and >= 0. Without it the parameters are never identified: adding the same vector to
  /// every column of [W; cᵀ] leaves the loss unchanged.
  double l2 = 0.0;
  /// Give each class an intercept c_k. Default true.
  bool fit_intercept = true;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const { detail::require_nonnegative("problems::SoftmaxRegressionOptions", "l2", l2); }
};

/// Softmax regression over m samples a_i ∈ ℝᵈ with labels y_i ∈ {0, …, K−1}:
///
///   z_i = Wᵀa_i + c ∈ ℝᴷ,   f(W, c) = (1/m)·Σ_i [log Σ_k e^{z_ik} − z_{i,y_i}] + (l2/2)·‖W‖²_F
///   ∇_W f = (1/m)·Σ_i a_i·(p_i − e_{y_i})ᵀ + l2·W,   ∇_c f = (1/m)·Σ_i (p_i − e_{y_i}),   p_i = softmax(z_i)
///
/// PARAMETER LAYOUT: the (d + 1) × K matrix [W; cᵀ] (d × K without fit_intercept) flattened
/// column-major, so class k owns the contiguous run x[k·r, (k+1)·r) with r = weight_rows(): its d
/// weights, then its intercept. weights(x) views x as that matrix without copying. The loss is
/// computed with a stable log-sum-exp (the largest logit is subtracted first). The minimizer has no
/// closed form (minimizer() computes it by Newton's method); it is unique when l2 > 0 and
/// fit_intercept is false, and otherwise unique up to the shifts described at minimizer().
///
/// DATA LAYOUT: the samples are stored as the columns of a d × m column-major matrix (samples()),
/// so each sample is contiguous in memory and a minibatch is `samples()(Eigen::all, batch)`, whole
/// columns read in place. The constructor takes that layout (moved in); from_rows() takes the usual
/// m × d one and transposes it once.
///
/// An Objective and a StochasticObjective: `f(x, grad)` is the full loss above; `f(x, batch, grad)`
/// the mean cross-entropy over the samples whose indices are in batch (repeats count repeatedly)
/// plus the same penalty, so that its expectation over uniform batches is f; both computed one
/// sample at a time, with a workspace of K logits sized at the first call and no allocation
/// after. `x` and `grad` are any Eigen vectors (or vector expressions; `grad` writable) of `Scalar`
/// with dimension() coefficients, not aliasing each other. The workspaces are mutable members, so
/// one object must not be called from several threads at once.
template <class Scalar = double>
class SoftmaxRegression {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Labels = Eigen::VectorXi;
  using Options = SoftmaxRegressionOptions;

  /// `samples`: d × m, one sample per column; `labels`: m classes in [0, classes). Throws
  /// std::invalid_argument unless d >= 1, m >= 1, classes >= 2, labels has m coefficients, the
  /// samples are finite, every label is in range and the options are valid.
  SoftmaxRegression(Matrix samples, Labels labels, Eigen::Index classes, const Options& options = {})
      : X_(std::move(samples)), y_(std::move(labels)), classes_(classes), options_(options) {
    options_.validate();
    if (classes_ < 2) {
      detail::invalid_option("problems::SoftmaxRegression", "classes", std::to_string(classes_), "must be >= 2");
    }
    if (X_.rows() == 0 || X_.cols() == 0) {
      detail::problem_error("SoftmaxRegression",
                            detail::concat("samples is ", std::to_string(X_.rows()), "x", std::to_string(X_.cols()),
                                           " but needs at least one feature (row) and one sample (column)"));
    }
    if (y_.size() != X_.cols()) {
      detail::problem_error("SoftmaxRegression",
                            detail::concat("labels has ", std::to_string(y_.size()), " coefficients but there are ",
                                           std::to_string(X_.cols()), " samples (columns of samples)"));
    }
    detail::require_finite("SoftmaxRegression", "samples", X_);
    for (Eigen::Index i = 0; i < y_.size(); ++i) {
      if (y_[i] < 0 || y_[i] >= classes_) {
        detail::invalid_option("problems::SoftmaxRegression", detail::concat("labels(", std::to_string(i), ")"),
                               std::to_string(y_[i]),
                               detail::concat("must be in [0, classes = ", std::to_string(classes_), ")"));
      }
    }
  }

  /// From an m × d matrix with one sample per row, transposed once into the stored layout.
  template <class Rows>
  static SoftmaxRegression from_rows(const Eigen::MatrixBase<Rows>& rows, Labels labels, Eigen::Index classes,
                                     const Options& options = {}) {
    return SoftmaxRegression(Matrix(rows.transpose()), std::move(labels), classes, options);
  }

  /// Number of parameters: weight_rows()·classes().
  Eigen::Index dimension() const { return weight_rows() * classes_; }
  /// Number of samples m.
  Eigen::Index size() const { return X_.cols(); }
  /// Number of features d.
  Eigen::Index features() const { return X_.rows(); }
  /// Number of classes K.
  Eigen::Index classes() const { return classes_; }
  /// Rows of the parameter matrix: d + 1 with fit_intercept (the last row holds the intercepts), else d.
  Eigen::Index weight_rows() const { return features() + (options_.fit_intercept ? 1 : 0); }
  const Options& options() const { return options_; }
  /// The samples, d × m, one per column.
  const Matrix& samples() const { return X_; }
  /// The labels, m classes in [0, K).
  const Labels& labels() const { return y_; }

  /// The parameter vector `x` (a contiguous vector of dimension() coefficients: a Vector, Map, Ref
  /// or contiguous segment) viewed as the weight_rows() × K matrix [W; cᵀ], without copying:
  /// column k is class k, writable when x is. Throws std::invalid_argument when x has the wrong
  /// size or is not contiguous.
  template <class X>
  requires requires(X& v) { v.data(); }
  auto weights(X& x) const {
    detail::check_call("SoftmaxRegression", dimension(), x.rows(), x.cols(), x.rows(), x.cols());
    if (!detail::is_contiguous_vector(x)) {
      detail::problem_error("SoftmaxRegression", "weights(x) needs an x whose coefficients are contiguous");
    }
    using Pointee = std::remove_pointer_t<decltype(x.data())>;
    using View = Eigen::Map<std::conditional_t<std::is_const_v<Pointee>, const Matrix, Matrix>>;
    return View(x.data(), weight_rows(), classes_);
  }

  /// Returns the full loss f(x) and writes ∇f(x) into grad. Throws std::invalid_argument on a size
  /// mismatch.
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, G&& grad) const {
    detail::check_call("SoftmaxRegression", dimension(), x.rows(), x.cols(), grad.rows(), grad.cols());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_,
                                          [&](auto g) { return evaluate(xv, g, detail::AllSamples{size()}); });
  }

  /// Returns the mean loss over the samples in batch (plus the penalty) and writes its gradient
  /// into grad. Throws std::invalid_argument on a size mismatch, an empty batch or an index outside
  /// [0, size()).
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, std::span<const Eigen::Index> batch, G&& grad) const {
    detail::check_call("SoftmaxRegression", dimension(), x.rows(), x.cols(), grad.rows(), grad.cols());
    detail::check_batch("SoftmaxRegression", batch, size());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_, [&](auto g) { return evaluate(xv, g, batch); });
  }

  /// Class probabilities softmax(Wᵀa + c) of each column a of `samples` (d × k), as a K × k
  /// matrix; allocates the result.
  Matrix predict_proba(const Eigen::Ref<const Vector>& x, const Eigen::Ref<const Matrix>& samples) const {
    Matrix z = logits(x, samples);
    for (Eigen::Index i = 0; i < z.cols(); ++i) {
      const Scalar top = z.col(i).maxCoeff();
      z.col(i) = (z.col(i).array() - top).exp().matrix();
      z.col(i) /= z.col(i).sum();
    }
    return z;
  }
  /// The same on the training samples.
  Matrix predict_proba(const Eigen::Ref<const Vector>& x) const { return predict_proba(x, X_); }

  /// The most probable class (the largest logit; the lowest class on ties) of each column of
  /// `samples`.
  Labels predict(const Eigen::Ref<const Vector>& x, const Eigen::Ref<const Matrix>& samples) const {
    const Matrix z = logits(x, samples);
    Labels predicted(z.cols());
    for (Eigen::Index i = 0; i < z.cols(); ++i) {
      Eigen::Index best = 0;
      z.col(i).maxCoeff(&best);
      predicted[i] = int(best);
    }
    return predicted;
  }
  /// The same on the training samples.
  Labels predict(const Eigen::Ref<const Vector>& x) const { return predict(x, X_); }

  /// Fraction of the columns of `samples` whose predicted class is their label.
  double accuracy(const Eigen::Ref<const Vector>& x, const Eigen::Ref<const Matrix>& samples,
                  const Eigen::Ref<const Labels>& labels) const {
    if (labels.size() != samples.cols()) {
      detail::problem_error("SoftmaxRegression",
                            detail::concat("accuracy: ", std::to_string(samples.cols()), " samples but ",
                                           std::to_string(labels.size()), " labels"));
    }
    if (samples.cols() == 0) return 0.0;
    return double((predict(x, samples).array() == labels.array()).count()) / double(samples.cols());
  }
  /// The same on the training set.
  double accuracy(const Eigen::Ref<const Vector>& x) const { return accuracy(x, X_, y_); }

  /// A minimizer x* of the full loss, for reference (the optimum an optimizer is judged against),
  /// by Newton's method from x = 0 on the exact Hessian, whose r × r block for classes (k, l) is
  ///
  ///   (1/m)·Σ_i (δ_kl·p_ik − p_ik·p_il)·ā_i·ā_iᵀ + l2·δ_kl·(I on the weights, 0 on the intercept),
  ///
  /// ā_i = (a_i, 1) with fit_intercept (a_i without), solved by Cholesky, with the step halved
  /// while it would raise the loss (detail::newton_minimizer). Stops where the gradient norm is at
  /// most options.gradient_tolerance (default 1e-10) and Newton's step is short, and returns that
  /// point or, if better, one more step from it: in practice a gradient norm at rounding level
  /// (~1e-16) after 5 to 15 iterations, each O(K²·m·r²) for the Hessian and O((K·r)³) for its
  /// factorization, with (K·r)² doubles of memory. Computed in double whatever Scalar is (a float
  /// problem is copied to double first).
  ///
  /// Which minimizer: the loss does not change when the same number is added to every class's
  /// intercept, nor, with l2 = 0, when the same vector is added to every column of [W; cᵀ]. Along
  /// those directions the minimizers form a line (with l2 = 0, a subspace), and minimizer()
  /// returns the one whose intercepts (with l2 = 0: every row of [W; cᵀ]) sum to zero over the
  /// classes, which is the one gradient descent from x = 0 converges to: the gradient never has a
  /// component along them. Newton's method runs on the Hessian plus the projection onto them, which
  /// keeps every step orthogonal to them.
  ///
  /// Throws std::invalid_argument for invalid options, and std::runtime_error naming the gradient
  /// norm reached when Newton's method fails: it does not stop within options.max_iterations, or
  /// the Hessian is singular. With l2 = 0 that happens when the classes are linearly separable (the
  /// loss has no minimum: its gradient vanishes only far out, where Newton's step stays long) or
  /// when the samples do not span the feature space.
  Vector minimizer(const NewtonOptions& options = {}) const {
    if constexpr (std::is_same_v<Scalar, double>) {
      const auto hessian_at = [this](const Vector& x) { return hessian(x); };
      return detail::newton_minimizer("SoftmaxRegression", *this, dimension(), hessian_at, options_.l2, options);
    } else {
      return SoftmaxRegression<double>(X_.template cast<double>(), y_, classes_, options_)
          .minimizer(options)
          .template cast<Scalar>();
    }
  }

 private:
  using ConstMap = Eigen::Map<const Vector>;
  using Map = Eigen::Map<Vector>;

  Matrix logits(const Eigen::Ref<const Vector>& x, const Eigen::Ref<const Matrix>& samples) const {
    detail::check_call("SoftmaxRegression", dimension(), x.rows(), x.cols(), x.rows(), x.cols());
    if (samples.rows() != features()) {
      detail::problem_error("SoftmaxRegression",
                            detail::concat("the samples have ", std::to_string(samples.rows()),
                                           " features (rows) but the problem has ", std::to_string(features())));
    }
    const Eigen::Map<const Matrix> W(x.data(), weight_rows(), classes_);
    Matrix z = W.topRows(features()).transpose() * samples;
    if (options_.fit_intercept) z.colwise() += W.row(features()).transpose();
    return z;
  }

  // ∇²f(x) (see minimizer), plus the projection onto the directions along which the loss is
  // constant: u_j = e_j in every class's block, for the intercept row j = d, and with l2 = 0 for
  // every row. For Scalar = double.
  Eigen::MatrixXd hessian(const Vector& x) const {
    const Eigen::Index d = features(), r = weight_rows(), K = classes_;
    const Matrix P = predict_proba(x);  // K × m
    const double inv_m = 1.0 / double(size());
    Eigen::MatrixXd H(r * K, r * K);
    for (Eigen::Index k = 0; k < K; ++k) {
      for (Eigen::Index l = k; l < K; ++l) {
        Eigen::VectorXd s = -inv_m * P.row(k).cwiseProduct(P.row(l)).transpose();
        if (k == l) s += inv_m * P.row(k).transpose();
        H.block(k * r, l * r, r, r) = detail::weighted_gram(X_, s, options_.fit_intercept);
        if (l != k) H.block(l * r, k * r, r, r) = H.block(k * r, l * r, r, r);  // each block is symmetric
      }
    }
    for (Eigen::Index k = 0; k < K; ++k) H.diagonal().segment(k * r, d).array() += options_.l2;
    for (Eigen::Index j = options_.l2 > 0.0 ? d : 0; j < r; ++j)
      for (Eigen::Index k = 0; k < K; ++k)
        for (Eigen::Index l = 0; l < K; ++l) H(k * r + j, l * r + j) += 1.0 / double(K);  // u_j·u_jᵀ / ‖u_j‖²
    return H;
  }

  template <class Indices>
  Scalar evaluate(const ConstMap& x, Map g, const Indices& batch) const {
    using std::log;
    const Eigen::Index d = features();
    const Eigen::Map<const Matrix> W(x.data(), weight_rows(), classes_);
    Eigen::Map<Matrix> G(g.data(), weight_rows(), classes_);
    const auto Wd = W.topRows(d);
    auto Gd = G.topRows(d);
    if (z_.size() != classes_) z_.resize(classes_);

    // Per sample, K dot products and K axpys over its contiguous column, written out: Eigen's
    // matrix-vector and outer-product kernels cost more to dispatch than they compute at these
    // sizes (the whole evaluation was 2.5x slower with them at d = 10…50, K = 10).
    G.setZero();
    Scalar loss(0);
    const auto count = Eigen::Index(batch.size());
    for (Eigen::Index k = 0; k < count; ++k) {
      const Eigen::Index i = batch[k];
      const auto a = X_.col(i);
      for (Eigen::Index c = 0; c < classes_; ++c) z_[c] = Wd.col(c).dot(a);
      if (options_.fit_intercept) z_ += W.row(d).transpose();
      // log Σ e^{z} − z_y with the largest logit taken out first, so that exp cannot overflow.
      const Scalar top = z_.maxCoeff();
      const Scalar label_logit = z_[y_[i]] - top;
      z_ = (z_.array() - top).exp().matrix();
      const Scalar total = z_.sum();
      loss += log(total) - label_logit;
      z_ /= total;
      z_[y_[i]] -= Scalar(1);  // ∂loss/∂z = p − e_y
      for (Eigen::Index c = 0; c < classes_; ++c) Gd.col(c) += z_[c] * a;
      if (options_.fit_intercept) G.row(d) += z_.transpose();
    }
    const Scalar inv = Scalar(1) / Scalar(count);
    const auto l2 = Scalar(options_.l2);
    G *= inv;
    Gd += l2 * Wd;
    return inv * loss + l2 / Scalar(2) * Wd.squaredNorm();
  }

  Matrix X_;
  Labels y_;
  Eigen::Index classes_;
  Options options_;
  mutable Vector x_work_, g_work_, z_;
};

}  // namespace descent::problems
