#pragma once
// Parameter groups: torch.optim's param_groups over the named blocks of one flat vector. Each
// group has its own options (no weight decay on biases, a smaller lr for a pretrained part) and
// each block its own optimizer state, as each tensor has in torch.

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/step_guard.hpp"
#include "descent/layout.hpp"
#include "descent/optimizer.hpp"

namespace descent {

/// One parameter group: the blocks it updates and the options it updates them with (those of
/// the grouped optimizer, e.g. AdamOptions for Adam, AdamWOptions for AdamW).
template <class Options>
struct Group {
  /// The blocks of the flat parameter vector in this group (`layout.blocks({"W1", "W2"})`); each
  /// block is one torch tensor: it has its own state.
  std::vector<Block> blocks;
  /// The group's options; torch's defaults where not given.
  Options options;
};

namespace detail {

/// The optimizer template O = T<V> applied to the dynamic vector of V's scalar with V's
/// orientation (one block's segment of the flat vector).
template <class O>
struct rebind_to_segment;

template <template <class> class T, class V>
struct rebind_to_segment<T<V>> {
  static_assert(V::IsVectorAtCompileTime,
                "descent::Grouped<O>: O's parameter type must be a vector (the flat vector a Layout describes)");
  using Scalar = typename V::Scalar;
  static constexpr bool column = V::ColsAtCompileTime == 1;
  using Matrix = std::conditional_t<column, Eigen::Matrix<Scalar, Eigen::Dynamic, 1>, Eigen::Matrix<Scalar, 1, Eigen::Dynamic>>;
  using Array = std::conditional_t<column, Eigen::Array<Scalar, Eigen::Dynamic, 1>, Eigen::Array<Scalar, 1, Eigen::Dynamic>>;
  using Segment = std::conditional_t<std::is_base_of_v<Eigen::ArrayBase<V>, V>, Array, Matrix>;
  using type = T<Segment>;
};

}  // namespace detail

/// Any descent optimizer O over parameter groups: `step(params, grads)` takes the whole flat
/// vector and updates each group's blocks with that group's options, each block with its own
/// state (one fused pass per block: a Layout of 10 blocks costs what the plain step costs).
/// Coefficients in no group are left untouched (frozen). Semantics: torch.optim with one param
/// group per Group, each block one tensor.
///
///     descent::Grouped<descent::AdamW<Eigen::VectorXf>> opt({
///         {layout.blocks({"W1", "W2"}), {.lr = 1e-3, .weight_decay = 0.1}},
///         {layout.blocks({"b1", "b2"}), {.lr = 1e-3, .weight_decay = 0.0}}});
///     opt.step(x, g);
///
/// O is a descent optimizer template applied to the flat vector type (`Adam<VectorXf>`,
/// `SGD<Eigen::ArrayXd>`, ...); each block is stepped by O's template over a dynamic vector of
/// the same scalar. It satisfies descent::Optimizer and LearningRateControl, and a Scheduler
/// drives each group's lr (and momentum) separately.
template <class O>
class Grouped {
 public:
  using Optimizer = O;
  using Vector = typename O::Vector;
  using Scalar = typename Vector::Scalar;
  using Options = typename O::Options;
  /// The optimizer that steps one block.
  using BlockOptimizer = typename detail::rebind_to_segment<O>::type;

  /// From the groups, in order (group g is `groups[g]`). Throws std::invalid_argument when there
  /// is no group, when a group's options are invalid (as O's constructor would), and when a block
  /// has a negative offset or size or two blocks (of any groups) share a coefficient.
  explicit Grouped(std::vector<Group<Options>> groups) {
    if (groups.empty())
      throw std::invalid_argument("descent::Grouped: no parameter groups given (torch: an empty parameter list)");
    std::vector<Block> all;
    Eigen::Index end = 0;
    for (const auto& group : groups)
      for (const Block& b : group.blocks) {
        if (b.offset < 0 || b.rows < 0 || b.cols < 0)
          throw std::invalid_argument(detail::concat("descent::Grouped: block '", b.name, "' has offset ",
                                                     std::to_string(b.offset), " and shape ",
                                                     detail::shape_text(b.rows, b.cols)));
        all.push_back(b);
        end = std::max(end, b.end());
      }
    detail::check_blocks("Grouped", all, end, "parameters");
    end_ = end;
    groups_.reserve(groups.size());
    for (auto& group : groups) {
      State state{std::move(group.blocks), group.options, {}};
      const BlockOptimizer prototype(state.options);  // validates the options, also of an empty group
      state.optimizers.assign(state.blocks.size(), prototype);
      groups_.push_back(std::move(state));
    }
  }

  /// One step of every group over `params` (a writable Eigen vector expression of V's scalar,
  /// the flat vector) from `grads` (an Eigen expression of the same shape). Throws
  /// std::invalid_argument, before anything is written, when params and grads differ in shape or
  /// a block does not fit in params. Each block's step has the strong guarantee of O's step; an
  /// exception from a later block's (an allocation at the first step, a gradient expression that
  /// throws) leaves the blocks stepped before it stepped.
  template <detail::ParamsOf<Vector> P, detail::GradsOf<Vector> G>
  void step(P&& params, const G& grads) {
    static_assert(detail::plain_t<P>::IsVectorAtCompileTime && detail::plain_t<G>::IsVectorAtCompileTime,
                  "descent::Grouped::step: params and grads must be vectors at compile time (the flat vector)");
    detail::check_shapes<Vector>("Grouped", params.rows(), params.cols(), grads.rows(), grads.cols(), false, 0, 0);
    if (end_ > params.size()) {
      for (const auto& group : groups_)
        for (const Block& b : group.blocks)
          if (b.end() > params.size())
            throw std::invalid_argument(detail::concat("descent::Grouped::step: block '", b.name, "' (offset ",
                                                       std::to_string(b.offset), ", ", detail::shape_text(b.rows, b.cols),
                                                       ") does not fit in parameters of ",
                                                       std::to_string(params.size()), " coefficients"));
    }
    for (auto& group : groups_)
      for (std::size_t i = 0; i < group.blocks.size(); ++i) {
        const Block& b = group.blocks[i];
        if (b.size() == 0) continue;
        group.optimizers[i].step(params.segment(b.offset, b.size()), grads.segment(b.offset, b.size()));
      }
    ++steps_;
  }

  /// Forgets every block's state and the step count; the options stay.
  void reset() {
    for (auto& group : groups_)
      for (auto& opt : group.optimizers) opt.reset();
    steps_ = 0;
  }

  std::size_t group_count() const { return groups_.size(); }
  /// Group g's options (its lr and momentum as last set).
  const Options& options(std::size_t g) const { return group(g, "options").options; }
  /// Group g's blocks.
  const std::vector<Block>& blocks(std::size_t g) const { return group(g, "blocks").blocks; }
  /// The optimizer (with the state) of block b of group g.
  const BlockOptimizer& optimizer(std::size_t g, std::size_t b) const {
    const State& s = group(g, "optimizer");
    if (b >= s.optimizers.size())
      throw std::out_of_range(detail::concat("descent::Grouped::optimizer: block ", std::to_string(b), " of group ",
                                             std::to_string(g), ", which has ", std::to_string(s.optimizers.size()),
                                             " blocks"));
    return s.optimizers[b];
  }

  /// Group 0's lr.
  double lr() const { return lr(0); }
  double lr(std::size_t g) const { return group(g, "lr").options.lr; }
  /// Sets every group's lr; throws like O's set_lr on a bad value, changing nothing.
  void set_lr(double lr) {
    for (std::size_t g = 0; g < groups_.size(); ++g) validated(g, [&](Options& o) { o.lr = lr; });
    for (std::size_t g = 0; g < groups_.size(); ++g) set_lr(g, lr);
  }
  /// Sets group g's lr; throws like O's set_lr on a bad value, changing nothing.
  void set_lr(std::size_t g, double lr) {
    State& s = group(g, "set_lr");
    s.options = validated(g, [&](Options& o) { o.lr = lr; });
    for (auto& opt : s.optimizers) opt.set_lr(lr);
  }

  /// Group 0's momentum (SGD's and RMSProp's momentum, Adam's and AdamW's beta1).
  double momentum() const
    requires requires(const BlockOptimizer& o) { o.momentum(); }
  {
    return momentum(0);
  }
  double momentum(std::size_t g) const
    requires requires(const BlockOptimizer& o) { o.momentum(); }
  {
    return BlockOptimizer(group(g, "momentum").options).momentum();
  }
  /// Sets every group's momentum; throws like O's set_momentum on a bad value, changing nothing.
  void set_momentum(double momentum)
    requires requires(BlockOptimizer& o, double x) { o.set_momentum(x); }
  {
    std::vector<Options> changed;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      BlockOptimizer probe(groups_[g].options);
      probe.set_momentum(momentum);
      changed.push_back(probe.options());
    }
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      groups_[g].options = changed[g];
      for (auto& opt : groups_[g].optimizers) opt.set_momentum(momentum);
    }
  }
  /// Sets group g's momentum; throws like O's set_momentum on a bad value, changing nothing.
  void set_momentum(std::size_t g, double momentum)
    requires requires(BlockOptimizer& o, double x) { o.set_momentum(x); }
  {
    State& s = group(g, "set_momentum");
    BlockOptimizer probe(s.options);
    probe.set_momentum(momentum);
    s.options = probe.options();
    for (auto& opt : s.optimizers) opt.set_momentum(momentum);
  }

  /// Schedule-free optimizers (ScheduleFreeAdamW, ScheduleFreeSGD): switches every block to eval
  /// mode, its segment of `params` (the flat vector) from y to x, as O's eval() does. Throws
  /// std::invalid_argument, before anything is written, when a block does not fit in params.
  template <detail::ParamsOf<Vector> P>
    requires EvalModeOptimizer<BlockOptimizer, typename BlockOptimizer::Vector>
  void eval(P&& params) {
    static_assert(detail::plain_t<P>::IsVectorAtCompileTime,
                  "descent::Grouped::eval: params must be a vector at compile time (the flat vector)");
    check_fits(params.size(), "eval");
    for (auto& group : groups_)
      for (std::size_t i = 0; i < group.blocks.size(); ++i) {
        const Block& b = group.blocks[i];
        group.optimizers[i].eval(params.segment(b.offset, b.size()));
      }
  }
  /// Schedule-free optimizers: switches every block back to train mode (its segment from x to y),
  /// as O's train() does; otherwise as eval().
  template <detail::ParamsOf<Vector> P>
    requires EvalModeOptimizer<BlockOptimizer, typename BlockOptimizer::Vector>
  void train(P&& params) {
    static_assert(detail::plain_t<P>::IsVectorAtCompileTime,
                  "descent::Grouped::train: params must be a vector at compile time (the flat vector)");
    check_fits(params.size(), "train");
    for (auto& group : groups_)
      for (std::size_t i = 0; i < group.blocks.size(); ++i) {
        const Block& b = group.blocks[i];
        group.optimizers[i].train(params.segment(b.offset, b.size()));
      }
  }
  /// Schedule-free optimizers: whether the blocks are in train mode (they switch together; true
  /// when there is no block).
  bool training() const
    requires requires(const BlockOptimizer& o) { o.training(); }
  {
    for (const auto& group : groups_)
      if (!group.optimizers.empty()) return group.optimizers.front().training();
    return true;
  }

  /// Grouped steps taken since construction or the last reset().
  std::int64_t steps() const { return steps_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  struct State {
    std::vector<Block> blocks;
    Options options;
    std::vector<BlockOptimizer> optimizers;
  };

  State& group(std::size_t g, const char* function) {
    return const_cast<State&>(std::as_const(*this).group(g, function));
  }
  const State& group(std::size_t g, const char* function) const {
    if (g >= groups_.size())
      throw std::out_of_range(detail::concat("descent::Grouped::", function, ": group ", std::to_string(g), " of ",
                                             std::to_string(groups_.size())));
    return groups_[g];
  }

  /// Throws unless every block fits in parameters of `size` coefficients.
  void check_fits(Eigen::Index size, const char* function) const {
    if (end_ <= size) return;
    for (const auto& group : groups_)
      for (const Block& b : group.blocks)
        if (b.end() > size)
          throw std::invalid_argument(detail::concat("descent::Grouped::", function, ": block '", b.name, "' (offset ",
                                                     std::to_string(b.offset), ", ", detail::shape_text(b.rows, b.cols),
                                                     ") does not fit in parameters of ", std::to_string(size),
                                                     " coefficients"));
  }

  /// Group g's options changed by `change`, validated by constructing a block optimizer from them.
  template <class F>
  Options validated(std::size_t g, F change) const {
    Options o = group(g, "set_lr").options;
    change(o);
    const BlockOptimizer probe(o);
    return o;
  }

  std::vector<State> groups_;
  Eigen::Index end_ = 0;
  std::int64_t steps_ = 0;
};

// A Grouped step is its blocks' steps on disjoint segments (Layout rejects overlapping blocks).
namespace detail {
template <class O>
inline constexpr bool guarded_kernels_v<Grouped<O>> = guarded_kernels_v<typename rebind_to_segment<O>::type>;
template <class O>
inline constexpr bool guard_may_skip_v<Grouped<O>> = true;
}  // namespace detail

}  // namespace descent
