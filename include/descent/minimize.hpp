#pragma once
// minimize: full-batch optimization of an Objective with any Optimizer.

#include <chrono>
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "descent/callbacks.hpp"
#include "descent/detail/driver.hpp"
#include "descent/objective.hpp"
#include "descent/optimizer.hpp"
#include "descent/stopping.hpp"

namespace descent {

/// Minimizes `f` from `x` (a V, `Eigen::Map<V>` or `Ref<V>`, updated in place) with `optimizer`
/// (taken by reference: a named optimizer keeps its state; a temporary works too) until one of
/// `stop`'s criteria is met, calling `callbacks` after every step.
///
/// Each iteration evaluates f and its gradient at x, checks the criteria, and steps; the loss and
/// gradient norm passed to callbacks and reported are those at the new parameters. If the loss or
/// the gradient is NaN or infinite, or a step produces a non-finite parameter, the run stops with
/// StopReason::NonFinite and x is put back to the last iterate where everything was finite (the
/// optimizer's state keeps that last step: reset() it before continuing). The gradient buffer and
/// that backup are allocated once per run (never for fixed-size V).
template <class F, detail::DriverParams X, class O, class... C>
requires Objective<std::remove_reference_t<F>, detail::params_vector_t<X>> &&
    Optimizer<std::remove_cvref_t<O>, detail::params_vector_t<X>> &&
    (Callback<std::remove_reference_t<C>, detail::plain_t<X>>&&...)Report
    minimize(F&& f, X&& x, O&& optimizer, const StopCriteria& stop = {}, C&&... callbacks) {
  using V = detail::params_vector_t<X>;
  using PX = detail::plain_t<X>;
  stop.validate();
  if (stop.max_iterations == 0 && stop.gradient_tolerance == 0 && stop.loss_tolerance == 0 && stop.time_limit == 0)
    throw std::invalid_argument(
        "descent::minimize: every stopping criterion is off (max_iterations, gradient_tolerance, loss_tolerance "
        "and time_limit are 0)");

  const auto start = std::chrono::steady_clock::now();
  V grad(x.rows(), x.cols());
  V previous(x.rows(), x.cols());
  double loss = 0.0, gnorm = 0.0;
  auto evaluate = [&] {
    loss = double(f(x, grad));
    gnorm = detail::gradient_norm(grad);
    return std::isfinite(loss) && std::isfinite(gnorm);
  };

  Report report;
  if (!evaluate()) {
    report.reason = StopReason::NonFinite;
  } else {
    for (;;) {
      if (stop.gradient_tolerance > 0 && gnorm <= stop.gradient_tolerance) {
        report.reason = StopReason::GradientTolerance;
        break;
      }
      if (stop.max_iterations > 0 && report.iterations >= stop.max_iterations) {
        report.reason = StopReason::MaxIterations;
        break;
      }
      if (stop.time_limit > 0 && detail::seconds_since(start) >= stop.time_limit) {
        report.reason = StopReason::TimeLimit;
        break;
      }
      previous = x;
      optimizer.step(x, grad);
      ++report.iterations;
      const double previous_loss = loss, previous_gnorm = gnorm;
      if (!x.allFinite() || !evaluate()) {
        x = previous;
        loss = previous_loss;
        gnorm = previous_gnorm;
        report.reason = StopReason::NonFinite;
        break;
      }
      const PX& params = x;
      if (!detail::notify_all(Progress<PX>{report.iterations, 0, loss, gnorm, params, false, stop, false},
                              callbacks...)) {
        report.reason = StopReason::Callback;
        break;
      }
      if (detail::loss_converged(previous_loss, loss, stop.loss_tolerance)) {
        report.reason = StopReason::LossTolerance;
        break;
      }
    }
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

}  // namespace descent
