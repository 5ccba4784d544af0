#pragma once
// The contract every optimizer meets, and that a user's own optimizer must meet to be handed to
// descent's drivers.

#include <Eigen/Core>
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

/// An optimizer whose learning rate can be read and changed between steps (what a schedule needs).
template <class O>
concept LearningRateControl = requires(O& opt, const O& copt, double lr) {
  { copt.lr() } -> std::convertible_to<double>;
  opt.set_lr(lr);
};

}  // namespace descent
