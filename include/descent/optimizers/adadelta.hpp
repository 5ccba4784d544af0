#pragma once
// Adadelta (Zeiler, 2012), with a learning rate scaling the delta: torch.optim.Adadelta.

#include <cstdint>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"

namespace descent {

/// Options of Adadelta. Per coefficient:
///   g ← (maximize ? −g : g) + weight_decay·p
///   v ← rho·v + (1 − rho)·g²
///   d ← (√(a + eps) / √(v + eps)) · g
///   a ← rho·a + (1 − rho)·d²
///   p ← p − lr·d
/// As in torch, lr multiplies the delta d (the paper has no learning rate: lr = 1, torch's default,
/// is the paper's method), and a is updated with the unscaled d.
struct AdadeltaOptions {
  /// Scales the delta d before it is applied (not the d accumulated into a). Default 1.0; finite and >= 0.
  double lr = 1.0;
  /// Decay rate of both running averages, v of g² and a of d². Default 0.9; in [0, 1].
  double rho = 0.9;
  /// Added to v and to a under both square roots (it also starts the first steps, where a = 0).
  /// Default 1e-6; finite and >= 0.
  double eps = 1e-6;
  /// L2 penalty: weight_decay·p is added to the gradient (after maximize's negation). Default 0;
  /// finite and >= 0.
  double weight_decay = 0.0;
  /// Ascend the objective: the gradient is negated first. Default false.
  bool maximize = false;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate(const char* options_name = "AdadeltaOptions") const {
    detail::require_nonnegative(options_name, "lr", lr);
    detail::require_closed(options_name, "rho", rho, 0.0, 1.0);
    detail::require_nonnegative(options_name, "eps", eps);
    detail::require_nonnegative(options_name, "weight_decay", weight_decay);
  }

  /// validate(), and that lr, eps and weight_decay are finite in Scalar.
  template <class Scalar>
  void validate_for(const char* options_name = "AdadeltaOptions") const {
    validate(options_name);
    detail::require_representable<Scalar>(options_name, "lr", lr);
    detail::require_representable<Scalar>(options_name, "eps", eps);
    detail::require_representable<Scalar>(options_name, "weight_decay", weight_decay);
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// One Adadelta step over `x`: the formula of AdadeltaOptions, with the state arrays v (square_avg)
/// and a (acc_delta), named as in torch.
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void adadelta_update(const Spans<Scalar, N>& x, const AdadeltaOptions& o, Scalar* square_avg,
                                           Scalar* acc_delta) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto lr = Scalar(o.lr);
  const auto r = Scalar(o.rho), c = Scalar(1.0 - o.rho);
  const auto eps = Scalar(o.eps);
  const auto wd = Scalar(o.weight_decay);

  detail::dispatch(
      [&](auto maximize, auto decay) {
        constexpr bool negate = maximize, l2 = decay;
        detail::for_each_coefficient(
            x,
            [=](auto& p, auto g, auto& v, auto& a) DESCENT_DETAIL_LANE_INLINE {
              if constexpr (negate) g = -g;
              if constexpr (l2) g = g + wd * p;
              v = r * v + c * (g * g);
              // torch: acc_delta.add(eps).sqrt_().div_(std).mul_(grad), in this order
              const auto d = (detail::sqrt(a + eps) / detail::sqrt(v + eps)) * g;
              a = r * a + c * (d * d);
              p = p - lr * d;
            },
            square_avg, acc_delta);
      },
      o.maximize, o.weight_decay != 0.0);
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// Adadelta. State: the running averages v of g² and a of the squared deltas; created on the first step.
template <class V>
class Adadelta {
  static_assert(detail::PlainEigen<V>, "descent::Adadelta<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = AdadeltaOptions;

  Adadelta() = default;
  explicit Adadelta(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// A sparse gradient does not compile: only descent::SparseOptimizer types take one.
  DESCENT_DETAIL_REFUSE_SPARSE("Adadelta")

  /// One update of `params` (any writable Eigen expression of V's shape) from `grads` (any Eigen
  /// expression of the same shape). Throws std::invalid_argument on a shape mismatch before
  /// writing anything. Strong guarantee: if anything throws (the shape check, an allocation, a
  /// gradient expression being evaluated), params, state and step count are as they were.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    detail::check_shapes<V>("Adadelta", params.rows(), params.cols(), grads.rows(), grads.cols(), steps_ > 0, v_.rows(),
                            v_.cols());
    detail::with_spans(params, grads, scratch_, [&](const auto& x) {
      if (steps_ == 0) {  // a throw here leaves steps_ at 0: the next step initializes again
        detail::init_state(v_, params.rows(), params.cols(), Scalar(0));
        detail::init_state(a_, params.rows(), params.cols(), Scalar(0));
      }
      detail::adadelta_update(x, options_, v_.data(), a_.data());
      ++steps_;
    });
  }

  /// Drops v, a and the step count; the next step starts afresh.
  void reset() {
    detail::release_state(v_);
    detail::release_state(a_);
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
  /// Steps taken since construction or the last reset() (the update itself does not depend on it).
  std::int64_t steps() const { return steps_; }
  /// Running average v of g², torch's square_avg (meaningful after the first step).
  const V& square_average() const { return v_; }
  /// Running average a of the squared deltas, torch's acc_delta (meaningful after the first step).
  const V& accumulated_delta() const { return a_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  Options options_{};
  detail::Scratch<V> scratch_{};
  V v_{}, a_{};
  std::int64_t steps_ = 0;
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<Adadelta<V>> = true;
}  // namespace detail

}  // namespace descent
