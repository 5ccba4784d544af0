#pragma once
// Adagrad (Duchi, Hazan & Singer, 2011): torch.optim.Adagrad, from dense and from sparse gradients.

#include <cstdint>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"
#include "descent/detail/sparse.hpp"

namespace descent {

/// Options of Adagrad. Per coefficient, with t the step count (from 1):
///   g ← (maximize ? −g : g) + weight_decay·p
///   clr ← lr / (1 + (t − 1)·lr_decay)
///   sum ← sum + g²                    (sum starts at initial_accumulator_value)
///   p ← p − clr · g / (√sum + eps)
struct AdagradOptions {
  /// Step size before decay. Default 1e-2; finite and >= 0.
  double lr = 1e-2;
  /// The step size at step t is lr / (1 + (t − 1)·lr_decay). Default 0; finite and >= 0.
  double lr_decay = 0.0;
  /// L2 penalty: weight_decay·p is added to the gradient. Default 0; finite and >= 0.
  double weight_decay = 0.0;
  /// Starting value of every coefficient of the squared-gradient sum. Default 0; finite and >= 0.
  double initial_accumulator_value = 0.0;
  /// Added to √sum. Default 1e-10; finite and >= 0.
  double eps = 1e-10;
  /// Ascend the objective: the gradient is negated first. Default false.
  bool maximize = false;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const {
    detail::require_nonnegative("AdagradOptions", "lr", lr);
    detail::require_nonnegative("AdagradOptions", "lr_decay", lr_decay);
    detail::require_nonnegative("AdagradOptions", "weight_decay", weight_decay);
    detail::require_nonnegative("AdagradOptions", "initial_accumulator_value", initial_accumulator_value);
    detail::require_nonnegative("AdagradOptions", "eps", eps);
  }

  /// validate(), and that every option entering the formula is finite in Scalar.
  template <class Scalar>
  void validate_for() const {
    validate();
    detail::require_representable<Scalar>("AdagradOptions", "lr", lr);
    detail::require_representable<Scalar>("AdagradOptions", "weight_decay", weight_decay);
    detail::require_representable<Scalar>("AdagradOptions", "initial_accumulator_value", initial_accumulator_value);
    detail::require_representable<Scalar>("AdagradOptions", "eps", eps);
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// One Adagrad step over `x`, the `steps`-th: the formula of AdagradOptions, with the running sum of squares.
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void adagrad_update(const Spans<Scalar, N>& x, const AdagradOptions& o, std::int64_t steps,
                                          Scalar* state_sum) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto clr = Scalar(o.lr / (1.0 + double(steps - 1) * o.lr_decay));
  const auto wd = Scalar(o.weight_decay);
  const auto eps = Scalar(o.eps);
  detail::dispatch(
      [&](auto maximize, auto decay) {
        constexpr bool negate = maximize, l2 = decay;
        detail::for_each_coefficient(
            x,
            [=](auto& p, auto g, auto& sum) DESCENT_DETAIL_LANE_INLINE {
              if constexpr (negate) g = -g;
              if constexpr (l2) g = g + wd * p;
              sum = sum + g * g;
              p = p - clr * (g / (detail::sqrt(sum) + eps));
            },
            state_sum);
      },
      o.maximize, o.weight_decay != 0.0);
}

/// The same formula at the sparse gradient's distinct indices only (repeated ones summed first, as
/// torch's coalesce()): the sum and the parameters elsewhere are not touched. No weight decay.
template <class Scalar, class StorageIndex>
DESCENT_DETAIL_KERNEL void adagrad_sparse_update(const SparseSpans<Scalar, StorageIndex>& x, const AdagradOptions& o,
                                                 std::int64_t steps, Scalar* state_sum) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto clr = Scalar(o.lr / (1.0 + double(steps - 1) * o.lr_decay));
  const auto eps = Scalar(o.eps);
  auto update = [=](Scalar& p, Scalar g, Scalar& sum) {
    sum = sum + g * g;
    p = p - clr * (g / (std::sqrt(sum) + eps));
  };
  if (o.maximize)
    detail::for_each_nonzero(x, [=](Scalar& p, Scalar g, Scalar& sum) { update(p, -g, sum); }, state_sum);
  else
    detail::for_each_nonzero(x, update, state_sum);
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// Adagrad. State: the running sum of squared gradients, created on the first step.
template <class V>
class Adagrad {
  static_assert(detail::PlainEigen<V>, "descent::Adagrad<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = AdagradOptions;

  Adagrad() = default;
  explicit Adagrad(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// One update of `params` (any writable Eigen expression of V's shape) from `grads` (any Eigen
  /// expression of the same shape). Throws std::invalid_argument on a shape mismatch before
  /// writing anything. Strong guarantee: if anything throws (the shape check, an allocation, a
  /// gradient expression being evaluated), params, state and step count are as they were.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    detail::check_shapes<V>("Adagrad", params.rows(), params.cols(), grads.rows(), grads.cols(), steps_ > 0,
                            sum_.rows(), sum_.cols());
    detail::with_spans(params, grads, scratch_, [&](const auto& x) {
      if (steps_ == 0)
        detail::init_state(sum_, params.rows(), params.cols(), Scalar(options_.initial_accumulator_value));
      detail::adagrad_update(x, options_, steps_ + 1, sum_.data());
      ++steps_;
    });
  }

  /// One update from a sparse gradient (an Eigen::SparseVector of V's scalar, or one column of a
  /// column-major Eigen::SparseMatrix), as torch's Adagrad with a sparse grad: a repeated index is
  /// summed first (torch's coalesce()), then the formula of AdagradOptions runs at the distinct
  /// indices only, sum and parameters alike, in O(nonzeros); lr_decay still counts every step.
  /// weight_decay must be 0, as in torch: otherwise, as on a shape mismatch, an index outside params
  /// or indices out of order, throws std::invalid_argument before writing anything. The first step
  /// (dense or sparse) creates the whole sum, at initial_accumulator_value.
  template <detail::ParamsOf<V> P, detail::SparseExpression G>
  void step(P&& params, const G& grads) {
    detail::check_sparse_arguments<V, P, G>();
    if (options_.weight_decay != 0.0)
      detail::refuse_sparse_option("Adagrad", "weight_decay", options_.weight_decay,
                                   "torch refuses it too: the decay would make the step dense");
    const auto x = detail::sparse_spans<V>("Adagrad", params, grads, steps_ > 0, sum_.rows(), sum_.cols());
    if (steps_ == 0)
      detail::init_state(sum_, params.rows(), params.cols(), Scalar(options_.initial_accumulator_value));
    detail::adagrad_sparse_update(x, options_, steps_ + 1, sum_.data());
    ++steps_;
  }

  /// Drops the accumulated sum and the step count.
  void reset() {
    detail::release_state(sum_);
    steps_ = 0;
  }

  const Options& options() const { return options_; }
  double lr() const { return options_.lr; }
  /// Changes the base learning rate (lr_decay still applies); throws like the constructor on a bad value.
  void set_lr(double lr) {
    Options changed = options_;
    changed.lr = lr;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  std::int64_t steps() const { return steps_; }
  /// The running sum of squared gradients (meaningful after the first step).
  const V& sum_of_squares() const { return sum_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  Options options_{};
  detail::Scratch<V> scratch_{};
  V sum_{};
  std::int64_t steps_ = 0;
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<Adagrad<V>> = true;
}  // namespace detail

}  // namespace descent
