#pragma once
// L-BFGS (Nocedal 1980; Liu & Nocedal 1989) with an optional strong-Wolfe line search: torch.optim.LBFGS.
//
// Unlike the other optimizers it needs the objective, not one gradient: `opt.step(f, x)` runs what
// one torch `step(closure)` runs (up to max_iter iterations, each with one or more evaluations of f),
// and descent::minimize drives it with one minimize iteration per step (see ObjectiveOptimizer).

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/lanes.hpp"
#include "descent/objective.hpp"

namespace descent {

/// The line search of L-BFGS (torch's line_search_fn).
enum class LineSearch {
  None,         ///< fixed steps of length lr (torch's line_search_fn=None)
  StrongWolfe,  ///< torch's 'strong_wolfe': bracketing and cubic-interpolation zoom, c1 = 1e-4, c2 = 0.9
};

/// The enumerator's name, e.g. "StrongWolfe".
constexpr std::string_view to_string(LineSearch search) {
  switch (search) {
    case LineSearch::None:
      return "None";
    case LineSearch::StrongWolfe:
      return "StrongWolfe";
  }
  return "unknown";
}

inline std::ostream& operator<<(std::ostream& out, LineSearch search) { return out << to_string(search); }

/// Options of L-BFGS, torch 1.13's, with its defaults. One step(f, x) runs, from g = ∇f(x):
///   stop at once if max|g| <= tolerance_grad; otherwise up to max_iter iterations of
///     d ← −H·g (two-loop recursion over the last history_size pairs (s, y), with the initial
///         Hessian scaled by H_diag = sᵀy / yᵀy of the newest pair; d = −g on the very first iteration)
///     t ← lr, or min(1, 1/‖g‖₁)·lr on the very first iteration of the run
///     stop if gᵀd > −tolerance_change
///     x ← x + t·d, with t from the strong-Wolfe line search when line_search = StrongWolfe
///     (s, y) = (t·d, g_new − g) enters the history only when sᵀy > 1e-10
///   and the iterations end early when max_eval evaluations were made, max|g| <= tolerance_grad,
///   max|t·d| <= tolerance_change or |Δf| < tolerance_change.
/// The line search uses torch's fixed constants (c1 = 1e-4, c2 = 0.9, 25 evaluations at most, and
/// a bracket tolerance of 1e-9 that does not follow tolerance_change, as in torch 1.13).
struct LBFGSOptions {
  /// Step length: the trial step of the line search, or the fixed step without one. Default 1;
  /// finite and > 0.
  double lr = 1.0;
  /// Iterations per step(f, x) at most. Default 20; >= 1.
  std::int64_t max_iter = 20;
  /// Evaluations of f per step(f, x) at most (checked after each iteration, so a line search may
  /// pass it). Default 0, meaning max_iter · 5 / 4 (integer division), as torch's None; >= 0.
  std::int64_t max_eval = 0;
  /// The step ends when max|∇f| <= tolerance_grad. Default 1e-7; finite and >= 0.
  double tolerance_grad = 1e-7;
  /// The step ends when gᵀd, max|t·d| or the change of the loss fall below it. Default 1e-9;
  /// finite and >= 0.
  double tolerance_change = 1e-9;
  /// Pairs (s, y) kept. Default 100; >= 1. The history is allocated once, at the first step, for
  /// history_size + 1 pairs (one for the candidate pair): 2 · (history_size + 1) · n scalars (pages an OS maps lazily are touched only as
  /// the history fills).
  std::int64_t history_size = 100;
  /// Fixed steps or torch's strong-Wolfe line search. Default LineSearch::None.
  LineSearch line_search = LineSearch::None;

  /// max_eval with 0 resolved to max_iter · 5 / 4.
  std::int64_t resolved_max_eval() const { return max_eval > 0 ? max_eval : max_iter * 5 / 4; }

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate(const char* options_name = "LBFGSOptions") const {
    if (!(lr > 0.0) || !std::isfinite(lr)) detail::invalid_option(options_name, "lr", lr, "must be a finite number > 0");
    if (max_iter < 1) detail::invalid_option(options_name, "max_iter", double(max_iter), "must be >= 1");
    if (max_eval < 0) detail::invalid_option(options_name, "max_eval", double(max_eval), "must be >= 0 (0: max_iter * 5 / 4)");
    detail::require_nonnegative(options_name, "tolerance_grad", tolerance_grad);
    detail::require_nonnegative(options_name, "tolerance_change", tolerance_change);
    if (history_size < 1 || history_size > (std::int64_t(1) << 31))
      detail::invalid_option(options_name, "history_size", double(history_size), "must be in [1, 2^31]");
    if (line_search != LineSearch::None && line_search != LineSearch::StrongWolfe)
      detail::invalid_option(options_name, "line_search", double(int(line_search)), "must be None or StrongWolfe");
  }

  /// validate(), and that lr is finite in Scalar.
  template <class Scalar>
  void validate_for(const char* options_name = "LBFGSOptions") const {
    validate(options_name);
    detail::require_representable<Scalar>(options_name, "lr", lr);
  }
};

DESCENT_DETAIL_KERNELS_BEGIN

namespace detail {

/// A number of torch's L-BFGS line search as Python holds it: a float (double), or a 0-d tensor of
/// the parameters' dtype T (a dot product, and what arithmetic with one gives). Arithmetic and
/// comparisons follow torch's promotion: with a tensor operand both are rounded to T and the
/// result is a tensor; otherwise they are doubles. With T = double this is plain double arithmetic.
template <class T>
struct TorchNumber {
  double v = 0.0;
  bool is_tensor = false;

  static TorchNumber py(double x) { return {x, false}; }
  static TorchNumber tensor(T x) { return {double(x), true}; }

  template <class Op>
  static TorchNumber apply(TorchNumber a, TorchNumber b, Op op) {
    if (a.is_tensor || b.is_tensor) return tensor(op(T(a.v), T(b.v)));
    return py(op(a.v, b.v));
  }
  template <class Op>
  static bool compare(TorchNumber a, TorchNumber b, Op op) {
    return a.is_tensor || b.is_tensor ? op(T(a.v), T(b.v)) : op(a.v, b.v);
  }
  friend TorchNumber operator+(TorchNumber a, TorchNumber b) { return apply(a, b, [](auto x, auto y) { return x + y; }); }
  friend TorchNumber operator-(TorchNumber a, TorchNumber b) { return apply(a, b, [](auto x, auto y) { return x - y; }); }
  friend TorchNumber operator*(TorchNumber a, TorchNumber b) { return apply(a, b, [](auto x, auto y) { return x * y; }); }
  friend TorchNumber operator/(TorchNumber a, TorchNumber b) { return apply(a, b, [](auto x, auto y) { return x / y; }); }
  friend TorchNumber operator-(TorchNumber a) { return {-a.v, a.is_tensor}; }
  friend bool operator<(TorchNumber a, TorchNumber b) { return compare(a, b, [](auto x, auto y) { return x < y; }); }
  friend bool operator<=(TorchNumber a, TorchNumber b) { return compare(a, b, [](auto x, auto y) { return x <= y; }); }
  friend bool operator>(TorchNumber a, TorchNumber b) { return compare(a, b, [](auto x, auto y) { return x > y; }); }
  friend bool operator>=(TorchNumber a, TorchNumber b) { return compare(a, b, [](auto x, auto y) { return x >= y; }); }
  friend TorchNumber abs(TorchNumber a) { return {std::abs(a.v), a.is_tensor}; }
  friend TorchNumber sqrt(TorchNumber a) { return a.is_tensor ? tensor(std::sqrt(T(a.v))) : py(std::sqrt(a.v)); }
  /// Python's max(a, b) and min(a, b): a unless b compares strictly beyond it.
  friend TorchNumber py_max(TorchNumber a, TorchNumber b) { return b > a ? b : a; }
  friend TorchNumber py_min(TorchNumber a, TorchNumber b) { return b < a ? b : a; }
};

}  // namespace detail

/// L-BFGS. State (torch's): the history of pairs (s, y) and their 1/sᵀy, H_diag, the last
/// direction d and step t, the previous gradient and loss, and the iteration and evaluation counts;
/// all buffers are allocated at the first step (or after reset()) and reused.
///
/// Scalars: the dot products and what torch keeps as 0-d tensors (sᵀy, 1/sᵀy, H_diag, the
/// two-loop coefficients, gᵀd) are computed in the parameters' scalar type, as torch computes
/// them; the losses and the line search's step lengths in double where torch has Python floats and
/// in the scalar type where it has 0-d tensors, following torch's type promotion operation by
/// operation (detail::TorchNumber), so float runs take torch's line-search decisions too.
template <class V>
class LBFGS {
  static_assert(detail::PlainEigen<V>, "descent::LBFGS<V>: V must be an Eigen Matrix or Array of float or double");

 public:
  using Vector = V;
  using Scalar = typename V::Scalar;
  using Options = LBFGSOptions;
  /// Marks the objective form of the Optimizer contract (see ObjectiveOptimizer).
  static constexpr bool needs_objective = true;

  LBFGS() = default;
  explicit LBFGS(const Options& options) : options_(options) { options_.template validate_for<Scalar>(); }

  /// What torch's `step(closure)` runs, on the Objective `f` from `params` (a writable V, Map<V> or
  /// Ref<V>, updated in place; f is always called with it, holding the point being evaluated).
  /// Returns the loss at `params` on entry (torch returns the closure's first loss).
  ///
  /// If f returns a non-finite loss or gradient, the step ends there with params back at the last
  /// iterate where f was finite, and finite() is false until the next step. If f throws, params are
  /// put back to the last iterate the step had accepted, the optimizer is reset(), and the
  /// exception propagates. Throws std::invalid_argument if params change shape between steps.
  template <class F, detail::ParamsOf<V> P>
  requires Objective<std::remove_reference_t<F>, V>
  double step(F&& f, P&& params) {
    prepare(params.rows(), params.cols());
    const int g = free_buffer(-1, -1, -1);
    double loss = evaluate_into(f, params, g);
    ++func_evals_;
    const double orig = loss;
    cur_ = g;
    run(f, params, loss);
    return orig;
  }

  /// The form descent::minimize uses: `loss` and `grad` hold f's value and gradient at `params` on
  /// entry (so the step does not evaluate f there again), and on return hold them at the new
  /// params (evaluating f once more when the step's last iterate was not evaluated, as after a
  /// fixed step at max_iter). Follows exactly the trajectory of step(f, params). Returns finite().
  template <class F, detail::ParamsOf<V> P>
  requires Objective<std::remove_reference_t<F>, V>
  bool step(F&& f, P&& params, double& loss, V& grad) {
    prepare(params.rows(), params.cols());
    if (grad.rows() != params.rows() || grad.cols() != params.cols())
      throw std::invalid_argument("descent::LBFGS: the gradient's shape differs from the parameters'");
    cur_ = free_buffer(-1, -1, -1);
    grads_[cur_] = grad;
    gmax_[cur_] = max_abs(grads_[cur_]);
    ++func_evals_;  // torch evaluates f here: counted as torch counts it
    const bool fresh = run(f, params, loss);
    if (!fresh && finite_) {
      const int g = free_buffer(cur_, -1, -1);
      loss = evaluate_into(f, params, g);
      // not counted: it is the next step's first evaluation, which torch makes and counts there
      cur_ = g;
      finite_ = std::isfinite(loss) && std::isfinite(gmax_[cur_]);
    }
    grad = grads_[cur_];
    return finite_;
  }

  /// Forgets the history, the direction, the counters and every buffer; the next step is a first step.
  void reset() {
    n_iter_ = 0;
    func_evals_ = 0;
    count_ = 0;
    head_ = 0;
    h_diag_ = Scalar(1);
    t_ = 0.0;
    t_num_ = Num{};
    prev_loss_ = 0.0;
    finite_ = true;
    allocated_ = false;
    for (V& b : grads_) b = V();
    prev_grad_ = V();
    d_ = V();
    x0_ = V();
    s_ = Matrix();
    y_ = Matrix();
    ro_ = Flat();
    al_ = Flat();
  }

  const Options& options() const { return options_; }
  double lr() const { return options_.lr; }
  /// Changes lr for the following steps; throws like the constructor on a bad value.
  void set_lr(double lr) {
    Options changed = options_;
    changed.lr = lr;
    changed.template validate_for<Scalar>();
    options_ = changed;
  }

  /// Iterations since construction or reset() (torch's state['n_iter']).
  std::int64_t iterations() const { return n_iter_; }
  /// Evaluations of f since construction or reset(), as torch counts them (state['func_evals']).
  std::int64_t evaluations() const { return func_evals_; }
  /// Pairs (s, y) held now (<= history_size).
  std::int64_t history_count() const { return count_; }
  /// The scale of the initial inverse Hessian, sᵀy / yᵀy of the newest pair (1 before any).
  Scalar hessian_diagonal() const { return h_diag_; }
  /// The last search direction d (torch's state['d']); empty before the first iteration.
  const V& direction() const { return d_; }
  /// False when the last step ended at a non-finite loss or gradient (params were put back).
  bool finite() const { return finite_; }

 private:
  template <class>
  friend struct detail::StateAccess;
  using Flat = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  static constexpr int pool = 5;  // current gradient, two bracket ends, the previous trial, a new one

  static auto flat(V& v) { return Eigen::Map<Flat>(v.data(), v.size()); }
  static auto flat(const V& v) { return Eigen::Map<const Flat>(v.data(), v.size()); }

  void prepare(Eigen::Index rows, Eigen::Index cols) {
    if (allocated_) {
      if (d_.rows() != rows || d_.cols() != cols)
        throw std::invalid_argument(detail::concat("descent::LBFGS: the parameters' shape changed from ",
                                                   detail::shape_text(d_.rows(), d_.cols()), " to ",
                                                   detail::shape_text(rows, cols), " (reset() first)"));
      return;
    }
    for (V& b : grads_) b.resize(rows, cols);
    prev_grad_.resize(rows, cols);
    d_.resize(rows, cols);
    x0_.resize(rows, cols);
    const auto n = Eigen::Index(rows * cols), m = Eigen::Index(options_.history_size) + 1;
    s_.resize(n, m);
    y_.resize(n, m);
    ro_.resize(m);
    al_.resize(m);
    allocated_ = true;
  }

  // A pool buffer that is none of a, b, c.
  static int pick(int a, int b, int c) {
    for (int i = 0; i < pool; ++i)
      if (i != a && i != b && i != c) return i;
    return -1;
  }
  int free_buffer(int a, int b, int c) const { return pick(a == -1 ? cur_ : a, b, c); }

  template <class F, class P>
  double evaluate_into(F& f, P& params, int buffer) {
    V& g = grads_[buffer];
    g.setConstant(std::numeric_limits<Scalar>::quiet_NaN());
    const double loss = double(f(std::as_const(params), g));
    if (g.rows() != d_.rows() || g.cols() != d_.cols())
      throw std::invalid_argument(detail::concat("descent::LBFGS: the objective resized its gradient to ",
                                                 detail::shape_text(g.rows(), g.cols())));
    gmax_[buffer] = max_abs(g);
    return loss;
  }

  template <class P>
  static void move_to(P& params, const V& x0, double t, const V& d) {
    const auto ts = Scalar(t);
    params.matrix().reshaped() = flat(x0) + ts * flat(d);
  }

  template <class P>
  static void add_step(P& params, double t, const V& d) {
    const auto ts = Scalar(t);
    params.matrix().reshaped() += ts * flat(d);
  }

  // max |v_i|, NaN if any v_i is NaN: the finiteness check and torch's max|g| in one vectorized pass
  // (allFinite() is a scalar loop).
  static Scalar max_abs(const V& v) { return flat(v).cwiseAbs().template maxCoeff<Eigen::PropagateNaN>(); }

  // One torch step from params with loss `loss` and its gradient in grads_[cur_]. Returns whether
  // grads_[cur_] and loss are f's at the final params.
  template <class F, class P>
  bool run(F& f, P& params, double& loss) {
    DESCENT_DETAIL_NO_CONTRACT
    finite_ = std::isfinite(loss) && std::isfinite(gmax_[cur_]);
    if (!finite_) return true;
    std::int64_t current_evals = 1;  // the evaluation at params, which the caller counted
    if (gmax_[cur_] <= Scalar(options_.tolerance_grad)) return true;

    const std::int64_t max_eval = options_.resolved_max_eval();
    const Eigen::Index m = Eigen::Index(options_.history_size);
    std::int64_t n_iter = 0;
    bool fresh = true;
    try {
      while (n_iter < options_.max_iter) {
        ++n_iter;
        ++n_iter_;
        const V& g = grads_[cur_];
        auto d = flat(d_);
        if (n_iter_ == 1) {
          d = -flat(g);
          count_ = 0;
          head_ = 0;
          h_diag_ = Scalar(1);
        } else {
          // The ring has one slot more than history_size, so the candidate pair never overwrites a
          // live one: it is kept only if sᵀy > 1e-10, and then the oldest is dropped if need be.
          const Eigen::Index ring = m + 1;
          const Eigen::Index slot = (head_ + count_) % ring;
          auto y = y_.col(slot);
          auto s = s_.col(slot);
          y = flat(g) - flat(prev_grad_);
          s = flat(d_) * Scalar(t_);
          const Scalar ys = y.dot(s);
          if (ys > Scalar(1e-10)) {
            if (count_ == m) head_ = (head_ + 1) % ring;
            else ++count_;
            ro_(slot) = Scalar(1) / ys;
            h_diag_ = ys / y.dot(y);
          }
          d = -flat(g);
          for (Eigen::Index k = count_ - 1; k >= 0; --k) {
            const Eigen::Index i = (head_ + k) % ring;
            al_(i) = s_.col(i).dot(d) * ro_(i);
            d -= al_(i) * y_.col(i);
          }
          d *= h_diag_;
          for (Eigen::Index k = 0; k < count_; ++k) {
            const Eigen::Index i = (head_ + k) % ring;
            const Scalar be = y_.col(i).dot(d) * ro_(i);
            d += (al_(i) - be) * s_.col(i);
          }
        }
        prev_grad_ = g;
        prev_loss_ = loss;

        if (n_iter_ == 1) {
          // torch: min(1., 1. / |g|.sum()) * lr, a 0-d tensor of the parameters' dtype when 1/|g| wins
          const Scalar inv = Scalar(1) / flat(g).cwiseAbs().sum();
          t_num_ = inv < Scalar(1) ? Num::tensor(inv * Scalar(options_.lr)) : Num::py(options_.lr);
        } else {
          t_num_ = Num::py(options_.lr);
        }
        t_ = t_num_.v;
        const Scalar gtd = flat(g).dot(flat(d_));
        if (gtd > Scalar(-options_.tolerance_change)) break;

        std::int64_t ls_evals = 0;
        // x0 is what a non-finite (or throwing) evaluation puts params back to; a fixed last step is
        // followed by none, so it needs no copy (a pass over n saved per step with max_iter = 1).
        if (options_.line_search == LineSearch::StrongWolfe || n_iter != options_.max_iter) x0_ = params;
        if (options_.line_search == LineSearch::StrongWolfe) {
          if (!strong_wolfe(f, params, loss, gtd, ls_evals)) {
            params = x0_;
            func_evals_ += ls_evals;
            finite_ = false;
            return true;
          }
          add_step(params, t_, d_);
          fresh = true;
        } else {
          add_step(params, t_, d_);
          if (n_iter != options_.max_iter) {
            const int b = free_buffer(-1, -1, -1);
            const double next = evaluate_into(f, params, b);
            ls_evals = 1;
            if (!std::isfinite(next) || !std::isfinite(gmax_[b])) {
              params = x0_;
              func_evals_ += ls_evals;
              finite_ = false;
              return true;
            }
            loss = next;
            cur_ = b;
            fresh = true;
          } else {
            fresh = false;
          }
        }
        current_evals += ls_evals;
        func_evals_ += ls_evals;

        if (n_iter == options_.max_iter) break;
        if (current_evals >= max_eval) break;
        if (gmax_[cur_] <= Scalar(options_.tolerance_grad)) break;
        if ((flat(d_) * Scalar(t_)).cwiseAbs().maxCoeff() <= Scalar(options_.tolerance_change)) break;
        if (std::abs(loss - prev_loss_) < options_.tolerance_change) break;
      }
    } catch (...) {
      if (allocated_ && x0_.size() == d_.size() && n_iter > 0) params = x0_;
      reset();
      throw;
    }
    return fresh;
  }

  using Num = detail::TorchNumber<Scalar>;

  // torch 1.13's cubic interpolation of (x1, f1, g1), (x2, f2, g2) within [lo, hi], clamped with
  // Python's min/max (which keep their first argument on ties and NaN).
  static Num cubic(Num x1, Num f1, Num g1, Num x2, Num f2, Num g2, Num lo, Num hi) {
    const Num d1 = g1 + g2 - Num::py(3.0) * (f1 - f2) / (x1 - x2);
    const Num d2_square = d1 * d1 - g1 * g2;
    if (d2_square >= Num::py(0.0)) {
      const Num d2 = sqrt(d2_square);
      const Num two = Num::py(2.0);
      const Num min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + two * d2))
                                   : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + two * d2));
      return py_min(py_max(min_pos, lo), hi);
    }
    return (lo + hi) / Num::py(2.0);
  }
  static Num cubic(Num x1, Num f1, Num g1, Num x2, Num f2, Num g2) {
    return x1 <= x2 ? cubic(x1, f1, g1, x2, f2, g2, x1, x2) : cubic(x1, f1, g1, x2, f2, g2, x2, x1);
  }

  // torch 1.13's _strong_wolfe from x0_ along d_, starting at t_ with loss f0 and gradient
  // grads_[cur_]. On success: t_, loss and cur_ are those of the accepted point (params are left at
  // x0_; the caller steps). Returns false at a non-finite evaluation. Gradients are never copied:
  // the bracket's ends refer to pool buffers, and each trial writes into one they do not use.
  template <class F, class P>
  bool strong_wolfe(F& f, P& params, double& loss, Scalar gtd_scalar, std::int64_t& evals) {
    const Num c1 = Num::py(1e-4), c2 = Num::py(0.9), tolerance_change = Num::py(1e-9);
    constexpr std::int64_t max_ls = 25;
    const Num f0 = Num::py(loss), gtd = Num::tensor(gtd_scalar);
    const int g0 = cur_;
    const Num d_norm = Num::tensor(max_abs(d_));

    auto trial = [&](Num t, int buffer, Num& fv, Num& gtdv) {
      move_to(params, x0_, t.v, d_);
      const double value = evaluate_into(f, params, buffer);
      params = x0_;
      ++evals;
      if (!std::isfinite(value) || !std::isfinite(gmax_[buffer])) return false;
      fv = Num::py(value);
      gtdv = Num::tensor(flat(grads_[buffer]).dot(flat(d_)));
      return true;
    };

    Num t = t_num_;
    int g_new = pick(g0, -1, -1);
    Num f_new, gtd_new;
    if (!trial(t, g_new, f_new, gtd_new)) return false;

    Num t_prev = Num::py(0.0), f_prev = f0, gtd_prev = gtd;
    int g_prev = g0;
    Num bt[2], bf[2], bgtd[2];
    int bg[2] = {-1, -1};
    int size = 0;
    bool done = false;
    std::int64_t ls_iter = 0;
    auto bracket = [&](Num ta, Num fa, int ga, Num gtda, Num tb, Num fb, int gb, Num gtdb) {
      bt[0] = ta, bf[0] = fa, bg[0] = ga, bgtd[0] = gtda;
      bt[1] = tb, bf[1] = fb, bg[1] = gb, bgtd[1] = gtdb;
      size = 2;
    };
    while (ls_iter < max_ls) {
      if (f_new > f0 + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev)) {
        bracket(t_prev, f_prev, g_prev, gtd_prev, t, f_new, g_new, gtd_new);
        break;
      }
      if (abs(gtd_new) <= -c2 * gtd) {
        bt[0] = t, bf[0] = f_new, bg[0] = g_new;
        size = 1;
        done = true;
        break;
      }
      if (gtd_new >= Num::py(0.0)) {
        bracket(t_prev, f_prev, g_prev, gtd_prev, t, f_new, g_new, gtd_new);
        break;
      }
      const Num min_step = t + Num::py(0.01) * (t - t_prev), max_step = t * Num::py(10.0);
      const Num previous = t;
      t = cubic(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, min_step, max_step);
      t_prev = previous;
      f_prev = f_new;
      g_prev = g_new;
      gtd_prev = gtd_new;
      g_new = pick(g0, g_prev, -1);
      if (!trial(t, g_new, f_new, gtd_new)) return false;
      ++ls_iter;
    }
    if (ls_iter == max_ls) {
      bt[0] = Num::py(0.0), bf[0] = f0, bg[0] = g0;
      bt[1] = t, bf[1] = f_new, bg[1] = g_new;
      size = 2;
    }

    bool insufficient = false;
    int low = 0, high = 1;
    if (!(bf[0] <= bf[size - 1])) low = 1, high = 0;
    while (!done && ls_iter < max_ls) {
      if (abs(bt[1] - bt[0]) * d_norm < tolerance_change) break;
      t = cubic(bt[0], bf[0], bgtd[0], bt[1], bf[1], bgtd[1]);
      const Num bmax = py_max(bt[0], bt[1]), bmin = py_min(bt[0], bt[1]);
      const Num eps = Num::py(0.1) * (bmax - bmin);
      if (py_min(bmax - t, t - bmin) < eps) {
        if (insufficient || t >= bmax || t <= bmin) {
          t = abs(t - bmax) < abs(t - bmin) ? bmax - eps : bmin + eps;
          insufficient = false;
        } else {
          insufficient = true;
        }
      } else {
        insufficient = false;
      }
      const int b = pick(g0, bg[0], bg[1]);
      if (!trial(t, b, f_new, gtd_new)) return false;
      ++ls_iter;
      if (f_new > f0 + c1 * t * gtd || f_new >= bf[low]) {
        bt[high] = t, bf[high] = f_new, bg[high] = b, bgtd[high] = gtd_new;
        if (bf[0] <= bf[1]) low = 0, high = 1;
        else low = 1, high = 0;
      } else {
        if (abs(gtd_new) <= -c2 * gtd) {
          done = true;
        } else if (gtd_new * (bt[high] - bt[low]) >= Num::py(0.0)) {
          bt[high] = bt[low], bf[high] = bf[low], bg[high] = bg[low], bgtd[high] = bgtd[low];
        }
        bt[low] = t, bf[low] = f_new, bg[low] = b, bgtd[low] = gtd_new;
      }
    }
    t_num_ = bt[low];
    t_ = t_num_.v;
    loss = bf[low].v;
    cur_ = bg[low];
    return true;
  }

  Options options_{};
  V grads_[pool]{};
  Scalar gmax_[pool]{};  // max |g_i| of each pool gradient (NaN if any is), set when it is written
  V prev_grad_{}, d_{}, x0_{};
  Matrix s_{}, y_{};
  Flat ro_{}, al_{};
  Eigen::Index head_ = 0, count_ = 0;
  Scalar h_diag_ = Scalar(1);
  double t_ = 0.0, prev_loss_ = 0.0;
  Num t_num_{};  // t_ as torch holds it: a Python float, or a 0-d tensor on the very first iteration
  std::int64_t n_iter_ = 0, func_evals_ = 0;
  int cur_ = 0;
  bool finite_ = true, allocated_ = false;
};

DESCENT_DETAIL_KERNELS_END

}  // namespace descent
