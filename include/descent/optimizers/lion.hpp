#pragma once
// Lion, "EvoLved Sign Momentum" (Chen et al., 2023, "Symbolic Discovery of Optimization
// Algorithms", Program 1). Not in torch.optim 1.13; the numbers are checked against an independent
// numpy implementation (tools/make_numpy_reference.py).

#include <Eigen/Core>
#include <cmath>
#include <cstdint>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"

namespace descent {

/// Options of Lion. Per coefficient:
///   g ← maximize ? −g : g
///   p ← p·(1 − lr·weight_decay)              (decoupled weight decay, as the paper)
///   c = beta1·m + (1 − beta1)·g              (the interpolation the update takes the sign of)
///   p ← p − lr·sign(c)
///   m ← beta2·m + (1 − beta2)·g              (the momentum, tracked with the other beta)
/// sign(0) = 0, and sign(NaN) = 0 too: torch.sign's values, which the authors' PyTorch code uses.
/// A coefficient whose c is exactly zero does not move. The factor 1 − lr·weight_decay is computed
/// in double, then rounded to the scalar type. Every step moves every coefficient by lr (plus the
/// decay), so Lion's lr is typically 3–10× smaller than AdamW's, and its weight_decay that much
/// larger, for the same effective decay lr·weight_decay (the paper's advice).
struct LionOptions {
  /// Step size: every coefficient moves by ±lr per step (0 where c = 0). Default 1e-4; finite
  /// and >= 0.
  double lr = 1e-4;
  /// Weight of the momentum m in the interpolation c = beta1·m + (1 − beta1)·g whose sign is
  /// the update. Default 0.9; in [0, 1).
  double beta1 = 0.9;
  /// Decay rate of the momentum m ← beta2·m + (1 − beta2)·g. Default 0.99; in [0, 1).
  double beta2 = 0.99;
  /// Decoupled weight decay: the weights shrink by the factor 1 − lr·weight_decay before the sign
  /// update (not an L2 term in the gradient). Default 0; finite and >= 0.
  double weight_decay = 0.0;
  /// Ascend the objective: the gradient is negated first. Default false.
  bool maximize = false;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate(const char* options_name = "LionOptions") const {
    detail::require_nonnegative(options_name, "lr", lr);
    detail::require_half_open(options_name, "beta1", beta1, 0.0, 1.0);
    detail::require_half_open(options_name, "beta2", beta2, 0.0, 1.0);
    detail::require_nonnegative(options_name, "weight_decay", weight_decay);
  }

  /// validate(), and that lr, weight_decay and the decay lr·weight_decay are finite in Scalar.
  template <class Scalar>
  void validate_for(const char* options_name = "LionOptions") const {
    validate(options_name);
    detail::require_representable<Scalar>(options_name, "lr", lr);
    detail::require_representable<Scalar>(options_name, "weight_decay", weight_decay);
    detail::require_representable<Scalar>(options_name, "lr * weight_decay", lr * weight_decay);
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// sign(a) lane by lane: 1 where a > 0, −1 where a < 0, 0 elsewhere (±0 and NaN), as torch.sign.
/// Computed as (0 < a) − (a < 0), each comparison a mask and-ed with 1.
template <class P>
DESCENT_DETAIL_LANE_INLINE inline Lane<P> lion_sign(Lane<P> a) {
  using O = detail::packet_ops<P>;
  const P zero = O::set1(lane_scalar_t<P>(0)), one = O::set1(lane_scalar_t<P>(1));
  return {O::sub(O::bit_and(O::less(zero, a.v), one), O::bit_and(O::less(a.v, zero), one))};
}

template <class S>
requires std::is_floating_point_v<S> DESCENT_DETAIL_LANE_INLINE inline S lion_sign(S a) { return S(S(0) < a) - S(a < S(0)); }

/// One Lion step over `x`: the formula of LionOptions, with the momentum m (the authors' exp_avg).
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void lion_update(const Spans<Scalar, N>& x, const LionOptions& o, Scalar* exp_avg) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto shrink = Scalar(1.0 - o.lr * o.weight_decay);
  const auto lr = Scalar(o.lr);
  const auto b1 = Scalar(o.beta1), c1 = Scalar(1.0 - o.beta1);
  const auto b2 = Scalar(o.beta2), c2 = Scalar(1.0 - o.beta2);

  detail::dispatch(
      [&](auto maximize, auto decay) {
        constexpr bool negate = maximize, decoupled = decay;
        detail::for_each_coefficient(
            x,
            [=](auto& p, auto g, auto& m) DESCENT_DETAIL_LANE_INLINE {
              if constexpr (negate) g = -g;
              if constexpr (decoupled) p = p * shrink;
              const auto c = b1 * m + c1 * g;
              p = p - lr * detail::lion_sign(c);
              m = b2 * m + c2 * g;
            },
            exp_avg);
      },
      o.maximize, o.weight_decay != 0.0);
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// Lion. State: the momentum m, created (zero) on the first step.
template <class V>
class Lion {
  static_assert(detail::PlainEigen<V>, "descent::Lion<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = LionOptions;

  Lion() = default;
  explicit Lion(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// A sparse gradient does not compile: only descent::SparseOptimizer types take one.
  DESCENT_DETAIL_REFUSE_SPARSE("Lion")

  /// One update of `params` (any writable Eigen expression of V's shape) from `grads` (any Eigen
  /// expression of the same shape). Throws std::invalid_argument on a shape mismatch before
  /// writing anything. Strong guarantee: if anything throws (the shape check, an allocation, a
  /// gradient expression being evaluated), params, state and step count are as they were.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    detail::check_shapes<V>("Lion", params.rows(), params.cols(), grads.rows(), grads.cols(), steps_ > 0, m_.rows(),
                            m_.cols());
    detail::with_spans(params, grads, scratch_, [&](const auto& x) {
      if (steps_ == 0) detail::init_state(m_, params.rows(), params.cols(), Scalar(0));
      detail::lion_update(x, options_, m_.data());
      ++steps_;
    });
  }

  /// Drops m and the step count; the next step starts afresh.
  void reset() {
    detail::release_state(m_);
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
  /// beta1, the weight of the momentum in the signed interpolation (what CyclicLR and OneCycleLR
  /// cycle, as they cycle Adam's beta1).
  double momentum() const { return options_.beta1; }
  /// Changes beta1 for the following steps; throws like the constructor on a bad value.
  void set_momentum(double beta1) {
    Options changed = options_;
    changed.beta1 = beta1;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  /// Steps taken since construction or the last reset() (the update does not use it).
  std::int64_t steps() const { return steps_; }
  /// The momentum m, the authors' exp_avg (meaningful after the first step).
  const V& first_moment() const { return m_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  Options options_{};
  detail::Scratch<V> scratch_{};
  V m_{};
  std::int64_t steps_ = 0;
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<Lion<V>> = true;
}  // namespace detail

}  // namespace descent
