#pragma once
// Callbacks for minimize and train: the progress view they receive, the contract they meet, and
// the ready-made ones (ProgressBar, History, EarlyStopping, KeepBest, PrintEvery).
//
// A callback is anything callable as `cb(progress)` with a `const descent::Progress<V>&`, V the
// plain type of the parameters (VectorXd whether x is a VectorXd, a Map<VectorXd> or a
// Ref<VectorXd>), returning void or something convertible to bool (false stops the run, reported
// as StopReason::Callback). Drivers call it after every optimizer step and, in train, once more at
// the end of every epoch (progress.end_of_epoch). A callback may also have a member
// `on_end(x, report)`, called once when the run ends with the parameters (writable) and the
// report; if it changes the parameters it returns true, and minimize then re-evaluates the loss
// it reports (EarlyStopping restores the best parameters that way). A member `on_abort()` is
// called instead when the run ends by an exception (from the objective or a callback), so that a
// callback is ready for the next run. Callbacks are held by reference.

#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "descent/detail/access.hpp"
#include "descent/stopping.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace descent {

/// What a callback sees: a read-only view of the run, valid during the call only. V is the plain
/// type of the parameters, whatever holds them.
template <class V>
struct Progress {
  /// Optimizer steps taken so far (1 at the first call).
  std::int64_t iteration;
  /// Epochs completed so far (train; 0 in minimize). At an end-of-epoch call it counts that epoch.
  std::int64_t epoch;
  /// minimize: the loss at `params` (evaluated after the step). train, after a step: the loss of
  /// the minibatch that step used (evaluated before it); at the end of an epoch: the epoch's mean.
  double loss;
  /// minimize: ‖∇f(params)‖₂. train: NaN (unknown).
  double gradient_norm;
  /// The parameters after the step: a read-only view of the driver's x (no copy), usable wherever
  /// a `const V&` is (a function taking `const V&` receives a copy) or an Eigen expression is.
  const Eigen::Ref<const V>& params;
  /// True for train's extra call at the end of an epoch.
  bool end_of_epoch;
  /// The run's stopping criteria (for progress bars that show how far along a run is).
  const StopCriteria& stop;
  /// True in train (minibatches; `loss` is not the loss at `params`), false in minimize.
  bool stochastic;
};

/// `C` can be handed to a driver whose parameters have the plain type `V`.
template <class C, class V>
concept Callback = std::invocable<C&, const Progress<V>&> &&
                   (std::is_void_v<std::invoke_result_t<C&, const Progress<V>&>> ||
                    std::convertible_to<std::invoke_result_t<C&, const Progress<V>&>, bool>);

namespace detail {

/// Calls one callback; true means "go on".
template <class C, class X>
bool notify(C& callback, const Progress<X>& progress) {
  if constexpr (std::is_void_v<std::invoke_result_t<C&, const Progress<X>&>>) {
    std::invoke(callback, progress);
    return true;
  } else {
    return static_cast<bool>(std::invoke(callback, progress));
  }
}

/// Calls every callback (all of them, even after one asked to stop); true means "go on".
template <class X, class... C>
bool notify_all(const Progress<X>& progress, C&... callbacks) {
  bool go_on = true;
  ((go_on = notify(callbacks, progress) && go_on), ...);
  return go_on;
}

template <class C, class X>
concept HasOnEnd = requires(C& c, X& x, const Report& r) {
  c.on_end(x, r);
};

template <class C>
concept HasOnAbort = requires(C& c) {
  c.on_abort();
};

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline bool is_terminal(std::FILE* stream) {
#if defined(__unix__) || defined(__APPLE__)
  return ::isatty(::fileno(stream)) == 1;
#else
  (void)stream;
  return false;
#endif
}

}  // namespace detail

/// Options of ProgressBar.
struct ProgressBarOptions {
  /// Seconds between redraws on a terminal. Default 0.1.
  double redraw_interval = 0.1;
  /// Seconds between lines when stderr is not a terminal (a log file, CI). Default 5.
  double line_interval = 5.0;
  /// Text in front of every line, e.g. the optimizer's name. Default empty.
  std::string label = {};

  /// Throws std::invalid_argument unless both intervals are finite and >= 0.
  void validate() const {
    if (!(redraw_interval >= 0.0) || std::isinf(redraw_interval))
      detail::invalid_option("ProgressBarOptions", "redraw_interval", redraw_interval, "must be a finite number >= 0");
    if (!(line_interval >= 0.0) || std::isinf(line_interval))
      detail::invalid_option("ProgressBarOptions", "line_interval", line_interval, "must be a finite number >= 0");
  }
};

/// Shows progress on stderr: iteration (or epoch), loss, steps per second, and the remaining time
/// when the run is bounded (max_iterations, max_epochs or time_limit). Redraws one line in place on
/// a terminal; writes a plain line every few seconds otherwise, and a last line when the run ends.
class ProgressBar {
 public:
  ProgressBar() : ProgressBar(ProgressBarOptions{}) {}
  explicit ProgressBar(ProgressBarOptions options, std::FILE* stream = stderr)
      : options_(std::move(options)), stream_(stream), terminal_(detail::is_terminal(stream)) {
    options_.validate();
  }

  template <class X>
  void operator()(const Progress<X>& p) {
    const auto now = std::chrono::steady_clock::now();
    if (!started_) {
      started_ = true;
      start_ = now;
      last_draw_ = now;
      stop_ = p.stop;
      return;
    }
    const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
    if (since_draw < (terminal_ ? options_.redraw_interval : options_.line_interval)) return;
    last_draw_ = now;
    draw(p.iteration, p.epoch, p.loss, p.gradient_norm, p.stop, std::chrono::duration<double>(now - start_).count());
  }

  template <class X>
  void on_end(const X&, const Report& r) {
    draw(r.iterations, r.epochs, r.loss, r.gradient_norm, stop_, r.seconds, to_string(r.reason));
    started_ = false;
  }

  /// The run ended by an exception: end the line being redrawn; the next run starts afresh.
  void on_abort() {
    if (started_ && terminal_) {
      std::fputs(" [aborted by an exception]\n", stream_);
      std::fflush(stream_);
    }
    started_ = false;
  }

 private:
  // final_reason is empty while running, the stop reason for the last line.
  void draw(std::int64_t iteration, std::int64_t epoch, double loss, double gnorm, const StopCriteria& stop,
            double elapsed, std::string_view final_reason = {}) {
    std::ostringstream line;
    line.precision(6);
    if (!options_.label.empty()) line << options_.label << ": ";
    if (epoch > 0 || stop.max_epochs > 0) {
      line << "epoch " << epoch;
      if (stop.max_epochs > 0) line << '/' << stop.max_epochs;
      line << ", ";
    }
    line << "iteration " << iteration;
    if (stop.max_iterations > 0 && stop.max_epochs == 0) line << '/' << stop.max_iterations;
    line << "  loss " << loss;
    line.precision(3);
    if (!std::isnan(gnorm)) line << "  |g| " << gnorm;
    if (elapsed > 0) line << "  " << double(iteration) / elapsed << " it/s";
    if (final_reason.empty()) {
      const double eta = remaining(iteration, epoch, stop, elapsed);
      if (eta >= 0) line << "  ETA " << std::fixed << std::setprecision(1) << eta << " s";
    } else {
      line << "  " << elapsed << " s  [" << final_reason << ']';
    }
    const std::string text = line.str();
    if (terminal_)
      std::fprintf(stream_, "\r%s\x1b[K%s", text.c_str(), final_reason.empty() ? "" : "\n");
    else
      std::fprintf(stream_, "%s\n", text.c_str());
    std::fflush(stream_);
  }

  // The smallest estimate among the bounds that are set; -1 when unbounded.
  static double remaining(std::int64_t iteration, std::int64_t epoch, const StopCriteria& stop, double elapsed) {
    double eta = -1;
    auto take = [&](double e) {
      if (e >= 0 && (eta < 0 || e < eta)) eta = e;
    };
    if (stop.max_iterations > 0 && iteration > 0)
      take(elapsed / double(iteration) * double(stop.max_iterations - iteration));
    if (stop.max_epochs > 0 && epoch > 0) take(elapsed / double(epoch) * double(stop.max_epochs - epoch));
    if (stop.time_limit > 0) take(stop.time_limit - elapsed);
    return eta;
  }

  ProgressBarOptions options_;
  std::FILE* stream_;
  bool terminal_;
  bool started_ = false;
  std::chrono::steady_clock::time_point start_{}, last_draw_{};
  StopCriteria stop_{};
};

/// Records the loss after every step and at the end of every epoch, with the elapsed time since
/// the start of the run. Successive runs append to the same lists (clear() empties them); memory
/// grows with the steps actually taken, never with a limit such as max_iterations.
class History {
 public:
  struct Entry {
    std::int64_t iteration;
    std::int64_t epoch;
    double loss;
    double gradient_norm;
    double seconds;
  };

  template <class X>
  void operator()(const Progress<X>& p) {
    if (!started_) {
      started_ = true;
      start_ = std::chrono::steady_clock::now();
    }
    const Entry e{p.iteration, p.epoch, p.loss, p.gradient_norm, detail::seconds_since(start_)};
    (p.end_of_epoch ? epochs_ : steps_).push_back(e);
  }

  template <class X>
  void on_end(const X&, const Report&) {
    started_ = false;
  }
  void on_abort() { started_ = false; }

  /// One entry per optimizer step.
  const std::vector<Entry>& steps() const { return steps_; }
  /// One entry per completed epoch (train), with the epoch's mean loss.
  const std::vector<Entry>& epochs() const { return epochs_; }
  void clear() {
    steps_.clear();
    epochs_.clear();
  }

  /// Writes `kind,iteration,epoch,loss,gradient_norm,seconds`, one row per entry (kind is "step"
  /// or "epoch"). Throws std::runtime_error naming the path if it cannot be written.
  void write_csv(const std::string& path) const {
    std::ofstream out(path);
    if (!out) throw std::runtime_error(detail::concat("descent::History::write_csv: cannot open ", path));
    out.precision(17);
    out << "kind,iteration,epoch,loss,gradient_norm,seconds\n";
    for (const auto* list : {&steps_, &epochs_}) {
      const char* kind = list == &steps_ ? "step" : "epoch";
      for (const Entry& e : *list)
        out << kind << ',' << e.iteration << ',' << e.epoch << ',' << e.loss << ',' << e.gradient_norm << ','
            << e.seconds << '\n';
    }
    if (!out) throw std::runtime_error(detail::concat("descent::History::write_csv: error while writing ", path));
  }

 private:
  template <class>
  friend struct detail::StateAccess;
  std::vector<Entry> steps_, epochs_;
  bool started_ = false;
  std::chrono::steady_clock::time_point start_{};
};

/// Options of EarlyStopping.
struct EarlyStoppingOptions {
  /// Checks without an improvement of more than min_delta before the run is stopped. Default 5.
  std::int64_t patience = 5;
  /// The validation loss must fall by more than this to count as an improvement. Default 0.
  double min_delta = 0.0;
  /// minimize (no epochs): check every `interval` iterations. train: check at every epoch end.
  /// Default 1.
  std::int64_t interval = 1;
  /// Put the best parameters seen back into x when the run ends, whatever ended it (early stopping,
  /// max_epochs, a time limit, another callback, NonFinite). Default true.
  bool restore_best = true;
};

/// Stops a run when a validation loss stops improving, and restores the parameters at which it was
/// best. `validation(params)` returns the validation loss (it is evaluated at every check). A NaN
/// or infinite validation loss is never taken as the best; it counts as a check without
/// improvement.
///
/// With restore_best, the best parameters go back into x at the end of every run, not only of a
/// run it stopped itself. One object can serve several runs: what it recorded (best_loss(),
/// stopped(), validation_history(), ...) stays readable after a run and is cleared when the next
/// run makes its first check, or by reset().
template <class V, class Validation>
class EarlyStopping {
 public:
  explicit EarlyStopping(Validation validation, EarlyStoppingOptions options = {})
      : validation_(std::move(validation)), options_(options) {
    if (options_.patience < 1)
      detail::invalid_option("EarlyStoppingOptions", "patience", double(options_.patience), "must be >= 1");
    if (!(options_.min_delta >= 0.0))
      detail::invalid_option("EarlyStoppingOptions", "min_delta", options_.min_delta, "must be >= 0");
    if (options_.interval < 1)
      detail::invalid_option("EarlyStoppingOptions", "interval", double(options_.interval), "must be >= 1");
  }

  template <class X>
  bool operator()(const Progress<X>& p) {
    if (p.stochastic ? !p.end_of_epoch : (p.iteration % options_.interval != 0)) return true;
    if (!running_) {
      reset();
      running_ = true;
    }
    const double loss = double(validation_(p.params));
    history_.push_back(loss);
    if (std::isfinite(loss) && (!has_best_ || loss < best_loss_ - options_.min_delta)) {
      has_best_ = true;
      best_loss_ = loss;
      best_ = p.params;
      best_iteration_ = p.iteration;
      best_epoch_ = p.epoch;
      since_best_ = 0;
      return true;
    }
    if (++since_best_ >= options_.patience) {
      stopped_ = true;
      return false;
    }
    return true;
  }

  /// Restores the best parameters (with restore_best, once a finite validation loss was seen);
  /// returns whether it did.
  template <class X>
  bool on_end(X& x, const Report&) {
    running_ = false;
    if (!(options_.restore_best && has_best_)) return false;
    x = best_;
    return true;
  }

  /// The run ended by an exception: x is left where the driver put it (see the drivers' docs).
  void on_abort() { running_ = false; }

  /// Forgets everything recorded: the next check starts a new search for the best.
  void reset() {
    has_best_ = false;
    stopped_ = false;
    best_loss_ = std::numeric_limits<double>::infinity();
    best_iteration_ = best_epoch_ = since_best_ = 0;
    history_.clear();
  }

  /// Whether early stopping ended the run.
  bool stopped() const { return stopped_; }
  double best_loss() const { return best_loss_; }
  std::int64_t best_iteration() const { return best_iteration_; }
  /// The epoch at which the best parameters were seen (train; 0 in minimize).
  std::int64_t best_epoch() const { return best_epoch_; }
  const V& best_params() const { return best_; }
  /// Every validation loss computed, in order.
  const std::vector<double>& validation_history() const { return history_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  Validation validation_;
  EarlyStoppingOptions options_;
  V best_{};
  bool has_best_ = false, stopped_ = false, running_ = false;
  double best_loss_ = std::numeric_limits<double>::infinity();
  std::int64_t best_iteration_ = 0, best_epoch_ = 0, since_best_ = 0;
  std::vector<double> history_;
};

/// EarlyStopping without spelling out the validation callable's type:
/// `auto early = descent::early_stopping<Eigen::VectorXd>(validation_loss, {.patience = 10});`
template <class V, class Validation>
EarlyStopping<V, std::decay_t<Validation>> early_stopping(Validation&& validation, EarlyStoppingOptions options = {}) {
  return EarlyStopping<V, std::decay_t<Validation>>(std::forward<Validation>(validation), options);
}

/// Keeps the parameters with the lowest loss seen. minimize: every step (the loss is at the
/// parameters). train: at epoch ends only, using the epoch's mean minibatch loss, which is an
/// estimate made along the epoch rather than the loss at the parameters.
template <class V>
class KeepBest {
 public:
  template <class X>
  void operator()(const Progress<X>& p) {
    if (p.stochastic && !p.end_of_epoch) return;
    if (std::isfinite(p.loss) && p.loss < best_loss_) {
      best_loss_ = p.loss;
      best_ = p.params;
      best_iteration_ = p.iteration;
    }
  }

  bool empty() const { return !std::isfinite(best_loss_); }
  /// Forgets the best parameters seen (KeepBest otherwise keeps the best over all runs it sees).
  void reset() {
    best_loss_ = std::numeric_limits<double>::infinity();
    best_iteration_ = 0;
  }
  double best_loss() const { return best_loss_; }
  std::int64_t best_iteration() const { return best_iteration_; }
  const V& best_params() const { return best_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  V best_{};
  double best_loss_ = std::numeric_limits<double>::infinity();
  std::int64_t best_iteration_ = 0;
};

/// Prints `iteration i  loss L  |g| G` every `k` steps, and every epoch's mean loss in train.
class PrintEvery {
 public:
  explicit PrintEvery(std::int64_t k, std::ostream& out = std::cout) : k_(k), out_(&out) {
    if (k < 1) detail::invalid_option("PrintEvery", "k", double(k), "must be >= 1");
  }

  template <class X>
  void operator()(const Progress<X>& p) {
    if (p.end_of_epoch) {
      *out_ << "epoch " << p.epoch << "  iteration " << p.iteration << "  mean loss " << p.loss << '\n';
    } else if (p.iteration % k_ == 0) {
      *out_ << "iteration " << p.iteration << "  loss " << p.loss;
      if (!std::isnan(p.gradient_norm)) *out_ << "  |g| " << p.gradient_norm;
      *out_ << '\n';
    }
  }

 private:
  std::int64_t k_;
  std::ostream* out_;
};

}  // namespace descent
