#pragma once
// Finite-difference check of an objective's analytic gradient: the first thing to run on a new
// objective, before blaming the optimizer.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "descent/detail/checks.hpp"
#include "descent/objective.hpp"

namespace descent {

/// Options of check_gradient. Coordinate i of x is moved by h_i = step·max(1, |x_i|) each way, and
/// numeric_i = (f(x + h_i e_i) − f(x − h_i e_i)) / (2 h_i), where 2 h_i is taken as the distance
/// between the two perturbed coordinates as rounded to x's scalar type (the points f really saw).
struct GradientCheckOptions {
  /// Relative finite-difference step. Default 0, which means ∛ε of x's scalar type (6.1e-6 for
  /// double, 4.9e-3 for float): the step that balances the central difference's truncation error
  /// (∝ h²) against its round-off (∝ ε/h). Finite and >= 0.
  double step = 0.0;
  /// Lower bound of the relative error's denominator, so that a zero gradient component does not
  /// divide by zero: components smaller than the floor have their error measured in units of the
  /// floor. Default 0, which means √ε of x's scalar type (1.5e-8 for double, 3.5e-4 for float).
  /// Finite and >= 0.
  double floor = 0.0;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const {
    detail::require_nonnegative("GradientCheckOptions", "step", step);
    detail::require_nonnegative("GradientCheckOptions", "floor", floor);
  }
};

/// What check_gradient found. Coordinates are numbered in x's storage order (for a vector: its index).
template <class Scalar>
struct GradientCheck {
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  /// f(x), as returned by the call that wrote `analytic`.
  Scalar value{};
  /// The gradient f wrote at x. The buffer is filled with NaN before the call, so a coefficient f
  /// forgets to write shows up as NaN (and as an infinite error).
  Vector analytic;
  /// The central finite-difference estimate of the gradient.
  Vector numeric;
  /// max over i of |analytic_i − numeric_i| / max(|analytic_i|, |numeric_i|, floor). Infinite when
  /// any component of either gradient is NaN or infinite; 0 when x is empty.
  double max_relative_error = 0.0;
  /// The coordinate where max_relative_error is reached (the first one on ties); −1 when x is empty.
  Eigen::Index worst_index = -1;
  /// max over i of |analytic_i − numeric_i| (infinite like max_relative_error).
  double max_absolute_error = 0.0;
  /// ‖analytic − numeric‖ / max(‖analytic‖, ‖numeric‖, floor), Euclidean norms (infinite like
  /// max_relative_error). One number for the whole gradient: unlike max_relative_error it is not
  /// dominated by components much smaller than the others, whose finite-difference estimates are
  /// mostly round-off (which matters in float).
  double norm_relative_error = 0.0;
  /// The floor actually used (options.floor, or √ε when that is 0).
  double floor = 0.0;
};

namespace detail {

/// The Matrix or Array type that an Eigen expression evaluates to.
template <class X>
using plain_object_t = typename X::PlainObject;

/// `F` (possibly a reference type) is an Objective over the plain type of the Eigen expression `X`.
template <class F, class X>
concept ObjectiveAt = Objective<std::remove_reference_t<F>, plain_object_t<X>>;

/// `F` (possibly a reference type) is a StochasticObjective over the plain type of `X`.
template <class F, class X>
concept StochasticObjectiveAt = StochasticObjective<std::remove_reference_t<F>, plain_object_t<X>>;

/// The check, on `x` (the caller's copy, perturbed one coordinate at a time and restored exactly)
/// with `eval(x, grad)` returning f(x) and writing its gradient.
template <class V, class Eval>
GradientCheck<typename V::Scalar> check_gradient(V& x, const GradientCheckOptions& options, Eval&& eval) {
  using Scalar = typename V::Scalar;
  options.validate();
  const double eps = double(std::numeric_limits<Scalar>::epsilon());
  const double base_step = options.step > 0.0 ? options.step : std::cbrt(eps);

  GradientCheck<Scalar> out;
  out.floor = options.floor > 0.0 ? options.floor : std::sqrt(eps);
  const Eigen::Index n = x.size();

  V grad(x.rows(), x.cols());
  grad.setConstant(std::numeric_limits<Scalar>::quiet_NaN());
  out.value = Scalar(eval(std::as_const(x), grad));
  detail::assign(out.analytic, grad.reshaped());
  out.numeric.resize(n);

  for (Eigen::Index i = 0; i < n; ++i) {
    const Scalar xi = x.coeff(i);
    const double h = base_step * std::max(1.0, std::abs(double(xi)));
    const auto plus = Scalar(double(xi) + h);
    const auto minus = Scalar(double(xi) - h);
    // A step that rounds away in Scalar would divide 0 by 0 and report an exact gradient as
    // infinitely wrong: refuse it instead.
    if (!(double(plus) > double(minus))) {
      invalid_option("GradientCheckOptions", "step", base_step,
                     concat("is too small for coordinate ", std::to_string(i), " (x = ", format_number(double(xi)),
                            "): x ± step·max(1, |x|) rounds to x in ", scalar_name<Scalar>()));
    }
    x.coeffRef(i) = plus;
    const auto f_plus = double(eval(std::as_const(x), grad));
    x.coeffRef(i) = minus;
    const auto f_minus = double(eval(std::as_const(x), grad));
    x.coeffRef(i) = xi;
    out.numeric[i] = Scalar((f_plus - f_minus) / (double(plus) - double(minus)));
  }

  constexpr double inf = std::numeric_limits<double>::infinity();
  for (Eigen::Index i = 0; i < n; ++i) {
    const double a = double(out.analytic[i]);
    const double num = double(out.numeric[i]);
    double absolute = std::abs(a - num);
    double relative = absolute / std::max({std::abs(a), std::abs(num), out.floor});
    // NaN compares false with everything: without this a NaN gradient would pass every check.
    if (!std::isfinite(a) || !std::isfinite(num)) absolute = relative = inf;
    if (out.worst_index < 0 || relative > out.max_relative_error) {
      out.max_relative_error = relative;
      out.worst_index = i;
    }
    out.max_absolute_error = std::max(out.max_absolute_error, absolute);
  }
  const Eigen::VectorXd analytic = out.analytic.template cast<double>();
  const Eigen::VectorXd numeric = out.numeric.template cast<double>();
  out.norm_relative_error =
      (analytic - numeric).stableNorm() / std::max({analytic.stableNorm(), numeric.stableNorm(), out.floor});
  if (!std::isfinite(out.norm_relative_error)) out.norm_relative_error = inf;
  return out;
}

}  // namespace detail

/// Compares the gradient an Objective writes at `x` with central finite differences (see
/// GradientCheckOptions): 2·x.size() + 1 calls of `f(x, grad)`, each with an x of x's plain type
/// (a copy: the caller's `x` is never modified). Throws std::invalid_argument on invalid options
/// and on a step so small that a perturbed coordinate rounds back to x's value.
///
///     auto check = descent::check_gradient(f, x);
///     assert(check.max_relative_error < 1e-6);  // in double; in float, norm_relative_error < 1e-3
template <detail::DenseExpression X, detail::ObjectiveAt<X> F>
GradientCheck<typename X::Scalar> check_gradient(F&& f, const X& x, const GradientCheckOptions& options = {}) {
  using V = typename X::PlainObject;
  V copy = x;
  return detail::check_gradient(copy, options, [&](const V& p, V& g) { return f(p, g); });
}

/// The same for a StochasticObjective on one minibatch: checks the gradient of the mean loss over
/// `batch` that `f(x, batch, grad)` writes. Also throws std::invalid_argument when an index of the
/// batch is outside [0, f.size()).
template <detail::DenseExpression X, detail::StochasticObjectiveAt<X> F>
GradientCheck<typename X::Scalar> check_gradient(F&& f, const X& x, Batch batch,
                                                 const GradientCheckOptions& options = {}) {
  const auto n = Eigen::Index(std::as_const(f).size());
  for (std::size_t k = 0; k < batch.size(); ++k) {
    if (batch[k] < 0 || batch[k] >= n) {
      detail::invalid_option("check_gradient", detail::concat("batch[", std::to_string(k), "]"),
                             std::to_string(batch[k]), detail::concat("must be in [0, f.size() = ", std::to_string(n), ")"));
    }
  }
  using V = typename X::PlainObject;
  V copy = x;
  return detail::check_gradient(copy, options, [&](const V& p, V& g) { return f(p, batch, g); });
}

}  // namespace descent
