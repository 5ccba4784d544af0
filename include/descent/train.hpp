#pragma once
// train: minibatch optimization of a StochasticObjective with any Optimizer.

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <chrono>
#include <cmath>
#include <concepts>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "descent/callbacks.hpp"
#include "descent/detail/diagnostics.hpp"
#include "descent/detail/driver.hpp"
#include "descent/detail/step_guard.hpp"
#include "descent/objective.hpp"
#include "descent/optimizer.hpp"
#include "descent/sampler.hpp"
#include "descent/stopping.hpp"

namespace descent {

/// Trains `x` (a V, `Eigen::Map<V>` or `Ref<V>`, updated in place) on the stochastic objective `f`
/// with `optimizer` (taken by reference: a named optimizer keeps its state; a temporary works
/// too), one step per minibatch drawn from `sampler` (a MinibatchSampler, named or temporary; a
/// named one keeps its position across runs), until one of `stop`'s criteria is met. `callbacks`
/// are called after every step and at the end of every epoch.
///
/// Each step evaluates the mean loss and its gradient on the next batch at the current x, then
/// steps. max_iterations counts steps, max_epochs completed epochs (setting only max_epochs runs
/// that many epochs: see StopCriteria::automatic); loss_tolerance compares the mean batch losses
/// of consecutive epochs; gradient_tolerance does not apply (no full gradient is ever computed).
///
/// A NaN or infinite batch loss or gradient, or a non-finite parameter after a step, stops the run
/// with StopReason::NonFinite (`report.message` says which value) and leaves x at the last iterate
/// where the loss, the gradient and the parameters were all finite: a step whose new point gives a
/// non-finite loss is undone. The gradient buffer starts as NaN, so an objective that does not
/// write every coefficient stops the run that way; one that resizes it throws std::invalid_argument.
///
/// If the objective or a callback throws, the exception propagates with x at the last point where
/// the objective returned, no on_end is called, and callbacks with an on_abort() member are told.
template <class F, detail::DriverParams X, class O, class S, class... C>
requires StochasticObjective<std::remove_reference_t<F>, detail::params_vector_t<X>> &&
    Optimizer<std::remove_cvref_t<O>, detail::params_vector_t<X>> && (!std::is_const_v<std::remove_reference_t<O>>) &&
    std::same_as<std::remove_cvref_t<S>, MinibatchSampler> &&
    (!std::is_const_v<std::remove_reference_t<S>>) &&
    (Callback<std::remove_reference_t<C>, detail::params_vector_t<X>>&&...)
Report train(F&& f, X&& x, O&& optimizer, S&& sampler, const StopCriteria& stop = {}, C&&... callbacks) {
  using V = detail::params_vector_t<X>;
  const StopCriteria criteria = stop.resolved<typename V::Scalar>(true);
  if (criteria.max_iterations == 0 && criteria.max_epochs == 0 && criteria.loss_tolerance == 0 &&
      criteria.time_limit == 0)
    throw std::invalid_argument(
        "descent::train: every stopping criterion is off (max_iterations, max_epochs, loss_tolerance and "
        "time_limit are 0; gradient_tolerance does not apply to train)");
  if (Eigen::Index(std::as_const(f).size()) != sampler.size())
    throw std::invalid_argument(detail::concat("descent::train: the sampler draws from ",
                                               std::to_string(sampler.size()), " samples but the objective has ",
                                               std::to_string(Eigen::Index(std::as_const(f).size()))));
  if (sampler.batches_per_epoch() == 0)
    throw std::invalid_argument("descent::train: the sampler yields no batch (drop_last with batch_size > n)");

  const auto start = std::chrono::steady_clock::now();
  const Eigen::Index rows = x.rows(), cols = x.cols();
  V grad = detail::nan_buffer<V>(rows, cols);
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  // Running means (not sums, which overflow for large finite losses).
  double epoch_mean = 0.0, last_epoch_mean = nan, previous_epoch_mean = nan;
  Eigen::Index epoch_samples = 0;

  Report report;
  bool stepped = false;  // x is one step past the last point the objective returned at

  // descent's own optimizers back x up and check it inside their step's one pass
  // (detail/step_guard.hpp): the kernels of step j (counting from 0) store x_j into
  // backups[j % 2], so both the x before the last step and the one before that are at hand (a
  // gradient found non-finite during step j is that of x_j, and the step that led to x_j is the
  // one undone). Any other optimizer, and small or strided x, get a copy of x and two scans per step.
  using Scalar = typename V::Scalar;
  const bool fused = detail::use_step_guard<std::remove_cvref_t<O>>(x);
  V previous, backups[2];
  if (!fused) {
    previous.resize(rows, cols);
  } else if (detail::guard_may_skip_v<std::remove_cvref_t<O>>) {
    // Coefficients that no kernel updates (outside every block of a Grouped) keep these values.
    backups[0] = x;
    backups[1] = x;
  } else {
    backups[0].resize(rows, cols);
    backups[1].resize(rows, cols);
  }
  // x back to the last point the objective returned at, before the last step.
  auto undo_last_step = [&] {
    if (fused)
      x = backups[(report.iterations - 1) % 2];
    else
      x = previous;
  };

  try {
    for (;;) {
      if (criteria.max_iterations > 0 && report.iterations >= criteria.max_iterations) {
        report.reason = StopReason::MaxIterations;
        break;
      }
      if (criteria.time_limit > 0 && detail::seconds_since(start) >= criteria.time_limit) {
        report.reason = StopReason::TimeLimit;
        break;
      }
      const Batch batch = sampler.next();
      const double loss = double(f(std::as_const(x), batch, grad));
      detail::check_gradient_shape("train", grad, rows, cols);
      // What is found non-finite, and the point x goes back to: for a loss or a gradient, the
      // last point the objective returned finite values at (before the last step, if one led
      // here); for the new parameters, the point before this step.
      bool finite_values = std::isfinite(loss) && (fused || detail::all_finite(grad));
      bool finite_step = true;
      if (finite_values && fused) {
        const bool was_stepped = stepped;
        stepped = false;  // a step that throws leaves x as it was (the optimizers' strong guarantee)
        const auto guard = detail::step_under_guard(optimizer, x, grad, backups[report.iterations % 2].data());
        // A gradient coefficient that no kernel read (outside every block) is checked here.
        if (!(guard.zeros == Scalar(0)) || (guard.covered < x.size() && !detail::all_finite(grad))) {
          x = backups[report.iterations % 2];  // this step undone: x as the objective saw it
          finite_values = detail::all_finite(grad);  // if not, the gradient's, else the step's
          finite_step = false;
        }
        stepped = was_stepped;
      } else if (finite_values) {
        finite_step = detail::guarded_step(x, previous, optimizer, grad);
      }
      if (!finite_values) {
        report.reason = StopReason::NonFinite;
        report.message = detail::nonfinite_message(loss, grad, report.iterations, report.iterations == 0);
        if (stepped) {
          undo_last_step();
          report.message.append(" (that step was undone)");
        }
        stepped = false;
        break;
      }
      ++report.iterations;
      if (!finite_step) {
        report.reason = StopReason::NonFinite;
        report.message = detail::concat("the step made a parameter non-finite at step ",
                                        std::to_string(report.iterations), " (undone)");
        stepped = false;
        break;
      }
      stepped = true;
      epoch_samples += Eigen::Index(batch.size());
      epoch_mean += (loss - epoch_mean) * (double(batch.size()) / double(epoch_samples));

      if (!detail::notify_with<V>(x, report.iterations, report.epochs, loss, nan, false, criteria, true,
                                  callbacks...)) {
        report.reason = StopReason::Callback;
        break;
      }
      if (sampler.end_of_epoch()) {
        ++report.epochs;
        last_epoch_mean = epoch_mean;
        epoch_mean = 0.0;
        epoch_samples = 0;
        if (!detail::notify_with<V>(x, report.iterations, report.epochs, last_epoch_mean, nan, true, criteria, true,
                                    callbacks...)) {
          report.reason = StopReason::Callback;
          break;
        }
        if (!std::isnan(previous_epoch_mean) &&
            detail::loss_converged(previous_epoch_mean, last_epoch_mean, criteria.loss_tolerance)) {
          report.reason = StopReason::LossTolerance;
          break;
        }
        previous_epoch_mean = last_epoch_mean;
        if (criteria.max_epochs > 0 && report.epochs >= criteria.max_epochs) {
          report.reason = StopReason::MaxEpochs;
          break;
        }
      }
    }
  } catch (...) {
    if (stepped) undo_last_step();
    detail::abort_callbacks(callbacks...);
    throw;
  }
  report.loss = epoch_samples > 0 ? epoch_mean : last_epoch_mean;
  report.gradient_norm = nan;
  report.seconds = detail::seconds_since(start);
  detail::end_callbacks(x, report, callbacks...);
  return report;
}

/// train with sparse gradients: chosen when `f` writes its gradient into an
/// `Eigen::SparseVector<Scalar>&` (descent::SparseStochasticObjective, and not also a dense
/// StochasticObjective) and the optimizer takes one (descent::SparseOptimizer: SGD, Adagrad,
/// SparseAdam). Every step costs O(nonzeros) on top of the objective: the gradient is emptied
/// (keeping its storage) before each call, only its nonzeros are checked for finiteness, only the
/// coefficients it touches are backed up and checked after the step, and a step is undone by
/// restoring those. Otherwise as the dense train above: the same stopping criteria, callbacks,
/// sampler and NonFinite handling. An objective that resizes the gradient throws
/// std::invalid_argument; an index outside x throws from the optimizer's step, x unchanged.
template <class F, detail::DriverParams X, class O, class S, class... C>
requires(!StochasticObjective<std::remove_reference_t<F>, detail::params_vector_t<X>>) &&
    SparseStochasticObjective<std::remove_reference_t<F>, detail::params_vector_t<X>>&& SparseOptimizer<
        std::remove_cvref_t<O>, detail::params_vector_t<X>> &&
    (!std::is_const_v<std::remove_reference_t<O>>)&&std::same_as<std::remove_cvref_t<S>, MinibatchSampler> &&
    (!std::is_const_v<std::remove_reference_t<S>>)&&(
        Callback<std::remove_reference_t<C>, detail::params_vector_t<X>>&&...)Report
    train(F&& f, X&& x, O&& optimizer, S&& sampler, const StopCriteria& stop = {}, C&&... callbacks) {
  using V = detail::params_vector_t<X>;
  using Scalar = typename V::Scalar;
  const StopCriteria criteria = stop.resolved<Scalar>(true);
  if (criteria.max_iterations == 0 && criteria.max_epochs == 0 && criteria.loss_tolerance == 0 &&
      criteria.time_limit == 0)
    throw std::invalid_argument(
        "descent::train: every stopping criterion is off (max_iterations, max_epochs, loss_tolerance and "
        "time_limit are 0; gradient_tolerance does not apply to train)");
  if (Eigen::Index(std::as_const(f).size()) != sampler.size())
    throw std::invalid_argument(detail::concat("descent::train: the sampler draws from ",
                                               std::to_string(sampler.size()), " samples but the objective has ",
                                               std::to_string(Eigen::Index(std::as_const(f).size()))));
  if (sampler.batches_per_epoch() == 0)
    throw std::invalid_argument("descent::train: the sampler yields no batch (drop_last with batch_size > n)");

  const auto start = std::chrono::steady_clock::now();
  const Eigen::Index n = x.size();
  Eigen::SparseVector<Scalar> grad(n);
  // The coefficients the last step touched, before it: what undoing it puts back.
  std::vector<Eigen::Index> touched;
  std::vector<Scalar> before;
  auto undo = [&] {
    for (std::size_t k = 0; k < touched.size(); ++k) x.coeffRef(touched[k]) = before[k];
  };
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  double epoch_mean = 0.0, last_epoch_mean = nan, previous_epoch_mean = nan;
  Eigen::Index epoch_samples = 0;
  Report report;
  bool stepped = false;
  try {
    for (;;) {
      if (criteria.max_iterations > 0 && report.iterations >= criteria.max_iterations) {
        report.reason = StopReason::MaxIterations;
        break;
      }
      if (criteria.time_limit > 0 && detail::seconds_since(start) >= criteria.time_limit) {
        report.reason = StopReason::TimeLimit;
        break;
      }
      const Batch batch = sampler.next();
      grad.setZero();
      const double loss = double(f(std::as_const(x), batch, grad));
      if (grad.size() != n)
        throw std::invalid_argument(detail::concat("descent::train: the objective resized the sparse gradient to ",
                                                   std::to_string(grad.size()), " but x has ", std::to_string(n),
                                                   " coefficients"));
      const Eigen::Index nnz = grad.nonZeros();
      const Eigen::Map<const Eigen::Array<Scalar, Eigen::Dynamic, 1>> values(grad.valuePtr(), nnz);
      const bool finite_grad = nnz == 0 || std::isfinite(values.abs().template maxCoeff<Eigen::PropagateNaN>());
      if (!std::isfinite(loss) || !finite_grad) {
        report.reason = StopReason::NonFinite;
        const std::string where = report.iterations == 0
                                      ? std::string(" at the starting point")
                                      : detail::concat(" after step ", std::to_string(report.iterations));
        if (!std::isfinite(loss)) {
          report.message = detail::concat("the loss is ", detail::format_number(loss), where);
        } else {
          Eigen::Index k = 0;
          while (std::isfinite(values[k])) ++k;
          report.message = detail::concat("gradient coefficient ", std::to_string(grad.innerIndexPtr()[k]), " is ",
                                          detail::format_number(double(values[k])), where);
        }
        if (stepped) {
          undo();
          report.message.append(" (that step was undone)");
        }
        stepped = false;
        break;
      }
      touched.clear();
      before.clear();
      for (Eigen::Index k = 0; k < nnz; ++k) {
        const Eigen::Index i = grad.innerIndexPtr()[k];
        if (i < 0 || i >= n) continue;  // the step refuses it before writing anything
        touched.push_back(i);
        before.push_back(x.coeff(i));
      }
      optimizer.step(x, grad);
      ++report.iterations;
      bool finite_step = true;
      for (Eigen::Index i : touched) finite_step = finite_step && std::isfinite(x.coeff(i));
      if (!finite_step) {
        undo();
        report.reason = StopReason::NonFinite;
        report.message = detail::concat("the step made a parameter non-finite at step ",
                                        std::to_string(report.iterations), " (undone)");
        stepped = false;
        break;
      }
      stepped = true;
      epoch_samples += Eigen::Index(batch.size());
      epoch_mean += (loss - epoch_mean) * (double(batch.size()) / double(epoch_samples));
      if (!detail::notify_with<V>(x, report.iterations, report.epochs, loss, nan, false, criteria, true,
                                  callbacks...)) {
        report.reason = StopReason::Callback;
        break;
      }
      if (sampler.end_of_epoch()) {
        ++report.epochs;
        last_epoch_mean = epoch_mean;
        epoch_mean = 0.0;
        epoch_samples = 0;
        if (!detail::notify_with<V>(x, report.iterations, report.epochs, last_epoch_mean, nan, true, criteria, true,
                                    callbacks...)) {
          report.reason = StopReason::Callback;
          break;
        }
        if (!std::isnan(previous_epoch_mean) &&
            detail::loss_converged(previous_epoch_mean, last_epoch_mean, criteria.loss_tolerance)) {
          report.reason = StopReason::LossTolerance;
          break;
        }
        previous_epoch_mean = last_epoch_mean;
        if (criteria.max_epochs > 0 && report.epochs >= criteria.max_epochs) {
          report.reason = StopReason::MaxEpochs;
          break;
        }
      }
    }
  } catch (...) {
    if (stepped) undo();
    detail::abort_callbacks(callbacks...);
    throw;
  }
  report.loss = epoch_samples > 0 ? epoch_mean : last_epoch_mean;
  report.gradient_norm = nan;
  report.seconds = detail::seconds_since(start);
  detail::end_callbacks(x, report, callbacks...);
  return report;
}

/// Chosen only when the arguments do not fit the template above (a constrained template wins over
/// this unconstrained one whenever both are viable): it does not compile, and its first error says
/// in one sentence which requirement is not met (see detail/diagnostics.hpp). Because of it,
/// `requires { descent::train(...); }` holds for arguments that do not fit: test the concepts.
template <class F, class X, class O, class S, class... C>
Report train(F&&, X&&, O&&, S&&, const StopCriteria& = {}, C&&...) {
  detail::diagnostics::diagnose<false, true, true, F, X, O, S, C...>();
  return {};
}

/// The same when the sampler is missing (the StopCriteria comes fourth).
template <class F, class X, class O, class... C>
Report train(F&&, X&&, O&&, const StopCriteria&, C&&...) {
  detail::diagnostics::diagnose<false, true, true, F, X, O, const StopCriteria&, C...>();
  return {};
}

/// The same when the fifth argument is not the StopCriteria (a callback passed before it).
template <class F, class X, class O, class S, class T, class... C>
requires(!std::is_convertible_v<T, const StopCriteria&>)
Report train(F&&, X&&, O&&, S&&, T&&, C&&...) {
  detail::diagnostics::diagnose<false, true, false, F, X, O, S, C...>();
  return {};
}

}  // namespace descent
