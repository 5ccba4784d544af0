#pragma once
// NAdam (Dozat, 2016): Adam with Nesterov momentum and a momentum schedule: torch.optim.NAdam.

#include <cmath>
#include <cstdint>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"

namespace descent {

/// Options of NAdam. Per coefficient, with t the step count (from 1) and the momentum schedule
///   mu_t = beta1·(1 − ½·0.96^(t·momentum_decay)),   mu_{t+1} likewise with t + 1,
///   mu_product ← mu_product·mu_t                    (starts at 1),
///   mu_product_next = mu_product·mu_t·mu_{t+1}      (mu_t counted twice: torch 1.13's single-tensor code),
/// the update is
///   g ← g + weight_decay·p
///   m ← beta1·m + (1 − beta1)·g
///   v ← beta2·v + (1 − beta2)·g²
///   denom = √(v / (1 − beta2^t)) + eps
///   p ← p − lr·(1 − mu_t)/(1 − mu_product) · g / denom
///   p ← p − lr·mu_{t+1}/(1 − mu_product_next) · m / denom
/// The scalar constants, and mu_product, are computed in double whatever the scalar type. torch
/// keeps mu_product as a per-parameter 0-d tensor of its default dtype (float32 unless
/// torch.set_default_dtype says otherwise); descent keeps a double (saved in checkpoints). Against
/// torch with a float32 default dtype the step sizes therefore differ by about 1e-7 relative.
/// torch 1.13 has no maximize for NAdam, and neither has descent.
struct NAdamOptions {
  /// Step size. Default 2e-3; finite and >= 0.
  double lr = 2e-3;
  /// Decay rate of the first-moment average m, and the scale of the momentum schedule mu_t.
  /// Default 0.9; in [0, 1).
  double beta1 = 0.9;
  /// Decay rate of the second-moment average v. Default 0.999; in [0, 1).
  double beta2 = 0.999;
  /// Added to the bias-corrected √(v / (1 − beta2^t)). Default 1e-8; finite and >= 0.
  double eps = 1e-8;
  /// L2 penalty: weight_decay·p is added to the gradient. Default 0; finite and >= 0.
  double weight_decay = 0.0;
  /// psi of the momentum schedule mu_t = beta1·(1 − ½·0.96^(t·momentum_decay)): 0 keeps mu_t at
  /// beta1/2. Default 4e-3; finite and >= 0.
  double momentum_decay = 4e-3;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate(const char* options_name = "NAdamOptions") const {
    detail::require_nonnegative(options_name, "lr", lr);
    detail::require_half_open(options_name, "beta1", beta1, 0.0, 1.0);
    detail::require_half_open(options_name, "beta2", beta2, 0.0, 1.0);
    detail::require_nonnegative(options_name, "eps", eps);
    detail::require_nonnegative(options_name, "weight_decay", weight_decay);
    detail::require_nonnegative(options_name, "momentum_decay", momentum_decay);
  }

  /// validate(), and that lr, eps and weight_decay are finite in Scalar (the step sizes are at most
  /// lr / (1 − beta1), which require_representable checks too).
  template <class Scalar>
  void validate_for(const char* options_name = "NAdamOptions") const {
    validate(options_name);
    detail::require_representable<Scalar>(options_name, "lr", lr);
    detail::require_representable<Scalar>(options_name, "eps", eps);
    detail::require_representable<Scalar>(options_name, "weight_decay", weight_decay);
    detail::require_representable<Scalar>(options_name, "lr / (1 - beta1)", lr / (1.0 - beta1));
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// The momentum schedule of NAdam at step t: beta1·(1 − ½·0.96^(t·momentum_decay)), as torch computes it.
inline double nadam_mu(const NAdamOptions& o, double t) {
  return o.beta1 * (1.0 - 0.5 * std::pow(0.96, t * o.momentum_decay));
}

/// One NAdam step over `x`, the `steps`-th, with its bias correction bc2 = 1 − beta2ᵗ: the formula of
/// NAdamOptions, with the state arrays m (exp_avg) and v (exp_avg_sq), named as in torch. `mu_product` is
/// updated (mu_product ← mu_product·mu_t).
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void nadam_update(const Spans<Scalar, N>& x, const NAdamOptions& o, std::int64_t steps, double bc2,
                                        double& mu_product, Scalar* exp_avg, Scalar* exp_avg_sq) {
  DESCENT_DETAIL_NO_CONTRACT
  const double t = double(steps);
  const double mu = nadam_mu(o, t);
  const double mu_next = nadam_mu(o, t + 1.0);
  const double product = mu_product * mu;
  const double product_next = product * mu * mu_next;
  const auto grad_size = Scalar(o.lr * (1.0 - mu) / (1.0 - product));
  const auto avg_size = Scalar(o.lr * mu_next / (1.0 - product_next));
  const auto bc2_s = Scalar(bc2);
  const auto b1 = Scalar(o.beta1), c1 = Scalar(1.0 - o.beta1);
  const auto b2 = Scalar(o.beta2), c2 = Scalar(1.0 - o.beta2);
  const auto eps = Scalar(o.eps);
  const auto wd = Scalar(o.weight_decay);

  detail::dispatch(
      [&](auto decay) {
        constexpr bool l2 = decay;
        detail::for_each_coefficient(
            x,
            [=](auto& p, auto g, auto& m, auto& v) DESCENT_DETAIL_LANE_INLINE {
              if constexpr (l2) g = g + wd * p;
              m = b1 * m + c1 * g;
              v = b2 * v + c2 * (g * g);
              const auto denom = detail::sqrt(v / bc2_s) + eps;
              p = p - grad_size * (g / denom);
              p = p - avg_size * (m / denom);
            },
            exp_avg, exp_avg_sq);
      },
      o.weight_decay != 0.0);
  mu_product = product;
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// NAdam. State: the moment averages m and v, created on the first step, and the product of the
/// momentum schedule mu_product (a double, 1 before the first step).
template <class V>
class NAdam {
  static_assert(detail::PlainEigen<V>, "descent::NAdam<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = NAdamOptions;

  NAdam() = default;
  explicit NAdam(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// A sparse gradient does not compile: only descent::SparseOptimizer types take one.
  DESCENT_DETAIL_REFUSE_SPARSE("NAdam")

  /// One update of `params` (any writable Eigen expression of V's shape) from `grads` (any Eigen
  /// expression of the same shape). Throws std::invalid_argument on a shape mismatch before
  /// writing anything. Strong guarantee: if anything throws (the shape check, an allocation, a
  /// gradient expression being evaluated), params, state and step count are as they were.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    detail::check_shapes<V>("NAdam", params.rows(), params.cols(), grads.rows(), grads.cols(), steps_ > 0, m_.rows(),
                            m_.cols());
    detail::with_spans(params, grads, scratch_, [&](const auto& x) {
      if (steps_ == 0) {  // a throw here leaves steps_ at 0: the next step initializes again
        detail::init_state(m_, params.rows(), params.cols(), Scalar(0));
        detail::init_state(v_, params.rows(), params.cols(), Scalar(0));
        mu_product_ = 1.0;
      }
      detail::nadam_update(x, options_, steps_ + 1, bc2_(options_.beta2, steps_ + 1), mu_product_, m_.data(),
                           v_.data());
      ++steps_;
    });
  }

  /// Drops m, v, mu_product and the step count; the next step starts afresh.
  void reset() {
    detail::release_state(m_);
    detail::release_state(v_);
    mu_product_ = 1.0;
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
  /// Changes beta1 for the following steps; throws like the constructor on a bad value. The
  /// momentum schedule mu_t then uses the new beta1 (and mu_product keeps its past factors), as in torch.
  void set_momentum(double beta1) {
    Options changed = options_;
    changed.beta1 = beta1;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  /// Steps taken since construction or the last reset(): the t of the schedule and bias correction.
  std::int64_t steps() const { return steps_; }
  /// First-moment average m, torch's exp_avg (meaningful after the first step).
  const V& first_moment() const { return m_; }
  /// Second-moment average v, torch's exp_avg_sq (meaningful after the first step).
  const V& second_moment() const { return v_; }
  /// The product mu_1·…·mu_t of the momentum schedule, torch's mu_product (1 before the first step).
  double mu_product() const { return mu_product_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  Options options_{};
  detail::Scratch<V> scratch_{};
  V m_{}, v_{};
  double mu_product_ = 1.0;
  std::int64_t steps_ = 0;
  detail::BiasCorrection bc2_{};
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<NAdam<V>> = true;
}  // namespace detail

}  // namespace descent
