#pragma once
// The Styblinski–Tang function: a separable quartic with two minima per coordinate, hence 2ⁿ local
// minima of which one is global, the deepest but not the widest basin along each axis.

#include <Eigen/Core>
#include <cmath>
#include <string>
#include <vector>

#include "descent/detail/landscapes.hpp"
#include "descent/detail/problems.hpp"

namespace descent::problems {

/// f(x) = ½·Σ_{i=1}^{n} (xᵢ⁴ − 16·xᵢ² + 5·xᵢ)   (Styblinski & Tang 1990), in n-D.
///
/// f is a sum of one function of each coordinate, h(t) = ½·(t⁴ − 16t² + 5t), whose stationary
/// points are the roots of 4t³ − 32t + 5: two minimizers, a = −2.9035340 (h = −39.1661657) and
/// b = 2.7468028 (h = −25.0294467) (coordinate_minimizers(); to full double precision, computed
/// by Newton's method in 40-digit arithmetic), and between them a maximizer at 0.1567313. The 2ⁿ
/// local minimizers of f are the points with every coordinate a or b; the global one is
/// (a, …, a), minimum n·h(a) = −39.16616570377142·n. In the usual domain [−5, 5]ⁿ, where f ranges
/// over [−39.17·n, 125·n], a's basin t < 0.1567 covers 5.157/10 of each axis, so the global
/// minimum drains only a fraction 0.516ⁿ of the domain (26.6% in 2-D).
///
/// An Objective: `f(x, grad)` returns f(x) and writes ∇f(x). `x` and `grad` are any Eigen vectors
/// (or vector expressions; `grad` writable) of `Scalar` with dimension() coefficients, not aliasing
/// each other. A non-contiguous argument is copied through an internal workspace, so one object
/// must not be called from several threads at once.
template <class Scalar = double>
class StyblinskiTang {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// Throws std::invalid_argument unless n >= 1.
  explicit StyblinskiTang(Eigen::Index n) : n_(n) {
    if (n < 1) detail::invalid_option("problems::StyblinskiTang", "n", std::to_string(n), "must be >= 1");
  }

  /// Number of parameters n.
  Eigen::Index dimension() const { return n_; }
  /// (a, …, a), a = −2.903534027771177.
  Vector minimizer() const { return Vector::Constant(n_, Scalar(kGlobal)); }
  /// n·h(a) = −39.16616570377142·n.
  Scalar minimum() const { return Scalar(double(n_) * kGlobalValue); }
  /// {(a, …, a)}.
  std::vector<Vector> global_minimizers() const { return {minimizer()}; }
  /// {a, b} = {−2.903534027771177, 2.746802770990837}: the minimizers of h, in increasing order.
  std::vector<Scalar> coordinate_minimizers() const { return {Scalar(kGlobal), Scalar(kLocal)}; }

  /// The local minimizer (the global one included) closest to x: the one whose every coordinate
  /// is a or b, whichever is closer to xᵢ (a when xᵢ < (a + b)/2 = −0.0783656, b otherwise; the
  /// basins' boundary is at 0.1567313, so a point in between is nearest to a minimizer it does not
  /// drain to). Throws std::invalid_argument unless x is a vector of dimension() finite
  /// coefficients.
  template <detail::ProblemInput<Scalar> X>
  Vector nearest_minimizer(const X& x) const {
    const Eigen::VectorXd p = detail::point_in_double("StyblinskiTang", n_, x);
    Vector out(n_);
    for (Eigen::Index i = 0; i < n_; ++i) {
      out[i] = Scalar(std::abs(p[i] - kGlobal) <= std::abs(p[i] - kLocal) ? kGlobal : kLocal);
    }
    return out;
  }

  /// Returns f(x) and writes ∇f(x) into grad. Throws std::invalid_argument on a size mismatch.
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, G&& grad) const {
    detail::check_call("StyblinskiTang", n_, x.rows(), x.cols(), grad.rows(), grad.cols());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_, [&](auto g) { return evaluate(xv, g); });
  }

 private:
  using ConstMap = Eigen::Map<const Vector>;
  using Map = Eigen::Map<Vector>;

  static constexpr double kGlobal = -2.9035340277711770951;
  static constexpr double kLocal = 2.7468027709908369925;
  static constexpr double kGlobalValue = -39.166165703771415464;

  Scalar evaluate(const ConstMap& x, Map g) const {
    const Scalar half(0.5), two(2), sixteen(16), five(5);
    Scalar f(0);
    for (Eigen::Index i = 0; i < n_; ++i) {
      const Scalar t = x[i], t2 = t * t;
      f += half * (t2 * t2 - sixteen * t2 + five * t);
      g[i] = two * t2 * t - sixteen * t + Scalar(2.5);
    }
    return f;
  }

  Eigen::Index n_;
  mutable Vector x_work_, g_work_;
};

}  // namespace descent::problems
