#pragma once
// Shared by the test problems in descent/problems/: the checks on a call's arguments, contiguous
// views of the caller's vectors, the full index set, and a small deterministic random generator.

#include <Eigen/Core>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "descent/detail/checks.hpp"

namespace descent::detail {

/// SplitMix64 (Steele, Lea & Flood, 2014): advances `state` and returns the next 64 random bits.
/// Written out rather than taken from <random>, whose distributions are implementation-defined:
/// a problem built from a seed must be the same matrix with every standard library.
inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// Uniform in [lo, hi) from the top 53 bits of splitmix64: exact, so the same on every platform.
inline double splitmix64_uniform(std::uint64_t& state, double lo = 0.0, double hi = 1.0) {
  const double u = double(splitmix64(state) >> 11) * 0x1.0p-53;
  return lo + (hi - lo) * u;
}

/// Every sample in order. Stands in for a batch, so that full and minibatch evaluations run the
/// same loop and round the same way.
struct AllSamples {
  Eigen::Index n;
  Eigen::Index size() const { return n; }
  Eigen::Index operator[](Eigen::Index i) const { return i; }
};

/// A problem's argument `x`: any Eigen expression over the problem's scalar.
template <class X, class Scalar>
concept ProblemInput = DenseExpression<X> && std::same_as<typename X::Scalar, Scalar>;

/// A problem's `grad`: a writable Eigen expression over the problem's scalar. A view may be a
/// temporary (`g.segment(0, n)`), a Matrix or Array may not: what was written into it would be
/// lost, and refusing it is what makes the problems satisfy descent::Objective.
template <class G, class Scalar>
concept ProblemOutput =
    DenseExpression<plain_t<G>> && !std::is_const_v<std::remove_reference_t<G>> &&
    bool(Eigen::internal::is_lvalue<plain_t<G>>::value) && std::same_as<typename plain_t<G>::Scalar, Scalar> &&
    (std::is_lvalue_reference_v<G> || !std::derived_from<plain_t<G>, Eigen::PlainObjectBase<plain_t<G>>>);

[[noreturn]] inline void problem_error(std::string_view problem, std::string_view message) {
  std::string msg = "descent::problems::";
  msg.append(problem).append(": ").append(message);
  throw std::invalid_argument(msg);
}

/// Throws unless `x` and `grad` are vectors (one row or one column) with `dimension` coefficients.
inline void check_call(std::string_view problem, Eigen::Index dimension, Eigen::Index xrows, Eigen::Index xcols,
                       Eigen::Index grows, Eigen::Index gcols) {
  auto check = [&](std::string_view what, Eigen::Index rows, Eigen::Index cols) {
    if ((rows == 1 || cols == 1) && rows * cols == dimension) return;
    problem_error(problem, std::string(what) + " is " + std::to_string(rows) + "x" + std::to_string(cols) +
                               " but must be a vector of the problem's dimension " + std::to_string(dimension));
  };
  check("x", xrows, xcols);
  check("grad", grows, gcols);
}

/// Throws unless the batch is non-empty (its mean would be 0/0) and every index is in [0, n).
/// Repeated indices are allowed: a sample drawn twice counts twice.
inline void check_batch(std::string_view problem, std::span<const Eigen::Index> batch, Eigen::Index n) {
  if (batch.empty()) problem_error(problem, "the batch is empty (the mean loss over no samples is undefined)");
  for (std::size_t k = 0; k < batch.size(); ++k) {
    if (batch[k] < 0 || batch[k] >= n) {
      invalid_option(std::string("problems::").append(problem), "batch[" + std::to_string(k) + "]",
                     std::string_view(std::to_string(batch[k])), "must be in [0, " + std::to_string(n) + ")");
    }
  }
}

/// Throws unless every coefficient of a data set is finite, naming the first one that is not.
template <class M>
void require_finite(std::string_view problem, std::string_view name, const M& m) {
  if (m.allFinite()) return;
  for (Eigen::Index j = 0; j < m.cols(); ++j) {
    for (Eigen::Index i = 0; i < m.rows(); ++i) {
      if (!std::isfinite(double(m(i, j)))) {
        const std::string at =
            m.cols() == 1 ? "(" + std::to_string(i) + ")" : "(" + std::to_string(i) + ", " + std::to_string(j) + ")";
        invalid_option(std::string("problems::").append(problem), std::string(name) + at, double(m(i, j)),
                       "must be finite");
      }
    }
  }
}

/// Whether the coefficients of a vector-shaped `x` are one run in memory. Its stride is the inner
/// one when it extends along the inner dimension and the outer one otherwise: a 1 x n block of a
/// column-major matrix has inner stride 1, but its coefficients are a column apart.
template <class X>
bool is_contiguous_vector(const X& x) {
  if constexpr ((int(plain_t<X>::Flags) & Eigen::DirectAccessBit) == 0) {
    return false;
  } else {
    if (x.size() <= 1) return true;
    const bool along_inner = plain_t<X>::IsRowMajor ? x.rows() == 1 : x.cols() == 1;
    return (along_inner ? x.innerStride() : x.outerStride()) == 1;
  }
}

/// `x` as a contiguous vector: a Map over x's own memory when it is one run of coefficients,
/// otherwise over a copy in `workspace` (sized on first use). Either way the problems' loops then
/// see a single type, so they are compiled once per scalar type rather than once per caller type.
template <class Scalar, class X>
Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>> contiguous_input(
    const X& x, Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& workspace) {
  if constexpr ((int(X::Flags) & Eigen::DirectAccessBit) != 0) {
    if (is_contiguous_vector(x)) return {x.data(), x.size()};
  }
  if (workspace.size() != x.size()) workspace.resize(x.size());
  assign(workspace, x.reshaped());
  return {workspace.data(), workspace.size()};
}

/// Runs `compute` on `grad` as a contiguous vector: grad's own memory when it is one run of
/// coefficients, otherwise `workspace` (sized on first use), copied into grad afterwards.
template <class Scalar, class G, class Compute>
auto with_contiguous_output(G& grad, Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& workspace, Compute&& compute) {
  using Map = Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>;
  if constexpr ((int(plain_t<G>::Flags) & Eigen::DirectAccessBit) != 0) {
    if (is_contiguous_vector(grad)) return compute(Map(grad.data(), grad.size()));
  }
  if (workspace.size() != grad.size()) workspace.resize(grad.size());
  auto result = compute(Map(workspace.data(), workspace.size()));
  assign(grad.reshaped(), workspace);
  return result;
}

}  // namespace descent::detail
