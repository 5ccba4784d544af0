#pragma once
// RAdam (Liu et al., 2020): Adam whose adaptive step is rectified for the variance of v early on:
// torch.optim.RAdam.

#include <cmath>
#include <cstdint>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"

namespace descent {

/// Options of RAdam. Per coefficient, with t the step count (from 1), bc1 = 1 − beta1^t and
/// bc2 = 1 − beta2^t:
///   g ← g + weight_decay·p
///   m ← beta1·m + (1 − beta1)·g
///   v ← beta2·v + (1 − beta2)·g²
///   rho_inf = 2 / (1 − beta2) − 1,   rho_t = rho_inf − 2·t·beta2^t / bc2
///   rho_t > 5: r = √((rho_t − 4)(rho_t − 2)·rho_inf / ((rho_inf − 4)(rho_inf − 2)·rho_t))
///              p ← p − (m / bc1)·lr · (√bc2 / (√v + eps)) · r
///   otherwise: p ← p − (m / bc1)·lr                    (an SGD-with-momentum step, v unused)
/// The scalar constants (bc1, bc2, rho_t, r) are computed in double whatever the scalar type, as
/// torch computes them in Python. torch 1.13 has no maximize for RAdam, and neither has descent.
/// With beta2 <= 0.6 (rho_inf <= 4) the step is never rectified.
struct RAdamOptions {
  /// Step size. Default 1e-3; finite and >= 0.
  double lr = 1e-3;
  /// Decay rate of the first-moment average m (bias-corrected by 1 − beta1^t). Default 0.9; in [0, 1).
  double beta1 = 0.9;
  /// Decay rate of the second-moment average v; it also sets rho_inf = 2 / (1 − beta2) − 1, the
  /// length of the approximated simple moving average. Default 0.999; in [0, 1).
  double beta2 = 0.999;
  /// Added to √v (before the rectified step's √(1 − beta2^t) / (√v + eps)). Default 1e-8; finite and >= 0.
  double eps = 1e-8;
  /// L2 penalty: weight_decay·p is added to the gradient. Default 0; finite and >= 0.
  double weight_decay = 0.0;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate(const char* options_name = "RAdamOptions") const {
    detail::require_nonnegative(options_name, "lr", lr);
    detail::require_half_open(options_name, "beta1", beta1, 0.0, 1.0);
    detail::require_half_open(options_name, "beta2", beta2, 0.0, 1.0);
    detail::require_nonnegative(options_name, "eps", eps);
    detail::require_nonnegative(options_name, "weight_decay", weight_decay);
  }

  /// validate(), and that lr, eps, weight_decay and the first step's lr / (1 − beta1) are finite in Scalar.
  template <class Scalar>
  void validate_for(const char* options_name = "RAdamOptions") const {
    validate(options_name);
    detail::require_representable<Scalar>(options_name, "lr", lr);
    detail::require_representable<Scalar>(options_name, "eps", eps);
    detail::require_representable<Scalar>(options_name, "weight_decay", weight_decay);
    detail::require_representable<Scalar>(options_name, "lr / (1 - beta1)", lr / (1.0 - beta1));
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// One RAdam step over `x`, the `steps`-th: the formula of RAdamOptions, with the state arrays m
/// (exp_avg) and v (exp_avg_sq), named as in torch.
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void radam_update(const Spans<Scalar, N>& x, const RAdamOptions& o, std::int64_t steps,
                                        Scalar* exp_avg, Scalar* exp_avg_sq) {
  DESCENT_DETAIL_NO_CONTRACT
  const double t = double(steps);
  const double bc1 = 1.0 - std::pow(o.beta1, t);
  const double bc2 = 1.0 - std::pow(o.beta2, t);
  const double rho_inf = 2.0 / (1.0 - o.beta2) - 1.0;
  const double rho_t = rho_inf - 2.0 * t * std::pow(o.beta2, t) / bc2;
  const bool rectified = rho_t > 5.0;
  const double rect =
      rectified ? std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                : 0.0;
  const auto bc1_s = Scalar(bc1);
  const auto lr = Scalar(o.lr);
  const auto bc2_sqrt = Scalar(std::sqrt(bc2));
  const auto r = Scalar(rect);
  const auto b1 = Scalar(o.beta1), c1 = Scalar(1.0 - o.beta1);
  const auto b2 = Scalar(o.beta2), c2 = Scalar(1.0 - o.beta2);
  const auto eps = Scalar(o.eps);
  const auto wd = Scalar(o.weight_decay);
  const auto one = Scalar(1);

  detail::dispatch(
      [&](auto decay, auto use_rectification) {
        constexpr bool l2 = decay;
        detail::for_each_coefficient(
            x,
            [=](auto& p, auto g, auto& m, auto& v) DESCENT_DETAIL_LANE_INLINE {
              if constexpr (l2) g = g + wd * p;
              m = b1 * m + c1 * g;
              v = b2 * v + c2 * (g * g);
              if constexpr (use_rectification) {
                // torch: (m / bc1) * lr * adaptive_lr * rect, adaptive_lr = (1 / (√v + eps)) * √bc2
                const auto adaptive_lr = (one / (detail::sqrt(v) + eps)) * bc2_sqrt;
                p = p - (m / bc1_s) * lr * adaptive_lr * r;
              } else {
                p = p - (m / bc1_s) * lr;
              }
            },
            exp_avg, exp_avg_sq);
      },
      o.weight_decay != 0.0, rectified);
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// RAdam. State: the moment averages m and v; created on the first step.
template <class V>
class RAdam {
  static_assert(detail::PlainEigen<V>, "descent::RAdam<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = RAdamOptions;

  RAdam() = default;
  explicit RAdam(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// A sparse gradient does not compile: only descent::SparseOptimizer types take one.
  DESCENT_DETAIL_REFUSE_SPARSE("RAdam")

  /// One update of `params` (any writable Eigen expression of V's shape) from `grads` (any Eigen
  /// expression of the same shape). Throws std::invalid_argument on a shape mismatch before
  /// writing anything. Strong guarantee: if anything throws (the shape check, an allocation, a
  /// gradient expression being evaluated), params, state and step count are as they were.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    detail::check_shapes<V>("RAdam", params.rows(), params.cols(), grads.rows(), grads.cols(), steps_ > 0, m_.rows(),
                            m_.cols());
    detail::with_spans(params, grads, scratch_, [&](const auto& x) {
      if (steps_ == 0) {  // a throw here leaves steps_ at 0: the next step initializes again
        detail::init_state(m_, params.rows(), params.cols(), Scalar(0));
        detail::init_state(v_, params.rows(), params.cols(), Scalar(0));
      }
      detail::radam_update(x, options_, steps_ + 1, m_.data(), v_.data());
      ++steps_;
    });
  }

  /// Drops m, v and the step count; the next step starts afresh.
  void reset() {
    detail::release_state(m_);
    detail::release_state(v_);
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
  /// beta1, the momentum of the first moment (what CyclicLR and OneCycleLR cycle, as torch's
  /// OneCycleLR cycles betas[0]).
  double momentum() const { return options_.beta1; }
  /// Changes beta1 for the following steps; throws like the constructor on a bad value. The bias
  /// correction 1 − beta1^t then uses the new beta1, as in torch.
  void set_momentum(double beta1) {
    Options changed = options_;
    changed.beta1 = beta1;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  /// Steps taken since construction or the last reset(): the t of the bias corrections and rho_t.
  std::int64_t steps() const { return steps_; }
  /// First-moment average m, torch's exp_avg (meaningful after the first step).
  const V& first_moment() const { return m_; }
  /// Second-moment average v, torch's exp_avg_sq (meaningful after the first step).
  const V& second_moment() const { return v_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  Options options_{};
  detail::Scratch<V> scratch_{};
  V m_{}, v_{};
  std::int64_t steps_ = 0;
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<RAdam<V>> = true;
}  // namespace detail

}  // namespace descent
