#pragma once
// Averaged stochastic gradient descent (Polyak & Juditsky, 1992; the step-size schedule of Bottou,
// 2012): torch.optim.ASGD.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"

namespace descent {

/// Options of ASGD. Per coefficient, at step t (from 1), with eta and mu the per-optimizer values
/// left by the previous step (eta = lr and mu = 1 at the first):
///   g ← (maximize ? −g : g) + weight_decay·p
///   p ← p·(1 − lambd·eta)
///   p ← p − eta·g
///   mu ≠ 1: ax ← ax + mu·(p − ax)      mu = 1: ax ← p
/// and after the step, from the new step count t:
///   eta ← lr / (1 + lambd·lr·t)^alpha,   mu ← 1 / max(1, t − t0)
/// so the step uses the eta (and the average the mu) computed at the end of the previous step, as
/// torch 1.13 does; an lr changed after the first step enters through the next eta only. torch
/// keeps eta and mu as 0-d tensors of the default dtype (float32 unless changed, whatever the
/// parameters' dtype); descent keeps them as doubles, for float and double optimizers alike.
/// ax, the averaged iterate, is what ASGD::ax() returns; the parameters themselves follow the
/// plain (decayed) SGD trajectory.
struct ASGDOptions {
  /// Step size: eta starts at lr and decays as lr / (1 + lambd·lr·t)^alpha. Default 1e-2; finite and >= 0.
  double lr = 1e-2;
  /// Decay term: the weights shrink by the factor 1 − lambd·eta per step, and lambd sets how fast
  /// eta decays. Default 1e-4; finite and >= 0.
  double lambd = 1e-4;
  /// Power of the eta decay. Default 0.75; finite and >= 0.
  double alpha = 0.75;
  /// When averaging starts: mu = 1 / max(1, t − t0) after step t, so ax is p itself up to step
  /// t0 + 2 and from then on the running mean of the iterates of steps t0 + 2, t0 + 3, ... (for an
  /// integer t0). Default 1e6; finite and >= 0.
  double t0 = 1e6;
  /// L2 penalty: weight_decay·p is added to the gradient. Default 0; finite and >= 0.
  double weight_decay = 0.0;
  /// Ascend the objective: the gradient is negated first. Default false.
  bool maximize = false;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate(const char* options_name = "ASGDOptions") const {
    detail::require_nonnegative(options_name, "lr", lr);
    detail::require_nonnegative(options_name, "lambd", lambd);
    detail::require_nonnegative(options_name, "alpha", alpha);
    detail::require_nonnegative(options_name, "t0", t0);
    detail::require_nonnegative(options_name, "weight_decay", weight_decay);
  }

  /// validate(), and that lr, weight_decay and the first decay factor lambd·lr are finite in Scalar.
  template <class Scalar>
  void validate_for(const char* options_name = "ASGDOptions") const {
    validate(options_name);
    detail::require_representable<Scalar>(options_name, "lr", lr);
    detail::require_representable<Scalar>(options_name, "weight_decay", weight_decay);
    detail::require_representable<Scalar>(options_name, "lambd * lr", lambd * lr);
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// One ASGD step over `x` with the step size `eta` and averaging factor `mu` of the previous step:
/// the formula of ASGDOptions, with the average ax (torch: state['ax']).
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void asgd_update(const Spans<Scalar, N>& x, const ASGDOptions& o, double eta, double mu,
                                       Scalar* ax) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto shrink = Scalar(1.0 - o.lambd * eta);
  const auto step = Scalar(eta);
  const auto m = Scalar(mu);
  const auto wd = Scalar(o.weight_decay);

  detail::dispatch(
      [&](auto maximize, auto decay, auto averaging) {
        constexpr bool negate = maximize, l2 = decay, average = averaging;
        detail::for_each_coefficient(
            x,
            [=](auto& p, auto g, auto& a) DESCENT_DETAIL_LANE_INLINE {
              if constexpr (negate) g = -g;
              if constexpr (l2) g = g + wd * p;
              p = p * shrink;
              p = p - step * g;
              if constexpr (average)
                a = a + (p - a) * m;
              else
                a = p;
            },
            ax);
      },
      o.maximize, o.weight_decay != 0.0, mu != 1.0);
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// ASGD. State: the average ax, created on the first step, and the doubles eta and mu.
template <class V>
class ASGD {
  static_assert(detail::PlainEigen<V>, "descent::ASGD<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = ASGDOptions;

  ASGD() = default;
  explicit ASGD(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// A sparse gradient does not compile: only descent::SparseOptimizer types take one.
  DESCENT_DETAIL_REFUSE_SPARSE("ASGD")

  /// One update of `params` (any writable Eigen expression of V's shape) from `grads` (any Eigen
  /// expression of the same shape). Throws std::invalid_argument on a shape mismatch before
  /// writing anything. Strong guarantee: if anything throws (the shape check, an allocation, a
  /// gradient expression being evaluated), params, state and step count are as they were.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    detail::check_shapes<V>("ASGD", params.rows(), params.cols(), grads.rows(), grads.cols(), steps_ > 0, ax_.rows(),
                            ax_.cols());
    detail::with_spans(params, grads, scratch_, [&](const auto& x) {
      // torch creates eta = lr and mu = 1 with the state, at the first step
      const double eta = steps_ == 0 ? options_.lr : eta_;
      const double mu = steps_ == 0 ? 1.0 : mu_;
      if (steps_ == 0) detail::init_state(ax_, params.rows(), params.cols(), Scalar(0));
      detail::asgd_update(x, options_, eta, mu, ax_.data());
      const double t = double(steps_ + 1);
      eta_ = options_.lr / std::pow(1.0 + options_.lambd * options_.lr * t, options_.alpha);
      mu_ = 1.0 / std::max(1.0, t - options_.t0);
      ++steps_;
    });
  }

  /// Drops ax, eta, mu and the step count; the next step starts afresh.
  void reset() {
    detail::release_state(ax_);
    eta_ = 0.0;
    mu_ = 1.0;
    steps_ = 0;
  }

  const Options& options() const { return options_; }
  double lr() const { return options_.lr; }
  /// Changes the learning rate for the following steps; throws like the constructor on a bad value.
  /// After the first step it enters through eta, which the next step computes from it (as in torch).
  void set_lr(double lr) {
    Options changed = options_;
    changed.lr = lr;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  std::int64_t steps() const { return steps_; }
  /// The averaged iterate ax (torch: state['ax']; meaningful after the first step).
  const V& ax() const { return ax_; }
  /// The step size the next step uses (torch: state['eta'], a 0-d tensor; here a double). Meaningful after the first step.
  double eta() const { return eta_; }
  /// The averaging factor the next step uses (torch: state['mu'], a 0-d tensor; here a double).
  double mu() const { return mu_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  Options options_{};
  detail::Scratch<V> scratch_{};
  V ax_{};
  double eta_ = 0.0;
  double mu_ = 1.0;
  std::int64_t steps_ = 0;
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<ASGD<V>> = true;
}  // namespace detail

}  // namespace descent
