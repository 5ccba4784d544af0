#pragma once
// Data-parallel train over a descent::Communicator: every rank holds the whole parameters and the
// same optimizer state, draws the same global batch, evaluates its slice of it, and steps on the
// gradient averaged over all ranks. Needs no MPI itself (descent::SingleProcess runs it in one
// process); <descent/distributed/mpi.hpp> adds the communicator over MPI. See docs/distributed.md.

#include <Eigen/Core>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "descent/callbacks.hpp"
#include "descent/detail/checks.hpp"
#include "descent/detail/driver.hpp"
#include "descent/distributed/communicator.hpp"
#include "descent/objective.hpp"
#include "descent/optimizer.hpp"
#include "descent/sampler.hpp"
#include "descent/stopping.hpp"
#include "descent/train.hpp"

namespace descent::detail {

/// Rank r's share of a batch of `count` samples split over `ranks`: [count·r/ranks,
/// count·(r+1)/ranks), so the slices differ in length by at most one and cover the batch in order.
inline std::pair<std::size_t, std::size_t> slice_bounds(std::size_t count, int rank, int ranks) {
  const auto p = std::uint64_t(ranks);
  return {std::size_t(std::uint64_t(count) * std::uint64_t(rank) / p),
          std::size_t(std::uint64_t(count) * std::uint64_t(rank + 1) / p)};
}

/// Throws, on every rank, the error of a collective evaluation in which `failed` ranks threw (their
/// ranks summing to `rank_sum`): the rank's own exception where it threw, a std::runtime_error
/// naming the rank(s) elsewhere. Every rank throws, so no rank goes on into a collective the others
/// have left.
[[noreturn]] inline void rethrow_collective(std::string_view what, const std::exception_ptr& own, double failed,
                                            double rank_sum, int ranks) {
  if (own) std::rethrow_exception(own);
  const auto count = std::int64_t(failed);
  throw std::runtime_error(
      count == 1 ? concat("descent::distributed: ", what, " threw on rank ", std::to_string(std::int64_t(rank_sum)),
                          " (of ", std::to_string(ranks), "); every rank stops with this exception")
                 : concat("descent::distributed: ", what, " threw on ", std::to_string(count), " of ",
                          std::to_string(ranks), " ranks; every rank stops with this exception"));
}

}  // namespace descent::detail

namespace descent::distributed {

/// A StochasticObjective that evaluates, on each rank of `comm`, the rank's contiguous slice of
/// the batch it is given (rank r of p: samples [b·r/p, b·(r+1)/p) of a batch of b) and combines the
/// ranks' mean losses and gradients into the mean over the whole batch, the exact weighted mean
/// Σᵣ (bᵣ/b)·meanᵣ: uneven slices and a short last batch need no padding, and a rank whose slice is
/// empty contributes nothing (`f` is not called with an empty batch). One allreduce_sum per call,
/// over the weighted gradient, the weighted loss and two error counters (n + 3 scalars of the
/// gradient's type), so every rank returns the same loss and gradient.
///
/// A NaN or infinity on one rank is in the sum, so every rank sees a non-finite loss or gradient at
/// the same step and train stops all of them with StopReason::NonFinite. An exception from `f` on
/// one rank is rethrown there and, as a std::runtime_error naming that rank, on every other one,
/// after the reduction: no rank is left waiting in it. With one rank, `f` is called directly.
///
/// Every rank must call it with the same batch (the same sampler, seed and position) and
/// parameters: descent::distributed::train checks that and broadcasts the parameters before it
/// starts; Sharded alone checks nothing. `f` is held by reference if an lvalue, moved in otherwise;
/// the communicator is held by reference. Dense gradients only.
template <class F, Communicator C>
class Sharded {
 public:
  Sharded(F&& f, C& comm) : f_(std::forward<F>(f)), comm_(&comm) {}

  /// The objective's number of samples.
  Eigen::Index size() const { return Eigen::Index(std::as_const(f_).size()); }

  /// The mean loss over `batch`, and its gradient in `grad`, computed by all ranks together.
  // clang-format off
  template <class X, class G>
  requires std::is_invocable_v<std::remove_reference_t<F>&, const X&, Batch, G&>
  typename G::Scalar operator()(const X& x, Batch batch, G& grad) {
    // clang-format on
    using Scalar = typename G::Scalar;
    static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                  "descent::distributed::Sharded: communicators reduce float or double gradients only");
    const int ranks = comm_->size(), rank = comm_->rank();
    if (ranks == 1) return Scalar(f_(x, batch, grad));

    const auto [begin, end] = detail::slice_bounds(batch.size(), rank, ranks);
    const Batch slice = batch.subspan(begin, end - begin);
    const Eigen::Index n = grad.size(), rows = grad.rows(), cols = grad.cols();
    std::vector<Scalar>& buffer = buffer_for<Scalar>();
    buffer.resize(std::size_t(n) + 3);
    Eigen::Map<Eigen::Array<Scalar, Eigen::Dynamic, 1>> sum(buffer.data(), n + 1);
    std::exception_ptr error;
    sum.setZero();
    if (!slice.empty()) {
      try {
        const double loss = double(f_(x, slice, grad));
        detail::check_gradient_shape("train", grad, rows, cols);
        const double weight = double(slice.size()) / double(batch.size());
        sum.head(n) = Scalar(weight) * grad.reshaped().array();
        sum[n] = Scalar(weight * loss);
      } catch (...) {
        error = std::current_exception();
        sum.setZero();
      }
    }
    // The error counters ride in the same reduction, so a failing rank costs no extra collective.
    const std::size_t failed = std::size_t(n) + 1, failed_rank = std::size_t(n) + 2;
    buffer[failed] = error ? Scalar(1) : Scalar(0);
    buffer[failed_rank] = error ? Scalar(rank) : Scalar(0);
    comm_->allreduce_sum(std::span<Scalar>(buffer));
    if (buffer[failed] != Scalar(0))
      detail::rethrow_collective("the objective", error, double(buffer[failed]), double(buffer[failed_rank]), ranks);
    grad.reshaped().array() = sum.head(n);
    return sum[n];
  }

 private:
  template <class Scalar>
  std::vector<Scalar>& buffer_for() {
    if constexpr (std::is_same_v<Scalar, float>)
      return float_buffer_;
    else
      return double_buffer_;
  }

  F f_;
  C* comm_;
  // Kept across calls so that a step allocates nothing; one per scalar type the communicator takes.
  std::vector<float> float_buffer_;
  std::vector<double> double_buffer_;
};

template <class F, class C>
Sharded(F&&, C&) -> Sharded<F, C>;

/// Wraps a callback so that it runs on rank 0 only: for what prints or writes files (ProgressBar,
/// PrintEvery, a History whose CSV only rank 0 writes). On other ranks its call does nothing (and
/// says "go on"), and neither do on_end and on_abort. Make it with descent::distributed::on_root.
/// A callback that changes the parameters in on_end (EarlyStopping with restore_best) must not be
/// wrapped: it has to run on every rank, or the ranks' parameters part.
template <class Cb>
class RootOnly {
 public:
  RootOnly(Cb&& callback, bool root) : callback_(std::forward<Cb>(callback)), root_(root) {}

  template <class V>
  requires Callback<std::remove_reference_t<Cb>, V>
  auto operator()(const Progress<V>& p) {
    using Result = std::invoke_result_t<std::remove_reference_t<Cb>&, const Progress<V>&>;
    if constexpr (std::is_void_v<Result>) {
      if (root_) std::invoke(callback_, p);
    } else {
      return root_ ? static_cast<bool>(std::invoke(callback_, p)) : true;
    }
  }

  template <class X>
  requires detail::HasOnEnd<std::remove_reference_t<Cb>, X>
  bool on_end(X& x, const Report& report) {
    if (!root_) return false;
    if constexpr (std::is_convertible_v<decltype(callback_.on_end(x, report)), bool>) {
      return bool(callback_.on_end(x, report));
    } else {
      callback_.on_end(x, report);
      return false;
    }
  }

  void on_abort() requires detail::HasOnAbort<std::remove_reference_t<Cb>> {
    if (root_) callback_.on_abort();
  }

  /// The wrapped callback (for reading what it recorded on rank 0).
  std::remove_reference_t<Cb>& get() { return callback_; }

 private:
  Cb callback_;
  bool root_;
};

/// `callback` on rank 0 of `comm` only (see RootOnly): held by reference if an lvalue, moved in
/// otherwise. `descent::distributed::on_root(comm, descent::ProgressBar{})`.
template <Communicator C, class Cb>
RootOnly<Cb> on_root(const C& comm, Cb&& callback) {
  return RootOnly<Cb>(std::forward<Cb>(callback), comm.rank() == 0);
}

}  // namespace descent::distributed

namespace descent::detail {

/// What every rank of a distributed run must agree on, flattened into doubles (exact: sizes below
/// 2⁵³, 64-bit words as four 16-bit pieces) so that rank 0 can broadcast it and each rank compare.
class RunDescription {
 public:
  void add(const char* name, double value) {
    items_.push_back({name, values_.size(), 1});
    values_.push_back(value);
  }
  void add_word(const char* name, std::uint64_t word) {
    items_.push_back({name, values_.size(), 4});
    for (int k = 0; k < 4; ++k) values_.push_back(double((word >> (16 * k)) & 0xffffu));
  }

  /// Throws std::invalid_argument, on every rank, if any rank's description differs from rank
  /// 0's: one broadcast and one allreduce_sum, entered by every rank whatever its values.
  template <class C>
  void check_agreement(C& comm) const {
    std::vector<double> root = values_;
    comm.broadcast(std::span<double>(root), 0);
    std::vector<double> differs(items_.size());
    for (std::size_t i = 0; i < items_.size(); ++i) differs[i] = same(root, i) ? 0 : 1;
    std::vector<double> ranks_differing = differs;
    comm.allreduce_sum(std::span<double>(ranks_differing));
    std::string message;
    for (std::size_t i = 0; i < items_.size(); ++i) {
      if (ranks_differing[i] == 0) continue;
      message.append(message.empty() ? "" : "; ");
      message.append(concat(items_[i].name, " (rank 0 has ", text(root, i)));
      if (differs[i] != 0)
        message.append(concat(", this rank (", std::to_string(comm.rank()), ") has ", text(values_, i)));
      const auto count = std::int64_t(ranks_differing[i]);
      message.append(concat("; ", std::to_string(count), " of the ", std::to_string(comm.size()), " ranks ",
                            count == 1 ? "differs" : "differ", " from rank 0)"));
    }
    if (!message.empty())
      throw std::invalid_argument(
          concat("descent::distributed::train: every rank must be given the same run, but they differ in ", message));
  }

 private:
  struct Item {
    const char* name;
    std::size_t begin, width;
  };

  // Bitwise, so that a NaN criterion (which validation refuses later, on every rank) compares equal.
  bool same(const std::vector<double>& root, std::size_t i) const {
    for (std::size_t k = items_[i].begin; k < items_[i].begin + items_[i].width; ++k)
      if (std::bit_cast<std::uint64_t>(root[k]) != std::bit_cast<std::uint64_t>(values_[k])) return false;
    return true;
  }
  std::string text(const std::vector<double>& values, std::size_t i) const {
    if (items_[i].width == 1) return format_number(values[items_[i].begin]);
    std::uint64_t word = 0;
    for (std::size_t k = 0; k < 4; ++k) word |= std::uint64_t(values[items_[i].begin + k]) << (16 * k);
    return std::to_string(word);
  }

  std::vector<Item> items_;
  std::vector<double> values_;
};

/// A 64-bit digest of the batch the sampler gives next (drawn from a copy, so the sampler itself
/// does not move): equal on two ranks when their samplers are at the same point of the same stream.
inline std::uint64_t next_batch_digest(const MinibatchSampler& sampler) {
  if (sampler.batches_per_epoch() == 0) return 0;
  MinibatchSampler copy = sampler;
  std::uint64_t digest = 0x9e3779b97f4a7c15u;
  for (Eigen::Index i : copy.next()) digest = SplitMix64(digest ^ std::uint64_t(i))();
  return SplitMix64(digest ^ std::uint64_t(copy.epoch()))();
}

/// The callbacks of a distributed run, called as one: on every rank, after which the ranks vote
/// with one allreduce_sum of four scalars (any callback that said stop, rank 0's clock past the time
/// limit, any callback that threw), so that every rank takes the same decision at the same step.
/// Callbacks see the run's own criteria (with its time limit), not the inner train's.
template <class V, class C, class... Cb>
class CollectiveCallbacks {
 public:
  CollectiveCallbacks(C& comm, const StopCriteria& criteria, bool vote, std::chrono::steady_clock::time_point start,
                      Cb&... callbacks)
      : comm_(&comm), criteria_(criteria), vote_(vote), start_(start), callbacks_(callbacks...) {}

  bool operator()(const Progress<V>& p) {
    const Progress<V> seen{p.iteration, p.epoch,        p.loss,    p.gradient_norm,
                           p.params,    p.end_of_epoch, criteria_, p.stochastic};
    bool go_on = true;
    std::exception_ptr error;
    try {
      go_on = std::apply([&](auto&... cb) { return notify_all(seen, cb...); }, callbacks_);
    } catch (...) {
      error = std::current_exception();
    }
    if (!vote_) {
      if (error) std::rethrow_exception(error);
      return go_on;
    }
    // The time limit is rank 0's alone: the ranks' clocks need not agree.
    const bool time_up = comm_->rank() == 0 && criteria_.time_limit > 0 && !p.end_of_epoch &&
                         seconds_since(start_) >= criteria_.time_limit;
    double votes[4] = {go_on ? 0.0 : 1.0, time_up ? 1.0 : 0.0, error ? 1.0 : 0.0, error ? double(comm_->rank()) : 0.0};
    comm_->allreduce_sum(std::span<double>(votes));
    if (votes[2] != 0) rethrow_collective("a callback", error, votes[2], votes[3], comm_->size());
    if (votes[0] != 0) return false;
    if (votes[1] != 0) {
      timed_out_ = true;
      return false;
    }
    return true;
  }

  template <class X>
  void on_end(X& x, const Report& report) {
    std::apply([&](auto&... cb) { end_callbacks(x, patched(report), cb...); }, callbacks_);
  }

  void on_abort() {
    std::apply([](auto&... cb) { abort_callbacks(cb...); }, callbacks_);
  }

  /// The report as the run ends it: a stop by the time limit is TimeLimit, not Callback.
  Report patched(Report report) const {
    if (timed_out_) report.reason = StopReason::TimeLimit;
    return report;
  }

 private:
  C* comm_;
  StopCriteria criteria_;
  bool vote_;
  std::chrono::steady_clock::time_point start_;
  std::tuple<Cb&...> callbacks_;
  bool timed_out_ = false;
};

}  // namespace descent::detail

namespace descent::distributed {

/// descent::train over the ranks of `comm`, data-parallel: the same arguments, and the same
/// Report on every rank, with the communicator between the criteria and the callbacks. Every rank
/// calls it with the same objective (over the same data), parameter shape, optimizer (constructed
/// the same way: its state is never sent), sampler (same n, options, seed and position), criteria
/// and callbacks. Then:
///   - it checks that the ranks agree on the parameters' shape and scalar type, the objective's
///     and the sampler's size, the sampler's options, seed and position (the digest of its next
///     batch), and the criteria; if not, every rank throws std::invalid_argument naming what
///     differs (one broadcast and one reduction, so no rank hangs);
///   - it broadcasts the parameters from rank 0, so the ranks start from the same point;
///   - every rank draws the same global batch, evaluates its contiguous slice and steps on the
///     averaged gradient (descent::distributed::Sharded: one allreduce_sum of n + 3 scalars per
///     step); the optimizer, clipping, groups and schedules see the reduced gradient, so they
///     work unchanged and every rank's parameters and state stay bitwise identical;
///   - stop decisions are collective: a non-finite loss or gradient on any rank is non-finite in
///     the sum and stops every rank at that step (NonFinite, the step undone as in train); after
///     each step (and each epoch's end) the callbacks run on every rank and the ranks vote (one
///     more allreduce_sum of 4 doubles, made only when there are callbacks or a time limit): the
///     run stops, on every rank, if a callback on any rank returned false (Callback)
///     or rank 0's clock passed the time limit (TimeLimit, checked after each step, so at least one
///     step is taken); an exception from the objective or a callback on one rank is rethrown on
///     every rank.
/// Callbacks run on every rank; wrap those that print or write in on_root. The communicator is
/// used during the call only (a temporary such as descent::SingleProcess{} is fine). The loss, the
/// iterations, the epochs, the reason and the message of the Report are the same on every rank;
/// seconds is each rank's own. With one rank (SingleProcess) it is descent::train, bitwise.
/// Dense gradients only (a sparse objective is refused at compile time).
// clang-format off
template <class F, detail::DriverParams X, class O, class S, class C, class... Cb>
requires Communicator<std::remove_reference_t<C>> &&
         StochasticObjective<std::remove_reference_t<F>, detail::params_vector_t<X>> &&
         std::same_as<std::remove_cvref_t<S>, MinibatchSampler> && (!std::is_const_v<std::remove_reference_t<S>>) &&
         (Callback<std::remove_reference_t<Cb>, detail::params_vector_t<X>> && ...)
Report train(F&& f, X&& x, O&& optimizer, S&& sampler, const StopCriteria& stop, C&& comm, Cb&&... callbacks) {
  // clang-format on
  using V = detail::params_vector_t<X>;
  using Scalar = typename V::Scalar;
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "descent::distributed::train: communicators reduce float or double gradients only");
  if (comm.size() == 1)
    return descent::train(std::forward<F>(f), std::forward<X>(x), std::forward<O>(optimizer), std::forward<S>(sampler),
                          stop, std::forward<Cb>(callbacks)...);

  // Even a callback that cannot stop the run can throw, and a rank that left alone would leave the
  // others waiting in the next step's reduction: with callbacks, the ranks vote after every call.
  constexpr bool has_callbacks = sizeof...(Cb) > 0;
  const bool vote = has_callbacks || stop.time_limit > 0;

  // Compared before anything a rank could refuse on its own (a throw on one rank alone would leave
  // the others waiting in the first collective).
  detail::RunDescription description;
  description.add("the size in bytes of the parameters' scalar type", double(sizeof(Scalar)));
  description.add("the parameters' rows", double(x.rows()));
  description.add("the parameters' columns", double(x.cols()));
  description.add("the objective's size()", double(Eigen::Index(std::as_const(f).size())));
  description.add("the sampler's n", double(sampler.size()));
  description.add("the sampler's batch_size", double(sampler.options().batch_size));
  description.add("the sampler's shuffle", double(sampler.options().shuffle));
  description.add("the sampler's drop_last", double(sampler.options().drop_last));
  description.add("the sampler's with_replacement", double(sampler.options().with_replacement));
  description.add_word("the sampler's seed", sampler.options().seed);
  description.add("the sampler's epoch", double(sampler.epoch()));
  description.add_word("the digest of the sampler's next batch (its position in its stream)",
                       detail::next_batch_digest(sampler));
  description.add("max_iterations", double(stop.max_iterations));
  description.add("max_epochs", double(stop.max_epochs));
  description.add("loss_tolerance", stop.loss_tolerance);
  description.add("time_limit", stop.time_limit);
  description.add("whether callbacks were given", double(has_callbacks));
  description.check_agreement(comm);

  {
    V start = x;
    comm.broadcast(std::span<Scalar>(start.data(), std::size_t(start.size())), 0);
    x = start;
  }

  // The same on every rank now, so it throws on all of them or on none.
  const StopCriteria criteria = stop.resolved<Scalar>(true);
  StopCriteria inner = criteria;
  inner.time_limit = 0;  // decided by the vote, on rank 0's clock
  if (inner.max_iterations == 0 && inner.max_epochs == 0 && inner.loss_tolerance == 0 && criteria.time_limit > 0)
    inner.max_iterations = std::numeric_limits<std::int64_t>::max();

  const auto start = std::chrono::steady_clock::now();
  detail::CollectiveCallbacks<V, std::remove_reference_t<C>, std::remove_reference_t<Cb>...> collective(
      comm, criteria, vote, start, callbacks...);
  Sharded sharded(std::forward<F>(f), comm);
  Report report = descent::train(sharded, std::forward<X>(x), std::forward<O>(optimizer), std::forward<S>(sampler),
                                 inner, collective);
  return collective.patched(std::move(report));
}

}  // namespace descent::distributed
