#pragma once
// Schedule-Free SGD (Defazio et al., 2024, "The Road Less Scheduled"), as the authors' reference
// code computes it (facebookresearch/schedule_free, SGDScheduleFree). Not in torch.optim 1.13;
// the numbers are checked against an independent numpy implementation of the paper's three
// sequences (tools/make_numpy_reference.py).

#include <cmath>
#include <cstdint>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"
#include "descent/detail/schedule_free.hpp"

namespace descent {

/// Options of ScheduleFreeSGD. Three sequences: z (the plain SGD iterate), x (the weighted
/// average of the z's: the point to evaluate and to keep) and y = (1 − momentum)·z + momentum·x
/// (where gradients are taken, what the parameters hold in train mode). With k the steps taken
/// before this one (k + 1 = t), all scalars in double:
///   lr_t   = lr · ((k + 1) / warmup_steps while k < warmup_steps, else 1)
///   lr_max ← max(lr_max, lr_t)                      (starts at −1)
///   weight = (k + 1)^r · lr_max^weight_lr_power,  weight_sum ← weight_sum + weight
///   c      = weight / weight_sum                    (0 while weight_sum = 0)
/// then per coefficient, on the parameters y and the state z (= y at the first step):
///   u = g + weight_decay·y                          (an L2 term, taken at y)
///   y ← lerp(y, z, c) + lr_t·(momentum·(1 − c) − 1)·u   (torch.lerp's arithmetic)
///   z ← z − lr_t·u
/// which keeps y = (1 − momentum)·z + momentum·x for x ← (1 − c)·x + c·z, without storing x.
/// x is recovered from y and z (eval()), y from x and z (train()), with the momentum of the moment.
struct ScheduleFreeSGDOptions {
  /// Step size of z (and so of x and y), before warmup. Default 1.0 (the reference's: schedule-free
  /// SGD takes rates 10–50× larger than classical SGD); finite and >= 0.
  double lr = 1.0;
  /// The interpolation y = (1 − momentum)·z + momentum·x: where gradients are taken, between the
  /// base iterate z (0) and the average x (1); it replaces SGD's momentum. Default 0.9; in (0, 1),
  /// as the reference requires.
  double momentum = 0.9;
  /// L2 penalty: weight_decay·y is added to the gradient. Default 0; finite and >= 0.
  double weight_decay = 0.0;
  /// Linear warmup of lr over the first warmup_steps steps: step k + 1 uses lr·(k + 1)/warmup_steps
  /// while k < warmup_steps. Default 0 (none); >= 0.
  std::int64_t warmup_steps = 0;
  /// Polynomial weighting of the average: step t's z enters x with a weight proportional to t^r.
  /// Default 0 (uniform); finite and >= 0.
  double r = 0.0;
  /// The average's weights are lr_max^weight_lr_power, lr_max the largest lr_t so far, so steps
  /// taken during warmup count less. Default 2; finite and >= 0 (0: no lr weighting).
  double weight_lr_power = 2.0;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate(const char* options_name = "ScheduleFreeSGDOptions") const {
    detail::require_nonnegative(options_name, "lr", lr);
    detail::require_open(options_name, "momentum", momentum, 0.0, 1.0);
    detail::require_nonnegative(options_name, "weight_decay", weight_decay);
    if (warmup_steps < 0) detail::invalid_option(options_name, "warmup_steps", double(warmup_steps), "must be >= 0");
    detail::require_nonnegative(options_name, "r", r);
    detail::require_nonnegative(options_name, "weight_lr_power", weight_lr_power);
  }

  /// validate(), and that lr and weight_decay are finite in Scalar.
  template <class Scalar>
  void validate_for(const char* options_name = "ScheduleFreeSGDOptions") const {
    validate(options_name);
    detail::require_representable<Scalar>(options_name, "lr", lr);
    detail::require_representable<Scalar>(options_name, "weight_decay", weight_decay);
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// One Schedule-Free SGD step over `x` (the parameters hold y) with the step's lr_t and c: the
/// formula of ScheduleFreeSGDOptions, with the state array z. At the first step z starts as a
/// copy of y (in the same pass).
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void schedule_free_sgd_update(const Spans<Scalar, N>& x, const ScheduleFreeSGDOptions& o,
                                                   double lr, double ckp1, bool first, Scalar* z) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto wd = Scalar(o.weight_decay);
  const auto c = Scalar(ckp1);
  const auto rest = Scalar(1) - c;
  const auto y_step = Scalar(lr * (o.momentum * (1.0 - ckp1) - 1.0));
  const auto z_step = Scalar(lr);

  detail::dispatch(
      [&](auto first_step, auto decay, auto small_weight) {
        constexpr bool start = first_step, l2 = decay, small = small_weight;
        detail::for_each_coefficient(
            x,
            [=](auto& y, auto g, auto& zi) DESCENT_DETAIL_LANE_INLINE {
              if constexpr (start) zi = y;
              if constexpr (l2) g = g + wd * y;
              if constexpr (small)
                y = y + c * (zi - y);
              else
                y = zi - (zi - y) * rest;
              y = y + y_step * g;
              zi = zi - z_step * g;
            },
            z);
      },
      first, o.weight_decay != 0.0, lerp_weight_small(ckp1));
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// Schedule-Free SGD. State: z, created on the first step as a copy of the parameters; the doubles
/// lr_max and weight_sum; the mode.
///
/// Train/eval: in train mode (the initial one) the parameters hold y, where gradients are taken,
/// and step() updates them. To evaluate (a validation loss, predictions, the final model) at x,
/// the average, switch the parameters over and back:
///
///     opt.eval(x);             // x now holds the averaged iterate
///     double loss = f(x, g);
///     opt.train(x);            // x holds y again; step() may be called
///
/// eval() and train() are the reference's optimizer.eval() / .train(): p ← lerp(p, z, 1 −
/// 1/momentum) and p ← lerp(p, z, 1 − momentum), with the current momentum; calling either in the
/// mode it switches to does nothing, and before the first step (no z yet) they only switch the
/// mode. eval() then train() gives back y to rounding (a few ulps; not bitwise). step() in eval
/// mode throws std::logic_error, changing nothing. reset() forgets z and the bookkeeping and
/// returns to train mode without touching any parameters: the vector handed to the next step (y
/// or x) is where the run starts afresh.
template <class V>
class ScheduleFreeSGD {
  static_assert(detail::PlainEigen<V>,
                "descent::ScheduleFreeSGD<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = ScheduleFreeSGDOptions;

  ScheduleFreeSGD() = default;
  explicit ScheduleFreeSGD(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// A sparse gradient does not compile: only descent::SparseOptimizer types take one.
  DESCENT_DETAIL_REFUSE_SPARSE("ScheduleFreeSGD")

  /// One update of `params` (any writable Eigen expression of V's shape), which hold y, from
  /// `grads` (any Eigen expression of the same shape), the gradient at y. Throws
  /// std::logic_error in eval mode and std::invalid_argument on a shape mismatch, before writing
  /// anything. Strong guarantee: if anything throws (the checks, an allocation, a gradient
  /// expression being evaluated), params, state and step count are as they were.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    if (!training_) detail::schedule_free_step_in_eval_mode("ScheduleFreeSGD");
    detail::check_shapes<V>("ScheduleFreeSGD", params.rows(), params.cols(), grads.rows(), grads.cols(), steps_ > 0,
                            z_.rows(), z_.cols());
    detail::with_spans(params, grads, scratch_, [&](const auto& x) {
      const std::int64_t k = steps_;
      const double lr = options_.lr * detail::schedule_free_warmup(k, options_.warmup_steps);
      const auto w = detail::schedule_free_weights(lr, k, options_.r, options_.weight_lr_power, lr_max_, weight_sum_);
      // a throw here leaves steps_ at 0: the next step initializes again
      if (k == 0) detail::resize_strong(z_, params.rows(), params.cols());  // filled with y by the kernel
      detail::schedule_free_sgd_update(x, options_, lr, w.ckp1, k == 0, z_.data());
      lr_max_ = w.lr_max;
      weight_sum_ = w.weight_sum;
      ++steps_;
    });
  }

  /// Switches to eval mode: params (y, as the last step left them) become x, the averaged
  /// iterate. Nothing happens in eval mode; before the first step only the mode changes. Throws
  /// std::invalid_argument, changing nothing, when params' shape is not the state's.
  template <detail::ParamsOf<V> P>
  void eval(P&& params) {
    if (!training_) return;
    interpolate(params, 1.0 - 1.0 / options_.momentum, "eval");
    training_ = false;
  }
  /// Switches to train mode: params (x) become y = (1 − momentum)·z + momentum·x, where the next
  /// gradient is to be taken. Nothing happens in train mode; otherwise as eval().
  template <detail::ParamsOf<V> P>
  void train(P&& params) {
    if (training_) return;
    interpolate(params, 1.0 - options_.momentum, "train");
    training_ = true;
  }
  /// True in train mode (the parameters hold y), false in eval mode (they hold x).
  bool training() const { return training_; }

  /// Drops z, lr_max, weight_sum and the step count, and returns to train mode; the parameters
  /// are not touched, and the next step starts afresh from what they hold.
  void reset() {
    detail::release_state(z_);
    lr_max_ = -1.0;
    weight_sum_ = 0.0;
    steps_ = 0;
    training_ = true;
  }

  const Options& options() const { return options_; }
  double lr() const { return options_.lr; }
  /// Changes the learning rate for the following steps; throws like the constructor on a bad
  /// value. The average's weights use lr_max, the largest lr_t so far (as the reference): a
  /// lowered lr does not lower them, a raised one raises them from then on.
  void set_lr(double lr) {
    Options changed = options_;
    changed.lr = lr;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  /// The interpolation weight `momentum` (what CyclicLR and OneCycleLR cycle, as they cycle SGD's
  /// momentum).
  double momentum() const { return options_.momentum; }
  /// Changes the momentum for the following steps and mode switches; throws like the constructor
  /// on a bad value. As in the reference, the parameters are not moved: in train mode they keep y
  /// (so the x that eval() gives moves with it), in eval mode they keep x (so the y that train()
  /// gives moves).
  void set_momentum(double momentum) {
    Options changed = options_;
    changed.momentum = momentum;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  /// Steps taken since construction or the last reset(): the reference's k.
  std::int64_t steps() const { return steps_; }
  /// The base iterate z (meaningful after the first step).
  const V& z() const { return z_; }
  /// The largest lr_t so far (−1 before the first step).
  double lr_max() const { return lr_max_; }
  /// The sum of the average's weights so far.
  double weight_sum() const { return weight_sum_; }

 private:
  template <class>
  friend struct detail::StateAccess;

  template <class P>
  void interpolate(P& params, double weight, const char* function) {
    if (steps_ == 0) return;
    if (params.rows() != z_.rows() || params.cols() != z_.cols())
      detail::schedule_free_mode_shape("ScheduleFreeSGD", function, params.rows(), params.cols(), z_.rows(),
                                       z_.cols());
    detail::with_spans(params, params, scratch_, [&](const auto& x) {
      detail::schedule_free_interpolate(x, weight, z_.data());
    });
  }

  Options options_{};
  detail::Scratch<V> scratch_{};
  V z_{};
  double lr_max_ = -1.0;
  double weight_sum_ = 0.0;
  std::int64_t steps_ = 0;
  bool training_ = true;
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<ScheduleFreeSGD<V>> = true;
}  // namespace detail

}  // namespace descent
