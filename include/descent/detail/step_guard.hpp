#pragma once
// The drivers' finiteness guard, carried out inside the optimizers' one-pass kernels.
//
// train promises that x is never left non-finite and that a step into a non-finite region is
// undone, which needs the parameters from before each step and a finiteness test of the gradient
// and of the new parameters. Done as separate passes (a copy of x before the step, a scan of the
// gradient and of x), that is three or four more streams over memory than the step itself. The
// kernels of descent's optimizers (detail/lanes.hpp) can do all of it in the pass they make
// anyway, where every old p, g and new p is in a register: while a StepGuard is active on the
// thread, they store each old p into the guard's backup and add g·0 + p_new·0 into a sum that stays
// exactly 0 while everything is finite (±inf·0 and NaN·0 are NaN). The arithmetic of the step is
// the same, bit for bit.

#include <Eigen/Core>
#include <type_traits>

namespace descent::detail {

/// What the kernels of one optimizer step report to the driver that set the guard.
template <class Scalar>
struct StepGuard {
  const Scalar* base = nullptr;  ///< the parameters' first coefficient
  Eigen::Index size = 0;         ///< contiguous coefficients from base
  Scalar* backup = nullptr;      ///< size coefficients: receives the old value of each one updated
  Scalar zeros = 0;              ///< Σ g·0 + p_new·0 over the coefficients updated: 0 or NaN
  Eigen::Index covered = 0;      ///< coefficients updated under the guard
  bool outside = false;          ///< a kernel ran on memory outside [base, base + size)
};

/// The guard of the step running on this thread, if a driver set one.
template <class Scalar>
inline thread_local StepGuard<Scalar>* active_step_guard = nullptr;

/// Sets `guard` as this thread's for the scope's lifetime (an exception included).
template <class Scalar>
class StepGuardScope {
 public:
  explicit StepGuardScope(StepGuard<Scalar>& guard) : previous_(active_step_guard<Scalar>) {
    active_step_guard<Scalar> = &guard;
  }
  StepGuardScope(const StepGuardScope&) = delete;
  StepGuardScope& operator=(const StepGuardScope&) = delete;
  ~StepGuardScope() { active_step_guard<Scalar> = previous_; }

 private:
  StepGuard<Scalar>* previous_;
};

/// Whether x's coefficients are one unit-stride run in memory (a V, and the usual Map and Ref of
/// one): what a StepGuard's backup mirrors.
template <class X>
bool is_contiguous(const X& x) {
  if constexpr (requires { x.data(); x.innerStride(); x.outerStride(); }) {
    return x.size() <= 1 || (x.innerStride() == 1 && (x.outerSize() <= 1 || x.outerStride() == x.innerSize()));
  } else {
    return false;
  }
}

/// Below this many coefficients a driver backs up and checks x in separate passes: they run in
/// cache and cost less than the guard's fixed cost (measured: about 5 ns a step on a Vector2d).
inline constexpr Eigen::Index fused_guard_min_size = 512;

/// Whether every step of optimizer type O updates each parameter coefficient at most once, in
/// place, and only through the kernels of detail/lanes.hpp, leaving the others untouched: then a
/// StepGuard sees every change the step makes, and its backup restores the parameters exactly.
/// Each optimizer header that qualifies says so; wrappers (Grouped, Clipped) inherit it from what
/// they wrap. Anything else (an optimizer of the user's) gets the drivers' separate passes.
template <class O>
inline constexpr bool guarded_kernels_v = false;

/// Whether a guarded step of O may leave coefficients alone (Grouped: those outside every block).
/// Only then must a driver fill its backups before the first step: a step of any other guarded
/// optimizer writes every coefficient of the backup it is given.
template <class O>
inline constexpr bool guard_may_skip_v = false;

/// Whether a driver steps O on x under a StepGuard (the same numbers either way, bit for bit).
template <class O, class X>
bool use_step_guard(const X& x) {
  using Plain = typename std::remove_cvref_t<X>::PlainObject;
  if constexpr (!guarded_kernels_v<O> || Plain::SizeAtCompileTime != Eigen::Dynamic) {
    return false;
  } else {
    return x.size() >= fused_guard_min_size && is_contiguous(x);
  }
}

}  // namespace descent::detail
