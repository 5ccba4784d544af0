#pragma once
// Adam (Kingma & Ba, 2015) with the AMSGrad variant and optional decoupled weight decay:
// torch.optim.Adam, and torch.optim.AdamW when decoupled_weight_decay is set.

#include <cmath>
#include <cstdint>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"

namespace descent {

/// Options of Adam and AdamW. Per coefficient, with t the step count (from 1):
///   g ← maximize ? −g : g
///   decoupled: p ← p·(1 − lr·weight_decay)     otherwise: g ← g + weight_decay·p
///   m ← beta1·m + (1 − beta1)·g
///   v ← beta2·v + (1 − beta2)·g²
///   amsgrad: v̂ ← max(v̂, v), used in place of v below
///   p ← p − (lr / (1 − beta1^t)) · m / (√v / √(1 − beta2^t) + eps)
/// The bias corrections are computed in double whatever the scalar type.
struct AdamOptions {
  /// Step size. Default 1e-3; finite and >= 0.
  double lr = 1e-3;
  /// Decay rate of the first-moment average m. Default 0.9; in [0, 1).
  double beta1 = 0.9;
  /// Decay rate of the second-moment average v. Default 0.999; in [0, 1).
  double beta2 = 0.999;
  /// Added to the bias-corrected √v (after the correction, as torch does). Default 1e-8; finite and >= 0.
  double eps = 1e-8;
  /// Weight decay. Adam: an L2 term weight_decay·p added to the gradient (it is then rescaled by
  /// the adaptive denominator). AdamW / decoupled: the weights shrink by lr·weight_decay per step.
  /// Default 0 (AdamW: 1e-2); finite and >= 0.
  double weight_decay = 0.0;
  /// AMSGrad: normalize by the running maximum of v instead of v. Default false.
  bool amsgrad = false;
  /// Decay the weights directly (AdamW, Loshchilov & Hutter) instead of adding an L2 term. Default false.
  bool decoupled_weight_decay = false;
  /// Ascend the objective: the gradient is negated first. Default false.
  bool maximize = false;

  /// Throws std::invalid_argument naming the first invalid field and its value (and the options
  /// struct: AdamWOptions validates through this with its own name).
  void validate(const char* options_name = "AdamOptions") const {
    detail::require_nonnegative(options_name, "lr", lr);
    detail::require_half_open(options_name, "beta1", beta1, 0.0, 1.0);
    detail::require_half_open(options_name, "beta2", beta2, 0.0, 1.0);
    detail::require_nonnegative(options_name, "eps", eps);
    detail::require_nonnegative(options_name, "weight_decay", weight_decay);
  }

  /// validate(), and that every number entering the formula in Scalar is finite there: lr, eps,
  /// weight_decay, the first step's lr / (1 − beta1) and the decoupled decay lr·weight_decay.
  template <class Scalar>
  void validate_for(const char* options_name = "AdamOptions") const {
    validate(options_name);
    detail::require_representable<Scalar>(options_name, "lr", lr);
    detail::require_representable<Scalar>(options_name, "eps", eps);
    detail::require_representable<Scalar>(options_name, "weight_decay", weight_decay);
    detail::require_representable<Scalar>(options_name, "lr / (1 - beta1)", lr / (1.0 - beta1));
    if (decoupled_weight_decay)
      detail::require_representable<Scalar>(options_name, "lr * weight_decay", lr * weight_decay);
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// One Adam step over `x`: the formula of AdamOptions with the bias corrections bc1 = 1 − beta1ᵗ
/// and bc2 = 1 − beta2ᵗ of this step, and the state arrays m (exp_avg), v (exp_avg_sq) and v̂
/// (max_exp_avg_sq, amsgrad only), named as in torch.
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void adam_update(const Spans<Scalar, N>& x, const AdamOptions& o, double bc1, double bc2,
                                       Scalar* exp_avg, Scalar* exp_avg_sq, Scalar* max_exp_avg_sq) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto step_size = Scalar(o.lr / bc1);
  const auto bc2_sqrt = Scalar(std::sqrt(bc2));
  const auto b1 = Scalar(o.beta1), c1 = Scalar(1.0 - o.beta1);
  const auto b2 = Scalar(o.beta2), c2 = Scalar(1.0 - o.beta2);
  const auto eps = Scalar(o.eps);
  const auto wd = Scalar(o.weight_decay);
  const auto shrink = Scalar(1.0 - o.lr * o.weight_decay);
  const bool decay = o.weight_decay != 0.0;

  detail::dispatch(
      [&](auto maximize, auto l2_decay, auto decoupled_decay, auto use_amsgrad) {
        constexpr bool negate = maximize, l2 = l2_decay, decoupled = decoupled_decay;
        auto update = [=](auto& p, auto& g, auto& m, auto& v) DESCENT_DETAIL_LANE_INLINE {
          if constexpr (negate) g = -g;
          if constexpr (decoupled) p = p * shrink;
          if constexpr (l2) g = g + wd * p;
          m = b1 * m + c1 * g;
          v = b2 * v + c2 * (g * g);
        };
        if constexpr (use_amsgrad) {
          detail::for_each_coefficient(
              x,
              [=](auto& p, auto g, auto& m, auto& v, auto& vmax) DESCENT_DETAIL_LANE_INLINE {
                update(p, g, m, v);
                vmax = detail::max(vmax, v);
                p = p - step_size * (m / (detail::sqrt(vmax) / bc2_sqrt + eps));
              },
              exp_avg, exp_avg_sq, max_exp_avg_sq);
        } else {
          detail::for_each_coefficient(
              x,
              [=](auto& p, auto g, auto& m, auto& v) DESCENT_DETAIL_LANE_INLINE {
                update(p, g, m, v);
                p = p - step_size * (m / (detail::sqrt(v) / bc2_sqrt + eps));
              },
              exp_avg, exp_avg_sq);
        }
      },
      o.maximize, decay && !o.decoupled_weight_decay, decay && o.decoupled_weight_decay, o.amsgrad);
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// Adam. State: the moment averages m and v, and v̂ with amsgrad; created on the first step.
template <class V>
class Adam {
  static_assert(detail::PlainEigen<V>, "descent::Adam<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = AdamOptions;

  Adam() = default;
  explicit Adam(const Options& options) : options_(options) { options_.template validate_for<Scalar>(options_name()); }

  /// A sparse gradient does not compile: only descent::SparseOptimizer types take one.
  DESCENT_DETAIL_REFUSE_SPARSE("Adam")

  /// One update of `params` (any writable Eigen expression of V's shape) from `grads` (any Eigen
  /// expression of the same shape). Throws std::invalid_argument on a shape mismatch before
  /// writing anything. Strong guarantee: if anything throws (the shape check, an allocation, a
  /// gradient expression being evaluated), params, state and step count are as they were.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    detail::check_shapes<V>(name(), params.rows(), params.cols(), grads.rows(), grads.cols(), steps_ > 0, m_.rows(),
                            m_.cols());
    detail::with_spans(params, grads, scratch_, [&](const auto& x) {
      if (steps_ == 0) {  // a throw here leaves steps_ at 0: the next step initializes again
        detail::init_state(m_, params.rows(), params.cols(), Scalar(0));
        detail::init_state(v_, params.rows(), params.cols(), Scalar(0));
        if (options_.amsgrad) detail::init_state(vmax_, params.rows(), params.cols(), Scalar(0));
      }
      detail::adam_update(x, options_, bc1_(options_.beta1, steps_ + 1), bc2_(options_.beta2, steps_ + 1), m_.data(),
                          v_.data(), vmax_.data());
      ++steps_;
    });
  }

  /// Drops m, v, v̂ and the step count; the next step starts afresh.
  void reset() {
    detail::release_state(m_);
    detail::release_state(v_);
    detail::release_state(vmax_);
    steps_ = 0;
  }

  const Options& options() const { return options_; }
  double lr() const { return options_.lr; }
  /// Changes the learning rate for the following steps; throws like the constructor on a bad value.
  void set_lr(double lr) {
    Options changed = options_;
    changed.lr = lr;
    changed.template validate_for<Scalar>(options_name());
    options_ = changed;
  }
  /// beta1, the momentum of the first moment (what CyclicLR and OneCycleLR cycle, as torch's
  /// OneCycleLR cycles betas[0]).
  double momentum() const { return options_.beta1; }
  /// Changes beta1 for the following steps; throws like the constructor on a bad value. The bias
  /// correction 1 − beta1^t then uses the new beta1, as in torch.
  void set_momentum(double beta1) {
    Options changed = options_;
    changed.beta1 = beta1;
    changed.template validate_for<Scalar>(options_name());
    options_ = changed;
  }
  /// Steps taken since construction or the last reset(): the t of the bias corrections.
  std::int64_t steps() const { return steps_; }
  /// First-moment average m (meaningful after the first step).
  const V& first_moment() const { return m_; }
  /// Second-moment average v (meaningful after the first step).
  const V& second_moment() const { return v_; }
  /// Running maximum v̂ of v (meaningful after the first step with amsgrad).
  const V& max_second_moment() const { return vmax_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  const char* name() const { return options_.decoupled_weight_decay ? "AdamW" : "Adam"; }
  const char* options_name() const { return options_.decoupled_weight_decay ? "AdamWOptions" : "AdamOptions"; }

  Options options_{};
  detail::Scratch<V> scratch_{};
  V m_{}, v_{}, vmax_{};
  std::int64_t steps_ = 0;
  detail::BiasCorrection bc1_{}, bc2_{};
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<Adam<V>> = true;
}  // namespace detail

}  // namespace descent
