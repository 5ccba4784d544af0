#pragma once
// Adamax (Kingma & Ba, 2015, section 7.1), Adam with the infinity norm: torch.optim.Adamax.

#include <cmath>
#include <cstdint>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"

namespace descent {

/// Options of Adamax. Per coefficient, with t the step count (from 1):
///   g ← (maximize ? −g : g) + weight_decay·p
///   m ← beta1·m + (1 − beta1)·g
///   u ← max(beta2·u, |g| + eps)
///   p ← p − (lr / (1 − beta1^t)) · m / u
/// eps is added to |g| inside the maximum, as torch 1.13 computes it (not to u after it). The
/// bias correction is computed in double whatever the scalar type, as torch computes it in Python.
/// torch counts the steps t in a 0-d tensor of the default dtype (float32: exact up to 2^24 steps);
/// descent counts them in a std::int64_t.
struct AdamaxOptions {
  /// Step size. Default 2e-3; finite and >= 0.
  double lr = 2e-3;
  /// Decay rate of the first-moment average m. Default 0.9; in [0, 1).
  double beta1 = 0.9;
  /// Decay of the exponentially weighted infinity norm u: u ← max(beta2·u, |g| + eps). Default
  /// 0.999; in [0, 1).
  double beta2 = 0.999;
  /// Added to |g| inside the maximum that updates u (so u >= eps after the first step and the
  /// division m / u is safe). Default 1e-8; finite and >= 0.
  double eps = 1e-8;
  /// L2 penalty: weight_decay·p is added to the gradient (after maximize's negation). Default 0;
  /// finite and >= 0.
  double weight_decay = 0.0;
  /// Ascend the objective: the gradient is negated first. Default false.
  bool maximize = false;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate(const char* options_name = "AdamaxOptions") const {
    detail::require_nonnegative(options_name, "lr", lr);
    detail::require_half_open(options_name, "beta1", beta1, 0.0, 1.0);
    detail::require_half_open(options_name, "beta2", beta2, 0.0, 1.0);
    detail::require_nonnegative(options_name, "eps", eps);
    detail::require_nonnegative(options_name, "weight_decay", weight_decay);
  }

  /// validate(), and that every number entering the formula in Scalar is finite there: lr, eps,
  /// weight_decay and the first step's lr / (1 − beta1).
  template <class Scalar>
  void validate_for(const char* options_name = "AdamaxOptions") const {
    validate(options_name);
    detail::require_representable<Scalar>(options_name, "lr", lr);
    detail::require_representable<Scalar>(options_name, "eps", eps);
    detail::require_representable<Scalar>(options_name, "weight_decay", weight_decay);
    detail::require_representable<Scalar>(options_name, "lr / (1 - beta1)", lr / (1.0 - beta1));
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// One Adamax step over `x`: the formula of AdamaxOptions with this step's bias correction
/// bc1 = 1 − beta1ᵗ, and the state arrays m (exp_avg) and u (exp_inf), named as in torch.
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void adamax_update(const Spans<Scalar, N>& x, const AdamaxOptions& o, double bc1, Scalar* exp_avg,
                                         Scalar* exp_inf) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto clr = Scalar(o.lr / bc1);
  const auto b1 = Scalar(o.beta1), c1 = Scalar(1.0 - o.beta1);
  const auto b2 = Scalar(o.beta2);
  const auto eps = Scalar(o.eps);
  const auto wd = Scalar(o.weight_decay);

  detail::dispatch(
      [&](auto maximize, auto decay) {
        constexpr bool negate = maximize, l2 = decay;
        detail::for_each_coefficient(
            x,
            [=](auto& p, auto g, auto& m, auto& u) DESCENT_DETAIL_LANE_INLINE {
              if constexpr (negate) g = -g;
              if constexpr (l2) g = g + wd * p;
              m = b1 * m + c1 * g;
              // |g| as max(g, −g): exact, and NaN-propagating like torch's abs
              u = detail::max(b2 * u, detail::max(g, -g) + eps);
              p = p - clr * (m / u);
            },
            exp_avg, exp_inf);
      },
      o.maximize, o.weight_decay != 0.0);
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// Adamax. State: the first-moment average m and the infinity norm u; created on the first step.
template <class V>
class Adamax {
  static_assert(detail::PlainEigen<V>, "descent::Adamax<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = AdamaxOptions;

  Adamax() = default;
  explicit Adamax(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// A sparse gradient does not compile: only descent::SparseOptimizer types take one.
  DESCENT_DETAIL_REFUSE_SPARSE("Adamax")

  /// One update of `params` (any writable Eigen expression of V's shape) from `grads` (any Eigen
  /// expression of the same shape). Throws std::invalid_argument on a shape mismatch before
  /// writing anything. Strong guarantee: if anything throws (the shape check, an allocation, a
  /// gradient expression being evaluated), params, state and step count are as they were.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    detail::check_shapes<V>("Adamax", params.rows(), params.cols(), grads.rows(), grads.cols(), steps_ > 0, m_.rows(),
                            m_.cols());
    detail::with_spans(params, grads, scratch_, [&](const auto& x) {
      if (steps_ == 0) {  // a throw here leaves steps_ at 0: the next step initializes again
        detail::init_state(m_, params.rows(), params.cols(), Scalar(0));
        detail::init_state(u_, params.rows(), params.cols(), Scalar(0));
      }
      detail::adamax_update(x, options_, bc1_(options_.beta1, steps_ + 1), m_.data(), u_.data());
      ++steps_;
    });
  }

  /// Drops m, u and the step count; the next step starts afresh.
  void reset() {
    detail::release_state(m_);
    detail::release_state(u_);
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
  /// Steps taken since construction or the last reset(): the t of the bias correction.
  std::int64_t steps() const { return steps_; }
  /// First-moment average m, torch's exp_avg (meaningful after the first step).
  const V& first_moment() const { return m_; }
  /// Exponentially weighted infinity norm u, torch's exp_inf (meaningful after the first step).
  const V& infinity_norm() const { return u_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  Options options_{};
  detail::Scratch<V> scratch_{};
  V m_{}, u_{};
  std::int64_t steps_ = 0;
  detail::BiasCorrection bc1_{};
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<Adamax<V>> = true;
}  // namespace detail

}  // namespace descent
