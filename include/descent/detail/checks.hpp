#pragma once
// Validation shared by every optimizer: option checks (at construction and in set_lr), the shape
// check at the top of step, and the Eigen-type constraints on step's arguments.

#include <Eigen/Core>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace descent::detail {

template <class T>
using plain_t = std::remove_cvref_t<T>;

/// Whether every coefficient of `m` is finite, in one vectorized pass: x·0 is 0 for a finite x and
/// NaN for ±inf and NaN, and a sum of zeros is exactly 0. Eigen's allFinite() tests one
/// coefficient at a time, which the drivers' checks of x and of the gradient paid for at every
/// step (11% of a Fashion-MNIST MLP batch, docs/performance.md). True for an empty m.
template <class Derived>
bool all_finite(const Eigen::DenseBase<Derived>& m) {
  using Scalar = typename Derived::Scalar;
  return (m.derived().array() * Scalar(0)).sum() == Scalar(0);
}

/// `V` is an Eigen plain object (Matrix or Array, fixed or dynamic size) of real scalars.
template <class V>
concept PlainEigen = std::derived_from<V, Eigen::PlainObjectBase<V>> && std::is_floating_point_v<typename V::Scalar>;

// Declared, never defined: matches any Eigen dense expression through its DenseBase<Derived>
// base, which for views such as VectorBlock is the base of a parent class, not DenseBase<Self>.
template <class Derived>
void accepts_dense(const Eigen::DenseBase<Derived>&);

/// Any Eigen dense expression (Matrix, Array, Map, Ref, block, lazy expression).
template <class X>
concept DenseExpression = requires(const X& x) {
  detail::accepts_dense(x);
};

template <class Derived>
void accepts_matrix(const Eigen::MatrixBase<Derived>&);

/// An Eigen expression with matrix (not array) semantics.
template <class X>
concept MatrixExpression = requires(const X& x) {
  detail::accepts_matrix(x);
};

/// `dst = src`, converting between Matrix and Array expressions where the two kinds differ.
template <class Dst, class Src>
void assign(Dst&& dst, const Src& src) {
  if constexpr (MatrixExpression<plain_t<Dst>> == MatrixExpression<Src>)
    dst = src;
  else if constexpr (MatrixExpression<plain_t<Dst>>)
    dst = src.matrix();
  else
    dst = src.array();
}

template <class Xpr>
inline constexpr bool has_direct_access_v = (std::remove_cvref_t<Xpr>::Flags & Eigen::DirectAccessBit) != 0;

/// `P` can receive an update: a writable Eigen expression (a V, Map<V>, Ref<V>, block, segment)
/// whose scalar is V's.
template <class P, class V>
concept ParamsOf = DenseExpression<plain_t<P>> && !std::is_const_v<std::remove_reference_t<P>> &&
                   bool(Eigen::internal::is_lvalue<plain_t<P>>::value) &&
                   std::same_as<typename plain_t<P>::Scalar, typename V::Scalar>;

/// `G` can be read as a gradient: any Eigen expression whose scalar is V's.
template <class G, class V>
concept GradsOf = DenseExpression<plain_t<G>> && std::same_as < typename plain_t<G>::Scalar,
typename V::Scalar > ;

// Declared, never defined: matches any Eigen sparse expression (SparseVector, SparseMatrix, their
// blocks and views). Eigen/Core forward-declares SparseMatrixBase, so this needs no sparse header.
template <class Derived>
void accepts_sparse(const Eigen::SparseMatrixBase<Derived>&);

/// Any Eigen sparse expression.
template <class X>
concept SparseExpression = requires(const X& x) {
  detail::accepts_sparse(x);
};

template <class>
inline constexpr bool always_false = false;

/// What the step of an optimizer that refuses sparse gradients declares it returns, so that
/// descent::SparseOptimizer (which wants void) is false for it although the call is declared.
struct SparseGradientRefused {};

inline std::string format_number(double x) {
  if (std::isnan(x)) return "nan";  // whatever its sign bit, which streams print as -nan
  std::ostringstream out;
  out.precision(17);
  out << x;
  return out.str();
}

/// The pieces, one after the other, in one allocation. Error messages are built with this rather
/// than with `"literal" + std::string`, which GCC 12 at -O3 misreports as an overlapping memcpy
/// (-Wrestrict, GCC bug 105329) in users' builds with -Werror.
template <class... Pieces>
std::string concat(const Pieces&... pieces) {
  const std::string_view views[] = {std::string_view(pieces)...};
  std::size_t size = 0;
  for (std::string_view v : views) size += v.size();
  std::string out;
  out.reserve(size);
  for (std::string_view v : views) out.append(v);
  return out;
}

inline std::string shape_text(Eigen::Index rows, Eigen::Index cols) {
  return concat(std::to_string(rows), "x", std::to_string(cols));
}

[[noreturn]] inline void invalid_option(std::string_view options, std::string_view field, std::string_view value,
                                        std::string_view requirement) {
  std::string msg = "descent::";
  msg.append(options).append(": invalid ").append(field).append(" = ");
  msg.append(value).append(" (").append(requirement).append(")");
  throw std::invalid_argument(msg);
}

[[noreturn]] inline void invalid_option(std::string_view options, std::string_view field, double value,
                                        std::string_view requirement) {
  invalid_option(options, field, std::string_view(format_number(value)), requirement);
}

/// Finite and >= 0. NaN fails every comparison, so it is caught here too.
inline void require_nonnegative(std::string_view options, std::string_view field, double value) {
  if (!(value >= 0.0) || !std::isfinite(value)) invalid_option(options, field, value, "must be a finite number >= 0");
}

template <class Scalar>
constexpr const char* scalar_name() {
  return std::is_same_v<Scalar, float> ? "float" : std::is_same_v<Scalar, double> ? "double" : "long double";
}

/// The value is representable in Scalar: a finite double above float's largest value would become
/// infinite in a float optimizer's formula (and an lr of 1e39 turn a zero gradient into NaN).
/// Compared in double, because converting such a value to float is undefined behaviour.
template <class Scalar>
void require_representable(std::string_view options, std::string_view field, double value) {
  if (std::isfinite(value) && std::abs(value) <= double(std::numeric_limits<Scalar>::max())) return;
  invalid_option(options, field, value, concat("must be finite in ", scalar_name<Scalar>(), ", the optimizer's scalar type"));
}

/// lo <= value < hi.
inline void require_half_open(std::string_view options, std::string_view field, double value, double lo, double hi) {
  if (!(value >= lo && value < hi))
    invalid_option(options, field, value, concat("must be in [", format_number(lo), ", ", format_number(hi), ")"));
}

/// lo < value < hi.
inline void require_open(std::string_view options, std::string_view field, double value, double lo, double hi) {
  if (!(value > lo && value < hi))
    invalid_option(options, field, value, concat("must be in (", format_number(lo), ", ", format_number(hi), ")"));
}

/// lo <= value <= hi.
inline void require_closed(std::string_view options, std::string_view field, double value, double lo, double hi) {
  if (!(value >= lo && value <= hi))
    invalid_option(options, field, value, concat("must be in [", format_number(lo), ", ", format_number(hi), "]"));
}

/// The message of a failed check_shapes (below): which shapes disagree.
template <class V>
[[gnu::noinline, gnu::cold]] void report_shapes(std::string_view optimizer, Eigen::Index prows, Eigen::Index pcols,
                                                Eigen::Index grows, Eigen::Index gcols, bool has_state,
                                                Eigen::Index srows, Eigen::Index scols) {
  auto fail = [&](std::string_view what, const std::string& shape, std::string_view note = {}) {
    throw std::invalid_argument(
        concat("descent::", optimizer, "::step: params is ", shape_text(prows, pcols), " but ", what, shape, note));
  };
  if (prows != grows || pcols != gcols) fail("grads is ", shape_text(grows, gcols));
  constexpr Eigen::Index vr = V::RowsAtCompileTime;
  constexpr Eigen::Index vc = V::ColsAtCompileTime;
  if ((vr != Eigen::Dynamic && prows != vr) || (vc != Eigen::Dynamic && pcols != vc)) {
    fail("the optimizer's type holds ",
         concat(vr == Eigen::Dynamic ? std::string("any") : std::to_string(vr), "x",
                vc == Eigen::Dynamic ? std::string("any") : std::to_string(vc)));
  }
  if (has_state && (prows != srows || pcols != scols)) {
    fail("the optimizer's state is ", shape_text(srows, scols),
         " (call reset() before stepping parameters of another shape)");
  }
}

/// Throws unless params, grads, V's compile-time shape and (once it exists) the state all agree.
/// Runs before anything is written, in every build type; the message is built out of line.
template <class V>
inline void check_shapes(std::string_view optimizer, Eigen::Index prows, Eigen::Index pcols, Eigen::Index grows,
                         Eigen::Index gcols, bool has_state, Eigen::Index srows, Eigen::Index scols) {
  constexpr Eigen::Index vr = V::RowsAtCompileTime;
  constexpr Eigen::Index vc = V::ColsAtCompileTime;
  const bool ok = prows == grows && pcols == gcols && (vr == Eigen::Dynamic || prows == vr) &&
                  (vc == Eigen::Dynamic || pcols == vc) && (!has_state || (prows == srows && pcols == scols));
  if (!ok) report_shapes<V>(optimizer, prows, pcols, grows, gcols, has_state, srows, scols);
}

/// Gives `v` the shape rows×cols (contents unspecified). The new memory is allocated before the
/// old is released, so a failed allocation (std::bad_alloc) leaves `v` as it was: Eigen's own
/// resize() frees first and, when the allocation then throws, leaves a dangling pointer behind.
template <class V>
void resize_strong(V& v, Eigen::Index rows, Eigen::Index cols) {
  if (v.rows() == rows && v.cols() == cols) return;
  if constexpr (V::SizeAtCompileTime == Eigen::Dynamic) {
    V fresh(rows, cols);
    v.swap(fresh);
  } else {
    v.resize(rows, cols);
  }
}

/// Sizes a state array like the parameters and fills it. Allocates only for dynamic V, and only
/// when the shape changes.
template <class V>
void init_state(V& state, Eigen::Index rows, Eigen::Index cols, typename V::Scalar value) {
  resize_strong(state, rows, cols);
  state.setConstant(value);
}

/// Gives the memory of a dynamic-size state array back; nothing to do for fixed-size V.
template <class V>
void release_state(V& state) {
  if constexpr (V::SizeAtCompileTime == Eigen::Dynamic) state = V();
}

/// 1 − betaᵗ exactly as torch computes a bias correction (`1 - beta ** step`: C's pow, then the
/// subtraction in double), without the pow once the answer is known to be 1. pow costs more than
/// a whole step of a small model (its underflow path, from t ≈ 7 000 for beta = 0.9, ~40 ns), and
/// once 1 − betaᵗ rounds to 1 (betaᵗ <= 2⁻⁵⁴) it does so for every later t: betaᵗ only shrinks, by
/// the factor beta < 1 per step, far more than the error of an accurate pow. So the first t at
/// which the result is 1 is remembered, per beta; anything else is computed.
class BiasCorrection {
 public:
  double operator()(double beta, std::int64_t t) {
    if (beta == beta_ && t >= saturated_from_) return 1.0;
    const double correction = 1.0 - std::pow(beta, double(t));
    if (correction == 1.0) {  // not saturated_from_ for this beta, or earlier than it
      beta_ = beta;
      saturated_from_ = t;
    }
    return correction;
  }

 private:
  double beta_ = std::numeric_limits<double>::quiet_NaN();
  std::int64_t saturated_from_ = std::numeric_limits<std::int64_t>::max();
};

/// Calls `f` with one std::bool_constant per runtime flag, in order, so that an update kernel is
/// compiled once per variant with the branches resolved at compile time.
template <class F>
decltype(auto) dispatch(F&& f) {
  return f();
}

template <class F, class... Rest>
decltype(auto) dispatch(F&& f, bool flag, Rest... rest) {
  if (flag) return dispatch([&](auto... c) { return f(std::true_type{}, c...); }, rest...);
  return dispatch([&](auto... c) { return f(std::false_type{}, c...); }, rest...);
}

}  // namespace descent::detail

/// Declares, in a dense-only optimizer class, the step overload that turns a sparse gradient into
/// one readable compile-time error instead of a list of unsatisfied constraints.
#define DESCENT_DETAIL_REFUSE_SPARSE(NAME)                                                                  \
  template <class P, ::descent::detail::SparseExpression G>                                                 \
  ::descent::detail::SparseGradientRefused step(P&&, const G&) {                                            \
    static_assert(::descent::detail::always_false<G>,                                                       \
                  "descent::" NAME "::step: the gradient is sparse, but only descent::SGD (without momentum " \
                  "or weight decay), descent::Adagrad (without weight decay) and descent::SparseAdam take a " \
                  "sparse gradient (descent::SparseOptimizer<O, V>)");                                      \
    return {};                                                                                              \
  }
