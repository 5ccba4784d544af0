#pragma once
// What minimize and train share: the parameter types they accept and their bookkeeping.

#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <type_traits>

#include "descent/callbacks.hpp"
#include "descent/detail/checks.hpp"
#include "descent/stopping.hpp"

namespace descent::detail {

/// The plain Eigen type behind the parameters a driver is given (V for a V, a Map<V> or a Ref<V>).
template <class X>
using params_vector_t = typename plain_t<X>::PlainObject;

/// What a driver can update in place: a V, Map<V> or Ref<V> (a writable object with its own
/// storage), of float or double.
template <class X>
concept DriverParams = DenseExpression<plain_t<X>> && PlainEigen<params_vector_t<X>> &&
    ParamsOf<X, params_vector_t<X>> && has_direct_access_v<X>;

/// Relative change test of StopCriteria::loss_tolerance.
inline bool loss_converged(double previous, double current, double tolerance) {
  return tolerance > 0.0 && std::abs(current - previous) <= tolerance * std::max(std::abs(previous), 1e-300);
}

/// ‖g‖₂, falling back to Eigen's overflow-safe norm when the plain one overflows on a finite gradient.
template <class G>
double gradient_norm(const G& g) {
  const double n = double(g.norm());
  if (std::isfinite(n) || !g.allFinite()) return n;
  return double(g.stableNorm());
}

/// Calls every callback's on_end; true if one of them says it changed the parameters.
template <class X, class... C>
bool end_callbacks(X& x, const Report& report, C&... callbacks) {
  bool changed = false;
  (
      [&] {
        if constexpr (HasOnEnd<C, X>) {
          if constexpr (std::is_convertible_v<decltype(callbacks.on_end(x, report)), bool>)
            changed = bool(callbacks.on_end(x, report)) || changed;
          else
            callbacks.on_end(x, report);
        }
      }(),
      ...);
  return changed;
}

}  // namespace descent::detail
