#pragma once
// Stochastic gradient descent with momentum, dampening and Nesterov momentum: torch.optim.SGD.

#include <cstdint>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"
#include "descent/detail/sparse.hpp"

namespace descent {

/// Options of SGD. Per coefficient, with t the step count:
///   g ← (maximize ? −g : g) + weight_decay·p
///   if momentum ≠ 0:  buf ← g at t = 1, else buf ← momentum·buf + (1 − dampening)·g
///                     g ← nesterov ? g + momentum·buf : buf
///   p ← p − lr·g
struct SGDOptions {
  /// Step size. Default 1e-3; finite and >= 0.
  double lr = 1e-3;
  /// Momentum factor μ of the velocity buffer. Default 0 (no buffer is kept); finite and >= 0.
  double momentum = 0.0;
  /// Dampening: the new gradient enters the buffer scaled by (1 − dampening), from the second step
  /// on. Default 0; in [0, 1].
  double dampening = 0.0;
  /// L2 penalty: weight_decay·p is added to the gradient. Default 0; finite and >= 0.
  double weight_decay = 0.0;
  /// Nesterov momentum: step along g + μ·buf instead of buf. Needs momentum > 0 and dampening = 0.
  /// Default false.
  bool nesterov = false;
  /// Ascend the objective: the gradient is negated first. Default false.
  bool maximize = false;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const {
    detail::require_nonnegative("SGDOptions", "lr", lr);
    detail::require_nonnegative("SGDOptions", "momentum", momentum);
    detail::require_closed("SGDOptions", "dampening", dampening, 0.0, 1.0);
    detail::require_nonnegative("SGDOptions", "weight_decay", weight_decay);
    if (nesterov && momentum <= 0.0)
      detail::invalid_option("SGDOptions", "momentum", momentum, "nesterov = true needs momentum > 0");
    if (nesterov && dampening != 0.0)
      detail::invalid_option("SGDOptions", "dampening", dampening, "nesterov = true needs dampening = 0");
  }

  /// validate(), and that lr, momentum and weight_decay are finite in Scalar.
  template <class Scalar>
  void validate_for() const {
    validate();
    detail::require_representable<Scalar>("SGDOptions", "lr", lr);
    detail::require_representable<Scalar>("SGDOptions", "momentum", momentum);
    detail::require_representable<Scalar>("SGDOptions", "weight_decay", weight_decay);
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// One SGD step over `x` with the momentum buffer (unused when momentum = 0); `first` makes the buffer a copy of g.
template <class Scalar, Eigen::Index N>
DESCENT_DETAIL_KERNEL void sgd_update(const Spans<Scalar, N>& x, const SGDOptions& o, bool first,
                                      Scalar* momentum_buffer) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto lr = Scalar(o.lr);
  const auto wd = Scalar(o.weight_decay);
  const auto mu = Scalar(o.momentum);
  const auto keep = Scalar(1.0 - o.dampening);
  const bool momentum = o.momentum != 0.0;

  detail::dispatch(
      [&](auto maximize, auto decay, auto use_momentum, auto first_step, auto use_nesterov) {
        constexpr bool negate = maximize, l2 = decay, nesterov = use_nesterov, start = first_step;
        if constexpr (!use_momentum) {
          detail::for_each_coefficient(x, [=](auto& p, auto g) DESCENT_DETAIL_LANE_INLINE {
            if constexpr (negate) g = -g;
            if constexpr (l2) g = g + wd * p;
            p = p - lr * g;
          });
        } else {
          detail::for_each_coefficient(
              x,
              [=](auto& p, auto g, auto& buf) DESCENT_DETAIL_LANE_INLINE {
                if constexpr (negate) g = -g;
                if constexpr (l2) g = g + wd * p;
                if constexpr (start)
                  buf = g;
                else
                  buf = mu * buf + keep * g;
                if constexpr (nesterov)
                  g = g + mu * buf;
                else
                  g = buf;
                p = p - lr * g;
              },
              momentum_buffer);
        }
      },
      o.maximize, o.weight_decay != 0.0, momentum, first, o.nesterov);
}

/// One SGD step from a sparse gradient (no momentum, no weight decay): p ← p − lr·g at each stored
/// entry, one entry at a time, as torch adds an uncoalesced sparse gradient.
template <class Scalar, class StorageIndex>
DESCENT_DETAIL_KERNEL void sgd_sparse_update(const SparseSpans<Scalar, StorageIndex>& x, const SGDOptions& o) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto lr = Scalar(o.lr);
  if (o.maximize)
    detail::for_each_entry(x, [=](Scalar& p, Scalar g) { p = p - lr * -g; });
  else
    detail::for_each_entry(x, [=](Scalar& p, Scalar g) { p = p - lr * g; });
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// SGD with optional (Nesterov) momentum. State: the momentum buffer, only when momentum ≠ 0.
template <class V>
class SGD {
  static_assert(detail::PlainEigen<V>, "descent::SGD<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = SGDOptions;

  SGD() = default;
  explicit SGD(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// One update of `params` (any writable Eigen expression of V's shape) from `grads` (any Eigen
  /// expression of the same shape). Throws std::invalid_argument on a shape mismatch before
  /// writing anything. Strong guarantee: if anything throws (the shape check, an allocation, a
  /// gradient expression being evaluated), params, state and step count are as they were.
  template <detail::ParamsOf<V> P, detail::GradsOf<V> G>
  void step(P&& params, const G& grads) {
    const bool momentum = options_.momentum != 0.0;
    detail::check_shapes<V>("SGD", params.rows(), params.cols(), grads.rows(), grads.cols(), momentum && has_buffer_,
                            buffer_.rows(), buffer_.cols());
    detail::with_spans(params, grads, scratch_, [&](const auto& x) {
      if (momentum && !has_buffer_) detail::init_state(buffer_, params.rows(), params.cols(), Scalar(0));
      detail::sgd_update(x, options_, momentum && !has_buffer_, buffer_.data());
      if (momentum) has_buffer_ = true;
      ++steps_;
    });
  }

  /// One update from a sparse gradient (an Eigen::SparseVector of V's scalar, or one column of a
  /// column-major Eigen::SparseMatrix), as torch's SGD with a sparse grad: p ← p − lr·g at the
  /// stored entries only, in O(nonzeros). A repeated index (adjacent, as Eigen's insert leaves it)
  /// is applied once per entry, as torch does without coalescing. Needs momentum = 0 and
  /// weight_decay = 0 (torch's momentum buffer and decay would make the step dense): otherwise, as on
  /// a shape mismatch, an index outside params or indices out of order, throws
  /// std::invalid_argument before writing anything. Counts as a step; the momentum buffer, if any,
  /// is left as it is.
  template <detail::ParamsOf<V> P, detail::SparseExpression G>
  void step(P&& params, const G& grads) {
    detail::check_sparse_arguments<V, P, G>();
    if (options_.momentum != 0.0)
      detail::refuse_sparse_option("SGD", "momentum", options_.momentum, "the momentum buffer would make it dense");
    if (options_.weight_decay != 0.0)
      detail::refuse_sparse_option("SGD", "weight_decay", options_.weight_decay, "the decay would make it dense");
    const auto x = detail::sparse_spans<V>("SGD", params, grads, false, 0, 0);
    detail::sgd_sparse_update(x, options_);
    ++steps_;
  }

  /// Drops the momentum buffer and the step count.
  void reset() {
    detail::release_state(buffer_);
    has_buffer_ = false;
    steps_ = 0;
  }

  const Options& options() const { return options_; }
  double lr() const { return options_.lr; }
  /// Changes the learning rate for the following steps; throws like the constructor on a bad value.
  void set_lr(double lr) {
    Options changed = options_;
    changed.lr = lr;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  double momentum() const { return options_.momentum; }
  /// Changes the momentum for the following steps; throws like the constructor on a bad value
  /// (e.g. 0 with nesterov). As in torch: an SGD that had momentum 0 starts its buffer (a copy of
  /// the gradient) at the first step with momentum ≠ 0, and a buffer is kept, unused, while the
  /// momentum is 0.
  void set_momentum(double momentum) {
    Options changed = options_;
    changed.momentum = momentum;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  std::int64_t steps() const { return steps_; }
  /// The momentum buffer (meaningful once a step with momentum ≠ 0 has been taken).
  const V& momentum_buffer() const { return buffer_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  Options options_{};
  detail::Scratch<V> scratch_{};
  V buffer_{};
  bool has_buffer_ = false;
  std::int64_t steps_ = 0;
};

// Each step updates every coefficient once, in place, through detail::for_each_coefficient.
namespace detail {
template <class V>
inline constexpr bool guarded_kernels_v<SGD<V>> = true;
}  // namespace detail

}  // namespace descent
