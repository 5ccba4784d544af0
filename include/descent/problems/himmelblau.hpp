#pragma once
// Himmelblau's function: four global minima of equal depth and nothing else to get stuck in, so
// which one an optimizer reaches says where it was pushed, not whether it failed.

#include <Eigen/Core>
#include <vector>

#include "descent/detail/landscapes.hpp"
#include "descent/detail/problems.hpp"

namespace descent::problems {

/// f(x, y) = (x² + y − 11)² + (x + y² − 7)²   (Himmelblau 1972), in 2-D.
///
/// Four global minimizers, all with f = 0: (3, 2) (minimizer()), (−2.805118, 3.131313),
/// (−3.779310, −3.283186) and (3.584428, −1.848127) (global_minimizers(), the last three to full
/// double precision, computed by Newton's method in 40-digit arithmetic). No other local minimum;
/// one local maximum, at (−0.270845, −0.923039) with f = 181.617 (local_maximizer()), and saddles
/// between the basins. The usual domain is [−5, 5]², where f ranges over [0, 890].
///
/// An Objective: `f(x, grad)` returns f(x) and writes ∇f(x). `x` and `grad` are any Eigen vectors
/// (or vector expressions; `grad` writable) of `Scalar` with 2 coefficients, not aliasing each
/// other. A non-contiguous argument is copied through an internal workspace, so one object must
/// not be called from several threads at once.
template <class Scalar = double>
class Himmelblau {
 public:
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// 2.
  Eigen::Index dimension() const { return 2; }
  /// (3, 2).
  Vector minimizer() const { return global_minimizers().front(); }
  /// 0.
  Scalar minimum() const { return Scalar(0); }
  /// The four global minimizers, (3, 2) first, then counter-clockwise.
  std::vector<Vector> global_minimizers() const { return detail::points_from<Scalar>(kMinimizers); }
  /// The known local minimizers that are not global: none.
  std::vector<Vector> local_minimizers() const { return {}; }
  /// The one local maximizer, (−0.270845, −0.923039), where f = 181.617.
  Vector local_maximizer() const { return detail::points_from<Scalar>(kMaximizer).front(); }

  /// The global minimizer closest to x (Euclidean distance; the first on ties): with no other
  /// local minima, the one a descent method that converges from near x reaches. Throws
  /// std::invalid_argument unless x is a vector of 2 coefficients.
  template <detail::ProblemInput<Scalar> X>
  Vector nearest_minimizer(const X& x) const {
    const Eigen::VectorXd p = detail::point_in_double("Himmelblau", 2, x);
    const auto all = global_minimizers();
    std::vector<Eigen::VectorXd> in_double;
    for (const Vector& m : all) in_double.push_back(m.template cast<double>());
    return all[detail::nearest_index(in_double, p)];
  }

  /// Returns f(x) and writes ∇f(x) into grad. Throws std::invalid_argument on a size mismatch.
  template <detail::ProblemInput<Scalar> X, detail::ProblemOutput<Scalar> G>
  Scalar operator()(const X& x, G&& grad) const {
    detail::check_call("Himmelblau", 2, x.rows(), x.cols(), grad.rows(), grad.cols());
    const auto xv = detail::contiguous_input(x, x_work_);
    return detail::with_contiguous_output(grad, g_work_, [&](auto g) { return evaluate(xv, g); });
  }

 private:
  using ConstMap = Eigen::Map<const Vector>;
  using Map = Eigen::Map<Vector>;

  static constexpr double kMinimizers[4][2] = {{3.0, 2.0},
                                               {-2.8051180869527448531, 3.1313125182505729658},
                                               {-3.7793102533777468919, -3.2831859912861694123},
                                               {3.5844283403304917449, -1.8481265269644035535}};
  static constexpr double kMaximizer[1][2] = {{-0.27084459066734761304, -0.92303855647998146313}};

  static Scalar evaluate(const ConstMap& p, Map g) {
    const Scalar x = p[0], y = p[1], two(2), four(4);
    const Scalar a = x * x + y - Scalar(11);
    const Scalar b = x + y * y - Scalar(7);
    g[0] = four * x * a + two * b;
    g[1] = two * a + four * y * b;
    return a * a + b * b;
  }

  mutable Vector x_work_, g_work_;
};

}  // namespace descent::problems
