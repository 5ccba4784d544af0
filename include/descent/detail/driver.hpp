#pragma once
// What minimize and train share: the parameter types they accept, the checks on what the user's
// objective hands back, the guarded step, and the callbacks' bookkeeping.

#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "descent/callbacks.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/step_guard.hpp"
#include "descent/stopping.hpp"

namespace descent::detail {

/// The plain Eigen type behind the parameters a driver is given (V for a V, a Map<V> or a Ref<V>).
template <class X>
using params_vector_t = typename plain_t<X>::PlainObject;

/// What a driver can update in place: a V, Map<V> or Ref<V> (a writable object with its own
/// storage), of float or double.
template <class X>
concept DriverParams = DenseExpression<plain_t<X>> && PlainEigen<params_vector_t<X>> &&
    ParamsOf<X, params_vector_t<X>> && has_direct_access_v<X>;

/// Relative change test of StopCriteria::loss_tolerance.
inline bool loss_converged(double previous, double current, double tolerance) {
  return tolerance > 0.0 && std::abs(current - previous) <= tolerance * std::max(std::abs(previous), 1e-300);
}

/// ‖g‖₂ computed in double (a float gradient of finite coefficients near 3e38 has a finite norm
/// that float cannot hold), falling back to Eigen's overflow-safe norm when even double overflows.
template <class G>
double gradient_norm(const G& g) {
  // cast<double>() of a double gradient is a copy, not a view: an allocation per call
  if constexpr (std::is_same_v<typename G::Scalar, double>) {
    const double n = g.norm();
    if (std::isfinite(n) || !detail::all_finite(g)) return n;
    return g.stableNorm();
  } else {
    const auto gd = g.template cast<double>();
    const double n = gd.norm();
    if (std::isfinite(n) || !detail::all_finite(g)) return n;
    return double(gd.eval().stableNorm());
  }
}

/// Throws std::invalid_argument when the objective resized the gradient it was handed.
template <class G>
void check_gradient_shape(std::string_view driver, const G& grad, Eigen::Index rows, Eigen::Index cols) {
  if (grad.rows() == rows && grad.cols() == cols) return;
  throw std::invalid_argument(concat("descent::", driver, ": the objective resized its gradient to ",
                                     shape_text(grad.rows(), grad.cols()),
                                     "; it must write a gradient of the parameters' shape ", shape_text(rows, cols)));
}

/// Says which value of an evaluation was not finite: the loss, or the first non-finite
/// coefficient of the gradient (whose buffer starts as NaN, so a coefficient never written is one).
template <class G>
std::string nonfinite_message(double loss, const G& grad, std::int64_t iteration, bool at_start) {
  const std::string where = at_start ? std::string(" at the starting point") : concat(" after step ", std::to_string(iteration));
  if (!std::isfinite(loss)) return concat("the loss is ", format_number(loss), where);
  Eigen::Index index = 0;
  while (index + 1 < grad.size() && std::isfinite(double(grad.reshaped().coeff(index)))) ++index;
  const double value = double(grad.reshaped().coeff(index));
  return concat("gradient coefficient ", std::to_string(index), " is ", format_number(value), where,
                std::isnan(value) ? " (the gradient buffer is filled with NaN before the first call: did the objective "
                                    "write every coefficient?)"
                                  : "");
}

/// Calls every callback's on_end; true if one of them says it changed the parameters.
template <class X, class... C>
bool end_callbacks(X& x, const Report& report, C&... callbacks) {
  bool changed = false;
  (
      [&] {
        if constexpr (HasOnEnd<C, X>) {
          if constexpr (std::is_convertible_v<decltype(callbacks.on_end(x, report)), bool>)
            changed = bool(callbacks.on_end(x, report)) || changed;
          else
            callbacks.on_end(x, report);
        }
      }(),
      ...);
  return changed;
}

/// Tells every callback with an on_abort() member that the run ended by an exception (so that a
/// ProgressBar or History is ready for the next run). Never throws: an exception is in flight.
template <class... C>
void abort_callbacks(C&... callbacks) noexcept {
  (
      [&] {
        if constexpr (HasOnAbort<C>) {
          try {
            callbacks.on_abort();
          } catch (...) {  // the run's own exception is the one to report
          }
        }
      }(),
      ...);
}

/// The parameters as callbacks see them: a read-only Ref over x's own memory (no copy for the
/// unit-stride V, Map<V> and Ref<V> a driver is usually given).
template <class V, class X, class... C>
bool notify_with(const X& x, std::int64_t iteration, std::int64_t epoch, double loss, double gnorm, bool end_of_epoch,
                 const StopCriteria& stop, bool stochastic, C&... callbacks) {
  if constexpr (sizeof...(C) == 0) {
    return true;
  } else {
    const Eigen::Ref<const V> params(x);
    return notify_all(Progress<V>{iteration, epoch, loss, gnorm, params, end_of_epoch, stop, stochastic},
                      callbacks...);
  }
}

/// The one step both drivers take: back up x, step, and undo the step if it made a parameter
/// non-finite. Returns whether the new x is finite.
template <class X, class V, class O, class G>
bool guarded_step(X& x, V& previous, O& optimizer, const G& grad) {
  previous = x;
  optimizer.step(x, grad);
  if (detail::all_finite(x)) return true;
  x = previous;
  return false;
}

/// One step of an optimizer with guarded_kernels_v under a StepGuard over the contiguous x: its
/// kernels store x as it was into `backup` (x's size; coefficients the step leaves alone are not
/// written) and sum g·0 + p_new·0. Returns the guard; throws std::logic_error if the step did not
/// keep the promise guarded_kernels_v makes (an internal error of descent).
template <class O, class X, class G, class Scalar>
StepGuard<Scalar> step_under_guard(O& optimizer, X& x, const G& grad, Scalar* backup) {
  StepGuard<Scalar> guard{x.data(), x.size(), backup};
  {
    const StepGuardScope<Scalar> scope(guard);
    optimizer.step(x, grad);
  }
  if (guard.outside || guard.covered > x.size() || (!guard_may_skip_v<O> && guard.covered != x.size()))
    throw std::logic_error(
        "descent: internal error: an optimizer marked guarded_kernels_v updated memory outside its parameters, a "
        "coefficient twice, or not every coefficient");
  return guard;
}

/// guarded_step for an optimizer with guarded_kernels_v over a contiguous x, in the step's own
/// pass: `previous` (x's shape; filled with x beforehand if guard_may_skip_v<O>) receives x, and a
/// step whose new x is not finite is undone from it. The gradient must be known to be finite.
template <class X, class V, class O, class G>
bool fused_guarded_step(X& x, V& previous, O& optimizer, const G& grad) {
  const auto guard = step_under_guard(optimizer, x, grad, previous.data());
  if (guard.zeros == typename V::Scalar(0)) return true;
  x = previous;
  return false;
}

/// A gradient buffer of x's shape, all NaN: a coefficient the objective does not write stays NaN
/// and stops the run with a message instead of feeding uninitialized memory to the optimizer.
template <class V>
V nan_buffer(Eigen::Index rows, Eigen::Index cols) {
  return V::Constant(rows, cols, std::numeric_limits<typename V::Scalar>::quiet_NaN());
}

}  // namespace descent::detail
