#pragma once
// Element-wise update kernels, run in one pass over memory.
//
// An optimizer's update is a short formula applied to every coefficient, reading the parameter,
// the gradient and a few state arrays and writing some of them back. Written as separate Eigen
// statements it streams the arrays from memory several times; a single Eigen expression cannot
// write to more than one destination. So each optimizer writes its formula once, as a generic
// lambda over "lanes", and this header runs it over SIMD packets (Eigen's own packet math, so it
// vectorizes whatever flags the user compiles with, and on x86-64 also the CPU's widest SIMD,
// chosen at run time) with a scalar tail: each coefficient is loaded and stored exactly once per
// step.

#include <Eigen/Core>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <type_traits>
#include <utility>

#include "descent/detail/checks.hpp"
#include "descent/detail/step_guard.hpp"
#include "descent/parallel.hpp"

// Packet types such as __m128 carry vector attributes that GCC reports as ignored when they are
// template arguments (Lane<Packet4f>); harmless here, and Eigen silences the same warning itself.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() on purpose, which -Wmaybe-uninitialized
// reports once they are inlined into a loop (plain Eigen code such as v.cwiseSqrt() does it too).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Contraction of a·b + c into one fused multiply-add must not depend on the compiler's flags: GCC
// contracts by default (-ffp-contract=fast) wherever the target has FMA (-march=native), clang
// within an expression (-ffp-contract=on), and either may do it in the packet loop but not in the
// scalar tail or the other way round, so coefficients of one vector would follow different
// arithmetic (centered RMSProp's v − ga² then goes negative, and NaN, in some lanes only). The
// kernels are therefore compiled without contraction, as the formulas are written: GCC through
// an optimize region around every function that runs a formula, clang through a pragma at the
// top of each update function. The update functions are not inlined into their callers, so the
// caller's own flags never apply to the formula. (clang's -ffp-contract=fast ignores the pragma.)

// Run-time dispatch (see "Run-time dispatch" below): x86-64, GCC, a build narrower than AVX-512,
// unless the program defines DESCENT_NO_ISA_DISPATCH (for every translation unit alike: the
// kernels are inline templates). DESCENT_DETAIL_LANE_INLINE marks the formulas (the lambdas and
// the packet operators) that the dispatched kernels run: always inlined there, as a formula on
// wide packets compiled on its own would lack their instruction set. Without dispatch the compiler
// decides, as for any inline function (forcing it costs a third more compile time).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX512F__) && \
    !defined(DESCENT_NO_ISA_DISPATCH)
#define DESCENT_DETAIL_ISA_DISPATCH 1
#define DESCENT_DETAIL_LANE_INLINE __attribute__((always_inline))
#include <immintrin.h>
#else
#define DESCENT_DETAIL_LANE_INLINE
#endif
#if defined(__clang__)
#define DESCENT_DETAIL_KERNELS_BEGIN
#define DESCENT_DETAIL_KERNELS_END
#define DESCENT_DETAIL_NO_CONTRACT _Pragma("STDC FP_CONTRACT OFF")
#define DESCENT_DETAIL_KERNEL [[gnu::noinline]]
#elif defined(__GNUC__)
// -Wpsabi: the wide packets of the dispatched kernels (below) are passed by value between inline
// functions that are only ever inlined into functions compiled for their ISA, so the ABI GCC warns
// about (how such a vector would be passed without AVX) is never used.
#define DESCENT_DETAIL_KERNELS_BEGIN                                                                  \
  _Pragma("GCC push_options") _Pragma("GCC optimize(\"fp-contract=off\")") _Pragma("GCC diagnostic push") \
      _Pragma("GCC diagnostic ignored \"-Wpsabi\"")
#define DESCENT_DETAIL_KERNELS_END _Pragma("GCC diagnostic pop") _Pragma("GCC pop_options")
#define DESCENT_DETAIL_NO_CONTRACT
#define DESCENT_DETAIL_KERNEL [[gnu::noinline]]
#else
#define DESCENT_DETAIL_KERNELS_BEGIN
#define DESCENT_DETAIL_KERNELS_END
#define DESCENT_DETAIL_NO_CONTRACT
#define DESCENT_DETAIL_KERNEL
#endif

DESCENT_DETAIL_KERNELS_BEGIN

namespace descent::detail {

/// A correctly rounded square root of every lane, as torch (and std::sqrt in the scalar tail)
/// computes it. Eigen's psqrt is an estimate refined by one Newton step when EIGEN_FAST_MATH is
/// on (its default) for float on SSE/AVX/AVX-512 and for double on AVX-512: up to 2e-7 off, and
/// different from the scalar tail. The hardware instructions are exact and about as fast.
template <class P>
DESCENT_DETAIL_LANE_INLINE inline P exact_psqrt(const P& a) {
#if defined(EIGEN_VECTORIZE_AVX512)
  if constexpr (std::is_same_v<P, Eigen::internal::Packet16f>) return P(_mm512_sqrt_ps(a));
  if constexpr (std::is_same_v<P, Eigen::internal::Packet8d>) return P(_mm512_sqrt_pd(a));
#endif
#if defined(EIGEN_VECTORIZE_AVX)
  if constexpr (std::is_same_v<P, Eigen::internal::Packet8f>) return P(_mm256_sqrt_ps(a));
  if constexpr (std::is_same_v<P, Eigen::internal::Packet4d>) return P(_mm256_sqrt_pd(a));
#endif
#if defined(EIGEN_VECTORIZE_SSE2)
  if constexpr (std::is_same_v<P, Eigen::internal::Packet4f>) return P(_mm_sqrt_ps(a));
  if constexpr (std::is_same_v<P, Eigen::internal::Packet2d>) return P(_mm_sqrt_pd(a));
#endif
#if defined(EIGEN_VECTORIZE_NEON) && defined(__aarch64__)
  if constexpr (std::is_same_v<P, Eigen::internal::Packet4f>) return P(vsqrtq_f32(a));
  if constexpr (std::is_same_v<P, Eigen::internal::Packet2d>) return P(vsqrtq_f64(a));
#endif
  // Any other packet type: lane by lane, with std::sqrt.
  using S = typename Eigen::internal::unpacket_traits<P>::type;
  constexpr int width = Eigen::internal::unpacket_traits<P>::size;
  S lanes[width];
  Eigen::internal::pstoreu(lanes, a);
  for (S& x : lanes) x = std::sqrt(x);
  return Eigen::internal::ploadu<P>(lanes);
}

/// The packet operations the kernels use, for Eigen's packets (those the build's flags give):
/// Eigen's own functions, with an exact square root.
template <class P>
struct packet_ops {
  using scalar = typename Eigen::internal::unpacket_traits<P>::type;
  static constexpr Eigen::Index width = Eigen::internal::unpacket_traits<P>::size;
  /// The packet of half the width, P itself at the narrowest.
  using half = typename Eigen::internal::unpacket_traits<P>::half;

  // clang-format off
  static DESCENT_DETAIL_LANE_INLINE inline P load(const scalar* a) { return Eigen::internal::ploadu<P>(a); }
  static DESCENT_DETAIL_LANE_INLINE inline void store(scalar* a, const P& v) { Eigen::internal::pstoreu(a, v); }
  static DESCENT_DETAIL_LANE_INLINE inline P set1(scalar s) { return Eigen::internal::pset1<P>(s); }
  static DESCENT_DETAIL_LANE_INLINE inline P add(const P& a, const P& b) { return Eigen::internal::padd(a, b); }
  static DESCENT_DETAIL_LANE_INLINE inline P sub(const P& a, const P& b) { return Eigen::internal::psub(a, b); }
  static DESCENT_DETAIL_LANE_INLINE inline P mul(const P& a, const P& b) { return Eigen::internal::pmul(a, b); }
  static DESCENT_DETAIL_LANE_INLINE inline P div(const P& a, const P& b) { return Eigen::internal::pdiv(a, b); }
  static DESCENT_DETAIL_LANE_INLINE inline P neg(const P& a) { return Eigen::internal::pnegate(a); }
  static DESCENT_DETAIL_LANE_INLINE inline P sqrt(const P& a) { return exact_psqrt(a); }
  /// a where a is NaN or a > b, b elsewhere (so NaN where either is NaN).
  static DESCENT_DETAIL_LANE_INLINE inline P max_nan(const P& a, const P& b) { return Eigen::internal::pmax<Eigen::PropagateNaN>(a, b); }
  /// Eigen's pmax(a, b) and pmin(a, b): b where b > a (b < a), a elsewhere, NaN operands included.
  static DESCENT_DETAIL_LANE_INLINE inline P max(const P& a, const P& b) { return Eigen::internal::pmax(a, b); }
  static DESCENT_DETAIL_LANE_INLINE inline P min(const P& a, const P& b) { return Eigen::internal::pmin(a, b); }
  /// All bits set in the lanes where a < b, none elsewhere.
  static DESCENT_DETAIL_LANE_INLINE inline P less(const P& a, const P& b) { return Eigen::internal::pcmp_lt(a, b); }
  static DESCENT_DETAIL_LANE_INLINE inline P bit_and(const P& a, const P& b) { return Eigen::internal::pand(a, b); }
  /// a & ~b
  static DESCENT_DETAIL_LANE_INLINE inline P bit_andnot(const P& a, const P& b) { return Eigen::internal::pandnot(a, b); }
  /// a where mask (a result of less) is set, b elsewhere.
  static DESCENT_DETAIL_LANE_INLINE inline P select(const P& mask, const P& a, const P& b) { return Eigen::internal::pselect(mask, a, b); }
  static DESCENT_DETAIL_LANE_INLINE inline scalar sum(const P& a) { return Eigen::internal::predux(a); }
  // clang-format on
};

/// A SIMD packet with the arithmetic operators the update formulas need, so that a kernel reads
/// like the paper: `m = b1 * m + c1 * g`. Scalar operands are broadcast.
template <class Packet>
struct Lane {
  Packet v;
};

template <class Packet>
using lane_scalar_t = typename packet_ops<Packet>::scalar;

template <class P>
DESCENT_DETAIL_LANE_INLINE inline Lane<P> broadcast(lane_scalar_t<P> s) {
  return {packet_ops<P>::set1(s)};
}

// clang-format off
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> operator+(Lane<P> a, Lane<P> b) { return {packet_ops<P>::add(a.v, b.v)}; }
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> operator-(Lane<P> a, Lane<P> b) { return {packet_ops<P>::sub(a.v, b.v)}; }
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> operator*(Lane<P> a, Lane<P> b) { return {packet_ops<P>::mul(a.v, b.v)}; }
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> operator/(Lane<P> a, Lane<P> b) { return {packet_ops<P>::div(a.v, b.v)}; }
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> operator-(Lane<P> a) { return {packet_ops<P>::neg(a.v)}; }

template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> operator+(Lane<P> a, lane_scalar_t<P> s) { return a + broadcast<P>(s); }
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> operator+(lane_scalar_t<P> s, Lane<P> a) { return broadcast<P>(s) + a; }
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> operator-(Lane<P> a, lane_scalar_t<P> s) { return a - broadcast<P>(s); }
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> operator-(lane_scalar_t<P> s, Lane<P> a) { return broadcast<P>(s) - a; }
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> operator*(Lane<P> a, lane_scalar_t<P> s) { return a * broadcast<P>(s); }
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> operator*(lane_scalar_t<P> s, Lane<P> a) { return broadcast<P>(s) * a; }
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> operator/(Lane<P> a, lane_scalar_t<P> s) { return a / broadcast<P>(s); }
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> operator/(lane_scalar_t<P> s, Lane<P> a) { return broadcast<P>(s) / a; }

// torch.maximum propagates NaN; so do we, in the packet body and the scalar tail alike.
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> max(Lane<P> a, Lane<P> b) { return {packet_ops<P>::max_nan(a.v, b.v)}; }
template <class P> DESCENT_DETAIL_LANE_INLINE inline Lane<P> sqrt(Lane<P> a) { return {packet_ops<P>::sqrt(a.v)}; }
// clang-format on

template <class S>
requires std::is_floating_point_v<S> DESCENT_DETAIL_LANE_INLINE inline S sqrt(S a) { return std::sqrt(a); }

template <class S>
requires std::is_floating_point_v<S> DESCENT_DETAIL_LANE_INLINE inline S max(S a, S b) {
  // packet_ops::max_nan's choice, coefficient for coefficient (±0 included), so that a coefficient
  // gets the same result in a packet and in the scalar tail: NaN in, NaN out.
  return a != a || a > b ? a : b;
}

// Run-time dispatch: the kernels on wider SIMD than the build's flags give (x86-64, GCC). A build
// without -march flags vectorizes with SSE2 only, where a CPU of the last ten years has AVX2 and
// often AVX-512. Where this is compiled for less than AVX-512, each contiguous kernel is compiled
// a second (and third) time inside a function with GCC's target attribute, on the wide packets
// below (GCC vector extensions, which Eigen cannot provide without the build's flags), and the CPU
// is asked once per process which one to run. The packet operations are the same IEEE operations
// lane for lane (no contraction, correctly rounded sqrt, the same max and select), so every width,
// the build's own included, gives bitwise the same coefficients as a -march=native build.

/// The instruction sets a contiguous kernel can run with. baseline: the build's own packets.
enum class Isa { baseline, avx2, avx512 };

inline Isa detect_isa() {
#if defined(DESCENT_DETAIL_ISA_DISPATCH)
  __builtin_cpu_init();
  // libgcc also checks that the operating system saves the wide registers (XCR0).
  if (__builtin_cpu_supports("avx512f")) return Isa::avx512;
#if !defined(__AVX2__)
  if (__builtin_cpu_supports("avx2")) return Isa::avx2;
#endif
#endif
  return Isa::baseline;
}

/// What contiguous kernels run with: the best the CPU has, found once, before main. A step run
/// during static initialization, before this is set, sees baseline (zero-initialized), which gives
/// the same numbers. Tests lower it to compare the widths.
inline Isa dispatch_isa = detect_isa();

#if defined(DESCENT_DETAIL_ISA_DISPATCH)

/// Bytes wide SIMD packet of S, for the dispatched kernels.
template <class S, int Bytes>
struct WidePacket {
  // Aligned as the build's own packets: passed by value between the always-inlined formulas, a
  // 32- or 64-byte aligned type would make GCC note an ABI change that never applies.
  using vector [[gnu::vector_size(Bytes), gnu::aligned(16)]] = S;
  using mask [[gnu::vector_size(Bytes)]] = std::conditional_t<sizeof(S) == 4, std::int32_t, std::int64_t>;
  vector v;
};

template <class S, int Bytes>
struct packet_ops<WidePacket<S, Bytes>> {
  using P = WidePacket<S, Bytes>;
  using V = typename P::vector;
  using M = typename P::mask;
  using scalar = S;
  static constexpr Eigen::Index width = Bytes / Eigen::Index(sizeof(S));
  // No narrower packets before the scalar tail: each would be one more copy of every formula to
  // compile, for at most width − 1 coefficients (the same numbers either way).
  using half = P;

  // clang-format off
  [[gnu::always_inline]] static inline P load(const S* a) { P r; __builtin_memcpy(&r.v, a, Bytes); return r; }
  [[gnu::always_inline]] static inline void store(S* a, const P& x) { __builtin_memcpy(a, &x.v, Bytes); }
  // The broadcast instruction itself: GCC 12 assembles a vector of one repeated scalar (written
  // as an initializer list, a loop, or scalar-vector arithmetic) lane by lane, with one masked move
  // per lane, inside a function with a target attribute.
  [[gnu::always_inline]] static inline P set1(S s) {
    if constexpr (Bytes == 64 && sizeof(S) == 4)
      return {__builtin_ia32_broadcastss512(__v4sf{s, s, s, s}, V{}, static_cast<__mmask16>(-1))};
    else if constexpr (Bytes == 64)
      return {__builtin_ia32_broadcastsd512(__v2df{s, s}, V{}, static_cast<__mmask8>(-1))};
    else if constexpr (sizeof(S) == 4)
      return {__builtin_ia32_vbroadcastss_ps256(__v4sf{s, s, s, s})};
    else
      return {__builtin_ia32_vbroadcastsd_pd256(__v2df{s, s})};
  }
  [[gnu::always_inline]] static inline P add(const P& a, const P& b) { return {a.v + b.v}; }
  [[gnu::always_inline]] static inline P sub(const P& a, const P& b) { return {a.v - b.v}; }
  [[gnu::always_inline]] static inline P mul(const P& a, const P& b) { return {a.v * b.v}; }
  [[gnu::always_inline]] static inline P div(const P& a, const P& b) { return {a.v / b.v}; }
  [[gnu::always_inline]] static inline P neg(const P& a) { return {-a.v}; }
  // As Eigen's pmax<PropagateNaN>, pmax and pmin on x86 (which are maxps(b, a) and minps(b, a)).
  [[gnu::always_inline]] static inline P max_nan(const P& a, const P& b) { return {((a.v != a.v) | (a.v > b.v)) ? a.v : b.v}; }
  [[gnu::always_inline]] static inline P max(const P& a, const P& b) { return {b.v > a.v ? b.v : a.v}; }
  [[gnu::always_inline]] static inline P min(const P& a, const P& b) { return {b.v < a.v ? b.v : a.v}; }
  [[gnu::always_inline]] static inline P less(const P& a, const P& b) { return {reinterpret_cast<V>(a.v < b.v)}; }
  [[gnu::always_inline]] static inline P bit_and(const P& a, const P& b) { return {reinterpret_cast<V>(reinterpret_cast<M>(a.v) & reinterpret_cast<M>(b.v))}; }
  [[gnu::always_inline]] static inline P bit_andnot(const P& a, const P& b) { return {reinterpret_cast<V>(reinterpret_cast<M>(a.v) & ~reinterpret_cast<M>(b.v))}; }
  [[gnu::always_inline]] static inline P select(const P& mask, const P& a, const P& b) { return {reinterpret_cast<M>(mask.v) != 0 ? a.v : b.v}; }
  [[gnu::always_inline]] static inline S sum(const P& a) { S r = 0; for (Eigen::Index k = 0; k < width; ++k) r += a.v[k]; return r; }
  // clang-format on

  // The instructions themselves (correctly rounded), as GCC's intrinsics call them; those cannot be
  // used here, as they are functions with a target attribute that this function lacks (it is
  // always inlined into one that has it, where the builtin is then expanded).
  [[gnu::always_inline]] static inline P sqrt(const P& a) {
    if constexpr (Bytes == 64 && sizeof(S) == 4)
      return {__builtin_ia32_sqrtps512_mask(a.v, a.v, static_cast<__mmask16>(-1), _MM_FROUND_CUR_DIRECTION)};
    else if constexpr (Bytes == 64)
      return {__builtin_ia32_sqrtpd512_mask(a.v, a.v, static_cast<__mmask8>(-1), _MM_FROUND_CUR_DIRECTION)};
    else if constexpr (sizeof(S) == 4)
      return {__builtin_ia32_sqrtps256(a.v)};
    else
      return {__builtin_ia32_sqrtpd256(a.v)};
  }
};

#endif

/// Runs `kernel` on packets of type Packet from coefficient i while whole packets fit, then on
/// packets of half the width (Eigen's: AVX-512 → AVX → SSE; the dispatched wide packets have
/// none), so that at most a few coefficients are left for the scalar loop. Returns the first coefficient not done. Guarded: also stores each old p
/// into `backup` and adds g·0 + p_new·0 to `zeros`.
template <bool Guarded, class Packet, class Scalar, std::size_t K, class Kernel, std::size_t... I>
DESCENT_DETAIL_LANE_INLINE inline Eigen::Index run_packets(Eigen::Index i, Eigen::Index n, const Kernel& kernel, Scalar* p,
                                                       const Scalar* g, const std::array<Scalar*, K>& s,
                                                       std::index_sequence<I...> seq, Scalar* backup, Scalar& zeros) {
  using O = packet_ops<Packet>;
  constexpr Eigen::Index width = O::width;
  if constexpr (width > 1 && !std::is_same_v<Packet, Scalar>) {
    // The end is computed up front: a loop condition of the form i + width <= n makes GCC warn
    // (-Waggressive-loop-optimizations) about the tail loop of fixed-size objects.
    const Eigen::Index end = i + (n - i) / width * width;
    [[maybe_unused]] Packet sum = O::set1(Scalar(0));
    [[maybe_unused]] const Packet zero = O::set1(Scalar(0));
    for (; i < end; i += width) {
      Lane<Packet> pl{O::load(p + i)};
      const Lane<Packet> gl{O::load(g + i)};
      std::array<Lane<Packet>, K> sl{Lane<Packet>{O::load(s[I] + i)}...};
      if constexpr (Guarded) O::store(backup + i, pl.v);
      kernel(pl, gl, sl[I]...);
      if constexpr (Guarded) sum = O::add(sum, O::add(O::mul(gl.v, zero), O::mul(pl.v, zero)));
      O::store(p + i, pl.v);
      (O::store(s[I] + i, sl[I].v), ...);
    }
    if constexpr (Guarded) zeros += O::sum(sum);
    using Half = typename O::half;
    if constexpr (!std::is_same_v<Half, Packet>)
      i = run_packets<Guarded, Half, Scalar, K>(i, n, kernel, p, g, s, seq, backup, zeros);
  }
  return i;
}

/// Runs `kernel(p, g, s...)` over `n` contiguous coefficients. `p` and each state array are
/// read and written, `g` only read. Each is touched once per coefficient. Under a StepGuard (set
/// by a driver for the calling thread) the same arithmetic runs, with the guard's backup and check.
/// Fixed: n known at compile time (a fixed-size V), so that the packet and tail loops resolve to
/// straight-line code, which is what a step of a few parameters costs; never under a StepGuard,
/// which the drivers set for dynamic V only.
/// Packet: the widest packet to start from (narrower ones follow, down to the scalar tail).
template <class Packet, class Scalar, std::size_t K, Eigen::Index Fixed, class Kernel, std::size_t... I>
DESCENT_DETAIL_LANE_INLINE inline void run_contiguous_on(Eigen::Index n_runtime, const Kernel& kernel_ref, Scalar* p,
                                                     const Scalar* g, const std::array<Scalar*, K>& s_ref,
                                                     std::index_sequence<I...> seq,
                                                     [[maybe_unused]] StepGuard<Scalar>* guard) {
  const Eigen::Index n = Fixed == Eigen::Dynamic ? n_runtime : Fixed;
  // Local copies: Eigen's pstoreu writes through a may_alias type, after which GCC would have to
  // reload the kernel's constants and the state pointers from memory on every packet.
  const Kernel kernel = kernel_ref;
  const std::array<Scalar*, K> s = s_ref;
  Scalar zeros = 0;
  if constexpr (Fixed == Eigen::Dynamic) {
    if (guard) {
      // Compared as addresses: p may point into another array (a scratch copy), where p − base
      // would be undefined.
      const auto address = reinterpret_cast<std::uintptr_t>(p), base = reinterpret_cast<std::uintptr_t>(guard->base);
      const auto offset = Eigen::Index((address - base) / sizeof(Scalar));
      if (address >= base && (address - base) % sizeof(Scalar) == 0 && offset <= guard->size - n) {
        Scalar* backup = guard->backup + offset;
        Eigen::Index i = run_packets<true, Packet, Scalar, K>(0, n, kernel, p, g, s, seq, backup, zeros);
        for (; i < n; ++i) {
          backup[i] = p[i];
          kernel(p[i], g[i], s[I][i]...);
          zeros += g[i] * Scalar(0) + p[i] * Scalar(0);
        }
        guard->zeros += zeros;
        guard->covered += n;
        return;
      }
      guard->outside = true;
    }
  }
  Eigen::Index i = run_packets<false, Packet, Scalar, K>(0, n, kernel, p, g, s, seq, nullptr, zeros);
  for (; i < n; ++i) kernel(p[i], g[i], s[I][i]...);
}

#if defined(DESCENT_DETAIL_ISA_DISPATCH)
// One function per instruction set: the attribute cannot depend on a template parameter.
template <class Scalar, std::size_t K, class Kernel, std::size_t... I>
[[gnu::target("avx512f"), gnu::noinline]] void run_contiguous_avx512(Eigen::Index n, const Kernel& kernel, Scalar* p,
                                                                     const Scalar* g, const std::array<Scalar*, K>& s,
                                                                     std::index_sequence<I...> seq,
                                                                     StepGuard<Scalar>* guard) {
  run_contiguous_on<WidePacket<Scalar, 64>, Scalar, K, Eigen::Dynamic>(n, kernel, p, g, s, seq, guard);
}
#if !defined(__AVX2__)
template <class Scalar, std::size_t K, class Kernel, std::size_t... I>
[[gnu::target("avx2"), gnu::noinline]] void run_contiguous_avx2(Eigen::Index n, const Kernel& kernel, Scalar* p,
                                                                const Scalar* g, const std::array<Scalar*, K>& s,
                                                                std::index_sequence<I...> seq, StepGuard<Scalar>* guard) {
  run_contiguous_on<WidePacket<Scalar, 32>, Scalar, K, Eigen::Dynamic>(n, kernel, p, g, s, seq, guard);
}
#endif
#endif

/// run_contiguous_on from the build's own packets, or (dynamic sizes, where the build is narrower
/// than the CPU) from the CPU's widest.
template <class Scalar, std::size_t K, Eigen::Index Fixed, class Kernel, std::size_t... I>
DESCENT_DETAIL_LANE_INLINE inline void run_contiguous(Eigen::Index n, const Kernel& kernel, Scalar* p, const Scalar* g,
                                        const std::array<Scalar*, K>& s, std::index_sequence<I...> seq,
                                        StepGuard<Scalar>* guard) {
#if defined(DESCENT_DETAIL_ISA_DISPATCH)
  if constexpr (Fixed == Eigen::Dynamic && (std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>)) {
    switch (dispatch_isa) {
      case Isa::avx512:
        run_contiguous_avx512<Scalar, K>(n, kernel, p, g, s, seq, guard);
        return;
#if !defined(__AVX2__)
      case Isa::avx2:
        run_contiguous_avx2<Scalar, K>(n, kernel, p, g, s, seq, guard);
        return;
#endif
      default:
        break;
    }
  }
#endif
  using Packet = typename Eigen::internal::packet_traits<Scalar>::type;
  run_contiguous_on<Packet, Scalar, K, Fixed>(n, kernel, p, g, s, seq, guard);
}

/// run_contiguous over `n` coefficients split into pool.size() chunks (ChunkSplit: boundaries a
/// cache line apart from p, so every chunk but the last is whole packets), one per thread. Each
/// chunk reports to a StepGuard of its own, merged into `guard` under a lock: the merged zeros are
/// 0 or NaN in any order of addition, the rest are counts and flags.
template <class Scalar, std::size_t K, class Kernel>
void run_split(ThreadPool& pool, Eigen::Index n, const Kernel& kernel, Scalar* p, const Scalar* g,
               const std::array<Scalar*, K>& s, StepGuard<Scalar>* guard) {
  const ChunkSplit split{n, Eigen::Index(pool.size()), parallel_chunk_quantum<Scalar>};
  std::mutex merge;
  pool.run([&](unsigned part) {
    const Eigen::Index begin = split.begin(part), end = split.begin(part + 1);
    if (begin == end) return;
    std::array<Scalar*, K> chunk_state = s;
    for (Scalar*& state : chunk_state) state += begin;
    if (!guard) {
      run_contiguous<Scalar, K, Eigen::Dynamic>(end - begin, kernel, p + begin, g + begin, chunk_state,
                                                std::make_index_sequence<K>{}, nullptr);
      return;
    }
    StepGuard<Scalar> own{guard->base, guard->size, guard->backup};
    run_contiguous<Scalar, K, Eigen::Dynamic>(end - begin, kernel, p + begin, g + begin, chunk_state,
                                              std::make_index_sequence<K>{}, &own);
    std::lock_guard lock(merge);
    guard->zeros += own.zeros;
    guard->covered += own.covered;
    guard->outside = guard->outside || own.outside;
  });
}

/// Up to this many coefficients a fixed-size V gets kernels of its own (run_contiguous with
/// Fixed = its size): there the fixed cost of a step is the whole cost. Larger ones share the
/// dynamic-size kernels, which cost a few loop branches more per step but are compiled once for
/// all sizes.
inline constexpr Eigen::Index fixed_kernel_max_size = 16;

/// Where an update runs: `outer` spans of `inner` contiguous coefficients of the parameters and of
/// the gradient, `*_stride` apart. State arrays are contiguous, inner·outer long, in the same order.
/// N is V's size when it is fixed at compile time (Eigen::Dynamic otherwise).
template <class Scalar, Eigen::Index N = Eigen::Dynamic>
struct Spans {
  Scalar* params;
  Eigen::Index params_stride;
  const Scalar* grads;
  Eigen::Index grads_stride;
  Eigen::Index inner;
  Eigen::Index outer;
};

/// Applies `kernel(p, g, s...)` to every coefficient of the spans and of each state array
/// (contiguous, inner·outer coefficients in V's storage order).
template <class Scalar, Eigen::Index N, class Kernel, class... State>
void for_each_coefficient(const Spans<Scalar, N>& x, const Kernel& kernel, State*... state) {
  constexpr std::size_t K = sizeof...(State);
  const bool packed = x.outer == 1 || (x.params_stride == x.inner && x.grads_stride == x.inner);
  if constexpr (N != Eigen::Dynamic) {
    if (packed) {
      run_contiguous<Scalar, K, N>(N, kernel, x.params, x.grads, std::array<Scalar*, K>{state...},
                                   std::make_index_sequence<K>{}, nullptr);
      return;
    }
  }
  StepGuard<Scalar>* const guard = active_step_guard<Scalar>;
  const Eigen::Index spans = packed ? 1 : x.outer;
  const Eigen::Index length = packed ? x.inner * x.outer : x.inner;
  if (const ParallelStepsState* parallel = active_parallel_steps;
      parallel && spans == 1 && length >= parallel->min_size && parallel->pool->size() > 1) {
    run_split<Scalar, K>(*parallel->pool, length, kernel, x.params, x.grads, std::array<Scalar*, K>{state...}, guard);
    return;
  }
  for (Eigen::Index j = 0; j < spans; ++j) {
    const std::array<Scalar*, K> s{(state + j * length)...};
    run_contiguous<Scalar, K, Eigen::Dynamic>(length, kernel, x.params + j * x.params_stride,
                                              x.grads + j * x.grads_stride, s, std::make_index_sequence<K>{}, guard);
  }
}

}  // namespace descent::detail

DESCENT_DETAIL_KERNELS_END

namespace descent::detail {

/// Whether `x` is laid out as unit-stride spans in V's storage order (checked at compile time
/// where possible, the strides at run time). For a vector V the stride that matters is the one
/// along the vector: an n×1 block of a row-major matrix has inner stride 1 but its coefficients
/// are a whole row apart, and a 1×n block of a column-major matrix likewise.
template <class V, class X>
bool is_unit_stride(const X& x) {
  if constexpr (!has_direct_access_v<X>) {
    return false;
  } else if constexpr (bool(V::IsVectorAtCompileTime)) {
    if (x.size() <= 1) return true;
    if (x.cols() == 1) return x.rowStride() == 1;
    if (x.rows() == 1) return x.colStride() == 1;
    return false;
  } else if constexpr (bool(std::remove_cvref_t<X>::IsRowMajor) == bool(V::IsRowMajor)) {
    return x.innerStride() == 1;
  } else {
    return false;
  }
}

/// The bytes [first, last) that a direct-access view spans (its coefficients lie inside them).
template <class X>
std::pair<const char*, const char*> byte_range(const X& x) {
  using Scalar = typename std::remove_cvref_t<X>::Scalar;
  const auto* first = reinterpret_cast<const char*>(x.data());
  if (x.size() == 0) return {first, first};
  const Eigen::Index last = (x.rows() - 1) * x.rowStride() + (x.cols() - 1) * x.colStride();
  return {first, first + (last + 1) * Eigen::Index(sizeof(Scalar))};
}

/// Whether the gradient's memory overlaps the parameters' other than coefficient for coefficient
/// (the same view): a step that writes p while later packets still read g would then depend on
/// the SIMD width, so such a gradient is copied first.
template <class P, class G>
bool partially_overlaps(const P& params, const G& grads) {
  if constexpr (std::is_base_of_v<Eigen::PlainObjectBase<P>, P> && std::is_base_of_v<Eigen::PlainObjectBase<G>, G>) {
    return false;  // two matrices or arrays are one object or disjoint
  } else if constexpr (has_direct_access_v<P> && has_direct_access_v<G>) {
    const auto [p0, p1] = byte_range(params);
    const auto [g0, g1] = byte_range(grads);
    if (p0 == p1 || g0 == g1 || !(g0 < p1 && p0 < g1)) return false;
    const bool same_view =
        p0 == g0 && params.rowStride() == grads.rowStride() && params.colStride() == grads.colStride();
    return !same_view;
  } else {
    return false;
  }
}

/// Copies of the parameters and gradient for views that are not unit-stride spans (strided maps,
/// reverse(), lazy gradient expressions). Allocated on first use only, for dynamic V.
template <class V>
struct Scratch {
  V params{};
  V grads{};
};

/// Calls `update(spans)` on `params` and `grads` (already checked to have the same shape). Unit-
/// stride views are used in place: one pass over memory. Anything else goes through `scratch`:
/// copied in, updated by the same code, copied back, so every holder gives the same numbers.
/// Only this thin layer is compiled per expression type; the update itself once per optimizer.
template <class V, class P, class G, class Update>
void with_spans(P& params, const G& grads, Scratch<V>& scratch, Update&& update) {
  using Scalar = typename V::Scalar;
  const Eigen::Index rows = params.rows();
  const Eigen::Index cols = params.cols();
  const Eigen::Index inner = V::IsVectorAtCompileTime ? rows * cols : (V::IsRowMajor ? cols : rows);
  const Eigen::Index outer = V::IsVectorAtCompileTime ? 1 : (V::IsRowMajor ? rows : cols);
  constexpr Eigen::Index fixed = V::SizeAtCompileTime;
  constexpr Eigen::Index N = fixed != Eigen::Dynamic && fixed <= fixed_kernel_max_size ? fixed : Eigen::Dynamic;
  Spans<Scalar, N> x{nullptr, inner, nullptr, inner, inner, outer};
  if (inner == 0 || outer == 0) {
    update(x);  // nothing to update, but the step still counts
    return;
  }

  const bool params_in_place = is_unit_stride<V>(params);
  if constexpr (has_direct_access_v<P>) {
    if (params_in_place) {
      x.params = params.data();
      if (outer > 1) x.params_stride = params.outerStride();
    }
  }
  if (!params_in_place) {
    resize_strong(scratch.params, rows, cols);
    assign(scratch.params, params);
    x.params = scratch.params.data();
  }

  bool grads_in_place = false;
  if constexpr (has_direct_access_v<G>) {
    if (is_unit_stride<V>(grads) && !(params_in_place && partially_overlaps(params, grads))) {
      grads_in_place = true;
      x.grads = grads.data();
      if (outer > 1) x.grads_stride = grads.outerStride();
    }
  }
  if (!grads_in_place) {
    resize_strong(scratch.grads, rows, cols);
    // noalias: a matrix product is evaluated straight into the scratch, without a temporary.
    if constexpr (MatrixExpression<V> && MatrixExpression<G>)
      scratch.grads.noalias() = grads;
    else
      assign(scratch.grads, grads);
    x.grads = scratch.grads.data();
  }

  update(x);

  if (!params_in_place) assign(params, scratch.params);
}

}  // namespace descent::detail

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
