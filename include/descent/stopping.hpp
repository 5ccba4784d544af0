#pragma once
// When a run stops and what it reports: StopCriteria in, Report out.

#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string_view>

#include "descent/detail/checks.hpp"

namespace descent {

/// Why a run stopped.
enum class StopReason {
  GradientTolerance,  ///< the gradient norm fell to StopCriteria::gradient_tolerance (minimize)
  LossTolerance,      ///< the relative change of the loss fell to StopCriteria::loss_tolerance
  MaxIterations,      ///< StopCriteria::max_iterations optimizer steps were taken
  MaxEpochs,          ///< StopCriteria::max_epochs epochs were completed (train)
  TimeLimit,          ///< StopCriteria::time_limit seconds passed
  Callback,           ///< a callback returned false
  NonFinite,          ///< the loss, the gradient or the new parameters were NaN or infinite
};

/// The enumerator's name, e.g. "GradientTolerance".
constexpr std::string_view to_string(StopReason reason) {
  switch (reason) {
    case StopReason::GradientTolerance:
      return "GradientTolerance";
    case StopReason::LossTolerance:
      return "LossTolerance";
    case StopReason::MaxIterations:
      return "MaxIterations";
    case StopReason::MaxEpochs:
      return "MaxEpochs";
    case StopReason::TimeLimit:
      return "TimeLimit";
    case StopReason::Callback:
      return "Callback";
    case StopReason::NonFinite:
      return "NonFinite";
  }
  return "unknown";
}

inline std::ostream& operator<<(std::ostream& out, StopReason reason) { return out << to_string(reason); }

/// When minimize and train stop: at the first criterion met, checked after every step. Zero
/// switches a criterion off; at least one must be on. Use with designated initializers:
/// `descent::StopCriteria{.max_iterations = 500, .gradient_tolerance = 1e-8}`.
struct StopCriteria {
  /// Optimizer steps at most. Default 10000.
  std::int64_t max_iterations = 10000;
  /// Epochs at most (train only). Default 0 (off).
  std::int64_t max_epochs = 0;
  /// Stop when ‖∇f(x)‖₂ <= gradient_tolerance (minimize only: train never sees a full gradient).
  /// Default 1e-6.
  double gradient_tolerance = 1e-6;
  /// Stop when |loss − previous loss| <= loss_tolerance · max(|previous loss|, 1e-300), comparing
  /// consecutive iterations in minimize and consecutive epoch means in train. Default 0 (off).
  double loss_tolerance = 0.0;
  /// Wall-clock budget in seconds. Default 0 (off). The clock is read once per step only when on.
  double time_limit = 0.0;

  /// Throws std::invalid_argument naming a negative or NaN field.
  void validate() const {
    if (max_iterations < 0)
      detail::invalid_option("StopCriteria", "max_iterations", double(max_iterations), "must be >= 0");
    if (max_epochs < 0) detail::invalid_option("StopCriteria", "max_epochs", double(max_epochs), "must be >= 0");
    if (!(gradient_tolerance >= 0.0))
      detail::invalid_option("StopCriteria", "gradient_tolerance", gradient_tolerance, "must be >= 0");
    if (!(loss_tolerance >= 0.0))
      detail::invalid_option("StopCriteria", "loss_tolerance", loss_tolerance, "must be >= 0");
    if (!(time_limit >= 0.0)) detail::invalid_option("StopCriteria", "time_limit", time_limit, "must be >= 0");
  }
};

/// What a run did.
struct Report {
  /// minimize: the loss at the final parameters. train: the mean batch loss over the last epoch
  /// (or over the batches of the unfinished epoch the run stopped in).
  double loss = std::numeric_limits<double>::quiet_NaN();
  /// minimize: ‖∇f‖₂ at the final parameters. train: NaN (no full gradient is computed).
  double gradient_norm = std::numeric_limits<double>::quiet_NaN();
  /// Optimizer steps taken. With NonFinite: the step at which it happened (whose result was undone).
  std::int64_t iterations = 0;
  /// Epochs completed (train; 0 in minimize).
  std::int64_t epochs = 0;
  /// Wall-clock duration of the run.
  double seconds = 0.0;
  StopReason reason = StopReason::MaxIterations;
};

inline std::ostream& operator<<(std::ostream& out, const Report& r) {
  out << "stopped by " << r.reason << " after " << r.iterations << " iterations";
  if (r.epochs > 0) out << " (" << r.epochs << " epochs)";
  out << " in " << r.seconds << " s: loss " << r.loss;
  if (!std::isnan(r.gradient_norm)) out << ", gradient norm " << r.gradient_norm;
  return out;
}

}  // namespace descent
