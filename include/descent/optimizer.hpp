#pragma once
// The contract every optimizer meets, and that a user's own optimizer must meet to be handed to
// descent's drivers.

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <concepts>

namespace descent {

/// `O` is an optimizer for parameters of Eigen type `V` when, for an `O& opt`:
///   - `opt.step(params, grads)` updates `params` (a `V&`, and an `Eigen::Map<V>&` over the user's
///     memory) in place from the gradient `grads` (a `const V&`) evaluated at `params`;
///   - `opt.reset()` forgets all state (moment estimates, step counts), so the next step is a first step.
/// The contract says nothing about learning rates; see `LearningRateControl` for optimizers that
/// schedules can drive.
template <class O, class V>
concept Optimizer = requires(O& opt, V& params, Eigen::Map<V>& mapped, const V& grads) {
  opt.step(params, grads);
  opt.step(mapped, grads);
  opt.reset();
};

namespace detail {
/// The least an Objective over V offers (ObjectiveOptimizer is checked against it).
template <class V>
struct ObjectiveArchetype {
  typename V::Scalar operator()(const V& x, V& grad);
};
}  // namespace detail

/// The second form of the contract, for optimizers that need the objective rather than one
/// gradient (descent::LBFGS): `O` is an objective optimizer for parameters of Eigen type `V` when,
/// for an `O& opt` and any Objective `f` over V:
///   - `opt.step(f, params)` runs one step from `params` (a `V&`, and an `Eigen::Map<V>&`),
///     calling `f` as often as it needs, always with `params` itself holding the point evaluated,
///     and leaves `params` at the new iterate;
///   - `opt.reset()` forgets all state.
/// descent::minimize accepts either form; with this one, one minimize iteration is one step(f, x).
/// An objective optimizer may also offer `bool step(f, params, loss, grad)`, where `loss` (a
/// double&) and `grad` (a V&) hold f at params on entry and at the new params on return, and the
/// result says whether they are finite; minimize then uses it and does not evaluate f again.
template <class O, class V>
concept ObjectiveOptimizer = requires(O& opt, V& params, Eigen::Map<V>& mapped, detail::ObjectiveArchetype<V>& f) {
  opt.step(f, params);
  opt.step(f, mapped);
  opt.reset();
};

/// `O` takes sparse gradients for parameters of Eigen vector type `V`: `opt.step(params, grads)`
/// with `params` a `V&` or an `Eigen::Map<V>&` and `grads` an `Eigen::SparseVector` of V's scalar
/// (or one column of a column-major `Eigen::SparseMatrix`) updates only the coefficients (and the
/// state) at the gradient's nonzeros, at a cost proportional to their number. descent::SGD (without
/// momentum or weight decay), descent::Adagrad (without weight decay) and descent::SparseAdam are
/// sparse optimizers, as in torch; every other optimizer refuses a sparse gradient at compile time.
template <class O, class V>
concept SparseOptimizer =
    requires(O& opt, V& params, Eigen::Map<V>& mapped, const Eigen::SparseVector<typename V::Scalar>& grads) {
  { opt.step(params, grads) } -> std::same_as<void>;
  { opt.step(mapped, grads) } -> std::same_as<void>;
  opt.reset();
};

/// An optimizer with an evaluation mode, as the schedule-free ones (ScheduleFreeAdamW,
/// ScheduleFreeSGD, and Grouped over them): it trains on one point but answers with another, and
/// `opt.eval(params)` moves params (a V&) to the point to evaluate, `opt.train(params)` back to the
/// point where gradients are taken. Evaluate such an optimizer's run after eval(), never at the
/// training point.
template <class O, class V>
concept EvalModeOptimizer = requires(O& opt, V& params) {
  opt.eval(params);
  opt.train(params);
};

/// An optimizer whose learning rate can be read and changed between steps (what a schedule needs).
template <class O>
concept LearningRateControl = requires(O& opt, const O& copt, double lr) {
  { copt.lr() } -> std::convertible_to<double>;
  opt.set_lr(lr);
};

}  // namespace descent
