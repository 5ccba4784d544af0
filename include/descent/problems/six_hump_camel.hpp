#pragma once
// The six-hump camel function: six local minima, two of them global, in a small box: the standard
// two-dimensional test of which basin a method ends in.

#include <Eigen/Core>
#include <vector>

#include "descent/detail/landscapes.hpp"
#include "descent/detail/problems.hpp"

namespace descent::problems {

/// f(x, y) = (4 − 2.1·x² + x⁴/3)·x² + x·y + (−4 + 4·y²)·y²   (Dixon & Szegő 1978), in 2-D.
///
/// Six local minimizers, symmetric under (x, y) → (−x, −y) (the coordinates to full double
/// precision, computed by Newton's method in 40-digit arithmetic, here rounded):
///   global, f = −1.0316285:   (0.089842, −0.712656) (minimizer()) and (−0.089842, 0.712656);
///   local,  f = −0.2154638:   (1.703607, −0.796084) and (−1.703607, 0.796084);
///   local,  f = 2.1042503:    (1.607105, 0.568651) and (−1.607105, −0.568651).
/// The usual domain is x ∈ [−3, 3], y ∈ [−2, 2], where f ranges over [−1.03, 163] (the x⁶/3 term
/// dominates at |x| = 3).
///
/// An Objective: `f(x, grad)` returns f(x) and writes ∇f(x). `x` and `grad` are any Eigen vectors
/// (or vector expressions; `grad` writable) of `Scalar` with 2 coefficients, not aliasing each
/// other. A non-contiguous argument is copied through an internal workspace, so one object must
/// not be called from several threads at once.
template <class Scalar = double>
class SixHumpCamel {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// 2.
  Eigen::Index dimension() const { return 2; }
  /// (0.089842, −0.712656).
  Vector minimizer() const { return global_minimizers().front(); }
  /// −1.0316284534898774.
  Scalar minimum() const { return Scalar(-1.0316284534898773504); }
  /// The two global minimizers, (0.089842, −0.712656) first.
  std::vector<Vector> global_minimizers() const { return detail::points_from<Scalar>(kGlobal); }
  /// The four local minimizers that are not global, the two with f = −0.2154638 first.
  std::vector<Vector> local_minimizers() const { return detail::points_from<Scalar>(kLocal); }

  /// Of the six local minimizers (global ones included), the one closest to x (Euclidean
  /// distance; the first on ties, globals before the others). Throws std::invalid_argument unless
  /// x is a vector of 2 finite coefficients.
  template <detail::ProblemInput<Scalar> X>
  Vector nearest_minimizer(const X& x) const {
    const Eigen::VectorXd p = detail::point_in_double("SixHumpCamel", 2, x);
    std::vector<Vector> all = global_minimizers();
    for (Vector& m : local_minimizers()) all.push_back(std::move(m));
    std::vector<Eigen::VectorXd> in_double;
    for (const Vector& m : all) in_double.push_back(m.template cast<double>());
    return all[detail::nearest_index(in_double, p)];
  }

  /// Returns f(x) and writes ∇f(x) into grad. Throws std::invalid_argument on a size mismatch.
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, G&& grad) const {
    detail::check_call("SixHumpCamel", 2, x.rows(), x.cols(), grad.rows(), grad.cols());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_, [&](auto g) { return evaluate(xv, g); });
  }

 private:
  using ConstMap = Eigen::Map<const Vector>;
  using Map = Eigen::Map<Vector>;

  static constexpr double kGlobal[2][2] = {{0.089842013100318062422, -0.7126564030207396334},
                                           {-0.089842013100318062422, 0.7126564030207396334}};
  static constexpr double kLocal[4][2] = {{1.7036067149699808488, -0.79608356867262511903},
                                          {-1.7036067149699808488, 0.79608356867262511903},
                                          {1.6071047529201972298, 0.56865145488413137139},
                                          {-1.6071047529201972298, -0.56865145488413137139}};

  static Scalar evaluate(const ConstMap& p, Map g) {
    const Scalar x = p[0], y = p[1], four(4);
    const Scalar x2 = x * x, y2 = y * y;
    g[0] = x * (Scalar(8) - Scalar(8.4) * x2 + Scalar(2) * x2 * x2) + y;
    g[1] = x + y * (Scalar(16) * y2 - Scalar(8));
    return (four - Scalar(2.1) * x2 + x2 * x2 / Scalar(3)) * x2 + x * y + (four * y2 - four) * y2;
  }

  mutable Vector x_work_, g_work_;
};

}  // namespace descent::problems
