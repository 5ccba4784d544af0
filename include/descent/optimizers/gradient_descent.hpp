#pragma once
// Plain gradient descent: torch.optim.SGD with momentum = 0.

#include <cstdint>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"

namespace descent {

/// Options of GradientDescent. Per coefficient: g ← (maximize ? −g : g) + weight_decay·p, then
/// p ← p − lr·g. Checked by validate() when an optimizer is constructed.
struct GradientDescentOptions {
  /// Step size: p ← p − lr·g. Default 0.01; finite and >= 0.
  double lr = 0.01;
  /// L2 penalty: weight_decay·p is added to the gradient before the step. Default 0 (off); finite and >= 0.
  double weight_decay = 0.0;
  /// Ascend the objective instead: the gradient is negated before anything else. Default false.
  bool maximize = false;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const {
    detail::require_nonnegative("GradientDescentOptions", "lr", lr);
    detail::require_nonnegative("GradientDescentOptions", "weight_decay", weight_decay);
  }

  /// validate(), and that lr and weight_decay are finite in Scalar.
  template <class Scalar>
  void validate_for() const {
    validate();
    detail::require_representable<Scalar>("GradientDescentOptions", "lr", lr);
    detail::require_representable<Scalar>("GradientDescentOptions", "weight_decay", weight_decay);
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// One GradientDescent step over `x`: the formula of GradientDescentOptions.
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void gradient_descent_update(const Spans<Scalar, N>& x, const GradientDescentOptions& o) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto lr = Scalar(o.lr);
  const auto wd = Scalar(o.weight_decay);
  detail::dispatch(
      [&](auto maximize, auto decay) {
        constexpr bool negate = maximize, l2 = decay;
        detail::for_each_coefficient(x, [=](auto& p, auto g) DESCENT_DETAIL_LANE_INLINE {
          if constexpr (negate) g = -g;
          if constexpr (l2) g = g + wd * p;
          p = p - lr * g;
        });
      },
      o.maximize, o.weight_decay != 0.0);
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// p ← p − lr·g. Stateless apart from the step count.
template <class V>
class GradientDescent {
  static_assert(detail::PlainEigen<V>,
                "descent::GradientDescent<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = GradientDescentOptions;

  GradientDescent() = default;
  explicit GradientDescent(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// A sparse gradient does not compile: only descent::SparseOptimizer types take one.
  DESCENT_DETAIL_REFUSE_SPARSE("GradientDescent")

  /// One update of `params` (any writable Eigen expression of V's shape) from `grads` (any Eigen
  /// expression of the same shape). Throws std::invalid_argument on a shape mismatch before
  /// writing anything. Strong guarantee: if anything throws (the shape check, an allocation, a
  /// gradient expression being evaluated), params and step count are as they were.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    detail::check_shapes<V>("GradientDescent", params.rows(), params.cols(), grads.rows(), grads.cols(), false, 0, 0);
    detail::with_spans(params, grads, scratch_, [&](const auto& x) {
      detail::gradient_descent_update(x, options_);
      ++steps_;
    });
  }

  /// Forgets the step count (there is no other state).
  void reset() { steps_ = 0; }

  const Options& options() const { return options_; }
  double lr() const { return options_.lr; }
  /// Changes the learning rate for the following steps; throws like the constructor on a bad value.
  void set_lr(double lr) {
    Options changed = options_;
    changed.lr = lr;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  /// Steps taken since construction or the last reset().
  std::int64_t steps() const { return steps_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  Options options_{};
  detail::Scratch<V> scratch_{};
  std::int64_t steps_ = 0;
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<GradientDescent<V>> = true;
}  // namespace detail

}  // namespace descent
