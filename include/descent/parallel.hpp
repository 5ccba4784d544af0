#pragma once
// Threads for large models: a small persistent pool, a scope that splits the optimizers' steps over
// it, and BatchSplit, which spreads a batch's gradient over it with a reduction in a fixed order.
//
// An optimizer step is one element-wise pass over the parameters, the gradient and the state, so
// it is bound by memory bandwidth, not arithmetic. More threads help only where more cores reach
// more bandwidth than one (a server's many memory channels); where the cores share one memory path
// (a 2-vCPU VM, a laptop) a split is no faster or slower. So it is opt-in, per scope:
//
//   descent::ThreadPool pool(4);
//   {
//     descent::ParallelSteps parallel(pool, {.min_size = 1 << 20});
//     opt.step(x, g);  // or train(...): every step on this thread in the scope
//   }
//
// The coefficients are split into contiguous chunks whose boundaries are multiples of a cache line
// (64 bytes) from the first coefficient, so no two threads write one line (when the parameters are
// aligned to 64 bytes) and every chunk but the last runs in whole SIMD packets: each coefficient
// goes through exactly the arithmetic of the single-threaded step, and the result is bitwise the
// same for any number of threads.

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <span>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace descent {

/// A fixed set of threads that run one task at a time, kept for the pool's lifetime (no thread is
/// created per step). `run(task)` calls task(i) for every i in [0, size()): i = 0 on the calling
/// thread, the others on the pool's workers, and returns when all have returned.
class ThreadPool {
 public:
  /// `threads`: how many threads run a task, the caller's included (so threads − 1 workers are
  /// started). Must be at least 1.
  explicit ThreadPool(unsigned threads) : size_(threads) {
    if (threads == 0) throw std::invalid_argument("descent::ThreadPool: threads must be at least 1 (got 0)");
    errors_.resize(threads);  // here, so that a step's run() never allocates
    workers_.reserve(threads - 1);
    try {
      for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
    } catch (...) {  // a thread could not be started: stop those that were
      stop();
      throw;
    }
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() { stop(); }

  /// Threads that run each task, the caller's included.
  unsigned size() const noexcept { return size_; }

  /// Tasks this pool has handed to its workers so far (a run() that ran on the caller alone, with
  /// one thread or nested, is not counted): how a program can tell that a ParallelSteps scope
  /// applies to its steps.
  std::uint64_t runs() const noexcept { return runs_.load(std::memory_order_relaxed); }

  /// Calls task(i) for i in [0, size()) concurrently and waits for all of them. If any throws, the
  /// first exception (in index order) is rethrown once all have finished. Calls from several
  /// threads are run one after another; a call from inside a task (nested) runs every index on the
  /// calling thread, in order, instead of waiting for workers that are busy with the outer task.
  template <class Task>
  void run(Task&& task) {
    using T = std::remove_reference_t<Task>;
    if (size_ == 1 || inside_task()) {
      // The same contract as the threaded path: every index runs, then the first error is rethrown.
      std::exception_ptr first;
      for (unsigned i = 0; i < size_; ++i) {
        try {
          task(i);
        } catch (...) {
          if (!first) first = std::current_exception();
        }
      }
      if (first) std::rethrow_exception(first);
      return;
    }
    std::lock_guard lock(run_mutex_);
    runs_.fetch_add(1, std::memory_order_relaxed);
    std::fill(errors_.begin(), errors_.end(), nullptr);
    context_ = const_cast<void*>(static_cast<const void*>(std::addressof(task)));
    call_ = [](void* context, unsigned i) { (*static_cast<T*>(context))(i); };
    pending_.store(size_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    invoke(0);
    for (unsigned left = pending_.load(std::memory_order_acquire); left != 0;
         left = pending_.load(std::memory_order_acquire))
      pending_.wait(left, std::memory_order_acquire);
    for (const std::exception_ptr& e : errors_)
      if (e) std::rethrow_exception(e);
  }

 private:
  void stop() {
    stopping_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  static bool& inside_task() {
    static thread_local bool inside = false;
    return inside;
  }

  void invoke(unsigned i) {
    inside_task() = true;
    try {
      call_(context_, i);
    } catch (...) {
      errors_[i] = std::current_exception();
    }
    inside_task() = false;
  }

  void work(unsigned i) {
    std::uint64_t seen = 0;
    for (;;) {
      generation_.wait(seen, std::memory_order_acquire);
      seen = generation_.load(std::memory_order_acquire);
      if (stopping_.load(std::memory_order_relaxed)) return;
      invoke(i);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
  }

  unsigned size_;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<unsigned> pending_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> runs_{0};
  void* context_ = nullptr;
  void (*call_)(void*, unsigned) = nullptr;
  std::vector<std::exception_ptr> errors_;
};

/// How ParallelSteps splits a step.
struct ParallelStepOptions {
  /// Steps on fewer coefficients than this run on the calling thread alone: below it the wake-up
  /// of the workers (microseconds) costs more than a share of the pass saves. Default 2²⁰
  /// (about a million). Must be at least 1.
  Eigen::Index min_size = Eigen::Index(1) << 20;
};

namespace detail {

struct ParallelStepsState {
  ThreadPool* pool;
  Eigen::Index min_size;
};

/// The pool that steps on this thread split over, if a ParallelSteps scope set one.
inline thread_local const ParallelStepsState* active_parallel_steps = nullptr;

/// Coefficients per chunk boundary: a cache line of Scalar, a multiple of every SIMD packet width.
template <class Scalar>
inline constexpr Eigen::Index parallel_chunk_quantum = std::max<Eigen::Index>(1, 64 / Eigen::Index(sizeof(Scalar)));

/// Splits [0, n) into `parts` contiguous chunks whose boundaries are multiples of `quantum`
/// (the last chunk takes the rest); chunk i is [begin(i), begin(i + 1)).
struct ChunkSplit {
  Eigen::Index n, parts, quantum;
  Eigen::Index begin(Eigen::Index i) const {
    if (i >= parts) return n;
    return n / quantum * i / parts * quantum;
  }
};

}  // namespace detail

/// While it lives, every optimizer step on this thread whose parameters are one contiguous run of
/// at least options.min_size coefficients is split over `pool` (the steps of descent's own
/// optimizers, the drivers' included; parameters in several spans, such as a block of a larger
/// matrix, and views that are copied first run on the calling thread). Results are bitwise those
/// of the single-threaded step. Scopes nest; the innermost applies.
class ParallelSteps {
 public:
  explicit ParallelSteps(ThreadPool& pool, ParallelStepOptions options = {})
      : state_{&pool, options.min_size}, previous_(detail::active_parallel_steps) {
    if (options.min_size < 1)
      throw std::invalid_argument("descent::ParallelStepOptions: min_size must be at least 1");
    detail::active_parallel_steps = &state_;
  }
  ParallelSteps(const ParallelSteps&) = delete;
  ParallelSteps& operator=(const ParallelSteps&) = delete;
  ~ParallelSteps() { detail::active_parallel_steps = previous_; }

 private:
  detail::ParallelStepsState state_;
  const detail::ParallelStepsState* previous_;
};

/// How BatchSplit divides a batch.
struct BatchSplitOptions {
  /// Pieces each batch is cut into, whatever the pool's size (so that the sums, and the whole run,
  /// do not depend on the number of threads): piece k gets samples [k·b/pieces, (k+1)·b/pieces) of
  /// a batch of b. More pieces than threads balance uneven pieces; each holds a gradient-sized
  /// buffer. Default 8. Must be at least 1.
  int pieces = 8;
};

/// Spreads the gradient of one batch over a ThreadPool with a reduction in a fixed order, for
/// objectives whose loss and gradient are sums over samples:
///
///   descent::BatchSplit<Eigen::VectorXd> split(pool);
///   auto f = [&](const Eigen::VectorXd& x, descent::Batch batch, Eigen::VectorXd& g) {
///     return split(batch, g, [&](descent::Batch piece, Eigen::VectorXd& g_piece) {
///       return loss_and_gradient_sum(x, piece, g_piece);  // adds into g_piece, returns a loss sum
///     }) / double(batch.size());  // (and g /= batch.size() where the objective is a mean)
///   };
///
/// The batch is cut into options.pieces contiguous pieces; each piece's function runs on one
/// thread with a buffer of g's shape, zeroed; g is then buffer 0 + buffer 1 + ... and the result
/// the sum of the pieces' returns, in piece order. Bitwise the same for any pool size, one included.
template <class V>
class BatchSplit {
 public:
  using Scalar = typename V::Scalar;

  explicit BatchSplit(ThreadPool& pool, BatchSplitOptions options = {}) : pool_(&pool), options_(options) {
    if (options.pieces < 1) throw std::invalid_argument("descent::BatchSplitOptions: pieces must be at least 1");
  }

  /// g receives the sum of the pieces' gradients, the return value the sum of their returns. The
  /// piece function is called as piece(std::span<const Eigen::Index> samples, V& g_piece), possibly
  /// on several threads at once: it must not write to shared state. An exception from one piece
  /// reaches the caller (after every piece has finished), and g is then unspecified.
  template <class Piece>
  Scalar operator()(std::span<const Eigen::Index> batch, V& g, Piece&& piece) {
    const auto pieces = std::size_t(options_.pieces);
    buffers_.resize(pieces);
    losses_.assign(pieces, Scalar(0));
    for (V& buffer : buffers_) {
      if (buffer.rows() != g.rows() || buffer.cols() != g.cols()) buffer.resize(g.rows(), g.cols());
    }
    const detail::ChunkSplit split{Eigen::Index(batch.size()), Eigen::Index(pieces), 1};
    const auto threads = std::size_t(pool_->size());
    pool_->run([&](unsigned thread) {
      for (std::size_t k = thread; k < pieces; k += threads) {
        buffers_[k].setZero();
        const Eigen::Index begin = split.begin(Eigen::Index(k)), end = split.begin(Eigen::Index(k) + 1);
        losses_[k] = piece(batch.subspan(std::size_t(begin), std::size_t(end - begin)), buffers_[k]);
      }
    });
    g = buffers_[0];
    Scalar loss = losses_[0];
    for (std::size_t k = 1; k < pieces; ++k) {
      g += buffers_[k];
      loss += losses_[k];
    }
    return loss;
  }

 private:
  ThreadPool* pool_;
  BatchSplitOptions options_;
  std::vector<V> buffers_;
  std::vector<Scalar> losses_;
};

}  // namespace descent
