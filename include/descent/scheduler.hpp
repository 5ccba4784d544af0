#pragma once
// Learning-rate schedules with torch.optim.lr_scheduler's semantics and numbers (torch 1.13), and
// ReduceLROnPlateau. A schedule is an aggregate of options; a Scheduler binds one to an optimizer
// (plain, Grouped or Clipped) and applies its value for every step:
//
//     descent::AdamW<Eigen::VectorXf> opt({.lr = 1e-3});
//     descent::Scheduler sched(opt, descent::SequentialLR{
//         {descent::LinearLR{.start_factor = 0.01, .total_iters = 100},
//          descent::CosineAnnealingLR{.T_max = 900}}, {100}});
//     for (...) { opt.step(x, g); sched.step(); }
//
// Values are computed from the step count in closed form wherever torch has one (so a resumed
// run is exact by construction), and equal torch's recursive forms to rounding.

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <numbers>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "descent/detail/access.hpp"
#include "descent/callbacks.hpp"
#include "descent/detail/checks.hpp"

namespace descent {

/// CyclicLR's amplitude policy (torch's mode strings).
enum class CyclicMode {
  Triangular,   ///< "triangular": the full amplitude in every cycle
  Triangular2,  ///< "triangular2": the amplitude halves with every cycle
  ExpRange      ///< "exp_range": the amplitude scales by gamma^(step count)
};

/// OneCycleLR's annealing between the phase ends (torch's anneal_strategy strings).
enum class AnnealStrategy {
  Cos,    ///< "cos": end + (start − end)/2 · (1 + cos(π·pct))
  Linear  ///< "linear": start + (end − start)·pct
};

constexpr std::string_view to_string(CyclicMode mode) {
  switch (mode) {
    case CyclicMode::Triangular: return "Triangular";
    case CyclicMode::Triangular2: return "Triangular2";
    case CyclicMode::ExpRange: return "ExpRange";
  }
  return "unknown";
}
constexpr std::string_view to_string(AnnealStrategy strategy) {
  switch (strategy) {
    case AnnealStrategy::Cos: return "Cos";
    case AnnealStrategy::Linear: return "Linear";
  }
  return "unknown";
}
inline std::ostream& operator<<(std::ostream& out, CyclicMode mode) { return out << to_string(mode); }
inline std::ostream& operator<<(std::ostream& out, AnnealStrategy strategy) { return out << to_string(strategy); }

namespace detail {

inline constexpr double required_value = std::numeric_limits<double>::quiet_NaN();

inline void require_at_least(const char* schedule, const char* field, std::int64_t value, std::int64_t least) {
  if (value < least)
    invalid_option(schedule, field, std::to_string(value), concat("must be >= ", std::to_string(least)));
}
inline void require_given(const char* schedule, const char* field, double value) {
  if (std::isnan(value)) invalid_option(schedule, field, value, "is required (torch has no default)");
}
inline void require_finite(const char* schedule, const char* field, double value) {
  if (!std::isfinite(value)) invalid_option(schedule, field, value, "must be finite");
}
inline void require_positive_finite(const char* schedule, const char* field, double value) {
  if (!(value > 0.0) || std::isinf(value)) invalid_option(schedule, field, value, "must be a finite number > 0");
}
inline void require_nonnegative_finite(const char* schedule, const char* field, double value) {
  if (!(value >= 0.0) || std::isinf(value)) invalid_option(schedule, field, value, "must be a finite number >= 0");
}

}  // namespace detail

/// torch.optim.lr_scheduler.StepLR: lr_t = initial_lr · gamma^⌊t / step_size⌋.
struct StepLR {
  /// Steps between two decays. Required; >= 1.
  std::int64_t step_size = 0;
  /// Factor of each decay. Default 0.1; finite and > 0.
  double gamma = 0.1;

  void validate() const {
    detail::require_at_least("StepLR", "step_size", step_size, 1);
    detail::require_positive_finite("StepLR", "gamma", gamma);
  }
};

/// torch.optim.lr_scheduler.MultiStepLR: lr_t = initial_lr · gamma^(number of milestones <= t); a
/// milestone listed twice counts twice (torch's Counter).
struct MultiStepLR {
  /// Steps at which the lr decays, in any order; each >= 0.
  std::vector<std::int64_t> milestones = {};
  /// Factor of each decay. Default 0.1; finite and > 0.
  double gamma = 0.1;

  void validate() const {
    for (std::int64_t m : milestones) detail::require_at_least("MultiStepLR", "milestones", m, 0);
    detail::require_positive_finite("MultiStepLR", "gamma", gamma);
  }
};

/// torch.optim.lr_scheduler.ConstantLR: lr_t = initial_lr · factor for t < total_iters, then initial_lr.
struct ConstantLR {
  /// Factor until total_iters. Default 1/3; in (0, 1].
  double factor = 1.0 / 3;
  /// Steps at the reduced lr. Default 5; >= 1.
  std::int64_t total_iters = 5;

  void validate() const {
    if (!(factor > 0.0 && factor <= 1.0)) detail::invalid_option("ConstantLR", "factor", factor, "must be in (0, 1]");
    detail::require_at_least("ConstantLR", "total_iters", total_iters, 1);
  }
};

/// torch.optim.lr_scheduler.LinearLR: lr_t = initial_lr · (start_factor + (end_factor −
/// start_factor) · min(t, total_iters) / total_iters).
struct LinearLR {
  /// Factor at step 0. Default 1/3; in (0, 1].
  double start_factor = 1.0 / 3;
  /// Factor from total_iters on. Default 1; in [0, 1].
  double end_factor = 1.0;
  /// Steps of the linear change. Default 5; >= 1.
  std::int64_t total_iters = 5;

  void validate() const {
    if (!(start_factor > 0.0 && start_factor <= 1.0))
      detail::invalid_option("LinearLR", "start_factor", start_factor, "must be in (0, 1]");
    if (!(end_factor >= 0.0 && end_factor <= 1.0))
      detail::invalid_option("LinearLR", "end_factor", end_factor, "must be in [0, 1]");
    detail::require_at_least("LinearLR", "total_iters", total_iters, 1);
  }
};

/// torch.optim.lr_scheduler.ExponentialLR: lr_t = initial_lr · gamma^t.
struct ExponentialLR {
  /// Factor per step. Required; finite and > 0.
  double gamma = detail::required_value;

  void validate() const {
    detail::require_given("ExponentialLR", "gamma", gamma);
    detail::require_positive_finite("ExponentialLR", "gamma", gamma);
  }
};

/// torch.optim.lr_scheduler.PolynomialLR: lr_t = initial_lr · (1 − min(t, total_iters) / total_iters)^power.
struct PolynomialLR {
  /// Steps until the lr reaches 0. Default 5; >= 1.
  std::int64_t total_iters = 5;
  /// Power of the decay. Default 1; finite and >= 0.
  double power = 1.0;

  void validate() const {
    detail::require_at_least("PolynomialLR", "total_iters", total_iters, 1);
    detail::require_nonnegative_finite("PolynomialLR", "power", power);
  }
};

/// torch.optim.lr_scheduler.CosineAnnealingLR: lr_t = eta_min + (initial_lr − eta_min) · (1 +
/// cos(π t / T_max)) / 2. Past T_max the cosine goes on (the lr climbs back over the next T_max
/// steps), as torch's does.
struct CosineAnnealingLR {
  /// Steps from the initial lr down to eta_min. Required; >= 1.
  std::int64_t T_max = 0;
  /// The lowest lr. Default 0; finite and >= 0.
  double eta_min = 0.0;

  void validate() const {
    detail::require_at_least("CosineAnnealingLR", "T_max", T_max, 1);
    detail::require_nonnegative_finite("CosineAnnealingLR", "eta_min", eta_min);
  }
};

/// torch.optim.lr_scheduler.CosineAnnealingWarmRestarts (SGDR): lr_t = eta_min + (initial_lr −
/// eta_min) · (1 + cos(π T_cur / T_i)) / 2, where T_cur counts the steps since the last restart
/// and the i-th cycle lasts T_i = T_0 · T_mult^i steps.
struct CosineAnnealingWarmRestarts {
  /// Steps of the first cycle. Required; >= 1.
  std::int64_t T_0 = 0;
  /// Growth factor of the cycle length. Default 1; >= 1.
  std::int64_t T_mult = 1;
  /// The lowest lr. Default 0; finite and >= 0.
  double eta_min = 0.0;

  void validate() const {
    detail::require_at_least("CosineAnnealingWarmRestarts", "T_0", T_0, 1);
    detail::require_at_least("CosineAnnealingWarmRestarts", "T_mult", T_mult, 1);
    detail::require_nonnegative_finite("CosineAnnealingWarmRestarts", "eta_min", eta_min);
  }
};

/// torch.optim.lr_scheduler.CyclicLR (Smith, 2017). With c = ⌊1 + t/(up + down)⌋ and x = 1 + t/(up
/// + down) − c, the position s in the cycle is x/r while x <= r = up/(up + down), else (x − 1)/(r −
/// 1), and lr_t = base_lr + (max_lr − base_lr) · s · scale, scale = 1 (Triangular), 1/2^(c−1)
/// (Triangular2) or gamma^t (ExpRange). With cycle_momentum, momentum_t = max_momentum −
/// (max_momentum − base_momentum) · s · scale. The optimizer's own lr is ignored, as in torch.
/// Beyond torch 1.13 (which raises for optimizers without 'momentum'): Adam's and AdamW's beta1
/// is cycled as their momentum, as torch 2.x does.
struct CyclicLR {
  /// The lower lr bound, the lr at step 0. Required; finite and >= 0.
  double base_lr = detail::required_value;
  /// The upper lr bound. Required; finite and >= 0.
  double max_lr = detail::required_value;
  /// Steps of the increasing half of a cycle. Default 2000; >= 1.
  std::int64_t step_size_up = 2000;
  /// Steps of the decreasing half. Default: empty, equal to step_size_up; >= 0.
  std::optional<std::int64_t> step_size_down = std::nullopt;
  /// Amplitude policy. Default Triangular.
  CyclicMode mode = CyclicMode::Triangular;
  /// ExpRange's base. Default 1; finite and > 0.
  double gamma = 1.0;
  /// Cycle the momentum inversely to the lr (SGD, RMSProp: momentum; Adam, AdamW: beta1). An
  /// optimizer without momentum (Adagrad, GradientDescent) is then refused. Default true.
  bool cycle_momentum = true;
  /// Momentum at the lr's peak. Default 0.8; finite.
  double base_momentum = 0.8;
  /// Momentum at the cycle's start. Default 0.9; finite.
  double max_momentum = 0.9;

  void validate() const {
    detail::require_given("CyclicLR", "base_lr", base_lr);
    detail::require_nonnegative_finite("CyclicLR", "base_lr", base_lr);
    detail::require_given("CyclicLR", "max_lr", max_lr);
    detail::require_nonnegative_finite("CyclicLR", "max_lr", max_lr);
    detail::require_at_least("CyclicLR", "step_size_up", step_size_up, 1);
    if (step_size_down) detail::require_at_least("CyclicLR", "step_size_down", *step_size_down, 0);
    detail::require_positive_finite("CyclicLR", "gamma", gamma);
    detail::require_finite("CyclicLR", "base_momentum", base_momentum);
    detail::require_finite("CyclicLR", "max_momentum", max_momentum);
  }
};

/// torch.optim.lr_scheduler.OneCycleLR (Smith & Topin, 2018): from max_lr/div_factor up to max_lr
/// over the first pct_start·total_steps steps, then down to max_lr/(div_factor·final_div_factor)
/// at step total_steps − 1 (three_phase: back to the initial lr first, then down), annealed by
/// anneal_strategy; phase ends are fractional, at float(pct_start·total_steps) − 1 as in torch.
/// The optimizer's own lr is ignored. step() may be called total_steps times (the natural loop
/// ends with one); the value applied by that last call is never used by an optimizer step, and
/// descent holds the final value there (torch extrapolates, to a negative lr with Linear). One more
/// step() throws std::out_of_range, as torch raises. With cycle_momentum the momentum (SGD,
/// RMSProp) or beta1 (Adam, AdamW, as torch's betas[0]) goes the opposite way, max_momentum to
/// base_momentum and back.
struct OneCycleLR {
  /// The peak lr. Required; finite and >= 0.
  double max_lr = detail::required_value;
  /// Steps of the whole cycle. Required; >= 1.
  std::int64_t total_steps = 0;
  /// Fraction of the steps spent increasing the lr. Default 0.3; in [0, 1].
  double pct_start = 0.3;
  /// Annealing between the phase ends. Default Cos.
  AnnealStrategy anneal_strategy = AnnealStrategy::Cos;
  /// Cycle the momentum inversely to the lr; an optimizer without momentum is refused. Default true.
  bool cycle_momentum = true;
  /// Momentum at the lr's peak. Default 0.85; finite.
  double base_momentum = 0.85;
  /// Momentum at the start and the end. Default 0.95; finite.
  double max_momentum = 0.95;
  /// The initial lr is max_lr / div_factor. Default 25; finite and > 0.
  double div_factor = 25.0;
  /// The final lr is the initial lr / final_div_factor. Default 1e4; finite and > 0.
  double final_div_factor = 1e4;
  /// Three phases (up, back down to the initial lr, down to the final lr) instead of two. Default false.
  bool three_phase = false;

  void validate() const {
    detail::require_given("OneCycleLR", "max_lr", max_lr);
    detail::require_nonnegative_finite("OneCycleLR", "max_lr", max_lr);
    detail::require_at_least("OneCycleLR", "total_steps", total_steps, 1);
    if (!(pct_start >= 0.0 && pct_start <= 1.0))
      detail::invalid_option("OneCycleLR", "pct_start", pct_start, "must be in [0, 1]");
    detail::require_finite("OneCycleLR", "base_momentum", base_momentum);
    detail::require_finite("OneCycleLR", "max_momentum", max_momentum);
    detail::require_positive_finite("OneCycleLR", "div_factor", div_factor);
    detail::require_positive_finite("OneCycleLR", "final_div_factor", final_div_factor);
  }
};

/// torch.optim.lr_scheduler.LambdaLR: lr_t = initial_lr · lr_lambda(t).
struct LambdaLR {
  /// The factor of step t. Required.
  std::function<double(std::int64_t)> lr_lambda = {};

  void validate() const {
    if (!lr_lambda) detail::invalid_option("LambdaLR", "lr_lambda", "empty", "is required: a function double(int64_t)");
  }
};

/// torch.optim.lr_scheduler.MultiplicativeLR: lr_0 = initial_lr, lr_t = lr_{t−1} · lr_lambda(t).
struct MultiplicativeLR {
  /// The factor of step t >= 1. Required.
  std::function<double(std::int64_t)> lr_lambda = {};

  void validate() const {
    if (!lr_lambda)
      detail::invalid_option("MultiplicativeLR", "lr_lambda", "empty", "is required: a function double(int64_t)");
  }
};

/// Any schedule but SequentialLR: what SequentialLR chains.
using AnySchedule = std::variant<StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR,
                                 CosineAnnealingLR, CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR, LambdaLR,
                                 MultiplicativeLR>;

/// torch.optim.lr_scheduler.SequentialLR: schedulers[0] until milestones[0], then schedulers[1]
/// started at its own step 0, and so on (torch calls the next scheduler's step(0) at each
/// milestone). Every schedule starts from the optimizer's initial lr, except a MultiplicativeLR
/// after the first, which continues from the lr in force at its milestone (torch's step(0) keeps
/// the current lr there). torch differs where a CyclicLR or OneCycleLR is in the list: their
/// constructors overwrite the optimizer's lr and initial_lr, which leaks into the schedules
/// constructed after them; descent starts each schedule from the optimizer's initial lr.
struct SequentialLR {
  /// The schedules, in order. At least one.
  std::vector<AnySchedule> schedulers = {};
  /// The steps at which the next schedule takes over: one fewer than schedulers, strictly
  /// increasing and >= 1 (torch does not check these; a milestone at 0 or a repeated one makes it
  /// step a schedule that never started).
  std::vector<std::int64_t> milestones = {};

  void validate() const {
    if (schedulers.empty()) detail::invalid_option("SequentialLR", "schedulers", "empty", "needs at least one schedule");
    if (milestones.size() + 1 != schedulers.size())
      detail::invalid_option("SequentialLR", "milestones", detail::concat(std::to_string(milestones.size()), " milestones"),
                             detail::concat("must be one fewer than the ", std::to_string(schedulers.size()), " schedulers"));
    for (std::size_t i = 0; i < milestones.size(); ++i) {
      detail::require_at_least("SequentialLR", "milestones", milestones[i], i == 0 ? 1 : milestones[i - 1] + 1);
    }
    for (const auto& s : schedulers) std::visit([](const auto& schedule) { schedule.validate(); }, s);
  }
};

/// ReduceLROnPlateau's sense of "better".
enum class PlateauMode {
  Min,  ///< the metric should decrease (a loss)
  Max   ///< the metric should increase (an accuracy)
};

/// How ReduceLROnPlateau's threshold measures a significant improvement.
enum class ThresholdMode {
  Rel,  ///< better than best·(1 − threshold) (Min) or best·(1 + threshold) (Max)
  Abs   ///< better than best − threshold (Min) or best + threshold (Max)
};

constexpr std::string_view to_string(PlateauMode mode) { return mode == PlateauMode::Min ? "Min" : "Max"; }
constexpr std::string_view to_string(ThresholdMode mode) { return mode == ThresholdMode::Rel ? "Rel" : "Abs"; }
inline std::ostream& operator<<(std::ostream& out, PlateauMode mode) { return out << to_string(mode); }
inline std::ostream& operator<<(std::ostream& out, ThresholdMode mode) { return out << to_string(mode); }

/// Options of ReduceLROnPlateau (torch.optim.lr_scheduler.ReduceLROnPlateau's arguments).
struct ReduceLROnPlateauOptions {
  /// Min: the metric should decrease; Max: increase. Default Min.
  PlateauMode mode = PlateauMode::Min;
  /// Each reduction multiplies the lr by factor. Default 0.1; in [0, 1).
  double factor = 0.1;
  /// Metrics without improvement tolerated before a reduction: the lr drops at the
  /// (patience + 1)-th. Default 10; >= 0.
  std::int64_t patience = 10;
  /// Smallest improvement that counts (see ThresholdMode). Default 1e-4; finite and >= 0.
  double threshold = 1e-4;
  /// Relative or absolute threshold. Default Rel.
  ThresholdMode threshold_mode = ThresholdMode::Rel;
  /// Metrics ignored after a reduction (bad epochs are not counted then). Default 0; >= 0.
  std::int64_t cooldown = 0;
  /// No group's lr goes below min_lr. Default 0; finite and >= 0.
  double min_lr = 0.0;
  /// A group's reduction is skipped when it would change its lr by eps or less (an absolute
  /// test). Default 1e-8; finite and >= 0.
  double eps = 1e-8;

  void validate() const {
    if (!(factor >= 0.0 && factor < 1.0))
      detail::invalid_option("ReduceLROnPlateauOptions", "factor", factor, "must be in [0, 1)");
    detail::require_at_least("ReduceLROnPlateauOptions", "patience", patience, 0);
    detail::require_nonnegative_finite("ReduceLROnPlateauOptions", "threshold", threshold);
    detail::require_at_least("ReduceLROnPlateauOptions", "cooldown", cooldown, 0);
    detail::require_nonnegative_finite("ReduceLROnPlateauOptions", "min_lr", min_lr);
    detail::require_nonnegative_finite("ReduceLROnPlateauOptions", "eps", eps);
  }
};

namespace detail {

/// Optimizers with parameter groups (Grouped, and Clipped over one).
template <class O>
concept GroupedLearningRates = requires(O& o, const O& c, std::size_t g, double x) {
  { c.group_count() } -> std::convertible_to<std::size_t>;
  { c.lr(g) } -> std::convertible_to<double>;
  o.set_lr(g, x);
};

template <class O>
concept PlainLearningRate = requires(O& o, const O& c, double x) {
  { c.lr() } -> std::convertible_to<double>;
  o.set_lr(x);
};

template <class O>
concept HasMomentum = (GroupedLearningRates<O> && requires(O& o, const O& c, std::size_t g, double x) {
                        { c.momentum(g) } -> std::convertible_to<double>;
                        o.set_momentum(g, x);
                      }) || (!GroupedLearningRates<O> && requires(O& o, const O& c, double x) {
                        { c.momentum() } -> std::convertible_to<double>;
                        o.set_momentum(x);
                      });

template <class O>
std::size_t group_count(const O& o) {
  if constexpr (GroupedLearningRates<O>)
    return std::size_t(o.group_count());
  else
    return 1;
}
template <class O>
double lr_of(const O& o, std::size_t g) {
  if constexpr (GroupedLearningRates<O>)
    return double(o.lr(g));
  else
    return (void)g, double(o.lr());
}
template <class O>
void set_lr_of(O& o, std::size_t g, double lr) {
  if constexpr (GroupedLearningRates<O>)
    o.set_lr(g, lr);
  else
    (void)g, o.set_lr(lr);
}
template <class O>
double momentum_of(const O& o, std::size_t g) {
  if constexpr (!HasMomentum<O>)
    return (void)o, (void)g, std::numeric_limits<double>::quiet_NaN();
  else if constexpr (GroupedLearningRates<O>)
    return double(o.momentum(g));
  else
    return (void)g, double(o.momentum());
}
template <class O>
void set_momentum_of(O& o, std::size_t g, double m) {
  if constexpr (HasMomentum<O>) {
    if constexpr (GroupedLearningRates<O>)
      o.set_momentum(g, m);
    else
      (void)g, o.set_momentum(m);
  }
}

/// What a schedule gives one group at one step.
struct ScheduleValue {
  double lr;
  std::optional<double> momentum;
};

/// Per-group inputs of a schedule: the lr at the scheduler's construction and the lr it applied
/// last (MultiplicativeLR's recursion).
struct GroupLr {
  double initial;
  double previous;
};

inline constexpr double pi = std::numbers::pi;

inline ScheduleValue value_at(const StepLR& s, std::int64_t t, GroupLr g) {
  return {g.initial * std::pow(s.gamma, double(t / s.step_size)), {}};
}

inline ScheduleValue value_at(const MultiStepLR& s, std::int64_t t, GroupLr g) {
  std::int64_t passed = 0;
  for (std::int64_t m : s.milestones) passed += m <= t ? 1 : 0;
  return {g.initial * std::pow(s.gamma, double(passed)), {}};
}

inline ScheduleValue value_at(const ConstantLR& s, std::int64_t t, GroupLr g) {
  return {g.initial * (s.factor + double(t >= s.total_iters) * (1 - s.factor)), {}};
}

inline ScheduleValue value_at(const LinearLR& s, std::int64_t t, GroupLr g) {
  return {g.initial * (s.start_factor + (s.end_factor - s.start_factor) * double(std::min(s.total_iters, t)) /
                                            double(s.total_iters)),
          {}};
}

inline ScheduleValue value_at(const ExponentialLR& s, std::int64_t t, GroupLr g) {
  return {g.initial * std::pow(s.gamma, double(t)), {}};
}

inline ScheduleValue value_at(const PolynomialLR& s, std::int64_t t, GroupLr g) {
  return {g.initial * std::pow(1.0 - double(std::min(s.total_iters, t)) / double(s.total_iters), s.power), {}};
}

inline ScheduleValue value_at(const CosineAnnealingLR& s, std::int64_t t, GroupLr g) {
  // t mod 2·T_max: the cosine is periodic, and a huge t would lose precision in π·t
  const double phase = double(t % (2 * s.T_max));
  return {s.eta_min + (g.initial - s.eta_min) * (1 + std::cos(pi * phase / double(s.T_max))) / 2, {}};
}

inline ScheduleValue value_at(const CosineAnnealingWarmRestarts& s, std::int64_t t, GroupLr g) {
  std::int64_t t_cur = t, t_i = s.T_0;
  if (s.T_mult == 1) {
    t_cur = t % s.T_0;
  } else {
    while (t_cur >= t_i) {  // O(log t) cycles; the same integers as torch's step-by-step counting
      t_cur -= t_i;
      t_i *= s.T_mult;
    }
  }
  return {s.eta_min + (g.initial - s.eta_min) * (1 + std::cos(pi * double(t_cur) / double(t_i))) / 2, {}};
}

inline ScheduleValue value_at(const CyclicLR& s, std::int64_t t, GroupLr) {
  const double up = double(s.step_size_up);
  const double down = s.step_size_down ? double(*s.step_size_down) : up;
  const double total_size = up + down;
  const double step_ratio = up / total_size;
  const double epoch = double(t);
  const double cycle = std::floor(1 + epoch / total_size);
  const double x = 1.0 + epoch / total_size - cycle;
  const double scale_factor = x <= step_ratio ? x / step_ratio : (x - 1) / (step_ratio - 1);
  double scale;
  switch (s.mode) {
    case CyclicMode::Triangular: scale = 1.0; break;
    case CyclicMode::Triangular2: scale = 1 / std::pow(2.0, cycle - 1); break;
    default: scale = std::pow(s.gamma, epoch); break;
  }
  ScheduleValue v{s.base_lr + (s.max_lr - s.base_lr) * scale_factor * scale, {}};
  if (s.cycle_momentum) v.momentum = s.max_momentum - (s.max_momentum - s.base_momentum) * scale_factor * scale;
  return v;
}

inline double anneal(AnnealStrategy strategy, double start, double end, double pct) {
  if (strategy == AnnealStrategy::Cos) return end + (start - end) / 2.0 * (std::cos(pi * pct) + 1);
  return (end - start) * pct + start;
}

inline ScheduleValue value_at(const OneCycleLR& s, std::int64_t t, GroupLr) {
  if (t > s.total_steps)
    throw std::out_of_range(concat("descent::OneCycleLR: stepped ", std::to_string(t), " times, but total_steps is ",
                                   std::to_string(s.total_steps)));
  // the total_steps-th step() sets the value of a step that never comes: hold the final value
  const double step = double(std::min(t, s.total_steps - 1));
  const double initial = s.max_lr / s.div_factor;
  const double min_lr = initial / s.final_div_factor;
  struct Phase {
    double end_step, start_lr, end_lr, start_momentum, end_momentum;
  };
  const double total = double(s.total_steps);
  const double first_end = s.pct_start * total - 1;
  Phase phases[3];
  int count;
  if (s.three_phase) {
    phases[0] = {first_end, initial, s.max_lr, s.max_momentum, s.base_momentum};
    phases[1] = {2 * s.pct_start * total - 2, s.max_lr, initial, s.base_momentum, s.max_momentum};
    phases[2] = {total - 1, initial, min_lr, s.max_momentum, s.max_momentum};
    count = 3;
  } else {
    phases[0] = {first_end, initial, s.max_lr, s.max_momentum, s.base_momentum};
    phases[1] = {total - 1, s.max_lr, min_lr, s.base_momentum, s.max_momentum};
    count = 2;
  }
  double start_step = 0;
  for (int i = 0; i < count; ++i) {
    const Phase& p = phases[i];
    if (step <= p.end_step || i == count - 1) {
      // a phase of no length (torch divides by zero there) is at its end
      const double pct = p.end_step == start_step ? 1.0 : (step - start_step) / (p.end_step - start_step);
      ScheduleValue v{anneal(s.anneal_strategy, p.start_lr, p.end_lr, pct), {}};
      if (s.cycle_momentum) v.momentum = anneal(s.anneal_strategy, p.start_momentum, p.end_momentum, pct);
      return v;
    }
    start_step = p.end_step;
  }
  return {min_lr, {}};  // not reached: the last phase always matches
}

inline ScheduleValue value_at(const LambdaLR& s, std::int64_t t, GroupLr g) { return {g.initial * s.lr_lambda(t), {}}; }

inline ScheduleValue value_at(const MultiplicativeLR& s, std::int64_t t, GroupLr g) {
  return {t > 0 ? g.previous * s.lr_lambda(t) : g.previous, {}};
}

/// The child of SequentialLR in force at step t, and t counted from that child's milestone.
struct ActiveChild {
  std::size_t index;
  std::int64_t local;
};
inline ActiveChild active_child(const SequentialLR& s, std::int64_t t) {
  const std::size_t k = std::size_t(std::upper_bound(s.milestones.begin(), s.milestones.end(), t) - s.milestones.begin());
  return {k, k == 0 ? t : t - s.milestones[k - 1]};
}

inline ScheduleValue value_at(const SequentialLR& s, std::int64_t t, GroupLr g) {
  // not a structured binding: clang before 16 cannot capture one
  const ActiveChild a = active_child(s, t);
  // every schedule restarts at its own step 0 from the initial lr; a MultiplicativeLR from the
  // previous lr, which is the lr in force at its milestone
  return std::visit([&](const auto& schedule) { return value_at(schedule, a.local, g); }, s.schedulers[a.index]);
}

template <class S>
bool cycles_momentum(const S& s) {
  if constexpr (std::is_same_v<S, CyclicLR> || std::is_same_v<S, OneCycleLR>)
    return s.cycle_momentum;
  else if constexpr (std::is_same_v<S, SequentialLR>) {
    for (const auto& child : s.schedulers)
      if (std::visit([](const auto& c) { return cycles_momentum(c); }, child)) return true;
    return false;
  } else {
    return (void)s, false;
  }
}

/// How the schedule active at step t treats an lr changed from outside since the last step (by
/// ReduceLROnPlateau, or by hand), as torch's chainable forms do: StepLR, MultiStepLR, ConstantLR,
/// LinearLR, ExponentialLR, PolynomialLR and MultiplicativeLR scale the current lr, so an outside
/// change persists as a factor; CosineAnnealingLR scales its distance to eta_min (the anchor).
/// LambdaLR, CosineAnnealingWarmRestarts, CyclicLR and OneCycleLR compute from their base values
/// and overwrite it (nullopt). `restart`: SequentialLR's milestone, where torch's step(0) starts
/// the next schedule from the initial lr (but a MultiplicativeLR from the current one).
struct Chain {
  std::optional<double> anchor;
  bool restart = false;
};

template <class S>
Chain chain_at(const S& s, std::int64_t t) {
  if constexpr (std::is_same_v<S, CosineAnnealingLR>)
    return (void)t, Chain{s.eta_min, false};
  else if constexpr (std::is_same_v<S, LambdaLR> || std::is_same_v<S, CosineAnnealingWarmRestarts> ||
                     std::is_same_v<S, CyclicLR> || std::is_same_v<S, OneCycleLR>)
    return (void)s, (void)t, Chain{std::nullopt, false};
  else if constexpr (std::is_same_v<S, SequentialLR>) {
    const ActiveChild a = active_child(s, t);
    return std::visit(
        [&](const auto& child) {
          Chain c = chain_at(child, a.local);
          using C = std::remove_cvref_t<decltype(child)>;
          c.restart = a.index > 0 && a.local == 0 && !std::is_same_v<C, MultiplicativeLR>;
          return c;
        },
        s.schedulers[a.index]);
  } else {
    return (void)s, (void)t, Chain{0.0, false};
  }
}

template <class S>
inline constexpr bool is_schedule_v =
    std::is_same_v<S, SequentialLR> || requires(const S& s, std::int64_t t, GroupLr g) {
      { detail::value_at(s, t, g) } -> std::same_as<ScheduleValue>;
    };

}  // namespace detail

/// A schedule bound to an optimizer: a plain descent optimizer, a Grouped one (each group's lr
/// separately, from its own initial lr), a Clipped adapter over either, or any optimizer of yours
/// with lr()/set_lr(x) (and momentum()/set_momentum(x) for schedules that cycle momentum). It
/// remembers each group's lr at construction as its initial lr (torch's initial_lr), applies the
/// schedule's value for step 0 at construction, and step() advances one step and applies the
/// next value. The optimizer is held by reference and must outlive the scheduler.
///
/// The values are the schedule's closed form of the step count (see each schedule), torch 1.13's
/// numbers to rounding. Applying a value goes through the optimizer's set_lr/set_momentum, so a
/// value the optimizer refuses (a negative lr from a LambdaLR, momentum 0 for a Nesterov SGD)
/// throws std::invalid_argument from step(); the step count and every group's lr and momentum are
/// then as they were.
template <class O, class S>
class Scheduler {
  static_assert(detail::is_schedule_v<S>, "descent::Scheduler<O, S>: S must be one of descent's schedules");
  static_assert(detail::GroupedLearningRates<O> || detail::PlainLearningRate<O>,
                "descent::Scheduler<O, S>: the optimizer must have lr() and set_lr(x), or group_count(), lr(g) and "
                "set_lr(g, x)");

 public:
  using Optimizer = O;
  using Schedule = S;

  /// Validates the schedule (std::invalid_argument naming the schedule and the field) and that the
  /// optimizer has a momentum when the schedule cycles it, then applies the value of step 0.
  Scheduler(O& optimizer, S schedule) : optimizer_(&optimizer), schedule_(std::move(schedule)) {
    schedule_.validate();
    if (detail::cycles_momentum(schedule_) && !detail::HasMomentum<O>)
      throw std::invalid_argument(
          "descent::Scheduler: the schedule cycles the momentum (cycle_momentum = true), but the optimizer has no "
          "momentum (SGD, RMSProp and ScheduleFreeSGD have one; Adam, AdamW, NAdam, RAdam, Adamax, Lion and "
          "ScheduleFreeAdamW cycle beta1); set "
          "cycle_momentum = false");
    const std::size_t n = detail::group_count(optimizer);
    initial_lr_.resize(n);
    for (std::size_t g = 0; g < n; ++g) initial_lr_[g] = detail::lr_of(optimizer, g);
    last_lr_ = initial_lr_;
    last_value_ = initial_lr_;
    scale_.assign(n, 1.0);
    apply(0);
  }

  /// Advances one step and applies the schedule's value for it to every group.
  void step() { apply(last_epoch_ + 1); }

  /// Steps taken since construction: torch's last_epoch (0 after construction).
  std::int64_t last_epoch() const { return last_epoch_; }
  /// The lr applied last, one per group (torch's get_last_lr()).
  const std::vector<double>& last_lr() const { return last_lr_; }
  /// Each group's lr when the scheduler was constructed (torch's base_lrs).
  const std::vector<double>& initial_lr() const { return initial_lr_; }
  const S& schedule() const { return schedule_; }
  O& optimizer() const { return *optimizer_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  void apply(std::int64_t t) {
    const std::size_t n = initial_lr_.size();
    if (detail::group_count(*optimizer_) != n)
      throw std::logic_error("descent::Scheduler: the optimizer's number of groups changed");
    const detail::Chain chain = detail::chain_at(schedule_, t);
    std::vector<detail::ScheduleValue> values;
    std::vector<double> lr(n), scale(n);
    values.reserve(n);
    for (std::size_t g = 0; g < n; ++g) {
      values.push_back(detail::value_at(schedule_, t, {initial_lr_[g], last_value_[g]}));
      // an lr changed from outside since our last step persists as a factor (torch's chaining)
      double s = scale_[g];
      if (!chain.anchor || chain.restart || t == 0) {
        s = 1.0;
      } else {
        const double a = *chain.anchor, current = detail::lr_of(*optimizer_, g);
        if (current != last_lr_[g] && last_lr_[g] - a != 0.0) s *= (current - a) / (last_lr_[g] - a);
      }
      scale[g] = s;
      lr[g] = s == 1.0 ? values[g].lr : *chain.anchor + (values[g].lr - *chain.anchor) * s;
    }
    std::vector<double> old_lr(n), old_momentum(n);
    for (std::size_t g = 0; g < n; ++g) {
      old_lr[g] = detail::lr_of(*optimizer_, g);
      old_momentum[g] = detail::momentum_of(*optimizer_, g);
    }
    std::size_t done = 0;
    try {
      for (; done < n; ++done) {
        detail::set_lr_of(*optimizer_, done, lr[done]);
        if (values[done].momentum) detail::set_momentum_of(*optimizer_, done, *values[done].momentum);
      }
    } catch (...) {
      for (std::size_t g = 0; g <= done && g < n; ++g) {  // the old values were accepted before
        detail::set_lr_of(*optimizer_, g, old_lr[g]);
        if constexpr (detail::HasMomentum<O>) detail::set_momentum_of(*optimizer_, g, old_momentum[g]);
      }
      throw;
    }
    for (std::size_t g = 0; g < n; ++g) {
      last_value_[g] = values[g].lr;
      last_lr_[g] = lr[g];
      scale_[g] = scale[g];
    }
    last_epoch_ = t;
  }

  O* optimizer_;
  S schedule_;
  std::vector<double> initial_lr_;
  std::vector<double> last_lr_;     // what was applied
  std::vector<double> last_value_;  // the schedule's own value (MultiplicativeLR's recursion)
  std::vector<double> scale_;       // the factor of outside changes (see detail::chain_at)
  std::int64_t last_epoch_ = 0;
};

/// torch.optim.lr_scheduler.ReduceLROnPlateau: step(metric) after each epoch (or validation);
/// when the metric has not improved (by threshold) for more than `patience` calls, every group's
/// lr becomes max(lr · factor, min_lr), unless that changes it by eps or less; then `cooldown`
/// calls are ignored. It reads and writes the optimizer's current lrs; a Scheduler stepping the
/// same optimizer keeps its reductions as torch's chainable schedulers do (detail::chain_at). A NaN metric is never better: it counts as a
/// bad epoch, as in torch. The optimizer is held by reference and must outlive it.
template <class O>
class ReduceLROnPlateau {
  static_assert(detail::GroupedLearningRates<O> || detail::PlainLearningRate<O>,
                "descent::ReduceLROnPlateau<O>: the optimizer must have lr() and set_lr(x), or group_count(), lr(g) "
                "and set_lr(g, x)");

 public:
  using Optimizer = O;
  using Options = ReduceLROnPlateauOptions;

  /// Validates the options (std::invalid_argument naming the field).
  explicit ReduceLROnPlateau(O& optimizer, Options options = {}) : optimizer_(&optimizer), options_(options) {
    options_.validate();
    reset();
    const std::size_t n = detail::group_count(optimizer);
    last_lr_.resize(n);
    for (std::size_t g = 0; g < n; ++g) last_lr_[g] = detail::lr_of(optimizer, g);
  }

  /// Records one metric (an epoch's loss, a validation accuracy) and reduces the lrs if the
  /// metric has plateaued. Returns true when it reduced at least one group's lr.
  bool step(double metric) {
    ++last_epoch_;
    if (is_better(metric)) {
      best_ = metric;
      bad_epochs_ = 0;
    } else {
      ++bad_epochs_;
    }
    if (cooldown_counter_ > 0) {
      --cooldown_counter_;
      bad_epochs_ = 0;
    }
    bool reduced = false;
    if (bad_epochs_ > options_.patience) {
      reduced = reduce();
      cooldown_counter_ = options_.cooldown;
      bad_epochs_ = 0;
    }
    const std::size_t n = detail::group_count(*optimizer_);
    last_lr_.resize(n);
    for (std::size_t g = 0; g < n; ++g) last_lr_[g] = detail::lr_of(*optimizer_, g);
    return reduced;
  }

  /// Forgets the best metric and the counters (torch's _reset), keeping the lrs.
  void reset() {
    best_ = options_.mode == PlateauMode::Min ? std::numeric_limits<double>::infinity()
                                              : -std::numeric_limits<double>::infinity();
    bad_epochs_ = 0;
    cooldown_counter_ = 0;
  }

  const Options& options() const { return options_; }
  /// The best metric so far (inf for Min, −inf for Max before the first).
  double best() const { return best_; }
  /// Consecutive calls without improvement (torch's num_bad_epochs).
  std::int64_t num_bad_epochs() const { return bad_epochs_; }
  /// Calls still to ignore after the last reduction.
  std::int64_t cooldown_counter() const { return cooldown_counter_; }
  /// Calls of step() so far.
  std::int64_t last_epoch() const { return last_epoch_; }
  /// Each group's lr after the last step() (at construction: the optimizer's lrs).
  const std::vector<double>& last_lr() const { return last_lr_; }
  O& optimizer() const { return *optimizer_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  bool is_better(double a) const {
    const double t = options_.threshold;
    if (options_.mode == PlateauMode::Min)
      return options_.threshold_mode == ThresholdMode::Rel ? a < best_ * (1.0 - t) : a < best_ - t;
    return options_.threshold_mode == ThresholdMode::Rel ? a > best_ * (t + 1.0) : a > best_ + t;
  }

  bool reduce() {
    bool reduced = false;
    const std::size_t n = detail::group_count(*optimizer_);
    for (std::size_t g = 0; g < n; ++g) {
      const double old_lr = detail::lr_of(*optimizer_, g);
      const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
      if (old_lr - new_lr > options_.eps) {
        detail::set_lr_of(*optimizer_, g, new_lr);
        reduced = true;
      }
    }
    return reduced;
  }

  O* optimizer_;
  Options options_;
  double best_ = 0;
  std::int64_t bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
  std::int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

namespace detail {

/// The callback of every_step / every_epoch: advances `target` at the chosen calls of a driver.
template <class T, class Metric>
struct ScheduleCallback {
  T* target;
  bool per_epoch;
  Metric metric;

  template <class V>
  void operator()(const Progress<V>& progress) {
    if (per_epoch && !progress.stochastic)
      throw std::invalid_argument(
          "descent::every_epoch: minimize has no epochs; step the schedule with descent::every_step(...) there");
    if (progress.end_of_epoch != per_epoch) return;
    if constexpr (std::is_same_v<Metric, std::nullptr_t>)
      target->step();
    else if constexpr (std::is_same_v<Metric, bool>)
      target->step(progress.loss);
    else
      target->step(double(metric(progress.params)));
  }
};

}  // namespace detail

/// A callback for minimize and train that calls `scheduler.step()` after every optimizer step:
/// `descent::train(f, x, opt, sampler, stop, descent::every_step(sched))`. The scheduler stays
/// the caller's (held by reference), so it can be inspected or checkpointed after the run.
template <class O, class S>
auto every_step(Scheduler<O, S>& scheduler) {
  return detail::ScheduleCallback<Scheduler<O, S>, std::nullptr_t>{&scheduler, false, nullptr};
}

/// A callback for train that calls `scheduler.step()` at the end of every epoch (torch's usual
/// per-epoch loop). minimize has no epochs: it throws std::invalid_argument there.
template <class O, class S>
auto every_epoch(Scheduler<O, S>& scheduler) {
  return detail::ScheduleCallback<Scheduler<O, S>, std::nullptr_t>{&scheduler, true, nullptr};
}

/// A callback that calls `plateau.step(loss)` after every optimizer step with the driver's loss
/// (minimize: the loss at the new parameters; train: the minibatch's loss, a noisy metric).
template <class O>
auto every_step(ReduceLROnPlateau<O>& plateau) {
  return detail::ScheduleCallback<ReduceLROnPlateau<O>, bool>{&plateau, false, true};
}

/// A callback for train that calls `plateau.step(m)` at the end of every epoch with the epoch's
/// mean minibatch loss.
template <class O>
auto every_epoch(ReduceLROnPlateau<O>& plateau) {
  return detail::ScheduleCallback<ReduceLROnPlateau<O>, bool>{&plateau, true, true};
}

/// A callback for train that calls `plateau.step(metric(params))` at the end of every epoch:
/// `metric` is any callable taking the parameters (an Eigen::Ref<const V>, usable as a const V&)
/// and returning the value to watch, e.g. the loss on a validation set.
template <class O, class F>
auto every_epoch(ReduceLROnPlateau<O>& plateau, F metric) {
  return detail::ScheduleCallback<ReduceLROnPlateau<O>, F>{&plateau, true, std::move(metric)};
}

}  // namespace descent
