#pragma once
// Ackley's function: a nearly flat outer region riddled with small local minima, one at every
// integer lattice point, around a deep funnel whose bottom, the global minimum, is a kink.

#include <Eigen/Core>
#include <cmath>
#include <numbers>
#include <vector>

#include "descent/detail/landscapes.hpp"
#include "descent/detail/problems.hpp"

namespace descent::problems {

/// f(x) = −20·exp(−0.2·√(½·(x₁² + x₂²))) − exp(½·(cos 2πx₁ + cos 2πx₂)) + 20 + e   (Ackley 1987),
/// in 2-D, computed as (20 − 20·exp(−0.2·r)) + (e − exp(c)) so that f(0) is exactly 0.
///
/// Global minimizer x* = (0, 0), minimum f(x*) = 0. It is a kink: the first term is a cone in
/// r = ‖x‖/√2, whose gradient 2·exp(−0.2·r)·x/r has length 2√2·exp(−0.2·r), which tends to 2√2
/// as x → 0 from every direction, each direction its own: it has no limit at 0. At x = 0 exactly
/// the cone's gradient is taken to be 0 (the centre of its subdifferential, the disc of radius
/// 2√2), so ∇f(0) = 0 and 0 is a stationary point, without a NaN from 0/0;
/// near 0 the gradient stays bounded (|∂f/∂xᵢ| <= 2√2 + π·e), so gradient methods oscillate
/// around the kink at a distance set by their step size rather than converge onto it. One local
/// minimizer lies near every other integer lattice point k, pulled towards the origin by under
/// 0.05 (for instance (0.9522, 0) with f = 2.580, and (0.9685, 0.9685) with f = 3.574). The usual
/// domain is [−32.768, 32.768]², often cut to [−5, 5]² where f ranges over [0, 14.3].
///
/// An Objective: `f(x, grad)` returns f(x) and writes ∇f(x). `x` and `grad` are any Eigen vectors
/// (or vector expressions; `grad` writable) of `Scalar` with 2 coefficients, not aliasing each
/// other. A non-contiguous argument is copied through an internal workspace, so one object must
/// not be called from several threads at once.
template <class Scalar = double>
class Ackley {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// 2.
  Eigen::Index dimension() const { return 2; }
  /// (0, 0).
  Vector minimizer() const { return Vector::Zero(2); }
  /// 0.
  Scalar minimum() const { return Scalar(0); }
  /// {(0, 0)}.
  std::vector<Vector> global_minimizers() const { return {minimizer()}; }

  /// The local minimizer (the global one included) closest to x: the origin, or one of the
  /// minimizers next to the nine lattice points round(x) + {−1, 0, 1}², each found by Newton's
  /// method in double from its lattice point (and checked to be a minimum: there the Hessian is
  /// positive definite). Throws std::invalid_argument unless x is a vector of 2 finite
  /// coefficients, and std::runtime_error if Newton's method fails, which it does not for any
  /// lattice point of [−32, 32]² (a test checks them all).
  template <detail::ProblemInput<Scalar> X>
  Vector nearest_minimizer(const X& x) const {
    const Eigen::VectorXd p = detail::point_in_double("Ackley", 2, x);
    const Eigen::VectorXd k = p.array().round().matrix();
    std::vector<Eigen::VectorXd> candidates;
    for (int di = -1; di <= 1; ++di) {
      for (int dj = -1; dj <= 1; ++dj) {
        const Eigen::Vector2d lattice(k[0] + di, k[1] + dj);
        if (lattice.isZero(0.0)) {
          candidates.push_back(Eigen::VectorXd::Zero(2));
        } else {
          candidates.push_back(detail::newton_local_minimizer(
              "Ackley", [](const Eigen::VectorXd& q, Eigen::VectorXd& g) { Ackley<double>::evaluate(q, g); },
              Eigen::VectorXd(lattice)));
        }
      }
    }
    return candidates[detail::nearest_index(candidates, p)].template cast<Scalar>();
  }

  /// Returns f(x) and writes ∇f(x) into grad (with ∇f(0) = 0, see above). Throws
  /// std::invalid_argument on a size mismatch.
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, G&& grad) const {
    detail::check_call("Ackley", 2, x.rows(), x.cols(), grad.rows(), grad.cols());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_, [&](auto g) { return evaluate(xv, g); });
  }

 private:
  template <class>
  friend class Ackley;

  template <class P, class G>
  static Scalar evaluate(const P& p, G&& g) {
    const Scalar x = p[0], y = p[1], half(0.5), twenty(20), fifth(0.2);
    const Scalar two_pi = Scalar(2) * std::numbers::pi_v<Scalar>;
    // hypot, not √(x² + y²): the squares underflow for |x| < 1e-154 (in float, 1e-19), which would
    // make the gradient drop to 0 short of the origin.
    const Scalar r = std::hypot(x, y) * std::sqrt(half);
    const Scalar cone = std::exp(-fifth * r);
    const Scalar c = half * (std::cos(two_pi * x) + std::cos(two_pi * y));
    const Scalar ripple = std::exp(c);
    // d/dxᵢ of −20·exp(−0.2r) is 2·exp(−0.2r)·xᵢ/r, with |xᵢ/r| <= √2: divided in that order it
    // cannot overflow, even for subnormal x.
    const Scalar two_cone = Scalar(2) * cone;
    const Scalar wave = std::numbers::pi_v<Scalar> * ripple;
    const bool origin = !(r > Scalar(0));
    g[0] = (origin ? Scalar(0) : two_cone * (x / r)) + wave * std::sin(two_pi * x);
    g[1] = (origin ? Scalar(0) : two_cone * (y / r)) + wave * std::sin(two_pi * y);
    // e as exp(1) in Scalar, so that at the origin (c = 1 exactly) the second bracket is exactly 0.
    return (twenty - twenty * cone) + (std::exp(Scalar(1)) - ripple);
  }

  mutable Vector x_work_, g_work_;
};

}  // namespace descent::problems
