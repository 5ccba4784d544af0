#pragma once
// The n-dimensional Rosenbrock function: a curved, narrow valley that punishes optimizers which
// ignore curvature.

#include <Eigen/Core>
#include <string>

#include "descent/detail/problems.hpp"

namespace descent::problems {

/// f(x) = Σ_{i=0}^{n−2} 100·(x_{i+1} − x_i²)² + (1 − x_i)²   (the "extended" Rosenbrock function)
///
/// Global minimizer x* = (1, …, 1), minimum f(x*) = 0. For n >= 4 there are also local minimizers,
/// one near (−1, 1, …, 1) (the only one for 4 <= n <= 7). An Objective: `f(x, grad)` returns f(x) and writes ∇f(x).
///
/// `x` and `grad` are any Eigen vectors (or vector expressions; `grad` writable) of `Scalar` with
/// dimension() coefficients, not aliasing each other. A non-contiguous argument is copied through
/// an internal workspace, so one object must not be called from several threads at once.
template <class Scalar = double>
class Rosenbrock {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// Throws std::invalid_argument unless n >= 2.
  explicit Rosenbrock(Eigen::Index n) : n_(n) {
    if (n < 2) detail::invalid_option("problems::Rosenbrock", "n", std::to_string(n), "must be >= 2");
  }

  /// Number of parameters n.
  Eigen::Index dimension() const { return n_; }
  /// (1, …, 1).
  Vector minimizer() const { return Vector::Ones(n_); }
  /// 0.
  Scalar minimum() const { return Scalar(0); }

  /// Returns f(x) and writes ∇f(x) into grad. Throws std::invalid_argument on a size mismatch.
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, G&& grad) const {
    detail::check_call("Rosenbrock", n_, x.rows(), x.cols(), grad.rows(), grad.cols());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_, [&](auto g) { return evaluate(xv, g); });
  }

 private:
  using ConstMap = Eigen::Map<const Vector>;
  using Map = Eigen::Map<Vector>;

  Scalar evaluate(const ConstMap& x, Map g) const {
    const Scalar c100(100), c200(200), c400(400), two(2), one(1);
    Scalar f(0);
    g.setZero();
    for (Eigen::Index i = 0; i + 1 < n_; ++i) {
      const Scalar valley = x[i + 1] - x[i] * x[i];
      const Scalar offset = one - x[i];
      f += c100 * valley * valley + offset * offset;
      g[i] -= c400 * x[i] * valley + two * offset;
      g[i + 1] += c200 * valley;
    }
    return f;
  }

  Eigen::Index n_;
  mutable Vector x_work_, g_work_;
};

}  // namespace descent::problems
