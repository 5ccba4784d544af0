#pragma once
// Gradient clipping with the numbers of torch.nn.utils.clip_grad_norm_ and clip_grad_value_
// (PyTorch 1.13), on any writable Eigen expression, on blocks of a flat gradient, and as an
// optimizer adapter (Clipped) that clips every gradient before stepping.

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "descent/detail/checks.hpp"
#include "descent/detail/step_guard.hpp"
#include "descent/layout.hpp"

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*() on purpose, which
// -Wmaybe-uninitialized reports once Eigen's reductions (the norms below) are inlined under
// -march=native; not a finding (detail/lanes.hpp silences it for the update kernels the same way).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace descent {

namespace detail {

/// `G` is a gradient that can be clipped in place: a writable Eigen expression (a V, Map, Ref,
/// block, segment) of real scalars.
template <class G>
concept ClippableGradient = DenseExpression<plain_t<G>> && !std::is_const_v<std::remove_reference_t<G>> &&
                            bool(Eigen::internal::is_lvalue<plain_t<G>>::value) &&
                            std::is_floating_point_v<typename plain_t<G>::Scalar>;

/// A double option converted to the gradient's scalar as torch converts a Python float for an
/// operation on a tensor of that dtype: rounded to nearest, and infinite beyond Scalar's range
/// (where a plain conversion would be undefined behaviour).
template <class Scalar>
Scalar clip_scalar(double value) {
  constexpr double largest = double(std::numeric_limits<Scalar>::max());
  if (value > largest) return std::numeric_limits<Scalar>::infinity();
  if (value < -largest) return -std::numeric_limits<Scalar>::infinity();
  return Scalar(value);
}

inline void validate_clip_norm(std::string_view function, double max_norm, double norm_type) {
  if (!(max_norm >= 0.0)) invalid_option(function, "max_norm", max_norm, "must be a number >= 0, or inf to never clip");
  if (!(norm_type > 0.0)) invalid_option(function, "norm_type", norm_type, "must be > 0, or inf for the largest |g_i|");
}

inline void validate_clip_value(std::string_view function, double clip_value) {
  if (!(clip_value >= 0.0)) invalid_option(function, "clip_value", clip_value, "must be a number >= 0");
}

/// torch.norm(x, p) for p > 0, computed as torch 1.13's CPU kernels do, in the tensor's own dtype
/// (a float gradient's norm is accumulated in float, and overflows as torch's does):
/// p = 1: Σ|x|;  p = 2: √(Σx²);  p = inf: max|x| (NaN propagates);  otherwise (Σ|x|^p)^(1/p), with
/// 1/p computed in Scalar. `add` feeds one coefficient, or the norm of one tensor for the total
/// norm over several; `of` is the norm of a whole expression, with Eigen's vectorized reductions.
template <class Scalar>
class ClipPNorm {
 public:
  explicit ClipPNorm(double p) : p_(clip_scalar<Scalar>(p)), inv_p_(Scalar(1) / p_) {
    kind_ = p == 1.0 ? Kind::One : p == 2.0 ? Kind::Two : std::isinf(p) ? Kind::Inf : Kind::General;
  }

  /// The norm of all coefficients of `x` (0 for an empty x).
  template <class X>
  Scalar of(const X& x) const {
    if (x.size() == 0) return Scalar(0);
    const auto& a = x.array();
    switch (kind_) {
      case Kind::One:
        return a.abs().sum();
      case Kind::Two:
        return std::sqrt(a.abs2().sum());
      case Kind::Inf:
        return a.abs().template maxCoeff<Eigen::PropagateNaN>();
      case Kind::General:
        break;
    }
    const Scalar p = p_;
    return std::pow(a.abs().unaryExpr([p](Scalar v) { return std::pow(v, p); }).sum(), inv_p_);
  }

  /// Starts an accumulation over several values (the norms of several tensors).
  void clear() { acc_ = Scalar(0); }
  void add(Scalar v) {
    switch (kind_) {
      case Kind::One:
        acc_ += std::abs(v);
        break;
      case Kind::Two:
        acc_ += v * v;
        break;
      case Kind::Inf: {
        const Scalar a = std::abs(v);
        if (std::isnan(a) || a > acc_) acc_ = std::isnan(acc_) ? acc_ : a;
        break;
      }
      case Kind::General:
        acc_ += std::pow(std::abs(v), p_);
        break;
    }
  }
  /// The norm of the values added since clear().
  Scalar result() const {
    switch (kind_) {
      case Kind::One:
      case Kind::Inf:
        return acc_;
      case Kind::Two:
        return std::sqrt(acc_);
      case Kind::General:
        break;
    }
    return std::pow(acc_, inv_p_);
  }

  bool is_inf() const { return kind_ == Kind::Inf; }

 private:
  enum class Kind { One, Two, Inf, General };
  Kind kind_ = Kind::Two;
  Scalar p_, inv_p_;
  Scalar acc_ = Scalar(0);
};

/// torch's total_norm over tensors given by `norm_of(i)`, i < count: for p = inf the largest norm
/// (the norm itself for one tensor), otherwise the p-norm of the vector of the tensors' norms —
/// also for one tensor, where torch computes torch.norm(torch.stack([norm]), p), which can round
/// (and in float overflow) differently from the norm itself.
template <class Scalar, class NormOf>
Scalar clip_total_norm(const ClipPNorm<Scalar>& tensor_norm, std::size_t count, NormOf norm_of) {
  ClipPNorm<Scalar> total = tensor_norm;
  total.clear();
  if (tensor_norm.is_inf() && count == 1) return norm_of(0);
  for (std::size_t i = 0; i < count; ++i) total.add(norm_of(i));
  return total.result();
}

[[noreturn, gnu::noinline, gnu::cold]] inline void report_nonfinite_norm(double norm_type, double total) {
  throw std::runtime_error(concat(
      "descent::clip_grad_norm: the total norm of order ", format_number(norm_type), " of the gradients is ",
      format_number(total),
      ", which is non-finite, so it cannot be clipped (to scale the gradients by the non-finite norm anyway, as "
      "torch does, pass error_if_nonfinite = false)"));
}

/// torch's clip coefficient, clamp(max_norm / (total_norm + 1e-6), max = 1), in Scalar and with
/// torch's operations: Python's `max_norm / t` on a tensor is `t.reciprocal() * max_norm`. NaN
/// when the norm is NaN (clamp propagates it), 0 when it is infinite.
template <class Scalar>
Scalar clip_coefficient(Scalar total, double max_norm) {
  const Scalar denominator = total + clip_scalar<Scalar>(1e-6);
  const Scalar coef = (Scalar(1) / denominator) * clip_scalar<Scalar>(max_norm);
  return coef > Scalar(1) ? Scalar(1) : coef;
}

/// clip_grad_norm over blocks already checked by check_blocks.
template <class G>
double clip_blocks_norm(G& grads, const std::vector<Block>& blocks, double max_norm, double norm_type,
                        bool error_if_nonfinite) {
  using Scalar = typename plain_t<G>::Scalar;
  if (blocks.empty()) return 0.0;  // torch: no gradients, a norm of 0 and nothing scaled
  const ClipPNorm<Scalar> norm(norm_type);
  const Scalar total = clip_total_norm(norm, blocks.size(), [&](std::size_t i) {
    return norm.of(grads.segment(blocks[i].offset, blocks[i].size()));
  });
  if (error_if_nonfinite && !std::isfinite(total)) report_nonfinite_norm(norm_type, double(total));
  const Scalar coef = clip_coefficient(total, max_norm);
  if (!(coef == Scalar(1)))  // torch multiplies by the clamped 1 too: the same numbers
    for (const Block& b : blocks) grads.segment(b.offset, b.size()) *= coef;
  return double(total);
}

}  // namespace detail

/// Rescales `grads` in place so that its `norm_type`-norm is at most about `max_norm`, and returns
/// the norm it had before: torch.nn.utils.clip_grad_norm_(tensor, max_norm, norm_type,
/// error_if_nonfinite) on one tensor, with torch 1.13's numbers:
///
///     total = ‖grads‖_p                      (p = norm_type; inf: max |g_i|)
///     coef  = min(max_norm / (total + 1e-6), 1)
///     grads ← coef · grads                   (unchanged when coef is 1)
///
/// `grads` is any writable Eigen expression of float or double (a V, Map, Ref, block, segment;
/// a matrix is one tensor). As in torch, everything is computed in grads' own scalar type (a
/// float gradient's norm is accumulated in float, so a float gradient with coefficients above
/// about 1.8e19 has an infinite 2-norm), the norm is the norm of the one-element vector of the
/// tensor's norm (torch stacks the tensors' norms), and the coefficient is
/// reciprocal(total + 1e-6) · max_norm.
///
/// A NaN or infinite norm: with error_if_nonfinite, throws std::runtime_error naming the order
/// and the norm, before anything is written; otherwise torch's numbers (an infinite norm scales
/// grads by 0, a NaN one makes every coefficient NaN). Throws std::invalid_argument for a
/// max_norm that is NaN or negative (inf never clips) or a norm_type that is NaN or <= 0
/// (torch would take 0 as the count of non-zero coefficients, and negative orders).
template <detail::ClippableGradient G>
double clip_grad_norm(G&& grads, double max_norm, double norm_type = 2.0, bool error_if_nonfinite = false) {
  using Scalar = typename detail::plain_t<G>::Scalar;
  detail::validate_clip_norm("clip_grad_norm", max_norm, norm_type);
  const detail::ClipPNorm<Scalar> norm(norm_type);
  const Scalar tensor = norm.of(grads);
  const Scalar total = detail::clip_total_norm(norm, 1, [&](std::size_t) { return tensor; });
  if (error_if_nonfinite && !std::isfinite(total)) detail::report_nonfinite_norm(norm_type, double(total));
  const Scalar coef = detail::clip_coefficient(total, max_norm);
  if (!(coef == Scalar(1))) grads *= coef;  // torch multiplies by the clamped 1 too: the same numbers
  return double(total);
}

/// clip_grad_norm over several tensors, as torch clips `model.parameters()`: each Block of the
/// flat gradient vector `grads` is one tensor, the total norm is the p-norm of the blocks' norms
/// (for inf, the largest), and every block is scaled by the one coefficient. Coefficients of
/// grads in no block are neither counted nor changed. An empty list returns 0 and changes
/// nothing, as torch does for no gradients.
///
/// Throws std::invalid_argument, before anything is written, for a block that does not fit in
/// grads or two blocks that overlap, and for the options as the one-tensor overload.
template <detail::ClippableGradient G>
double clip_grad_norm(G&& grads, const std::vector<Block>& blocks, double max_norm, double norm_type = 2.0,
                      bool error_if_nonfinite = false) {
  static_assert(bool(detail::plain_t<G>::IsVectorAtCompileTime),
                "descent::clip_grad_norm: with blocks, grads must be the flat gradient vector");
  detail::validate_clip_norm("clip_grad_norm", max_norm, norm_type);
  detail::check_blocks("clip_grad_norm", blocks, grads.size(), "a gradient");
  return detail::clip_blocks_norm(grads, blocks, max_norm, norm_type, error_if_nonfinite);
}

/// Clamps every coefficient of `grads` into [−clip_value, clip_value], in place:
/// torch.nn.utils.clip_grad_value_. clip_value is rounded to grads' scalar type first, as torch
/// does; NaN coefficients stay NaN. `grads` is any writable Eigen expression of float or double.
/// Throws std::invalid_argument for a clip_value that is NaN or negative (inf changes nothing).
template <detail::ClippableGradient G>
void clip_grad_value(G&& grads, double clip_value) {
  using Scalar = typename detail::plain_t<G>::Scalar;
  detail::validate_clip_value("clip_grad_value", clip_value);
  const Scalar hi = detail::clip_scalar<Scalar>(clip_value), lo = -hi;
  grads = grads.unaryExpr([lo, hi](Scalar v) { return v < lo ? lo : v > hi ? hi : v; });
}

/// clip_grad_value on the given blocks of the flat gradient vector only. Throws
/// std::invalid_argument, before anything is written, for a block that does not fit in grads
/// (overlapping blocks are fine: clamping twice is clamping once).
template <detail::ClippableGradient G>
void clip_grad_value(G&& grads, const std::vector<Block>& blocks, double clip_value) {
  static_assert(bool(detail::plain_t<G>::IsVectorAtCompileTime),
                "descent::clip_grad_value: with blocks, grads must be the flat gradient vector");
  detail::validate_clip_value("clip_grad_value", clip_value);
  for (const Block& b : blocks) {
    if (b.offset < 0 || b.rows < 0 || b.cols < 0 || b.offset > grads.size() || b.size() > grads.size() - b.offset)
      throw std::invalid_argument(detail::concat("descent::clip_grad_value: block '", b.name, "' (offset ",
                                                 std::to_string(b.offset), ", ", detail::shape_text(b.rows, b.cols),
                                                 ") does not fit in a gradient of ", std::to_string(grads.size()),
                                                 " coefficients"));
  }
  for (const Block& b : blocks) clip_grad_value(grads.segment(b.offset, b.size()), clip_value);
}

/// Options of Clipped: the arguments of torch's clip_grad_norm_.
struct ClipOptions {
  /// Largest norm the gradient keeps. Required (torch has no default): the default NaN is
  /// rejected. A number >= 0; inf never clips.
  double max_norm = std::numeric_limits<double>::quiet_NaN();
  /// Order p of the norm. Default 2; > 0, or std::numeric_limits<double>::infinity() for max |g_i|.
  double norm_type = 2.0;
  /// Throw std::runtime_error from step, before stepping, when the gradient's norm is NaN or
  /// infinite. Default false (torch's default): the gradient is scaled by torch's coefficient.
  bool error_if_nonfinite = false;
  /// The tensors, as blocks of the flat gradient (`layout.blocks()`): the norm is torch's total
  /// norm over them, and coefficients in no block are passed on unclipped. Default empty: the
  /// whole gradient is one tensor.
  std::vector<Block> blocks = {};

  /// Throws std::invalid_argument naming the first invalid field and its value, or two blocks
  /// that overlap.
  void validate() const {
    if (std::isnan(max_norm))
      detail::invalid_option("ClipOptions", "max_norm", max_norm,
                             "required, as in torch: a number >= 0, or inf to never clip");
    detail::validate_clip_norm("ClipOptions", max_norm, norm_type);
    Eigen::Index end = 0;
    for (const Block& b : blocks)
      if (b.offset >= 0 && b.rows >= 0 && b.cols >= 0) end = std::max(end, b.end());
    detail::check_blocks("ClipOptions", blocks, end, "a gradient");
  }
};

namespace detail {

template <class O>
using clipped_optimizer_t = std::remove_cvref_t<O>;

}  // namespace detail

/// An optimizer adapter: `Clipped<O>` clips every gradient with clip_grad_norm (into a scratch
/// copy: the caller's gradient is const) and hands the clipped gradient to O's step, so that
/// `clip_grad_norm_(...); opt.step()` of a torch loop is one step call, and clipping works inside
/// minimize and train. It satisfies descent::Optimizer<Clipped<O>, V>, and forwards lr/set_lr,
/// momentum/set_momentum, the per-group lr(g)/set_lr(g, x)/momentum(g)/set_momentum(g, x)/
/// group_count(), steps() and options() when O has them (so it is a LearningRateControl when O is,
/// and composes with groups and schedulers).
///
///     descent::Clipped<descent::Adam<V>> opt(descent::Adam<V>({.lr = 1e-3}), {.max_norm = 1.0});
///     auto same = descent::clipped(descent::Adam<V>({.lr = 1e-3}), 1.0);   // owns its Adam
///     descent::Adam<V> adam({.lr = 1e-3});
///     auto view = descent::clipped(adam, 1.0);                             // steps `adam` itself
///
/// O is the optimizer type, held by value, or a reference type (`Clipped<Adam<V>&>`, what
/// clipped() makes from a named optimizer) to step an optimizer that lives elsewhere, e.g. one a
/// Scheduler is bound to. V, the parameters' type, defaults to O::Vector (every descent optimizer
/// has it); give it for an optimizer of your own without one. The scratch gradient is allocated on
/// the first step (and when the shape changes), never for fixed-size V.
template <class O, class V = typename detail::clipped_optimizer_t<O>::Vector>
class Clipped {
  static_assert(detail::PlainEigen<V>, "descent::Clipped<O, V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Optimizer = detail::clipped_optimizer_t<O>;
  using Vector = V;
  using Scalar = typename V::Scalar;

  /// Clips with `clip` (validated: throws std::invalid_argument like ClipOptions::validate()).
  Clipped(O optimizer, ClipOptions clip) : optimizer_(std::forward<O>(optimizer)), clip_(std::move(clip)) {
    clip_.validate();
  }
  /// Clips to max_norm in the norm of order norm_type, the whole gradient as one tensor.
  Clipped(O optimizer, double max_norm, double norm_type = 2.0, bool error_if_nonfinite = false)
      : Clipped(std::forward<O>(optimizer), ClipOptions{max_norm, norm_type, error_if_nonfinite, {}}) {}

  /// Copies `grads` (any Eigen expression of V's shape, as for O's step), clips the copy with
  /// clip_grad_norm (or over the blocks of clip_options()), records the norm before clipping
  /// (last_norm()) and steps O with the clipped copy. Throws std::invalid_argument, before
  /// anything is written, if params and grads do not have V's shape or a block does not fit, and
  /// std::runtime_error for a non-finite norm with error_if_nonfinite; params and O are then
  /// unchanged.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    detail::check_shapes<V>("Clipped", params.rows(), params.cols(), grads.rows(), grads.cols(), false, 0, 0);
    if (!clip_.blocks.empty()) {
      for (const Block& b : clip_.blocks)
        if (b.end() > grads.size())
          throw std::invalid_argument(detail::concat("descent::Clipped::step: block '", b.name, "' (offset ",
                                                     std::to_string(b.offset), ", ", detail::shape_text(b.rows, b.cols),
                                                     ") does not fit in a gradient of ",
                                                     std::to_string(grads.size()), " coefficients"));
    }
    detail::resize_strong(scratch_, grads.rows(), grads.cols());
    detail::assign(scratch_, grads);
    double norm;
    if (clip_.blocks.empty()) {
      norm = clip_grad_norm(scratch_, clip_.max_norm, clip_.norm_type, clip_.error_if_nonfinite);
    } else {
      auto flat = scratch_.reshaped();  // the blocks index the coefficients in column-major order
      norm = detail::clip_blocks_norm(flat, clip_.blocks, clip_.max_norm, clip_.norm_type, clip_.error_if_nonfinite);
    }
    optimizer_.step(std::forward<P>(params), std::as_const(scratch_));
    last_norm_ = norm;
  }

  /// Resets O (its state and step count); the clipping options stay.
  void reset() {
    optimizer_.reset();
    last_norm_ = std::numeric_limits<double>::quiet_NaN();
  }

  /// The norm of the last step's gradient before clipping (what torch's clip_grad_norm_ returns);
  /// NaN before the first step and after reset().
  double last_norm() const { return last_norm_; }

  const ClipOptions& clip_options() const { return clip_; }
  /// Changes the clipping for the following steps; throws like the constructor on a bad value,
  /// changing nothing.
  void set_clip_options(ClipOptions clip) {
    clip.validate();
    clip_ = std::move(clip);
  }
  /// Changes max_norm for the following steps; throws like the constructor on a bad value.
  void set_max_norm(double max_norm) {
    detail::validate_clip_norm("ClipOptions", max_norm, clip_.norm_type);
    clip_.max_norm = max_norm;
  }

  /// The wrapped optimizer.
  Optimizer& optimizer() { return optimizer_; }
  const Optimizer& optimizer() const { return optimizer_; }

  // Forwarded to O when it has them.
  double lr() const
    requires requires(const Optimizer& o) { o.lr(); }
  {
    return double(optimizer_.lr());
  }
  void set_lr(double lr)
    requires requires(Optimizer& o, double x) { o.set_lr(x); }
  {
    optimizer_.set_lr(lr);
  }
  double momentum() const
    requires requires(const Optimizer& o) { o.momentum(); }
  {
    return double(optimizer_.momentum());
  }
  void set_momentum(double momentum)
    requires requires(Optimizer& o, double x) { o.set_momentum(x); }
  {
    optimizer_.set_momentum(momentum);
  }
  auto group_count() const
    requires requires(const Optimizer& o) { o.group_count(); }
  {
    return optimizer_.group_count();
  }
  double lr(std::size_t group) const
    requires requires(const Optimizer& o, std::size_t g) { o.lr(g); }
  {
    return double(optimizer_.lr(group));
  }
  void set_lr(std::size_t group, double lr)
    requires requires(Optimizer& o, std::size_t g, double x) { o.set_lr(g, x); }
  {
    optimizer_.set_lr(group, lr);
  }
  double momentum(std::size_t group) const
    requires requires(const Optimizer& o, std::size_t g) { o.momentum(g); }
  {
    return double(optimizer_.momentum(group));
  }
  void set_momentum(std::size_t group, double momentum)
    requires requires(Optimizer& o, std::size_t g, double x) { o.set_momentum(g, x); }
  {
    optimizer_.set_momentum(group, momentum);
  }
  decltype(auto) options() const
    requires requires(const Optimizer& o) { o.options(); }
  {
    return optimizer_.options();
  }
  decltype(auto) options(std::size_t group) const
    requires requires(const Optimizer& o, std::size_t g) { o.options(g); }
  {
    return optimizer_.options(group);
  }
  std::int64_t steps() const
    requires requires(const Optimizer& o) { o.steps(); }
  {
    return std::int64_t(optimizer_.steps());
  }

 private:
  O optimizer_;
  ClipOptions clip_;
  V scratch_{};
  double last_norm_ = std::numeric_limits<double>::quiet_NaN();
};

/// Clipped over `optimizer`: a named optimizer (an lvalue) is referenced, so its state, lr and any
/// Scheduler bound to it are the ones stepped (it must outlive the adapter); a temporary is moved
/// into the adapter. `clip` as in Clipped's constructor.
template <class O>
auto clipped(O&& optimizer, ClipOptions clip) {
  return Clipped<O>(std::forward<O>(optimizer), std::move(clip));
}

/// clipped(optimizer, {.max_norm = max_norm, .norm_type = norm_type, .error_if_nonfinite = ...}).
template <class O>
auto clipped(O&& optimizer, double max_norm, double norm_type = 2.0, bool error_if_nonfinite = false) {
  return Clipped<O>(std::forward<O>(optimizer), max_norm, norm_type, error_if_nonfinite);
}

// A Clipped step is O's step on the clipped copy of the gradient.
namespace detail {
template <class O, class V>
inline constexpr bool guarded_kernels_v<Clipped<O, V>> = guarded_kernels_v<std::remove_cvref_t<O>>;
template <class O, class V>
inline constexpr bool guard_may_skip_v<Clipped<O, V>> = guard_may_skip_v<std::remove_cvref_t<O>>;
}  // namespace detail

}  // namespace descent

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
