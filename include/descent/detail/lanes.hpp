#pragma once
// Element-wise update kernels, run in one pass over memory.
//
// An optimizer's update is a short formula applied to every coefficient, reading the parameter,
// the gradient and a few state arrays and writing some of them back. Written as separate Eigen
// statements it streams the arrays from memory several times; a single Eigen expression cannot
// write to more than one destination. So each optimizer writes its formula once, as a generic
// lambda over "lanes", and this header runs it over SIMD packets (Eigen's own packet math, so it
// vectorizes whatever flags the user compiles with) with a scalar tail: each coefficient is
// loaded and stored exactly once per step.

#include <Eigen/Core>

#include <array>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <utility>

// Packet types such as __m128 carry vector attributes that GCC reports as ignored when they are
// template arguments (Lane<Packet4f>); harmless here, and Eigen silences the same warning itself.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

namespace descent::detail {

/// A SIMD packet with the arithmetic operators the update formulas need, so that a kernel reads
/// like the paper: `m = b1 * m + c1 * g`. Scalar operands are broadcast.
template <class Packet>
struct Lane {
  Packet v;
};

template <class Packet>
using lane_scalar_t = typename Eigen::internal::unpacket_traits<Packet>::type;

template <class P>
EIGEN_STRONG_INLINE Lane<P> broadcast(lane_scalar_t<P> s) {
  return {Eigen::internal::pset1<P>(s)};
}

// clang-format off
template <class P> EIGEN_STRONG_INLINE Lane<P> operator+(Lane<P> a, Lane<P> b) { return {Eigen::internal::padd(a.v, b.v)}; }
template <class P> EIGEN_STRONG_INLINE Lane<P> operator-(Lane<P> a, Lane<P> b) { return {Eigen::internal::psub(a.v, b.v)}; }
template <class P> EIGEN_STRONG_INLINE Lane<P> operator*(Lane<P> a, Lane<P> b) { return {Eigen::internal::pmul(a.v, b.v)}; }
template <class P> EIGEN_STRONG_INLINE Lane<P> operator/(Lane<P> a, Lane<P> b) { return {Eigen::internal::pdiv(a.v, b.v)}; }
template <class P> EIGEN_STRONG_INLINE Lane<P> operator-(Lane<P> a) { return {Eigen::internal::pnegate(a.v)}; }

template <class P> EIGEN_STRONG_INLINE Lane<P> operator+(Lane<P> a, lane_scalar_t<P> s) { return a + broadcast<P>(s); }
template <class P> EIGEN_STRONG_INLINE Lane<P> operator+(lane_scalar_t<P> s, Lane<P> a) { return broadcast<P>(s) + a; }
template <class P> EIGEN_STRONG_INLINE Lane<P> operator-(Lane<P> a, lane_scalar_t<P> s) { return a - broadcast<P>(s); }
template <class P> EIGEN_STRONG_INLINE Lane<P> operator-(lane_scalar_t<P> s, Lane<P> a) { return broadcast<P>(s) - a; }
template <class P> EIGEN_STRONG_INLINE Lane<P> operator*(Lane<P> a, lane_scalar_t<P> s) { return a * broadcast<P>(s); }
template <class P> EIGEN_STRONG_INLINE Lane<P> operator*(lane_scalar_t<P> s, Lane<P> a) { return broadcast<P>(s) * a; }
template <class P> EIGEN_STRONG_INLINE Lane<P> operator/(Lane<P> a, lane_scalar_t<P> s) { return a / broadcast<P>(s); }
template <class P> EIGEN_STRONG_INLINE Lane<P> operator/(lane_scalar_t<P> s, Lane<P> a) { return broadcast<P>(s) / a; }

template <class P> EIGEN_STRONG_INLINE Lane<P> sqrt(Lane<P> a) { return {Eigen::internal::psqrt(a.v)}; }
// torch.maximum propagates NaN; so do we, in the packet body and the scalar tail alike.
template <class P> EIGEN_STRONG_INLINE Lane<P> max(Lane<P> a, Lane<P> b) { return {Eigen::internal::pmax<Eigen::PropagateNaN>(a.v, b.v)}; }
// clang-format on

template <class S>
  requires std::is_floating_point_v<S>
EIGEN_STRONG_INLINE S sqrt(S a) {
  return std::sqrt(a);
}

template <class S>
  requires std::is_floating_point_v<S>
EIGEN_STRONG_INLINE S max(S a, S b) {
  if (a != a || b != b) return a + b;  // NaN in, NaN out
  return a < b ? b : a;
}

/// Runs `kernel(p, g, s...)` over `n` contiguous coefficients. `p` and each state array are
/// read and written, `g` only read. Each is touched once per coefficient.
template <class Scalar, std::size_t K, class Kernel, std::size_t... I>
EIGEN_STRONG_INLINE void run_contiguous(Eigen::Index n, const Kernel& kernel, Scalar* p, const Scalar* g,
                                        const std::array<Scalar*, K>& s, std::index_sequence<I...>) {
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  constexpr Eigen::Index width = Eigen::internal::unpacket_traits<Packet>::size;
  // The packet loop's end is computed up front: a loop condition of the form i + width <= n
  // makes GCC warn (-Waggressive-loop-optimizations) about the tail loop of fixed-size objects.
  constexpr bool vectorized = width > 1 && !std::is_same_v<Packet, Scalar>;
  const Eigen::Index packet_end = vectorized ? n - n % width : 0;
  Eigen::Index i = 0;
  if constexpr (vectorized) {
    for (; i < packet_end; i += width) {
      Lane<Packet> pl{Eigen::internal::ploadu<Packet>(p + i)};
      const Lane<Packet> gl{Eigen::internal::ploadu<Packet>(g + i)};
      std::array<Lane<Packet>, K> sl{Lane<Packet>{Eigen::internal::ploadu<Packet>(s[I] + i)}...};
      kernel(pl, gl, sl[I]...);
      Eigen::internal::pstoreu(p + i, pl.v);
      (Eigen::internal::pstoreu(s[I] + i, sl[I].v), ...);
    }
  }
  for (; i < n; ++i) kernel(p[i], g[i], s[I][i]...);
}

template <class Xpr>
inline constexpr bool has_direct_access_v =
    (std::remove_cvref_t<Xpr>::Flags & Eigen::DirectAccessBit) != 0;

/// Applies `kernel` to every coefficient of `params` (any writable Eigen expression), the matching
/// coefficient of `grads` (any readable Eigen expression of the same shape) and of each state
/// array (plain objects of the optimizer's type V, already sized like params).
///
/// Fast path: params and grads have direct access with unit inner stride in V's storage order
/// (V, Map<V>, Ref<V>, segments and column blocks): packet loop, one pass over memory. Anything
/// else (strided views, reversed views, lazy gradient expressions) takes a coefficient-wise loop
/// that is correct but not vectorized; a gradient expression that needs a temporary (a matrix
/// product) is evaluated into one by Eigen.
template <class V, class P, class G, class Kernel, class... State>
void for_each_coefficient(P& params, const G& grads, const Kernel& kernel, State&... state) {
  using Scalar = typename V::Scalar;
  using PX = std::remove_cvref_t<P>;
  using GX = std::remove_cvref_t<G>;
  constexpr std::size_t K = sizeof...(State);
  constexpr bool vector_shape = V::IsVectorAtCompileTime;
  constexpr bool same_order = vector_shape || (bool(PX::IsRowMajor) == bool(V::IsRowMajor) &&
                                               bool(GX::IsRowMajor) == bool(V::IsRowMajor));
  const Eigen::Index rows = params.rows();
  const Eigen::Index cols = params.cols();
  const Eigen::Index inner = vector_shape ? rows * cols : (V::IsRowMajor ? cols : rows);
  const Eigen::Index outer = vector_shape ? 1 : (V::IsRowMajor ? rows : cols);
  if (inner == 0 || outer == 0) return;

  if constexpr (has_direct_access_v<PX> && has_direct_access_v<GX> && same_order) {
    if (params.innerStride() == 1 && grads.innerStride() == 1) {
      const bool packed =
          outer == 1 || (params.outerStride() == inner && grads.outerStride() == inner);
      const Eigen::Index spans = packed ? 1 : outer;
      const Eigen::Index length = packed ? inner * outer : inner;
      for (Eigen::Index j = 0; j < spans; ++j) {
        const std::array<Scalar*, K> s{(state.data() + j * length)...};
        run_contiguous<Scalar, K>(length, kernel, params.data() + j * params.outerStride(),
                                  grads.data() + j * grads.outerStride(), s,
                                  std::make_index_sequence<K>{});
      }
      return;
    }
  }

  const Eigen::internal::evaluator<GX> g(grads);
  for (Eigen::Index j = 0; j < outer; ++j) {
    for (Eigen::Index i = 0; i < inner; ++i) {
      const Eigen::Index r = vector_shape ? (rows == 1 ? 0 : i) : (V::IsRowMajor ? j : i);
      const Eigen::Index c = vector_shape ? (rows == 1 ? i : 0) : (V::IsRowMajor ? i : j);
      kernel(params.coeffRef(r, c), Scalar(g.coeff(r, c)), state.data()[j * inner + i]...);
    }
  }
}

}  // namespace descent::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
