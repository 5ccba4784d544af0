#pragma once
// Resilient backpropagation (Riedmiller & Braun, 1993), the variant without weight backtracking
// (Rprop−): torch.optim.Rprop.

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"

namespace descent {

/// Options of Rprop. Per coefficient, with prev the gradient kept from the previous step (zero
/// at first) and s the coefficient's step size (lr at first):
///   g ← maximize ? −g : g
///   f ← eta_plus if g·prev > 0, eta_minus if g·prev < 0, 1 otherwise (also when g·prev is NaN)
///   s ← clamp(s·f, step_size_min, step_size_max)
///   g·prev < 0: g ← 0          (the sign changed: no move now, and the next step sees g·prev = 0)
///   p ← p − sign(g)·s          (sign(0) = sign(NaN) = 0, as torch.sign)
///   prev ← g
/// Only the sign of the gradient enters. torch takes etas = (eta_minus, eta_plus) and
/// step_sizes = (step_size_min, step_size_max) as pairs; descent splits them into fields. lr only
/// sets the initial step sizes, at the first step: changing it afterwards (set_lr, a schedule)
/// has no effect on the steps, as in torch.
struct RpropOptions {
  /// The initial step size s of every coefficient (filled in at the first step). Default 1e-2; finite and >= 0.
  double lr = 1e-2;
  /// Factor of s where the gradient changed sign (torch: etas[0]). Default 0.5; in (0, 1).
  double eta_minus = 0.5;
  /// Factor of s where the gradient kept its sign (torch: etas[1]). Default 1.2; finite and > 1.
  double eta_plus = 1.2;
  /// Lower bound of s (torch: step_sizes[0]). Default 1e-6; finite, >= 0 and <= step_size_max.
  double step_size_min = 1e-6;
  /// Upper bound of s (torch: step_sizes[1]). Default 50; finite and >= step_size_min.
  double step_size_max = 50.0;
  /// Ascend the objective: the gradient is negated first. Default false.
  bool maximize = false;

  /// Throws std::invalid_argument naming the first invalid field and its value (torch checks
  /// 0 <= lr and 0 < eta_minus < 1 < eta_plus; descent also requires sane step-size bounds).
  void validate(const char* options_name = "RpropOptions") const {
    detail::require_nonnegative(options_name, "lr", lr);
    if (!(eta_minus > 0.0 && eta_minus < 1.0)) detail::invalid_option(options_name, "eta_minus", eta_minus, "must be in (0, 1)");
    if (!(eta_plus > 1.0) || !std::isfinite(eta_plus))
      detail::invalid_option(options_name, "eta_plus", eta_plus, "must be a finite number > 1");
    detail::require_nonnegative(options_name, "step_size_min", step_size_min);
    detail::require_nonnegative(options_name, "step_size_max", step_size_max);
    if (step_size_max < step_size_min)
      detail::invalid_option(options_name, "step_size_max", step_size_max,
                             detail::concat("must be >= step_size_min = ", detail::format_number(step_size_min)));
  }

  /// validate(), and that lr, eta_plus and the step-size bounds are finite in Scalar.
  template <class Scalar>
  void validate_for(const char* options_name = "RpropOptions") const {
    validate(options_name);
    detail::require_representable<Scalar>(options_name, "lr", lr);
    detail::require_representable<Scalar>(options_name, "eta_plus", eta_plus);
    detail::require_representable<Scalar>(options_name, "step_size_min", step_size_min);
    detail::require_representable<Scalar>(options_name, "step_size_max", step_size_max);
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// One coefficient (or one SIMD packet of them) of an Rprop step: the formula of RpropOptions
/// on p, the sign-adjusted gradient g, prev and s. The comparisons are computed once per packet.
template <class P>
DESCENT_DETAIL_LANE_INLINE inline void rprop_coefficient(Lane<P>& p, Lane<P> g, Lane<P>& prev, Lane<P>& s, lane_scalar_t<P> up,
                                           lane_scalar_t<P> down, lane_scalar_t<P> lo, lane_scalar_t<P> hi) {
  using O = packet_ops<P>;
  const P zero = O::set1(lane_scalar_t<P>(0)), one = O::set1(lane_scalar_t<P>(1));
  const P product = O::mul(g.v, prev.v);
  const P grew = O::less(zero, product), flipped = O::less(product, zero);
  const P factor = O::select(flipped, O::set1(down), O::select(grew, O::set1(up), one));
  // clamp: Eigen's pmax(a, b) and pmin(a, b) return a when a is NaN, as std::max and std::min do
  s.v = O::min(O::max(O::mul(s.v, factor), O::set1(lo)), O::set1(hi));
  const P kept = O::bit_andnot(g.v, flipped);  // 0 where the sign flipped
  // torch.sign(kept): 1, −1, or 0 for ±0 and NaN
  const P sign = O::sub(O::bit_and(O::less(zero, kept), one), O::bit_and(O::less(kept, zero), one));
  p.v = O::sub(p.v, O::mul(sign, s.v));
  prev.v = kept;
}

template <class S>
requires std::is_floating_point_v<S> DESCENT_DETAIL_LANE_INLINE inline void rprop_coefficient(S& p, S g, S& prev, S& s, S up, S down,
                                                                                S lo, S hi) {
  const S product = g * prev;
  const S factor = product < S(0) ? down : (product > S(0) ? up : S(1));
  const S grown = s * factor;
  s = grown != grown ? grown : (grown < lo ? lo : (hi < grown ? hi : grown));
  const S kept = product < S(0) ? S(0) : g;
  const S sign = S(S(0) < kept) - S(kept < S(0));
  p = p - sign * s;
  prev = kept;
}


/// One Rprop step over `x`: the formula of RpropOptions, with the previous gradient prev and the
/// step sizes s (torch: state['prev'], state['step_size']).
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void rprop_update(const Spans<Scalar, N>& x, const RpropOptions& o, Scalar* prev,
                                        Scalar* step_size) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto up = Scalar(o.eta_plus), down = Scalar(o.eta_minus);
  const auto lo = Scalar(o.step_size_min), hi = Scalar(o.step_size_max);

  detail::dispatch(
      [&](auto maximize) {
        constexpr bool negate = maximize;
        detail::for_each_coefficient(
            x,
            [=](auto& p, auto g, auto& pg, auto& s) DESCENT_DETAIL_LANE_INLINE {
              if constexpr (negate) g = -g;
              detail::rprop_coefficient(p, g, pg, s, up, down, lo, hi);
            },
            prev, step_size);
      },
      o.maximize);
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// Rprop. State: the previous gradient and the per-coefficient step sizes; created on the first step.
template <class V>
class Rprop {
  static_assert(detail::PlainEigen<V>, "descent::Rprop<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = RpropOptions;

  Rprop() = default;
  explicit Rprop(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// A sparse gradient does not compile: only descent::SparseOptimizer types take one.
  DESCENT_DETAIL_REFUSE_SPARSE("Rprop")

  /// One update of `params` (any writable Eigen expression of V's shape) from `grads` (any Eigen
  /// expression of the same shape). Throws std::invalid_argument on a shape mismatch before
  /// writing anything. Strong guarantee: if anything throws (the shape check, an allocation, a
  /// gradient expression being evaluated), params, state and step count are as they were.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    detail::check_shapes<V>("Rprop", params.rows(), params.cols(), grads.rows(), grads.cols(), steps_ > 0,
                            prev_.rows(), prev_.cols());
    detail::with_spans(params, grads, scratch_, [&](const auto& x) {
      if (steps_ == 0) {  // a throw here leaves steps_ at 0: the next step initializes again
        detail::init_state(prev_, params.rows(), params.cols(), Scalar(0));
        detail::init_state(step_size_, params.rows(), params.cols(), Scalar(options_.lr));
      }
      detail::rprop_update(x, options_, prev_.data(), step_size_.data());
      ++steps_;
    });
  }

  /// Drops the previous gradient, the step sizes and the step count; the next step starts afresh.
  void reset() {
    detail::release_state(prev_);
    detail::release_state(step_size_);
    steps_ = 0;
  }

  const Options& options() const { return options_; }
  double lr() const { return options_.lr; }
  /// Changes the learning rate; throws like the constructor on a bad value. As in torch, lr only
  /// sets the initial step sizes: after the first step (until reset()) it changes nothing.
  void set_lr(double lr) {
    Options changed = options_;
    changed.lr = lr;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  std::int64_t steps() const { return steps_; }
  /// The gradient kept from the last step, zero where its sign had changed (torch: state['prev']).
  /// Meaningful after the first step.
  const V& previous_gradient() const { return prev_; }
  /// The per-coefficient step sizes s (torch: state['step_size']). Meaningful after the first step.
  const V& step_sizes() const { return step_size_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  Options options_{};
  detail::Scratch<V> scratch_{};
  V prev_{}, step_size_{};
  std::int64_t steps_ = 0;
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<Rprop<V>> = true;
}  // namespace detail

}  // namespace descent
