#pragma once
// train: minibatch optimization of a StochasticObjective with any Optimizer.

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "descent/callbacks.hpp"
#include "descent/detail/driver.hpp"
#include "descent/objective.hpp"
#include "descent/optimizer.hpp"
#include "descent/sampler.hpp"
#include "descent/stopping.hpp"

namespace descent {

/// Trains `x` (a V, `Eigen::Map<V>` or `Ref<V>`, updated in place) on the stochastic objective `f`
/// with `optimizer` (taken by reference: a named optimizer keeps its state; a temporary works
/// too), one step per minibatch drawn from `sampler` (which keeps its position across runs), until
/// one of `stop`'s criteria is met. `callbacks` are called after every step and at the end of
/// every epoch.
///
/// Each step evaluates the mean loss and its gradient on the next batch at the current x, then
/// steps. max_iterations counts steps, max_epochs completed epochs; loss_tolerance compares the
/// mean batch losses of consecutive epochs; gradient_tolerance does not apply (no full gradient is
/// ever computed). A NaN or infinite batch loss or gradient, or a non-finite parameter after a
/// step, stops the run with StopReason::NonFinite and leaves x at the last finite iterate.
template <class F, detail::DriverParams X, class O, class... C>
requires StochasticObjective<std::remove_reference_t<F>, detail::params_vector_t<X>> &&
    Optimizer<std::remove_cvref_t<O>, detail::params_vector_t<X>> &&
    (Callback<std::remove_reference_t<C>, detail::plain_t<X>>&&...)Report
    train(F&& f, X&& x, O&& optimizer, MinibatchSampler& sampler, const StopCriteria& stop = {}, C&&... callbacks) {
  using V = detail::params_vector_t<X>;
  using PX = detail::plain_t<X>;
  stop.validate();
  if (stop.max_iterations == 0 && stop.max_epochs == 0 && stop.loss_tolerance == 0 && stop.time_limit == 0)
    throw std::invalid_argument(
        "descent::train: every stopping criterion is off (max_iterations, max_epochs, loss_tolerance and "
        "time_limit are 0; gradient_tolerance does not apply to train)");
  if (Eigen::Index(f.size()) != sampler.size())
    throw std::invalid_argument("descent::train: the sampler draws from " + std::to_string(sampler.size()) +
                                " samples but the objective has " + std::to_string(Eigen::Index(f.size())));
  if (sampler.batches_per_epoch() == 0)
    throw std::invalid_argument("descent::train: the sampler yields no batch (drop_last with batch_size > n)");

  const auto start = std::chrono::steady_clock::now();
  V grad(x.rows(), x.cols());
  V previous(x.rows(), x.cols());
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  double epoch_sum = 0.0, last_epoch_mean = nan, previous_epoch_mean = nan;
  Eigen::Index epoch_samples = 0;

  Report report;
  for (;;) {
    if (stop.max_iterations > 0 && report.iterations >= stop.max_iterations) {
      report.reason = StopReason::MaxIterations;
      break;
    }
    if (stop.time_limit > 0 && detail::seconds_since(start) >= stop.time_limit) {
      report.reason = StopReason::TimeLimit;
      break;
    }
    const Batch batch = sampler.next();
    const double loss = double(f(x, batch, grad));
    if (!std::isfinite(loss) || !grad.allFinite()) {
      report.reason = StopReason::NonFinite;  // before stepping: x is untouched
      break;
    }
    previous = x;
    optimizer.step(x, grad);
    ++report.iterations;
    if (!x.allFinite()) {
      x = previous;
      report.reason = StopReason::NonFinite;
      break;
    }
    epoch_sum += loss * double(batch.size());
    epoch_samples += Eigen::Index(batch.size());

    const PX& params = x;
    if (!detail::notify_all(Progress<PX>{report.iterations, report.epochs, loss, nan, params, false, stop, true},
                            callbacks...)) {
      report.reason = StopReason::Callback;
      break;
    }
    if (sampler.end_of_epoch()) {
      ++report.epochs;
      last_epoch_mean = epoch_sum / double(epoch_samples);
      epoch_sum = 0.0;
      epoch_samples = 0;
      if (!detail::notify_all(
              Progress<PX>{report.iterations, report.epochs, last_epoch_mean, nan, params, true, stop, true},
              callbacks...)) {
        report.reason = StopReason::Callback;
        break;
      }
      if (!std::isnan(previous_epoch_mean) &&
          detail::loss_converged(previous_epoch_mean, last_epoch_mean, stop.loss_tolerance)) {
        report.reason = StopReason::LossTolerance;
        break;
      }
      previous_epoch_mean = last_epoch_mean;
      if (stop.max_epochs > 0 && report.epochs >= stop.max_epochs) {
        report.reason = StopReason::MaxEpochs;
        break;
      }
    }
  }
  report.loss = epoch_samples > 0 ? epoch_sum / double(epoch_samples) : last_epoch_mean;
  report.gradient_norm = nan;
  report.seconds = detail::seconds_since(start);
  detail::end_callbacks(x, report, callbacks...);
  return report;
}

/// The same with a temporary sampler: `train(f, x, opt, MinibatchSampler(n, {...}), stop)`.
template <class F, detail::DriverParams X, class O, class... C>
requires StochasticObjective<std::remove_reference_t<F>, detail::params_vector_t<X>> &&
    Optimizer<std::remove_cvref_t<O>, detail::params_vector_t<X>> &&
    (Callback<std::remove_reference_t<C>, detail::plain_t<X>>&&...)Report
    train(F&& f, X&& x, O&& optimizer, MinibatchSampler&& sampler, const StopCriteria& stop = {}, C&&... callbacks) {
  return train(std::forward<F>(f), std::forward<X>(x), std::forward<O>(optimizer), sampler, stop,
               std::forward<C>(callbacks)...);
}

}  // namespace descent
