#pragma once
// The Rastrigin function: a paraboloid with a cosine egg-crate on top, so that every integer
// lattice point of the usual domain has a local minimum next to it and only the central one is
// global. The standard test of getting stuck.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <string>
#include <vector>

#include "descent/detail/landscapes.hpp"
#include "descent/detail/problems.hpp"

namespace descent::problems {

/// f(x) = 10·n + Σ_{i=1}^{n} (xᵢ² − 10·cos 2πxᵢ)   (Rastrigin 1974; Mühlenbein et al. 1991 in
/// n-D), computed as Σ (xᵢ² + 10·(1 − cos 2πxᵢ)) so that f(0) is exactly 0.
///
/// Global minimizer x* = 0, minimum f(x*) = 0. f is a sum of one function of each coordinate,
/// h(t) = t² + 10·(1 − cos 2πt), whose local minimizers m_k lie next to the integers k with
/// |k| <= 31 (coordinate_minimizers(); m_0 = 0, m_1 = 0.994959, m_2 = 1.989918, pulled towards 0
/// because t² tilts the cosine; beyond |t| = 10π ≈ 31.4 the parabola's slope 2t exceeds the
/// ripple's 20π and h has no more minima). The local minimizers of f are the 63ⁿ points whose
/// coordinates are all among the m_k, with f = Σ h(m_kᵢ) (about k₁² + … + kₙ²); in the usual
/// domain [−5.12, 5.12]ⁿ there are 11ⁿ of them.
///
/// An Objective: `f(x, grad)` returns f(x) and writes ∇f(x). `x` and `grad` are any Eigen vectors
/// (or vector expressions; `grad` writable) of `Scalar` with dimension() coefficients, not aliasing
/// each other. A non-contiguous argument is copied through an internal workspace, so one object
/// must not be called from several threads at once.
template <class Scalar = double>
class Rastrigin {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// Throws std::invalid_argument unless n >= 1. Computes the m_k by Newton's method on h' in
  /// double (63 one-dimensional solves, each from t = k).
  explicit Rastrigin(Eigen::Index n) : n_(n) {
    if (n < 1) detail::invalid_option("problems::Rastrigin", "n", std::to_string(n), "must be >= 1");
    coordinate_minimizers_.reserve(2 * kLargest + 1);
    for (int k = -kLargest; k <= kLargest; ++k) coordinate_minimizers_.push_back(k == 0 ? 0.0 : solve(k));
  }

  /// Number of parameters n.
  Eigen::Index dimension() const { return n_; }
  /// 0.
  Vector minimizer() const { return Vector::Zero(n_); }
  /// 0.
  Scalar minimum() const { return Scalar(0); }
  /// {0}.
  std::vector<Vector> global_minimizers() const { return {minimizer()}; }
  /// The 63 local minimizers m_{−31} < … < m_0 = 0 < … < m_31 of h(t) = t² + 10·(1 − cos 2πt), to
  /// double precision (m_{−k} = −m_k).
  std::vector<Scalar> coordinate_minimizers() const {
    return std::vector<Scalar>(coordinate_minimizers_.begin(), coordinate_minimizers_.end());
  }

  /// The local minimizer (the global one included) closest to x: since the minimizers are all the
  /// combinations of the m_k, the one whose every coordinate is the m_k closest to xᵢ. Throws
  /// std::invalid_argument unless x is a vector of dimension() finite coefficients.
  template <detail::ProblemInput<Scalar> X>
  Vector nearest_minimizer(const X& x) const {
    const Eigen::VectorXd p = detail::point_in_double("Rastrigin", n_, x);
    Vector out(n_);
    for (Eigen::Index i = 0; i < n_; ++i) {
      const double k = std::clamp(std::round(p[i]), double(-kLargest), double(kLargest));
      double best = coordinate_minimizers_[std::size_t(int(k) + kLargest)];
      // The m_k are not midway between the integers, so the nearest may be a neighbour's.
      for (const double neighbour : {k - 1, k + 1}) {
        if (std::abs(neighbour) > kLargest) continue;
        const double m = coordinate_minimizers_[std::size_t(int(neighbour) + kLargest)];
        if (std::abs(m - p[i]) < std::abs(best - p[i])) best = m;
      }
      out[i] = Scalar(best);
    }
    return out;
  }

  /// Returns f(x) and writes ∇f(x) into grad. Throws std::invalid_argument on a size mismatch.
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, G&& grad) const {
    detail::check_call("Rastrigin", n_, x.rows(), x.cols(), grad.rows(), grad.cols());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_, [&](auto g) { return evaluate(xv, g); });
  }

 private:
  using ConstMap = Eigen::Map<const Vector>;
  using Map = Eigen::Map<Vector>;

  static constexpr int kLargest = 31;

  // Newton on h'(t) = 2t + 20π·sin 2πt from t = k, with h''(t) = 2 + 40π²·cos 2πt > 0 near each
  // m_k (|k| <= 31), so it converges to the minimizer and not to a neighbouring maximizer.
  static double solve(int k) {
    constexpr double pi = std::numbers::pi;
    double t = k;
    for (int iteration = 0; iteration < 50; ++iteration) {
      const double step = (2 * t + 20 * pi * std::sin(2 * pi * t)) / (2 + 40 * pi * pi * std::cos(2 * pi * t));
      t -= step;
      if (std::abs(step) <= 1e-16 * std::abs(t)) break;
    }
    return t;
  }

  Scalar evaluate(const ConstMap& x, Map g) const {
    const Scalar two_pi = Scalar(2) * std::numbers::pi_v<Scalar>, ten(10), one(1), two(2);
    const Scalar twenty_pi = ten * two_pi;
    Scalar f(0);
    for (Eigen::Index i = 0; i < n_; ++i) {
      const Scalar t = x[i];
      f += t * t + ten * (one - std::cos(two_pi * t));
      g[i] = two * t + twenty_pi * std::sin(two_pi * t);
    }
    return f;
  }

  Eigen::Index n_;
  std::vector<double> coordinate_minimizers_;
  mutable Vector x_work_, g_work_;
};

}  // namespace descent::problems
