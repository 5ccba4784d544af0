#pragma once
// minimize: full-batch optimization of an Objective with any Optimizer (either form: see optimizer.hpp).

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "descent/callbacks.hpp"
#include "descent/detail/diagnostics.hpp"
#include "descent/detail/driver.hpp"
#include "descent/objective.hpp"
#include "descent/optimizer.hpp"
#include "descent/stopping.hpp"

namespace descent {

/// Minimizes `f` from `x` (a V, `Eigen::Map<V>` or `Ref<V>`, updated in place) with `optimizer`
/// (an Optimizer, or an ObjectiveOptimizer such as LBFGS, for which one iteration is one
/// `optimizer.step(f, x)`: up to its max_iter inner iterations)
/// (taken by reference: a named optimizer keeps its state; a temporary works too) until one of
/// `stop`'s criteria is met, calling `callbacks` after every step.
///
/// Each iteration evaluates f and its gradient at x, checks the criteria, and steps; the loss and
/// gradient norm passed to callbacks and reported are those at the new parameters. If the loss or
/// the gradient is NaN or infinite, or a step produces a non-finite parameter, the run stops with
/// StopReason::NonFinite, `report.message` says which value, and x is put back to the last
/// iterate where everything was finite (the optimizer's state keeps that last step: reset() it
/// before continuing). The gradient buffer starts as NaN, so an objective that does not write
/// every coefficient stops the run that way; one that resizes it throws std::invalid_argument.
///
/// If the objective or a callback throws, the exception propagates with x at the last point where
/// the objective returned (a step whose new point could not be evaluated is undone), no on_end is
/// called, and callbacks with an on_abort() member are told. The gradient buffer and the backup
/// of x are allocated once per run (never for fixed-size V).
template <class F, detail::DriverParams X, class O, class... C>
requires Objective<std::remove_reference_t<F>, detail::params_vector_t<X>> &&
    (Optimizer<std::remove_cvref_t<O>, detail::params_vector_t<X>> ||
     ObjectiveOptimizer<std::remove_cvref_t<O>, detail::params_vector_t<X>>) &&
    (!std::is_const_v<std::remove_reference_t<O>>) &&
    (Callback<std::remove_reference_t<C>, detail::params_vector_t<X>>&&...)
Report minimize(F&& f, X&& x, O&& optimizer, const StopCriteria& stop = {}, C&&... callbacks) {
  using V = detail::params_vector_t<X>;
  using Opt = std::remove_cvref_t<O>;
  constexpr bool objective_form = !Optimizer<Opt, V>;
  constexpr bool warm_form = requires(Opt& o, X& px, double& l, V& g) {
    { o.step(f, px, l, g) } -> std::convertible_to<bool>;
  };
  const StopCriteria criteria = stop.resolved<typename V::Scalar>(false);
  if (criteria.max_iterations == 0 && criteria.gradient_tolerance == 0 && criteria.loss_tolerance == 0 &&
      criteria.time_limit == 0)
    throw std::invalid_argument(
        "descent::minimize: every stopping criterion is off (max_iterations, gradient_tolerance, loss_tolerance "
        "and time_limit are 0)");

  const auto start = std::chrono::steady_clock::now();
  const Eigen::Index rows = x.rows(), cols = x.cols();
  V grad = detail::nan_buffer<V>(rows, cols);
  // x before the last step. descent's own optimizers write it in their step's one pass
  // (detail::fused_guarded_step); it starts as x where a step may leave coefficients alone.
  constexpr bool fused_kernels = !objective_form && detail::guarded_kernels_v<Opt>;
  const bool fused = fused_kernels && detail::use_step_guard<Opt>(x);
  V previous(rows, cols);
  if (fused && detail::guard_may_skip_v<Opt>) previous = x;
  double loss = 0.0, gnorm = 0.0;
  auto evaluate = [&] {
    loss = double(f(std::as_const(x), grad));
    detail::check_gradient_shape("minimize", grad, rows, cols);
    gnorm = detail::gradient_norm(grad);
    return std::isfinite(loss) && std::isfinite(gnorm);
  };

  Report report;
  bool stepped = false;  // x is one step past the last point the objective returned at
  try {
    if (!evaluate()) {
      report.reason = StopReason::NonFinite;
      report.message = detail::nonfinite_message(loss, grad, 0, true);
    } else {
      for (;;) {
        if (criteria.gradient_tolerance > 0 && gnorm <= criteria.gradient_tolerance) {
          report.reason = StopReason::GradientTolerance;
          break;
        }
        if (criteria.max_iterations > 0 && report.iterations >= criteria.max_iterations) {
          report.reason = StopReason::MaxIterations;
          if (criteria.gradient_tolerance > 0 && (previous.array() == x.array()).all()) {
            report.message = detail::concat(
                "gradient_tolerance ", detail::format_number(criteria.gradient_tolerance),
                " was not reached and the last step left x unchanged: the steps are below ",
                detail::scalar_name<typename V::Scalar>(), "'s resolution, so the tolerance is probably out of reach");
          }
          break;
        }
        if (criteria.time_limit > 0 && detail::seconds_since(start) >= criteria.time_limit) {
          report.reason = StopReason::TimeLimit;
          break;
        }
        const double previous_loss = loss, previous_gnorm = gnorm;
        if constexpr (objective_form) {
          previous = x;
          stepped = true;
          bool finite = false;
          if constexpr (warm_form) {
            finite = bool(optimizer.step(f, x, loss, grad));
            detail::check_gradient_shape("minimize", grad, rows, cols);
            gnorm = detail::gradient_norm(grad);
            finite = finite && std::isfinite(loss) && std::isfinite(gnorm) && detail::all_finite(x);
          } else {
            optimizer.step(f, x);
            finite = detail::all_finite(x) && evaluate();
          }
          ++report.iterations;
          stepped = false;
          if (!finite) {
            // An optimizer of this form may have put x back to its last finite iterate itself
            // (LBFGS does); only a point that is not finite, or not evaluated finite, is undone.
            const bool keep = detail::all_finite(x) && std::isfinite(loss) && std::isfinite(gnorm);
            if (!keep) {
              x = previous;
              loss = previous_loss;
              gnorm = previous_gnorm;
            }
            report.message = detail::concat("the objective or the parameters became non-finite during step ",
                                            std::to_string(report.iterations),
                                            keep ? "; x is the optimizer's last iterate where they were finite"
                                                 : " (undone)");
            report.reason = StopReason::NonFinite;
            break;
          }
        } else {
        bool finite_step = false;
        if constexpr (fused_kernels)
          finite_step = fused ? detail::fused_guarded_step(x, previous, optimizer, grad)
                              : detail::guarded_step(x, previous, optimizer, grad);
        else
          finite_step = detail::guarded_step(x, previous, optimizer, grad);
        ++report.iterations;
        stepped = finite_step;
        if (!finite_step || !evaluate()) {
          report.message = finite_step ? detail::nonfinite_message(loss, grad, report.iterations, false)
                                       : detail::concat("the step made a parameter non-finite at step ",
                                                        std::to_string(report.iterations), " (undone)");
          if (finite_step) x = previous;
          stepped = false;
          loss = previous_loss;
          gnorm = previous_gnorm;
          report.reason = StopReason::NonFinite;
          break;
        }
        stepped = false;
        }
        if (!detail::notify_with<V>(x, report.iterations, 0, loss, gnorm, false, criteria, false, callbacks...)) {
          report.reason = StopReason::Callback;
          break;
        }
        if (detail::loss_converged(previous_loss, loss, criteria.loss_tolerance)) {
          report.reason = StopReason::LossTolerance;
          break;
        }
      }
    }
  } catch (...) {
    if (stepped) x = previous;
    detail::abort_callbacks(callbacks...);
    throw;
  }
  report.loss = loss;
  report.gradient_norm = gnorm;
  report.seconds = detail::seconds_since(start);
  if (detail::end_callbacks(x, report, callbacks...) && evaluate()) {
    report.loss = loss;
    report.gradient_norm = gnorm;
  }
  return report;
}

/// Chosen only when the arguments do not fit the template above (a constrained template wins over
/// this unconstrained one whenever both are viable): it does not compile, and its first error says
/// in one sentence which requirement is not met (see detail/diagnostics.hpp). Because of it,
/// `requires { descent::minimize(...); }` holds for arguments that do not fit: test the concepts.
template <class F, class X, class O, class... C>
Report minimize(F&&, X&&, O&&, const StopCriteria& = {}, C&&...) {
  detail::diagnostics::diagnose<false, false, true, F, X, O, void, C...>();
  return {};
}

/// The same when the fourth argument is not the StopCriteria (a callback passed before it).
template <class F, class X, class O, class T, class... C>
requires(!std::is_convertible_v<T, const StopCriteria&>)
Report minimize(F&&, X&&, O&&, T&&, C&&...) {
  detail::diagnostics::diagnose<false, false, false, F, X, O, void, C...>();
  return {};
}

}  // namespace descent
