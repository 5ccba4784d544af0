#pragma once
// A strictly convex quadratic with a known minimizer, and a factory for ill-conditioned ones:
// the problem on which the behaviour of first-order methods is fully understood.

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "descent/detail/problems.hpp"
#include "descent/sampler.hpp"

namespace descent::problems {

/// f(x) = ½·xᵀA·x − bᵀx,   ∇f(x) = A·x − b,   with A symmetric positive definite (n × n).
///
/// Unique minimizer x* = A⁻¹b, minimum f(x*) = −½·bᵀx*, both computed once at construction from
/// a Cholesky factorization (LLT) done in double whatever Scalar is. Gradient descent with step
/// lr converges iff lr < 2/λ_max(A), at a rate set by the condition number λ_max/λ_min.
///
/// An Objective: `f(x, grad)` returns f(x) and writes ∇f(x). `x` and `grad` are any Eigen vectors
/// (or vector expressions; `grad` writable) of `Scalar` with dimension() coefficients, not
/// aliasing each other. A non-contiguous argument is copied through an internal workspace, so one
/// object must not be called from several threads at once.
template <class Scalar = double>
class Quadratic {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

  /// Throws std::invalid_argument unless A is a non-empty square matrix, b has as many
  /// coefficients as A has rows, both are finite, A is symmetric (to a relative tolerance of √ε
  /// of Scalar; it is then made exactly symmetric as (A + Aᵀ)/2, so that A·x − b is exactly the
  /// gradient of f) and positive definite (its Cholesky factorization succeeds).
  Quadratic(Matrix A, Vector b) : A_(std::move(A)), b_(std::move(b)) {
    const Eigen::Index n = A_.rows();
    if (n == 0 || A_.cols() != n) {
      detail::problem_error("Quadratic",
                            detail::concat("A is ", std::to_string(A_.rows()), "x", std::to_string(A_.cols()),
                                           " but must be a non-empty square matrix"));
    }
    if (b_.size() != n) {
      detail::problem_error("Quadratic", detail::concat("b has ", std::to_string(b_.size()), " coefficients but A is ",
                                                        std::to_string(n), "x", std::to_string(n)));
    }
    detail::require_finite("Quadratic", "A", A_);
    detail::require_finite("Quadratic", "b", b_);
    symmetrize();

    const Eigen::LLT<Eigen::MatrixXd> llt(A_.template cast<double>());
    if (llt.info() != Eigen::Success) {
      detail::problem_error("Quadratic", "A is not positive definite (its Cholesky factorization fails)");
    }
    const Eigen::VectorXd b_double = b_.template cast<double>();
    const Eigen::VectorXd solution = llt.solve(b_double);
    minimizer_ = solution.cast<Scalar>();
    minimum_ = Scalar(-0.5 * b_double.dot(solution));
  }

  /// A deterministic n × n problem whose Hessian has eigenvalues log-spaced from 1 to
  /// condition_number: A = Q·diag(λ)·Qᵀ with λ_k = condition_number^(k/(n−1)), k = 0…n−1, and Q a
  /// random orthogonal matrix, the product of n Householder reflections I − 2·vvᵀ/‖v‖² with v
  /// uniform in [−1, 1)ⁿ; b is uniform in [−1, 1)ⁿ. The numbers come from SplitMix64
  /// (detail::SplitMix64, in descent/sampler.hpp) seeded with `seed` (the n vectors v, then b), and
  /// everything is computed in double: the same seed gives the same problem everywhere, up to the
  /// last bits of std::pow and of Eigen's kernels.
  ///
  /// Throws std::invalid_argument unless n >= 2 and condition_number is finite and >= 1. In float,
  /// rounding A moves its eigenvalues by about 1e-7·condition_number, so beyond about 1e6 the
  /// result may not be positive definite (and the constructor throws).
  static Quadratic ill_conditioned(Eigen::Index n, double condition_number, std::uint64_t seed = 0) {
    if (n < 2) {
      detail::invalid_option("problems::Quadratic::ill_conditioned", "n", std::to_string(n), "must be >= 2");
    }
    if (!(condition_number >= 1.0) || !std::isfinite(condition_number)) {
      detail::invalid_option("problems::Quadratic::ill_conditioned", "condition_number", condition_number,
                             "must be a finite number >= 1");
    }
    Eigen::VectorXd eigenvalues(n);
    for (Eigen::Index k = 0; k < n; ++k) eigenvalues[k] = std::pow(condition_number, double(k) / double(n - 1));
    Eigen::MatrixXd hessian = eigenvalues.asDiagonal();

    // Each reflection H = I − 2vvᵀ (‖v‖ = 1) turns A into H·A·H = A − 2(v·wᵀ + w·vᵀ) with
    // w = A·v − (vᵀA·v)·v: a rank-2 update, which keeps the spectrum and needs no factorization
    // (a QR of a random matrix would give such a Q too, at several times the compile time).
    detail::SplitMix64 random(seed);
    Eigen::VectorXd v(n), w(n);
    for (Eigen::Index k = 0; k < n; ++k) {
      for (Eigen::Index i = 0; i < n; ++i) v[i] = random.uniform(-1.0, 1.0);
      v.normalize();
      w.noalias() = hessian * v;
      w -= v.dot(w) * v;
      hessian.noalias() -= (2.0 * v) * w.transpose();
      hessian.noalias() -= (2.0 * w) * v.transpose();
    }
    Eigen::VectorXd linear(n);
    for (Eigen::Index i = 0; i < n; ++i) linear[i] = random.uniform(-1.0, 1.0);
    return Quadratic(hessian.cast<Scalar>(), linear.cast<Scalar>());
  }

  /// Number of parameters n.
  Eigen::Index dimension() const { return b_.size(); }
  /// The Hessian A (symmetrized).
  const Matrix& A() const { return A_; }
  /// The linear term b.
  const Vector& b() const { return b_; }
  /// x* = A⁻¹b.
  const Vector& minimizer() const { return minimizer_; }
  /// f(x*) = −½·bᵀx*.
  Scalar minimum() const { return minimum_; }

  /// Returns f(x) and writes ∇f(x) into grad. Throws std::invalid_argument on a size mismatch.
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, G&& grad) const {
    detail::check_call("Quadratic", dimension(), x.rows(), x.cols(), grad.rows(), grad.cols());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_, [&](auto g) { return evaluate(xv, g); });
  }

 private:
  using ConstMap = Eigen::Map<const Vector>;
  using Map = Eigen::Map<Vector>;

  Scalar evaluate(const ConstMap& x, Map g) const {
    g.noalias() = A_ * x;
    const Scalar f = x.dot(g) / Scalar(2) - b_.dot(x);
    g -= b_;
    return f;
  }

  void symmetrize() {
    const Eigen::Index n = A_.rows();
    const double scale = double(A_.cwiseAbs().maxCoeff());
    const double tolerance = std::sqrt(double(Eigen::NumTraits<Scalar>::epsilon())) * scale;
    for (Eigen::Index j = 0; j < n; ++j) {
      for (Eigen::Index i = 0; i < j; ++i) {
        const double gap = std::abs(double(A_(i, j)) - double(A_(j, i)));
        if (gap > tolerance) {
          detail::problem_error("Quadratic", detail::concat("A is not symmetric: |A(", std::to_string(i), ", ",
                                                            std::to_string(j), ") - A(", std::to_string(j), ", ",
                                                            std::to_string(i), ")| = ", detail::format_number(gap)));
        }
        A_(i, j) = A_(j, i) = (A_(i, j) + A_(j, i)) / Scalar(2);
      }
    }
  }

  Matrix A_;
  Vector b_;
  Vector minimizer_;
  Scalar minimum_{};
  mutable Vector x_work_, g_work_;
};

}  // namespace descent::problems
