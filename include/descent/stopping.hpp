#pragma once
// When a run stops and what it reports: StopCriteria in, Report out.

#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

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
///
/// Two fields default to `StopCriteria::automatic`, resolved by the driver so that the defaults
/// mean what a user writes (resolved() gives the numbers a run uses; callbacks see those):
///   - max_iterations: 10000 in minimize; in train 10000 as well, unless max_epochs or time_limit
///     is set, in which case no iteration cap is added (`{.max_epochs = 1000}` runs 1000 epochs).
///   - gradient_tolerance (minimize): 1e-6 for double parameters, 1e-3 for float. A float gradient
///     carries a rounding error of about 1.2e-7 times the size of its terms, and steps smaller than
///     1.2e-7·|x| round away, so 1e-6 is usually out of float's reach. If a run ends at
///     max_iterations with the tolerance unmet and its last step left x unchanged, the report's
///     message says that the tolerance is probably below what the scalar type can reach.
struct StopCriteria {
  /// The default of max_iterations, which lets the driver choose (see above).
  static constexpr std::int64_t automatic = std::numeric_limits<std::int64_t>::min();
  /// The default of gradient_tolerance, which lets the driver choose (see above).
  static constexpr double automatic_tolerance = -std::numeric_limits<double>::infinity();

  /// Optimizer steps at most. Default automatic (10000, see above); 0 switches it off.
  std::int64_t max_iterations = automatic;
  /// Epochs at most (train only). Default 0 (off).
  std::int64_t max_epochs = 0;
  /// Stop when ‖∇f(x)‖₂ <= gradient_tolerance (minimize only: train never sees a full gradient).
  /// Default automatic (1e-6 for double, 1e-3 for float); 0 switches it off.
  double gradient_tolerance = automatic_tolerance;
  /// Stop when |loss − previous loss| <= loss_tolerance · max(|previous loss|, 1e-300), comparing
  /// consecutive iterations in minimize and consecutive epoch means in train. Default 0 (off).
  double loss_tolerance = 0.0;
  /// Wall-clock budget in seconds. Default 0 (off). The clock is read once per step only when on.
  double time_limit = 0.0;

  /// Throws std::invalid_argument naming a negative, NaN or infinite field (other than the
  /// automatic defaults).
  void validate() const {
    if (max_iterations < 0 && max_iterations != automatic)
      detail::invalid_option("StopCriteria", "max_iterations", double(max_iterations), "must be >= 0 or automatic");
    if (max_epochs < 0) detail::invalid_option("StopCriteria", "max_epochs", double(max_epochs), "must be >= 0");
    if (gradient_tolerance != automatic_tolerance && (!(gradient_tolerance >= 0.0) || std::isinf(gradient_tolerance)))
      detail::invalid_option("StopCriteria", "gradient_tolerance", gradient_tolerance,
                             "must be a finite number >= 0, or automatic_tolerance");
    if (!(loss_tolerance >= 0.0) || std::isinf(loss_tolerance))
      detail::invalid_option("StopCriteria", "loss_tolerance", loss_tolerance, "must be a finite number >= 0");
    if (!(time_limit >= 0.0)) detail::invalid_option("StopCriteria", "time_limit", time_limit, "must be >= 0");
  }

  /// The criteria a run with parameters of scalar type Scalar uses: validated, with every
  /// automatic field replaced by its value (`stochastic`: for train).
  template <class Scalar>
  StopCriteria resolved(bool stochastic) const {
    validate();
    StopCriteria r = *this;
    if (r.max_iterations == automatic)
      r.max_iterations = stochastic && (max_epochs > 0 || time_limit > 0) ? 0 : 10000;
    if (r.gradient_tolerance == automatic_tolerance)
      r.gradient_tolerance = stochastic ? 0.0 : (std::is_same_v<Scalar, float> ? 1e-3 : 1e-6);
    return r;
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
  /// Empty, or a sentence on what happened: for NonFinite, which value was not finite and where;
  /// for a tolerance that was probably out of reach, that.
  std::string message = {};
};

inline std::ostream& operator<<(std::ostream& out, const Report& r) {
  out << "stopped by " << r.reason << " after " << r.iterations << " iterations";
  if (r.epochs > 0) out << " (" << r.epochs << " epochs)";
  out << " in " << r.seconds << " s: loss " << r.loss;
  if (!std::isnan(r.gradient_norm)) out << ", gradient norm " << r.gradient_norm;
  if (!r.message.empty()) out << " (" << r.message << ")";
  return out;
}

}  // namespace descent
