#pragma once
// Layout: named blocks (the weight matrices and bias vectors of a model) in one flat parameter
// vector, so that the optimizers keep stepping the whole vector in one fused pass while the model
// reads and writes its matrices through Eigen::Map views of that same memory.

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "descent/detail/checks.hpp"

namespace descent {

/// One named block of a flat vector: a rows×cols matrix (rows×1 for a vector) stored column-major
/// in the coefficients [offset, offset + size()). A Block is plain data: `Layout::add` makes them,
/// and `Grouped` or `clip_grad_norm` take lists of them (`Layout::blocks`).
struct Block {
  /// The block's name, unique within its Layout.
  std::string name;
  /// Index of the block's first coefficient in the flat vector.
  Eigen::Index offset = 0;
  /// Number of rows.
  Eigen::Index rows = 0;
  /// Number of columns (1 for a vector).
  Eigen::Index cols = 1;

  /// Number of coefficients, rows·cols.
  Eigen::Index size() const { return rows * cols; }
  /// One past the block's last coefficient, offset + size().
  Eigen::Index end() const { return offset + size(); }

  friend bool operator==(const Block&, const Block&) = default;
};

namespace detail {

/// "any" for a dimension that is dynamic at compile time, the number otherwise.
inline std::string layout_dimension_text(Eigen::Index n) {
  return n == Eigen::Dynamic ? std::string("any") : std::to_string(n);
}

inline std::string quoted_block_name(std::string_view name) { return concat("'", name, "'"); }

/// Each block lies inside [0, size) of `vector` ("a gradient", "parameters") and no two share a
/// coefficient (clipping would count and scale it twice, as torch does with a tensor listed twice;
/// Grouped would step it twice). O(k) for blocks in order of offsets (a Layout's); other orders
/// are sorted first. Throws std::invalid_argument naming `function` and the blocks.
inline void check_blocks(std::string_view function, const std::vector<Block>& blocks, Eigen::Index size,
                         std::string_view vector) {
  bool ordered = true;
  Eigen::Index previous_end = 0;
  for (const Block& b : blocks) {
    if (b.offset < 0 || b.rows < 0 || b.cols < 0 || b.offset > size || b.size() > size - b.offset)
      throw std::invalid_argument(concat("descent::", function, ": block '", b.name, "' (offset ",
                                         std::to_string(b.offset), ", ", shape_text(b.rows, b.cols),
                                         ") does not fit in ", vector, " of ", std::to_string(size), " coefficients"));
    if (b.size() == 0) continue;
    if (b.offset < previous_end) ordered = false;
    previous_end = std::max(previous_end, b.end());
  }
  if (ordered) return;
  std::vector<const Block*> sorted;
  sorted.reserve(blocks.size());
  for (const Block& b : blocks)
    if (b.size() > 0) sorted.push_back(&b);
  std::sort(sorted.begin(), sorted.end(), [](const Block* a, const Block* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    const Block& a = *sorted[i - 1];
    const Block& b = *sorted[i];
    if (b.offset < a.end())
      throw std::invalid_argument(concat("descent::", function, ": blocks '", a.name, "' and '", b.name,
                                         "' overlap (offsets ", std::to_string(a.offset), " and ",
                                         std::to_string(b.offset), ")"));
  }
}

}  // namespace detail

/// The blocks of a flat parameter vector, in the order they were added: each new block starts
/// where the previous one ends, so the layout covers [0, size()) without gaps.
///
///     descent::Layout layout;
///     layout.add("W1", h, d);  // h×d, column-major at offset 0
///     layout.add("b1", h);     // a vector of h, at offset h·d
///     Eigen::VectorXd x(layout.size());
///     auto W1 = layout.map<Eigen::MatrixXd>(x, "W1");  // an Eigen::Map<MatrixXd> over x's memory
///
/// Errors throw std::invalid_argument naming the block: a duplicate name, a size < 1, an unknown
/// name, a map type whose shape is not the block's, a vector too short for the layout.
class Layout {
 public:
  Layout() = default;

  /// Appends a block of rows×cols (default cols = 1: a vector) after the last one and returns it.
  /// Throws std::invalid_argument if `name` is already taken, or if rows or cols is < 1 (or the
  /// size would overflow Eigen::Index); the layout is then unchanged.
  Block add(std::string name, Eigen::Index rows, Eigen::Index cols = 1) {
    if (index_.find(name) != index_.end())
      throw std::invalid_argument(
          concat_message("add", detail::concat("a block named ", detail::quoted_block_name(name), " already exists")));
    if (rows < 1 || cols < 1)
      throw std::invalid_argument(concat_message(
          "add", detail::concat("block ", detail::quoted_block_name(name), " is ", detail::shape_text(rows, cols),
                        ": rows and cols must be >= 1, so that its size is >= 1")));
    constexpr Eigen::Index max = std::numeric_limits<Eigen::Index>::max();
    if (rows > max / cols || rows * cols > max - size_)
      throw std::invalid_argument(concat_message(
          "add", detail::concat("block ", detail::quoted_block_name(name), " of ", detail::shape_text(rows, cols),
                        " overflows Eigen::Index")));
    Block block{std::move(name), size_, rows, cols};
    blocks_.push_back(block);
    try {
      index_.emplace(block.name, blocks_.size() - 1);
    } catch (...) {
      blocks_.pop_back();
      throw;
    }
    size_ += block.size();
    return block;
  }

  /// Total number of coefficients: the size of the flat vector (0 for an empty layout).
  Eigen::Index size() const { return size_; }

  /// Whether a block of that name exists.
  bool contains(std::string_view name) const { return index_.find(name) != index_.end(); }

  /// The block of that name; throws std::invalid_argument naming it if there is none. The
  /// reference stays valid until the next add().
  const Block& block(std::string_view name) const { return blocks_[index_of(name, "block")]; }

  /// Every block, in the order they were added (and of increasing offsets).
  const std::vector<Block>& blocks() const { return blocks_; }

  /// The named blocks, in the order named (`layout.blocks({"W1", "W2"})`); an unknown name throws
  /// std::invalid_argument naming it.
  std::vector<Block> blocks(std::initializer_list<std::string_view> names) const {
    return select(names.begin(), names.end());
  }

  /// The named blocks, in the order named; an unknown name throws std::invalid_argument naming it.
  std::vector<Block> blocks(const std::vector<std::string>& names) const { return select(names.begin(), names.end()); }

  /// An `Eigen::Map<M>` of block `name` inside `vec`, aliasing vec's memory: writing through the
  /// map writes the block's coefficients of vec. If vec is read-only (const, or a map of const),
  /// the result is an `Eigen::Map<const M>`.
  ///
  /// `M` is a Matrix or Array type of vec's scalar, fixed or dynamic size, column-major (vectors
  /// and row vectors are fine); each of its fixed dimensions must equal the block's (a dynamic
  /// dimension takes the block's), so a Vector4d maps a block added as (4) or (4, 1), a
  /// MatrixXd any block, and a RowVectorXd only blocks of one row. `vec` is the flat vector: a
  /// V, Map, Ref, block or segment with contiguous storage (inner stride 1) and at least size()
  /// coefficients. Throws std::invalid_argument for an unknown name, a shape that does not fit
  /// (the message gives both shapes), a vec shorter than the layout or not contiguous.
  template <class M, class Vec>
  auto map(Vec&& vec, std::string_view name) const {
    using VecType = detail::plain_t<Vec>;
    static_assert(detail::DenseExpression<VecType> && detail::has_direct_access_v<VecType>,
                  "descent::Layout::map: vec must be an Eigen vector with direct access to its memory (a V, Map, Ref, "
                  "block or segment)");
    static_assert(std::is_lvalue_reference_v<Vec> || !std::is_base_of_v<Eigen::PlainObjectBase<VecType>, VecType>,
                  "descent::Layout::map: vec is a temporary vector, whose memory the map would outlive");
    static_assert(detail::PlainEigen<M>, "descent::Layout::map<M>: M must be an Eigen Matrix or Array type");
    static_assert(std::is_same_v<typename M::Scalar, typename VecType::Scalar>,
                  "descent::Layout::map<M>: M's scalar must be vec's");
    static_assert(bool(M::IsVectorAtCompileTime) || !bool(M::IsRowMajor),
                  "descent::Layout::map<M>: blocks are stored column-major, so M must be column-major");

    using Pointer = decltype(vec.data());
    constexpr bool read_only = std::is_const_v<std::remove_reference_t<Vec>> ||
                               std::is_const_v<std::remove_pointer_t<Pointer>>;
    using Mapped = Eigen::Map<std::conditional_t<read_only, const M, M>>;

    const Block& b = blocks_[index_of(name, "map")];
    check_flat(vec.rows(), vec.cols(), vec.innerStride(), b);
    constexpr Eigen::Index mr = M::RowsAtCompileTime, mc = M::ColsAtCompileTime;
    if ((mr != Eigen::Dynamic && mr != b.rows) || (mc != Eigen::Dynamic && mc != b.cols)) {
      throw std::invalid_argument(concat_message(
          "map", detail::concat("block ", detail::quoted_block_name(b.name), " is ", detail::shape_text(b.rows, b.cols),
                        " but the map type is ", detail::layout_dimension_text(mr), "x",
                        detail::layout_dimension_text(mc))));
    }
    return Mapped(vec.data() + b.offset, b.rows, b.cols);
  }

 private:
  static std::string concat_message(std::string_view function, std::string_view what) {
    return detail::concat("descent::Layout::", function, ": ", what);
  }

  std::size_t index_of(std::string_view name, std::string_view function) const {
    const auto it = index_.find(name);
    if (it == index_.end())
      throw std::invalid_argument(concat_message(function, detail::concat("no block named ", detail::quoted_block_name(name))));
    return it->second;
  }

  template <class It>
  std::vector<Block> select(It first, It last) const {
    std::vector<Block> out;
    out.reserve(std::size_t(std::distance(first, last)));
    for (; first != last; ++first) out.push_back(blocks_[index_of(*first, "blocks")]);
    return out;
  }

  /// vec is a contiguous vector holding the whole layout.
  void check_flat(Eigen::Index rows, Eigen::Index cols, Eigen::Index inner_stride, const Block& b) const {
    if (rows != 1 && cols != 1)
      throw std::invalid_argument(concat_message(
          "map", detail::concat("the flat vector is ", detail::shape_text(rows, cols),
                                ", not a vector (mapping block ", detail::quoted_block_name(b.name), ")")));
    if (rows * cols < size_)
      throw std::invalid_argument(concat_message(
          "map", detail::concat("the flat vector has ", std::to_string(rows * cols),
                                " coefficients but the layout needs ", std::to_string(size_), " (mapping block ",
                                detail::quoted_block_name(b.name), ")")));
    if (inner_stride != 1 && rows * cols > 1)
      throw std::invalid_argument(concat_message(
          "map", detail::concat("the flat vector's coefficients are ", std::to_string(inner_stride),
                                " apart in memory, not contiguous (mapping block ", detail::quoted_block_name(b.name), ")")));
  }

  std::vector<Block> blocks_;
  std::map<std::string, std::size_t, std::less<>> index_;
  Eigen::Index size_ = 0;
};

}  // namespace descent
