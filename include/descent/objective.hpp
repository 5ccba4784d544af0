#pragma once
// What the drivers minimize: the contracts a user's loss-and-gradient functor must meet.

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <concepts>
#include <cstddef>
#include <span>
#include <type_traits>
#include <utility>

namespace descent {

/// A minibatch: indices of samples, each in [0, f.size()).
using Batch = std::span<const Eigen::Index>;

/// `F` is an objective over parameters of Eigen type `V` when `f(x, grad)`, with `x` a `const V&`
/// and `grad` a `V&` already sized like `x`, returns the loss at `x` (convertible to V's scalar)
/// and writes the gradient into `grad`. One call computes both, so they can share their work.
///
/// The gradient must be writable: a functor that takes it by value or by const reference (so
/// that it would also accept a temporary) cannot hand a gradient back and does not fit. Take it
/// as `V&`, `auto&` or `Eigen::Ref<V>`.
///
/// The drivers hold the functor by reference (never copy it) and call it with the very `x` they
/// were given. When that is an `Eigen::Map<V>`, a functor taking `const V&` gets a converted copy
/// at every call; write it as a template (`const auto& x`) or take `const Eigen::Ref<const V>&`.
template <class F, class V>
concept Objective = requires(F& f, const V& x, V& grad) {
  { f(x, grad) } -> std::convertible_to<typename V::Scalar>;
} && !std::is_invocable_v<F&, const V&, typename V::PlainObject&&>;

/// `F` is a stochastic (finite-sum) objective over `V` when `f.size()` gives the number of samples
/// and `f(x, batch, grad)` returns the **mean** loss over the samples whose indices are in `batch`
/// and writes the gradient of that **mean** into `grad` (writable, as for Objective).
///
/// Mean, not sum: the step size then does not depend on the batch size, which is what torch
/// users expect (`reduction='mean'`), and the same learning rate works for batch sizes 1 and 1000.
template <class F, class V>
concept StochasticObjective = requires(F& f, const F& cf, const V& x, Batch batch, V& grad) {
  { cf.size() } -> std::convertible_to<Eigen::Index>;
  { f(x, batch, grad) } -> std::convertible_to<typename V::Scalar>;
} && !std::is_invocable_v<F&, const V&, Batch, typename V::PlainObject&&>;

/// `F` is a stochastic objective with sparse gradients over the vector type `V`: like
/// StochasticObjective, but `f(x, batch, grad)` writes the gradient of the mean loss into an
/// `Eigen::SparseVector<Scalar>& grad` of x's size (emptied before every call; set its nonzeros
/// with coeffRef(i) += v or insert). descent::train then steps sparsely, with a SparseOptimizer.
/// An objective that also takes a dense `V&` gradient (a StochasticObjective as well) is trained
/// densely: to train one sparsely, hand train a view that has only the sparse call (as
/// problems::SparseLogisticRegression::sparse() does).
template <class F, class V>
concept SparseStochasticObjective = requires(F& f, const F& cf, const V& x, Batch batch,
                                             Eigen::SparseVector<typename V::Scalar>& grad) {
  { cf.size() } -> std::convertible_to<Eigen::Index>;
  { f(x, batch, grad) } -> std::convertible_to<typename V::Scalar>;
};

namespace detail {

template <class ValueFn, class GradientFn>
class SeparateObjective {
 public:
  SeparateObjective(ValueFn value, GradientFn gradient) : value_(std::move(value)), gradient_(std::move(gradient)) {}

  // The gradient callable must write through a G&: one that takes it by value or const
  // reference would leave the driver's buffer unwritten, so it makes no Objective.
  template <class X, class G>
  requires(std::is_invocable_v<GradientFn&, const X&, G&> &&
           !std::is_invocable_v<GradientFn&, const X&, std::remove_const_t<G>&&>)
  auto operator()(const X& x, G& grad) -> decltype(std::declval<ValueFn&>()(x)) {
    gradient_(x, grad);
    return value_(x);
  }

 private:
  ValueFn value_;
  GradientFn gradient_;
};

}  // namespace detail

/// Adapts two separate callables, `value_fn(x) -> scalar` and `gradient_fn(x, grad)`, into an
/// Objective. They are stored by value; wrap them in std::ref to keep references.
template <class ValueFn, class GradientFn>
auto make_objective(ValueFn&& value_fn, GradientFn&& gradient_fn) {
  return detail::SeparateObjective<std::decay_t<ValueFn>, std::decay_t<GradientFn>>(
      std::forward<ValueFn>(value_fn), std::forward<GradientFn>(gradient_fn));
}

}  // namespace descent
