#pragma once
// Beale's function: one minimum at the end of a curved valley, flat plateaus around it and walls
// of 1e5 in the corners, so a fixed step that is safe on the walls crawls on the plateaus.

#include <Eigen/Core>
#include <vector>

#include "descent/detail/landscapes.hpp"
#include "descent/detail/problems.hpp"

namespace descent::problems {

/// f(x, y) = (1.5 − x + x·y)² + (2.25 − x + x·y²)² + (2.625 − x + x·y³)²   (Beale 1958), in 2-D.
///
/// One minimizer, global: (3, 0.5), f = 0. No other local minimum in the plane, but plateaus: f is
/// 14.203125 on the whole lines x = 0 and y = 1 (every residual is then its constant), which cross
/// at the saddle point (0, 1). Left of it a valley just above y = 1 (its floor near
/// y = 1 + 0.991/|x|) descends towards f = 0.452 as x → −∞ without reaching a minimum, so iterates
/// on the left can slide away along it (to the right, the same valley rises from the minimum
/// towards 0.452 as x → +∞). The usual domain is [−4.5, 4.5]², where f ranges over [0, 1.8e5]
/// (the y³ term dominates the corners).
///
/// An Objective: `f(x, grad)` returns f(x) and writes ∇f(x). `x` and `grad` are any Eigen vectors
/// (or vector expressions; `grad` writable) of `Scalar` with 2 coefficients, not aliasing each
/// other. A non-contiguous argument is copied through an internal workspace, so one object must
/// not be called from several threads at once.
template <class Scalar = double>
class Beale {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// 2.
  Eigen::Index dimension() const { return 2; }
  /// (3, 0.5).
  Vector minimizer() const { return detail::points_from<Scalar>(kMinimizer).front(); }
  /// 0.
  Scalar minimum() const { return Scalar(0); }
  /// {(3, 0.5)}.
  std::vector<Vector> global_minimizers() const { return {minimizer()}; }
  /// The known local minimizers that are not global: none.
  std::vector<Vector> local_minimizers() const { return {}; }

  /// (3, 0.5), the only minimizer, whatever x: a run that does not end near it ended on a plateau
  /// or in the valley to the right. Throws std::invalid_argument unless x is a vector of 2 finite
  /// coefficients.
  template <detail::ProblemInput<Scalar> X>
  Vector nearest_minimizer(const X& x) const {
    detail::point_in_double("Beale", 2, x);
    return minimizer();
  }

  /// Returns f(x) and writes ∇f(x) into grad. Throws std::invalid_argument on a size mismatch.
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, G&& grad) const {
    detail::check_call("Beale", 2, x.rows(), x.cols(), grad.rows(), grad.cols());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_, [&](auto g) { return evaluate(xv, g); });
  }

 private:
  using ConstMap = Eigen::Map<const Vector>;
  using Map = Eigen::Map<Vector>;

  static constexpr double kMinimizer[1][2] = {{3.0, 0.5}};

  static Scalar evaluate(const ConstMap& p, Map g) {
    const Scalar x = p[0], y = p[1], one(1), two(2), three(3);
    const Scalar y2 = y * y, y3 = y2 * y;
    const Scalar r1 = Scalar(1.5) - x + x * y;
    const Scalar r2 = Scalar(2.25) - x + x * y2;
    const Scalar r3 = Scalar(2.625) - x + x * y3;
    g[0] = two * (r1 * (y - one) + r2 * (y2 - one) + r3 * (y3 - one));
    g[1] = two * x * (r1 + two * y * r2 + three * y2 * r3);
    return r1 * r1 + r2 * r2 + r3 * r3;
  }

  mutable Vector x_work_, g_work_;
};

}  // namespace descent::problems
