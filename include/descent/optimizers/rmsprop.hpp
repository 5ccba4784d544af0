#pragma once
// RMSProp (Hinton, 2012) with the centered variant (Graves, 2013) and momentum: torch.optim.RMSprop.

#include <cstdint>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"

namespace descent {

/// Options of RMSProp. Per coefficient:
///   g ← (maximize ? −g : g) + weight_decay·p
///   v ← alpha·v + (1 − alpha)·g²
///   centered: ga ← alpha·ga + (1 − alpha)·g,  avg ← √(v − ga²) + eps
///   otherwise:                                avg ← √v + eps
///   momentum > 0: buf ← momentum·buf + g / avg,  p ← p − lr·buf
///   otherwise:    p ← p − lr · g / avg
struct RMSPropOptions {
  /// Step size. Default 1e-2; finite and >= 0.
  double lr = 1e-2;
  /// Smoothing constant of the squared-gradient average v (and of ga). Default 0.99; in [0, 1].
  double alpha = 0.99;
  /// Added to the root-mean-square denominator. Default 1e-8; finite and >= 0.
  double eps = 1e-8;
  /// L2 penalty: weight_decay·p is added to the gradient. Default 0; finite and >= 0.
  double weight_decay = 0.0;
  /// Momentum factor of the buffer of normalized steps (which starts at zero). Default 0; finite and >= 0.
  double momentum = 0.0;
  /// Normalize by an estimate of the gradient's variance (v − ga²) instead of its raw second moment.
  /// Default false.
  bool centered = false;
  /// Ascend the objective: the gradient is negated first. Default false.
  bool maximize = false;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const {
    detail::require_nonnegative("RMSPropOptions", "lr", lr);
    detail::require_closed("RMSPropOptions", "alpha", alpha, 0.0, 1.0);
    detail::require_nonnegative("RMSPropOptions", "eps", eps);
    detail::require_nonnegative("RMSPropOptions", "weight_decay", weight_decay);
    detail::require_nonnegative("RMSPropOptions", "momentum", momentum);
  }

  /// validate(), and that lr, eps, weight_decay and momentum are finite in Scalar.
  template <class Scalar>
  void validate_for() const {
    validate();
    detail::require_representable<Scalar>("RMSPropOptions", "lr", lr);
    detail::require_representable<Scalar>("RMSPropOptions", "eps", eps);
    detail::require_representable<Scalar>("RMSPropOptions", "weight_decay", weight_decay);
    detail::require_representable<Scalar>("RMSPropOptions", "momentum", momentum);
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// One RMSProp step over `x`: the formula of RMSPropOptions, with v, ga (centered) and the momentum buffer.
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void rmsprop_update(const Spans<Scalar, N>& x, const RMSPropOptions& o, Scalar* square_avg,
                                          Scalar* grad_avg, Scalar* momentum_buffer) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto lr = Scalar(o.lr);
  const auto a = Scalar(o.alpha), c = Scalar(1.0 - o.alpha);
  const auto eps = Scalar(o.eps);
  const auto wd = Scalar(o.weight_decay);
  const auto mu = Scalar(o.momentum);

  detail::dispatch(
      [&](auto maximize, auto decay, auto use_centered, auto use_momentum) {
        constexpr bool negate = maximize, l2 = decay;
        auto average = [=](auto& p, auto& g, auto& v) DESCENT_DETAIL_LANE_INLINE {
          if constexpr (negate) g = -g;
          if constexpr (l2) g = g + wd * p;
          v = a * v + c * (g * g);
        };
        auto plain_step = [=](auto& p, auto g, auto avg) DESCENT_DETAIL_LANE_INLINE { p = p - lr * (g / avg); };
        auto momentum_step = [=](auto& p, auto g, auto avg, auto& buf) DESCENT_DETAIL_LANE_INLINE {
          buf = mu * buf + g / avg;
          p = p - lr * buf;
        };
        if constexpr (use_centered && use_momentum) {
          detail::for_each_coefficient(
              x,
              [=](auto& p, auto g, auto& v, auto& ga, auto& buf) DESCENT_DETAIL_LANE_INLINE {
                average(p, g, v);
                ga = a * ga + c * g;
                momentum_step(p, g, detail::sqrt(v - ga * ga) + eps, buf);
              },
              square_avg, grad_avg, momentum_buffer);
        } else if constexpr (use_centered) {
          detail::for_each_coefficient(
              x,
              [=](auto& p, auto g, auto& v, auto& ga) DESCENT_DETAIL_LANE_INLINE {
                average(p, g, v);
                ga = a * ga + c * g;
                plain_step(p, g, detail::sqrt(v - ga * ga) + eps);
              },
              square_avg, grad_avg);
        } else if constexpr (use_momentum) {
          detail::for_each_coefficient(
              x,
              [=](auto& p, auto g, auto& v, auto& buf) DESCENT_DETAIL_LANE_INLINE {
                average(p, g, v);
                momentum_step(p, g, detail::sqrt(v) + eps, buf);
              },
              square_avg, momentum_buffer);
        } else {
          detail::for_each_coefficient(
              x,
              [=](auto& p, auto g, auto& v) DESCENT_DETAIL_LANE_INLINE {
                average(p, g, v);
                plain_step(p, g, detail::sqrt(v) + eps);
              },
              square_avg);
        }
      },
      o.maximize, o.weight_decay != 0.0, o.centered, o.momentum > 0.0);
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// RMSProp. State: the squared-gradient average v, plus the gradient average ga when centered and
/// the momentum buffer when momentum > 0; created on the first step.
template <class V>
class RMSProp {
  static_assert(detail::PlainEigen<V>, "descent::RMSProp<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = RMSPropOptions;

  RMSProp() = default;
  explicit RMSProp(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// A sparse gradient does not compile: only descent::SparseOptimizer types take one.
  DESCENT_DETAIL_REFUSE_SPARSE("RMSProp")

  /// One update of `params` (any writable Eigen expression of V's shape) from `grads` (any Eigen
  /// expression of the same shape). Throws std::invalid_argument on a shape mismatch before
  /// writing anything. Strong guarantee: if anything throws (the shape check, an allocation, a
  /// gradient expression being evaluated), params, state and step count are as they were.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    detail::check_shapes<V>("RMSProp", params.rows(), params.cols(), grads.rows(), grads.cols(), steps_ > 0, v_.rows(),
                            v_.cols());
    detail::with_spans(params, grads, scratch_, [&](const auto& x) {
      if (steps_ == 0) {  // a throw here leaves steps_ at 0: the next step initializes again
        detail::init_state(v_, params.rows(), params.cols(), Scalar(0));
        if (options_.centered) detail::init_state(ga_, params.rows(), params.cols(), Scalar(0));
      }
      // the buffer starts at zero at the first step with momentum > 0, also when momentum was
      // given after steps without it (set_momentum, a cyclic schedule; torch raises a KeyError there)
      const bool start_buffer = options_.momentum > 0.0 && !has_buffer_;
      if (start_buffer) detail::init_state(buf_, params.rows(), params.cols(), Scalar(0));
      detail::rmsprop_update(x, options_, v_.data(), ga_.data(), buf_.data());
      if (start_buffer) has_buffer_ = true;
      ++steps_;
    });
  }

  /// Drops v, ga, the momentum buffer and the step count.
  void reset() {
    detail::release_state(v_);
    detail::release_state(ga_);
    detail::release_state(buf_);
    has_buffer_ = false;
    steps_ = 0;
  }

  const Options& options() const { return options_; }
  double lr() const { return options_.lr; }
  /// Changes the learning rate for the following steps; throws like the constructor on a bad value.
  void set_lr(double lr) {
    Options changed = options_;
    changed.lr = lr;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  double momentum() const { return options_.momentum; }
  /// Changes the momentum for the following steps; throws like the constructor on a bad value.
  /// Given momentum > 0 after steps without it, RMSProp starts a zero momentum buffer at the next
  /// step (torch raises a KeyError there); a buffer is kept, unused, while the momentum is 0.
  void set_momentum(double momentum) {
    Options changed = options_;
    changed.momentum = momentum;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  std::int64_t steps() const { return steps_; }
  /// The squared-gradient average v (meaningful after the first step).
  const V& square_average() const { return v_; }
  /// The gradient average ga (meaningful after the first step when centered).
  const V& gradient_average() const { return ga_; }
  /// The momentum buffer (meaningful after the first step when momentum > 0).
  const V& momentum_buffer() const { return buf_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  Options options_{};
  detail::Scratch<V> scratch_{};
  V v_{}, ga_{}, buf_{};
  bool has_buffer_ = false;
  std::int64_t steps_ = 0;
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<RMSProp<V>> = true;
}  // namespace detail

}  // namespace descent
