#pragma once
// Readable compile errors for minimize and train. Each driver has, next to its constrained
// template, an unconstrained overload with the same parameters that overload resolution picks
// only when the constrained one does not fit (a constrained template is more specialized than an
// unconstrained one with the same signature). Its body is one call to `diagnose`, below, which
// finds the first requirement the arguments miss and fails a single static_assert whose message
// is a plain sentence naming that requirement: the first error line of the build says what is
// wrong, and no other error follows (the overload returns a Report, so the call site is valid).
//
// The checks run in argument order (parameters, objective, optimizer, sampler, stopping
// criteria, callbacks) and stop at the first fault. A fault is classified by probing the functor
// with slightly wrong arguments (a gradient pointer, the other scalar type, swapped arguments ...),
// and only once the right call has failed, so that the probes never instantiate a functor that
// fits. Nothing here affects a call that fits: the constrained template is chosen, as before.

#include <Eigen/Core>
#include <array>
#include <cstddef>
#include <tuple>
#include <type_traits>

#include "descent/callbacks.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/driver.hpp"
#include "descent/objective.hpp"
#include "descent/optimizer.hpp"
#include "descent/stopping.hpp"

namespace descent {
class MinibatchSampler;
}  // namespace descent

namespace descent::detail::diagnostics {

/// V with the other floating-point scalar (float for double, double for float): the type that a
/// functor or an optimizer written for the other precision expects.
template <class V>
using other_scalar = std::conditional_t<std::is_same_v<typename V::Scalar, float>, double, float>;
template <class V>
using other_scalar_t = typename plain_t<decltype(std::declval<const V&>().template cast<other_scalar<V>>())>::PlainObject;

// The parameter list of a callable with a single, non-template call operator (a lambda that is
// not generic, a function object, a function or function pointer); unknown otherwise.
template <class T>
struct signature {
  static constexpr bool known = false;
};
template <class R, class... A>
struct signature<R(A...)> {
  static constexpr bool known = true;
  using args = std::tuple<A...>;
};
template <class R, class... A>
struct signature<R(A...) noexcept> : signature<R(A...)> {};
template <class R, class... A>
struct signature<R (*)(A...)> : signature<R(A...)> {};
template <class R, class... A>
struct signature<R (*)(A...) noexcept> : signature<R(A...)> {};
template <class R, class K, class... A>
struct signature<R (K::*)(A...)> : signature<R(A...)> {};
template <class R, class K, class... A>
struct signature<R (K::*)(A...) const> : signature<R(A...)> {};
template <class R, class K, class... A>
struct signature<R (K::*)(A...) noexcept> : signature<R(A...)> {};
template <class R, class K, class... A>
struct signature<R (K::*)(A...) const noexcept> : signature<R(A...)> {};

template <class Fn>
constexpr auto signature_of() {
  using T = std::remove_cv_t<Fn>;
  if constexpr (std::is_class_v<T>) {
    if constexpr (requires { &T::operator(); })
      return signature<decltype(&T::operator())>{};
    else
      return signature<void>{};
  } else {
    return signature<T>{};
  }
}

enum class Passing { unknown, by_value, by_const_reference };

/// How `Fn` takes its parameter number `I`, when its signature can be read.
template <class Fn, std::size_t I>
constexpr Passing passing() {
  using Sig = decltype(signature_of<Fn>());
  if constexpr (!Sig::known) {
    return Passing::unknown;
  } else if constexpr (I >= std::tuple_size_v<typename Sig::args>) {
    return Passing::unknown;
  } else {
    using P = std::tuple_element_t<I, typename Sig::args>;
    if constexpr (!std::is_reference_v<P>)
      return Passing::by_value;
    else if constexpr (std::is_lvalue_reference_v<P> && std::is_const_v<std::remove_reference_t<P>>)
      return Passing::by_const_reference;
    else
      return Passing::unknown;
  }
}

// ---- What is wrong -----------------------------------------------------------------------------

enum class ParamsFault { none, not_eigen, const_params, not_floating, expression, read_only, other };

template <class X>
constexpr ParamsFault params_fault() {
  using P = plain_t<X>;
  if constexpr (DriverParams<X>)
    return ParamsFault::none;
  else if constexpr (!DenseExpression<P>)
    return ParamsFault::not_eigen;
  else if constexpr (!std::is_floating_point_v<typename P::Scalar>)
    return ParamsFault::not_floating;
  else if constexpr (!has_direct_access_v<X>)  // before const: Eigen returns its expressions const
    return ParamsFault::expression;
  else if constexpr (std::is_const_v<std::remove_reference_t<X>>)
    return ParamsFault::const_params;
  else if constexpr (!bool(Eigen::internal::is_lvalue<P>::value))
    return ParamsFault::read_only;
  else
    return ParamsFault::other;
}

enum class ObjectiveFault {
  none,
  const_call,
  gradient_by_pointer,
  float_for_double,
  double_for_float,
  swapped,
  x_not_const,
  stochastic_for_minimize,
  x_only,
  full_batch_for_train,
  gradient_by_value,
  gradient_by_const_reference,
  gradient_by_value_or_const_reference,
  returns_void,
  return_not_scalar,
  no_size,
  size_not_const,
  size_not_index,
  other
};

template <class V>
constexpr ObjectiveFault scalar_fault() {
  return std::is_same_v<typename V::Scalar, double> ? ObjectiveFault::float_for_double
                                                    : ObjectiveFault::double_for_float;
}

template <class Fn, std::size_t GradientIndex>
constexpr ObjectiveFault gradient_passing_fault() {
  constexpr Passing p = passing<Fn, GradientIndex>();
  if constexpr (p == Passing::by_value)
    return ObjectiveFault::gradient_by_value;
  else if constexpr (p == Passing::by_const_reference)
    return ObjectiveFault::gradient_by_const_reference;
  else
    return ObjectiveFault::gradient_by_value_or_const_reference;
}

/// Why `Fn` (cv-qualified as the driver holds it) is not an Objective<Fn, V>.
template <class Fn, class V>
constexpr ObjectiveFault objective_fault() {
  using W = other_scalar_t<V>;
  if constexpr (Objective<Fn, V>) {
    return ObjectiveFault::none;
  } else if constexpr (!std::is_invocable_v<Fn&, const V&, V&>) {
    if constexpr (std::is_const_v<Fn> && std::is_invocable_v<std::remove_const_t<Fn>&, const V&, V&>)
      return ObjectiveFault::const_call;
    else if constexpr (std::is_invocable_v<Fn&, const V&, V*>)
      return ObjectiveFault::gradient_by_pointer;
    else if constexpr (std::is_invocable_v<Fn&, const W&, W&>)
      return scalar_fault<V>();
    else if constexpr (std::is_invocable_v<Fn&, V&, const V&>)
      return ObjectiveFault::swapped;
    else if constexpr (std::is_invocable_v<Fn&, V&, V&>)
      return ObjectiveFault::x_not_const;
    else if constexpr (std::is_invocable_v<Fn&, const V&, Batch, V&>)
      return ObjectiveFault::stochastic_for_minimize;
    else if constexpr (std::is_invocable_v<Fn&, const V&>)
      return ObjectiveFault::x_only;
    else
      return ObjectiveFault::other;
  } else if constexpr (std::is_invocable_v<Fn&, const V&, typename V::PlainObject&&>) {
    return gradient_passing_fault<Fn, 1>();
  } else if constexpr (std::is_void_v<std::invoke_result_t<Fn&, const V&, V&>>) {
    return ObjectiveFault::returns_void;
  } else if constexpr (!std::is_convertible_v<std::invoke_result_t<Fn&, const V&, V&>, typename V::Scalar>) {
    return ObjectiveFault::return_not_scalar;
  } else {
    return ObjectiveFault::other;
  }
}

/// Why `Fn` is not a StochasticObjective<Fn, V>.
template <class Fn, class V>
constexpr ObjectiveFault stochastic_fault() {
  using W = other_scalar_t<V>;
  using M = std::remove_const_t<Fn>;
  if constexpr (StochasticObjective<Fn, V>) {
    return ObjectiveFault::none;
  } else if constexpr (!std::is_invocable_v<Fn&, const V&, Batch, V&>) {
    if constexpr (std::is_const_v<Fn> && std::is_invocable_v<M&, const V&, Batch, V&>)
      return ObjectiveFault::const_call;
    else if constexpr (std::is_invocable_v<Fn&, const V&, Batch, V*>)
      return ObjectiveFault::gradient_by_pointer;
    else if constexpr (std::is_invocable_v<Fn&, const W&, Batch, W&>)
      return scalar_fault<V>();
    else if constexpr (std::is_invocable_v<Fn&, const V&, V&, Batch> || std::is_invocable_v<Fn&, V&, const V&, Batch> ||
                       std::is_invocable_v<Fn&, V&, Batch, const V&> || std::is_invocable_v<Fn&, Batch, const V&, V&> ||
                       std::is_invocable_v<Fn&, Batch, V&, const V&>)
      return ObjectiveFault::swapped;
    else if constexpr (std::is_invocable_v<Fn&, V&, Batch, V&>)
      return ObjectiveFault::x_not_const;
    else if constexpr (std::is_invocable_v<Fn&, const V&, V&>)
      return ObjectiveFault::full_batch_for_train;
    else
      return ObjectiveFault::other;
  } else if constexpr (std::is_invocable_v<Fn&, const V&, Batch, typename V::PlainObject&&>) {
    return gradient_passing_fault<Fn, 2>();
  } else if constexpr (std::is_void_v<std::invoke_result_t<Fn&, const V&, Batch, V&>>) {
    return ObjectiveFault::returns_void;
  } else if constexpr (!std::is_convertible_v<std::invoke_result_t<Fn&, const V&, Batch, V&>, typename V::Scalar>) {
    return ObjectiveFault::return_not_scalar;
  } else if constexpr (!requires(const Fn& cf) { cf.size(); }) {
    if constexpr (requires(M& f) { f.size(); })
      return ObjectiveFault::size_not_const;
    else
      return ObjectiveFault::no_size;
  } else if constexpr (!requires(const Fn& cf) {
                         { cf.size() } -> std::convertible_to<Eigen::Index>;
                       }) {
    return ObjectiveFault::size_not_index;
  } else {
    return ObjectiveFault::other;
  }
}

enum class OptimizerFault {
  none,
  const_optimizer,
  objective_only,  // an ObjectiveOptimizer (LBFGS): fine for minimize, not for train
  float_for_double,
  double_for_float,
  no_reset,
  no_map_step,
  other
};

/// Why `O` (as the driver is given it, a reference) is not an Optimizer<O, V> it can step.
template <class O, class V>
constexpr OptimizerFault optimizer_fault() {
  using P = std::remove_cvref_t<O>;
  if constexpr (Optimizer<P, V> || ObjectiveOptimizer<P, V>) {
    if constexpr (std::is_const_v<std::remove_reference_t<O>>)
      return OptimizerFault::const_optimizer;
    else if constexpr (!Optimizer<P, V>)
      return OptimizerFault::objective_only;
    else
      return OptimizerFault::none;
  } else if constexpr (Optimizer<P, other_scalar_t<V>> || ObjectiveOptimizer<P, other_scalar_t<V>>) {
    return std::is_same_v<typename V::Scalar, double> ? OptimizerFault::float_for_double
                                                      : OptimizerFault::double_for_float;
  } else if constexpr (requires(P& opt, V& params, Eigen::Map<V>& mapped, const V& grads) {
                         opt.step(params, grads);
                         opt.step(mapped, grads);
                       }) {
    return OptimizerFault::no_reset;
  } else if constexpr (requires(P& opt, V& params, const V& grads) {
                         opt.step(params, grads);
                         opt.reset();
                       }) {
    return OptimizerFault::no_map_step;
  } else {
    return OptimizerFault::other;
  }
}

enum class SamplerFault { none, not_sampler, const_sampler };

template <class S>
constexpr SamplerFault sampler_fault() {
  if constexpr (!std::is_same_v<std::remove_cvref_t<S>, MinibatchSampler>)
    return SamplerFault::not_sampler;
  else if constexpr (std::is_const_v<std::remove_reference_t<S>>)
    return SamplerFault::const_sampler;
  else
    return SamplerFault::none;
}

enum class CallbackFault { none, not_callable, bad_return };

template <class C, class V>
constexpr CallbackFault callback_fault() {
  using Cb = std::remove_reference_t<C>;
  if constexpr (!std::is_invocable_v<Cb&, const Progress<V>&>)
    return CallbackFault::not_callable;
  else if constexpr (!Callback<Cb, V>)
    return CallbackFault::bad_return;
  else
    return CallbackFault::none;
}

/// The index of the first callback that does not fit, sizeof...(C) if they all do.
template <class V, class... C>
constexpr std::size_t first_bad_callback() {
  constexpr std::array<bool, sizeof...(C) + 1> bad{(callback_fault<C, V>() != CallbackFault::none)..., false};
  std::size_t i = 0;
  while (i < sizeof...(C) && !bad[i]) ++i;
  return i;
}

// ---- What to say -------------------------------------------------------------------------------
// Every message is one static_assert on `Never`, a template parameter that is always false: it
// fires only in the branch that is instantiated (clang then prints the sentence alone). The
// sentences are written out in full, without macros, so that the compilers print no macro notes.

template <bool Never, bool Train, ParamsFault Fault>
void report_params() {
  if constexpr (Fault == ParamsFault::not_eigen) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: the parameters x must be an Eigen V, Eigen::Map<V> or Eigen::Ref<V> (V a Matrix or Array "
          "of float or double), which the driver updates in place");
    else
      static_assert(Never,
          "descent::minimize: the parameters x must be an Eigen V, Eigen::Map<V> or Eigen::Ref<V> (V a Matrix or "
          "Array of float or double), which the driver updates in place");
  } else if constexpr (Fault == ParamsFault::const_params) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: the parameters x are const, but the driver updates them in place: pass a non-const V, "
          "Eigen::Map<V> or Eigen::Ref<V>");
    else
      static_assert(Never,
          "descent::minimize: the parameters x are const, but the driver updates them in place: pass a non-const V, "
          "Eigen::Map<V> or Eigen::Ref<V>");
  } else if constexpr (Fault == ParamsFault::not_floating) {
    if constexpr (Train)
      static_assert(Never, "descent::train: the parameters' scalar type must be float or double");
    else
      static_assert(Never, "descent::minimize: the parameters' scalar type must be float or double");
  } else if constexpr (Fault == ParamsFault::expression) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: the parameters x are an Eigen expression, not a V, Eigen::Map<V> or Eigen::Ref<V>: the "
          "driver updates x in place, so pass an object with storage of its own (evaluate the expression into a V "
          "first)");
    else
      static_assert(Never,
          "descent::minimize: the parameters x are an Eigen expression, not a V, Eigen::Map<V> or Eigen::Ref<V>: the "
          "driver updates x in place, so pass an object with storage of its own (evaluate the expression into a V "
          "first)");
  } else if constexpr (Fault == ParamsFault::read_only) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: the parameters x are a read-only view (a Map or Ref of const data), but the driver "
          "updates them in place: pass a writable V, Eigen::Map<V> or Eigen::Ref<V>");
    else
      static_assert(Never,
          "descent::minimize: the parameters x are a read-only view (a Map or Ref of const data), but the driver "
          "updates them in place: pass a writable V, Eigen::Map<V> or Eigen::Ref<V>");
  } else {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: the parameters x must be a writable V, Eigen::Map<V> or Eigen::Ref<V>, V a Matrix or "
          "Array of float or double");
    else
      static_assert(Never,
          "descent::minimize: the parameters x must be a writable V, Eigen::Map<V> or Eigen::Ref<V>, V a Matrix or "
          "Array of float or double");
  }
}

template <bool Never, ObjectiveFault Fault>
void report_objective_minimize() {
  if constexpr (Fault == ObjectiveFault::const_call) {
    static_assert(Never,
        "descent::minimize: the objective is const but its operator() is not: make operator() const, or pass a "
        "non-const objective");
  } else if constexpr (Fault == ObjectiveFault::gradient_by_pointer) {
    static_assert(Never,
        "descent::minimize: the objective takes the gradient by pointer: it must be callable as f(x, grad) with grad "
        "a writable V& (take V&, auto& or Eigen::Ref<V>, not V*)");
  } else if constexpr (Fault == ObjectiveFault::float_for_double) {
    static_assert(Never,
        "descent::minimize: the objective is written for float but the parameters are double: f(x, grad) must take x "
        "and grad with the parameters' scalar type");
  } else if constexpr (Fault == ObjectiveFault::double_for_float) {
    static_assert(Never,
        "descent::minimize: the objective is written for double but the parameters are float: f(x, grad) must take x "
        "and grad with the parameters' scalar type");
  } else if constexpr (Fault == ObjectiveFault::swapped) {
    static_assert(Never,
        "descent::minimize: the objective takes the gradient first: it must be callable as f(x, grad), x (a const "
        "V&) first, then grad (a writable V&)");
  } else if constexpr (Fault == ObjectiveFault::x_not_const) {
    static_assert(Never,
        "descent::minimize: the objective takes x by non-const reference: it is called as f(x, grad) with x a const "
        "V&, so take const V& (or const auto&)");
  } else if constexpr (Fault == ObjectiveFault::stochastic_for_minimize) {
    static_assert(Never,
        "descent::minimize: the objective takes a batch, f(x, batch, grad): that is a stochastic objective, for "
        "descent::train (minimize calls f(x, grad))");
  } else if constexpr (Fault == ObjectiveFault::x_only) {
    static_assert(Never,
        "descent::minimize: the objective takes only x: it must be callable as f(x, grad), writing the gradient into "
        "grad (a writable V&) and returning the loss (descent::make_objective pairs a value and a gradient function)");
  } else if constexpr (Fault == ObjectiveFault::gradient_by_value) {
    static_assert(Never,
        "descent::minimize: the objective takes the gradient by value, so what it writes is lost: f(x, grad) must "
        "take grad as a writable V& (V&, auto& or Eigen::Ref<V>)");
  } else if constexpr (Fault == ObjectiveFault::gradient_by_const_reference) {
    static_assert(Never,
        "descent::minimize: the objective takes the gradient by const reference, so it cannot write it: f(x, grad) "
        "must take grad as a writable V& (V&, auto& or Eigen::Ref<V>)");
  } else if constexpr (Fault == ObjectiveFault::gradient_by_value_or_const_reference) {
    static_assert(Never,
        "descent::minimize: the objective takes the gradient by value or by const reference, so it cannot hand it "
        "back: f(x, grad) must take grad as a writable V& (V&, auto& or Eigen::Ref<V>)");
  } else if constexpr (Fault == ObjectiveFault::returns_void) {
    static_assert(Never,
        "descent::minimize: the objective returns void: f(x, grad) must return the loss (convertible to V's scalar) "
        "and write the gradient into grad");
  } else if constexpr (Fault == ObjectiveFault::return_not_scalar) {
    static_assert(Never,
        "descent::minimize: the objective's result is not convertible to V's scalar: f(x, grad) must return the loss "
        "and write the gradient into grad");
  } else {
    static_assert(Never,
        "descent::minimize: the objective must be callable as f(x, grad) with x a const V& and grad a writable V&, "
        "and return the loss (convertible to V's scalar)");
  }
}

template <bool Never, ObjectiveFault Fault>
void report_objective_train() {
  if constexpr (Fault == ObjectiveFault::const_call) {
    static_assert(Never,
        "descent::train: the objective is const but its operator() is not: make operator() const, or pass a "
        "non-const objective");
  } else if constexpr (Fault == ObjectiveFault::gradient_by_pointer) {
    static_assert(Never,
        "descent::train: the objective takes the gradient by pointer: it must be callable as f(x, batch, grad) with "
        "grad a writable V& (take V&, auto& or Eigen::Ref<V>, not V*)");
  } else if constexpr (Fault == ObjectiveFault::float_for_double) {
    static_assert(Never,
        "descent::train: the objective is written for float but the parameters are double: f(x, batch, grad) must "
        "take x and grad with the parameters' scalar type");
  } else if constexpr (Fault == ObjectiveFault::double_for_float) {
    static_assert(Never,
        "descent::train: the objective is written for double but the parameters are float: f(x, batch, grad) must "
        "take x and grad with the parameters' scalar type");
  } else if constexpr (Fault == ObjectiveFault::swapped) {
    static_assert(Never,
        "descent::train: the objective takes its arguments in another order: it must be callable as f(x, batch, "
        "grad), x (a const V&) first, then batch (a descent::Batch), then grad (a writable V&)");
  } else if constexpr (Fault == ObjectiveFault::x_not_const) {
    static_assert(Never,
        "descent::train: the objective takes x by non-const reference: it is called as f(x, batch, grad) with x a "
        "const V&, so take const V& (or const auto&)");
  } else if constexpr (Fault == ObjectiveFault::full_batch_for_train) {
    static_assert(Never,
        "descent::train: the objective is a full-batch one, f(x, grad): train calls f(x, batch, grad) and needs "
        "size() (use descent::minimize for a full-batch objective)");
  } else if constexpr (Fault == ObjectiveFault::gradient_by_value) {
    static_assert(Never,
        "descent::train: the objective takes the gradient by value, so what it writes is lost: f(x, batch, grad) "
        "must take grad as a writable V& (V&, auto& or Eigen::Ref<V>)");
  } else if constexpr (Fault == ObjectiveFault::gradient_by_const_reference) {
    static_assert(Never,
        "descent::train: the objective takes the gradient by const reference, so it cannot write it: f(x, batch, "
        "grad) must take grad as a writable V& (V&, auto& or Eigen::Ref<V>)");
  } else if constexpr (Fault == ObjectiveFault::gradient_by_value_or_const_reference) {
    static_assert(Never,
        "descent::train: the objective takes the gradient by value or by const reference, so it cannot hand it back: "
        "f(x, batch, grad) must take grad as a writable V& (V&, auto& or Eigen::Ref<V>)");
  } else if constexpr (Fault == ObjectiveFault::returns_void) {
    static_assert(Never,
        "descent::train: the objective returns void: f(x, batch, grad) must return the mean loss over the batch "
        "(convertible to V's scalar) and write its gradient into grad");
  } else if constexpr (Fault == ObjectiveFault::return_not_scalar) {
    static_assert(Never,
        "descent::train: the objective's result is not convertible to V's scalar: f(x, batch, grad) must return the "
        "mean loss over the batch and write its gradient into grad");
  } else if constexpr (Fault == ObjectiveFault::no_size) {
    static_assert(Never,
        "descent::train: the objective has no size(): a stochastic objective must have a const member size() that "
        "returns the number of samples");
  } else if constexpr (Fault == ObjectiveFault::size_not_const) {
    static_assert(Never,
        "descent::train: the objective's size() is not const: a stochastic objective must have a const member size() "
        "that returns the number of samples (declare it Eigen::Index size() const)");
  } else if constexpr (Fault == ObjectiveFault::size_not_index) {
    static_assert(Never,
        "descent::train: the objective's size() must return the number of samples, convertible to Eigen::Index");
  } else {
    static_assert(Never,
        "descent::train: the objective must be callable as f(x, batch, grad) with x a const V&, batch a "
        "descent::Batch and grad a writable V&, return the mean loss over the batch (convertible to V's scalar), and "
        "have a const size()");
  }
}

template <bool Never, bool Train, OptimizerFault Fault>
void report_optimizer() {
  if constexpr (Fault == OptimizerFault::const_optimizer) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: the optimizer is const, but every step changes its state: pass a non-const optimizer "
          "(named or temporary)");
    else
      static_assert(Never,
          "descent::minimize: the optimizer is const, but every step changes its state: pass a non-const optimizer "
          "(named or temporary)");
  } else if constexpr (Fault == OptimizerFault::objective_only) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: this optimizer needs the whole objective (opt.step(f, x), like descent::LBFGS), not one "
          "minibatch gradient: use descent::minimize with a full-batch Objective");
  } else if constexpr (Fault == OptimizerFault::float_for_double) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: the optimizer is for float parameters but x holds double: use an optimizer of the "
          "parameters' own type, e.g. descent::Adam<Eigen::VectorXd> for an Eigen::VectorXd");
    else
      static_assert(Never,
          "descent::minimize: the optimizer is for float parameters but x holds double: use an optimizer of the "
          "parameters' own type, e.g. descent::Adam<Eigen::VectorXd> for an Eigen::VectorXd");
  } else if constexpr (Fault == OptimizerFault::double_for_float) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: the optimizer is for double parameters but x holds float: use an optimizer of the "
          "parameters' own type, e.g. descent::Adam<Eigen::VectorXf> for an Eigen::VectorXf");
    else
      static_assert(Never,
          "descent::minimize: the optimizer is for double parameters but x holds float: use an optimizer of the "
          "parameters' own type, e.g. descent::Adam<Eigen::VectorXf> for an Eigen::VectorXf");
  } else if constexpr (Fault == OptimizerFault::no_reset) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: the optimizer has no reset(): an optimizer (descent::Optimizer<O, V>) must have "
          "opt.step(params, grads) and opt.reset()");
    else
      static_assert(Never,
          "descent::minimize: the optimizer has no reset(): an optimizer (descent::Optimizer<O, V>) must have "
          "opt.step(params, grads) and opt.reset()");
  } else if constexpr (Fault == OptimizerFault::no_map_step) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: the optimizer's step() does not take an Eigen::Map<V>: descent::Optimizer<O, V> requires "
          "opt.step(params, grads) for params a V& and an Eigen::Map<V>&, grads a const V&");
    else
      static_assert(Never,
          "descent::minimize: the optimizer's step() does not take an Eigen::Map<V>: descent::Optimizer<O, V> "
          "requires opt.step(params, grads) for params a V& and an Eigen::Map<V>&, grads a const V&");
  } else {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: the optimizer must satisfy descent::Optimizer<O, V>: opt.step(params, grads) with params "
          "a V& or Eigen::Map<V>& and grads a const V&, and opt.reset()");
    else
      static_assert(Never,
          "descent::minimize: the optimizer must satisfy descent::Optimizer<O, V>: opt.step(params, grads) with "
          "params a V& or Eigen::Map<V>& and grads a const V&, and opt.reset()");
  }
}

template <bool Never, SamplerFault Fault>
void report_sampler() {
  if constexpr (Fault == SamplerFault::const_sampler) {
    static_assert(Never,
        "descent::train: the sampler is const, but drawing a batch advances it: pass a non-const "
        "descent::MinibatchSampler (named or temporary)");
  } else {
    static_assert(Never,
        "descent::train: the fourth argument must be the descent::MinibatchSampler the batches are drawn from (the "
        "stopping criteria come after it)");
  }
}

template <bool Never, bool Train>
void report_stop() {
  if constexpr (Train) {
    static_assert(Never,
        "descent::train: the fifth argument must be the descent::StopCriteria, before the callbacks: train(f, x, "
        "optimizer, sampler, stop, callbacks...)");
  } else {
    static_assert(Never,
        "descent::minimize: the fourth argument must be the descent::StopCriteria, before the callbacks: minimize(f, "
        "x, optimizer, stop, callbacks...)");
  }
}

/// Names the callback by its position among the callbacks and among the driver's arguments
/// (callback 1 is argument 5 of minimize and argument 6 of train).
template <bool Never, bool Train, std::size_t Index>
void report_callback() {
  if constexpr (Index == 0) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: callback 1 (argument 6) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
    else
      static_assert(Never,
          "descent::minimize: callback 1 (argument 5) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
  } else if constexpr (Index == 1) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: callback 2 (argument 7) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
    else
      static_assert(Never,
          "descent::minimize: callback 2 (argument 6) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
  } else if constexpr (Index == 2) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: callback 3 (argument 8) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
    else
      static_assert(Never,
          "descent::minimize: callback 3 (argument 7) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
  } else if constexpr (Index == 3) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: callback 4 (argument 9) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
    else
      static_assert(Never,
          "descent::minimize: callback 4 (argument 8) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
  } else if constexpr (Index == 4) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: callback 5 (argument 10) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
    else
      static_assert(Never,
          "descent::minimize: callback 5 (argument 9) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
  } else if constexpr (Index == 5) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: callback 6 (argument 11) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
    else
      static_assert(Never,
          "descent::minimize: callback 6 (argument 10) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
  } else if constexpr (Index == 6) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: callback 7 (argument 12) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
    else
      static_assert(Never,
          "descent::minimize: callback 7 (argument 11) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
  } else if constexpr (Index == 7) {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: callback 8 (argument 13) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
    else
      static_assert(Never,
          "descent::minimize: callback 8 (argument 12) does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
  } else {
    if constexpr (Train)
      static_assert(Never,
          "descent::train: a callback after the eighth does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
    else
      static_assert(Never,
          "descent::minimize: a callback after the eighth does not fit: callbacks are called as cb(const "
          "descent::Progress<V>&), V the parameters' plain type, and return void or something convertible to bool");
  }
}

template <bool Train, class Fn, class V>
constexpr ObjectiveFault objective_or_stochastic_fault() {
  if constexpr (Train)
    return stochastic_fault<Fn, V>();
  else
    return objective_fault<Fn, V>();
}

/// Finds the first requirement of minimize (Train false, S void) or train that the argument types
/// miss and fails one static_assert that says which, in a sentence. `Never` is false. `StopOk` is
/// false when the argument where the StopCriteria belongs is something else. Each check is
/// instantiated only if the ones before it passed.
template <bool Never, bool Train, bool StopOk, class F, class X, class O, class S, class... C>
void diagnose() {
  if constexpr (params_fault<X>() != ParamsFault::none) {
    report_params<Never, Train, params_fault<X>()>();
  } else {
    using V = params_vector_t<X>;
    using Fn = std::remove_reference_t<F>;
    if constexpr (Train && SparseStochasticObjective<Fn, V> && !StochasticObjective<Fn, V> &&
                  !SparseOptimizer<std::remove_cvref_t<O>, V>) {
      static_assert(Never,
          "descent::train: the objective writes a sparse gradient (Eigen::SparseVector), but the optimizer does not "
          "take one: descent::SGD, descent::Adagrad and descent::SparseAdam do (descent::SparseOptimizer<O, V>)");
    } else if constexpr (objective_or_stochastic_fault<Train, Fn, V>() != ObjectiveFault::none) {
      if constexpr (Train)
        report_objective_train<Never, stochastic_fault<Fn, V>()>();
      else
        report_objective_minimize<Never, objective_fault<Fn, V>()>();
    } else if constexpr (optimizer_fault<O, V>() != OptimizerFault::none &&
                         (Train || optimizer_fault<O, V>() != OptimizerFault::objective_only)) {
      report_optimizer<Never, Train, optimizer_fault<O, V>()>();
    } else if constexpr (Train && sampler_fault<S>() != SamplerFault::none) {
      report_sampler<Never, sampler_fault<S>()>();
    } else if constexpr (!StopOk) {
      report_stop<Never, Train>();
    } else if constexpr (first_bad_callback<V, C...>() < sizeof...(C)) {
      constexpr std::size_t bad = first_bad_callback<V, C...>();
      report_callback<Never, Train, bad>();
    } else {
      if constexpr (Train)
        static_assert(Never,
            "descent::train: these arguments do not fit the driver's requirements (see the comment above it in its "
            "header)");
      else
        static_assert(Never,
            "descent::minimize: these arguments do not fit the driver's requirements (see the comment above it in "
            "its header)");
    }
  }
}

}  // namespace descent::detail::diagnostics
