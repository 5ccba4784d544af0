#pragma once
// Steps from a sparse gradient (descent::SGD, descent::Adagrad, descent::SparseAdam): the checks
// every such step runs before it writes anything, and the loops over the nonzeros that the update
// formulas run in. A step costs O(nonzeros): nothing here touches a coefficient whose index the
// gradient does not store.

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <string>
#include <string_view>
#include <type_traits>

#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"

namespace descent::detail {

template <class Derived>
void accepts_sparse_compressed(const Eigen::SparseCompressedBase<Derived>&);

/// A sparse vector stored as one run of (index, value) pairs: an Eigen::SparseVector, or an inner
/// vector of a compressed or uncompressed SparseMatrix (a column of a column-major one, `m.col(j)`,
/// a row of a row-major one).
template <class G>
concept CompressedSparseVector = requires(const G& g) {
  detail::accepts_sparse_compressed(g);
  requires bool(plain_t<G>::IsVectorAtCompileTime);
};

/// The nonzeros of a sparse gradient and the parameters they update: coefficient `indices[k]` of
/// the parameters is at `params + indices[k] * stride`, and of a state array at `state + indices[k]`.
template <class Scalar, class StorageIndex>
struct SparseSpans {
  Scalar* params;
  Eigen::Index stride;
  const Scalar* values;
  const StorageIndex* indices;
  Eigen::Index nonzeros;
};

/// What a sparse step needs of its arguments, as readable compile-time errors.
template <class V, class P, class G>
constexpr void check_sparse_arguments() {
  static_assert(bool(V::IsVectorAtCompileTime),
                "descent: a sparse gradient needs vector parameters: V must be a column or row vector type "
                "(VectorXd, ArrayXf, ...)");
  static_assert(CompressedSparseVector<G>,
                "descent: the sparse gradient must be an Eigen::SparseVector or one inner vector of an "
                "Eigen::SparseMatrix (a column of a column-major one: m.col(j))");
  static_assert(std::is_same_v<typename plain_t<G>::Scalar, typename V::Scalar>,
                "descent: the sparse gradient's scalar type must be the parameters' (float or double)");
  static_assert(has_direct_access_v<P>,
                "descent: with a sparse gradient the parameters must be in memory (a V, Map, Ref, block or "
                "segment), not an expression such as reverse()");
}

[[noreturn, gnu::noinline, gnu::cold]] inline void report_sparse_index(std::string_view optimizer, Eigen::Index k,
                                                                       Eigen::Index index, Eigen::Index previous,
                                                                       Eigen::Index size) {
  if (index < 0 || index >= size)
    throw std::invalid_argument(concat("descent::", optimizer, "::step: the sparse gradient's nonzero ",
                                       std::to_string(k), " has index ", std::to_string(index), ", outside the ",
                                       std::to_string(size), " parameters"));
  throw std::invalid_argument(
      concat("descent::", optimizer, "::step: the sparse gradient's indices are not in increasing order (nonzero ",
             std::to_string(k), " has index ", std::to_string(index), " after ", std::to_string(previous),
             "): Eigen keeps them sorted unless the vector was filled with insertBack out of order"));
}

/// The spans of a sparse step, after checking that params and grads have the same shape (and the
/// state, once it exists, too) and that every index is inside the parameters and not smaller than
/// the one before it (a repeated index is allowed: see the optimizers for what they do with it).
/// Throws std::invalid_argument before anything is written.
template <class V, class P, class G>
auto sparse_spans(std::string_view optimizer, P& params, const G& grads, bool has_state, Eigen::Index srows,
                  Eigen::Index scols) {
  using Scalar = typename V::Scalar;
  using StorageIndex = typename plain_t<G>::StorageIndex;
  check_shapes<V>(optimizer, params.rows(), params.cols(), grads.rows(), grads.cols(), has_state, srows, scols);

  // Where the inner vector's entries are: SparseVector has no outer index; a SparseMatrix's inner
  // vector starts at its outer index and ends at the next one (compressed) or after its count.
  const Scalar* values = grads.valuePtr();
  const StorageIndex* indices = grads.innerIndexPtr();
  Eigen::Index begin = 0;
  Eigen::Index end = grads.nonZeros();
  if (const StorageIndex* outer = grads.outerIndexPtr()) {
    begin = outer[0];
    end = grads.innerNonZeroPtr() ? begin + grads.innerNonZeroPtr()[0] : Eigen::Index(outer[1]);
  }

  const Eigen::Index size = params.size();
  Eigen::Index previous = 0;
  for (Eigen::Index k = begin; k < end; ++k) {
    const Eigen::Index index = indices[k];
    if (index < previous || index >= size) report_sparse_index(optimizer, k - begin, index, previous, size);
    previous = index;
  }

  const Eigen::Index stride = params.size() <= 1 ? 1 : (params.cols() == 1 ? params.rowStride() : params.colStride());
  return SparseSpans<Scalar, StorageIndex>{params.data(), stride, values + begin, indices + begin, end - begin};
}

[[noreturn, gnu::noinline, gnu::cold]] inline void refuse_sparse_option(std::string_view optimizer,
                                                                        std::string_view option, double value,
                                                                        std::string_view why) {
  throw std::invalid_argument(concat("descent::", optimizer, "::step: ", option, " = ", format_number(value),
                                     " is not compatible with a sparse gradient (", why, ")"));
}

}  // namespace descent::detail

DESCENT_DETAIL_KERNELS_BEGIN

namespace descent::detail {

/// Runs `kernel(p, g, s...)` once per stored entry, in storage order: a repeated index is updated
/// once per entry, as torch adds an uncoalesced sparse tensor to a dense one.
template <class Scalar, class StorageIndex, class Kernel>
EIGEN_STRONG_INLINE void for_each_entry(const SparseSpans<Scalar, StorageIndex>& x, const Kernel& kernel) {
  for (Eigen::Index k = 0; k < x.nonzeros; ++k) kernel(x.params[Eigen::Index(x.indices[k]) * x.stride], x.values[k]);
}

/// Runs `kernel(p, g, s...)` once per distinct index, with g the sum of that index's entries
/// (left to right), as torch's coalesce() sums a repeated index before a non-linear update.
template <class Scalar, class StorageIndex, class Kernel, class... State>
EIGEN_STRONG_INLINE void for_each_nonzero(const SparseSpans<Scalar, StorageIndex>& x, const Kernel& kernel,
                                          State*... state) {
  for (Eigen::Index k = 0; k < x.nonzeros;) {
    const Eigen::Index i = x.indices[k];
    Scalar g = x.values[k];
    for (++k; k < x.nonzeros && Eigen::Index(x.indices[k]) == i; ++k) g = g + x.values[k];
    kernel(x.params[i * x.stride], g, state[i]...);
  }
}

}  // namespace descent::detail

DESCENT_DETAIL_KERNELS_END
