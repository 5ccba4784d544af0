#pragma once
// Lazy Adam for sparse gradients: torch.optim.SparseAdam. Only the moments at the gradient's
// nonzeros are updated, and only those parameters move.

#include <cmath>
#include <cstdint>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"
#include "descent/detail/sparse.hpp"

namespace descent {

/// Options of SparseAdam. With t the step count (from 1, every step), at each distinct index i of
/// the sparse gradient (repeated indices summed first), and nowhere else:
///   g ← maximize ? −g_i : g_i
///   m_i ← m_i + (g − m_i)·(1 − beta1)
///   v_i ← v_i + (g² − v_i)·(1 − beta2)
///   p_i ← p_i − lr·√(1 − beta2^t)/(1 − beta1^t) · m_i / (√v_i + eps)
/// (m and v start at 0). No weight decay, as in torch.
struct SparseAdamOptions {
  /// Step size. Default 1e-3; finite and > 0 (torch refuses 0).
  double lr = 1e-3;
  /// Decay of the first moment m, and its bias correction 1 − beta1^t. Default 0.9; in [0, 1).
  double beta1 = 0.9;
  /// Decay of the second moment v, and its bias correction 1 − beta2^t. Default 0.999; in [0, 1).
  double beta2 = 0.999;
  /// Added to √v in the denominator. Default 1e-8; finite and > 0 (torch refuses 0).
  double eps = 1e-8;
  /// Ascend the objective: the gradient is negated first. Default false.
  bool maximize = false;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const {
    if (!(lr > 0.0) || !std::isfinite(lr))
      detail::invalid_option("SparseAdamOptions", "lr", lr, "must be a finite number > 0");
    detail::require_half_open("SparseAdamOptions", "beta1", beta1, 0.0, 1.0);
    detail::require_half_open("SparseAdamOptions", "beta2", beta2, 0.0, 1.0);
    if (!(eps > 0.0) || !std::isfinite(eps))
      detail::invalid_option("SparseAdamOptions", "eps", eps, "must be a finite number > 0");
  }

  /// validate(), and that every number entering the formula in Scalar is finite there: lr, eps and
  /// the largest step size, lr / (1 − beta1) (reached at t = 1 when beta2 is 0).
  template <class Scalar>
  void validate_for() const {
    validate();
    detail::require_representable<Scalar>("SparseAdamOptions", "lr", lr);
    detail::require_representable<Scalar>("SparseAdamOptions", "eps", eps);
    detail::require_representable<Scalar>("SparseAdamOptions", "lr / (1 - beta1)", lr / (1.0 - beta1));
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// One SparseAdam step, the `steps`-th, over the distinct indices of `x`: torch's sparse_adam,
/// operation for operation (the moments updated as old + (new − old)·(1 − beta), the step size
/// lr·√bc2/bc1 in double, then rounded to Scalar).
template <class Scalar, class StorageIndex>
DESCENT_DETAIL_KERNEL void sparse_adam_update(const SparseSpans<Scalar, StorageIndex>& x, const SparseAdamOptions& o,
                                              double bc1, double bc2, Scalar* exp_avg, Scalar* exp_avg_sq) {
  DESCENT_DETAIL_NO_CONTRACT
  const auto c1 = Scalar(1.0 - o.beta1);
  const auto c2 = Scalar(1.0 - o.beta2);
  const auto eps = Scalar(o.eps);
  const auto step_size = Scalar(o.lr * std::sqrt(bc2) / bc1);
  auto update = [=](Scalar& p, Scalar g, Scalar& m, Scalar& v) {
    m = m + (g - m) * c1;
    v = v + (g * g - v) * c2;
    p = p - step_size * (m / (std::sqrt(v) + eps));
  };
  if (o.maximize)
    detail::for_each_nonzero(
        x, [=](Scalar& p, Scalar g, Scalar& m, Scalar& v) { update(p, -g, m, v); }, exp_avg, exp_avg_sq);
  else
    detail::for_each_nonzero(x, update, exp_avg, exp_avg_sq);
}

}  // namespace detail

DESCENT_DETAIL_KERNELS_END

/// SparseAdam: Adam whose moments and parameters move only where the gradient has nonzeros. It
/// takes sparse gradients only (descent::SparseOptimizer), as torch's: a dense one does not
/// compile (use descent::Adam). State: the first and second moments, created on the first step.
template <class V>
class SparseAdam {
  static_assert(detail::PlainEigen<V>, "descent::SparseAdam<V>: V must be an Eigen Matrix or Array of float or double");
  static_assert(bool(V::IsVectorAtCompileTime),
                "descent::SparseAdam<V>: V must be a vector type (VectorXd, ArrayXf, ...): it takes sparse vectors");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = SparseAdamOptions;

  SparseAdam() = default;
  explicit SparseAdam(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// One update of `params` (a V, Map, Ref, block or segment of V's shape) from a sparse gradient
  /// (an Eigen::SparseVector of V's scalar, or one column of a column-major Eigen::SparseMatrix):
  /// the formula of SparseAdamOptions at its distinct indices (a repeated index is summed first,
  /// as torch's coalesce()), in O(nonzeros). Throws std::invalid_argument on a shape mismatch, an
  /// index outside params or indices out of order, before writing anything. Strong guarantee: if
  /// anything throws, params, state and step count are as they were.
  template <detail::ParamsOf<V> P, detail::SparseExpression G>
  void step(P&& params, const G& grads) {
    detail::check_sparse_arguments<V, P, G>();
    const auto x = detail::sparse_spans<V>("SparseAdam", params, grads, steps_ > 0, m_.rows(), m_.cols());
    if (steps_ == 0) {
      V m, v;
      detail::init_state(m, params.rows(), params.cols(), Scalar(0));
      detail::init_state(v, params.rows(), params.cols(), Scalar(0));
      m_.swap(m);
      v_.swap(v);
    }
    detail::sparse_adam_update(x, options_, bc1_(options_.beta1, steps_ + 1), bc2_(options_.beta2, steps_ + 1),
                               m_.data(), v_.data());
    ++steps_;
  }

  /// A dense gradient is refused, as torch's SparseAdam refuses one ("SparseAdam does not support
  /// dense gradients, please consider Adam instead").
  template <class P, detail::DenseExpression G>
  detail::SparseGradientRefused step(P&&, const G&) {
    static_assert(detail::always_false<G>,
                  "descent::SparseAdam::step: the gradient is dense, but SparseAdam takes only sparse gradients "
                  "(Eigen::SparseVector), as torch's: use descent::Adam for dense ones");
    return {};
  }

  /// Drops the moments and the step count.
  void reset() {
    detail::release_state(m_);
    detail::release_state(v_);
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
  /// beta1, the momentum that schedules cycling momentum (OneCycleLR, CyclicLR) drive.
  double momentum() const { return options_.beta1; }
  /// Changes beta1 for the following steps; throws like the constructor on a bad value.
  void set_momentum(double beta1) {
    Options changed = options_;
    changed.beta1 = beta1;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }
  std::int64_t steps() const { return steps_; }
  /// The first moment (meaningful after the first step; only the indices seen so far have moved).
  const V& exp_avg() const { return m_; }
  /// The second moment (meaningful after the first step).
  const V& exp_avg_sq() const { return v_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  Options options_{};
  V m_{};
  V v_{};
  std::int64_t steps_ = 0;
  detail::BiasCorrection bc1_{}, bc2_{};
};

}  // namespace descent
