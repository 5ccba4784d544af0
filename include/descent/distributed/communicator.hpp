#pragma once
// What descent's data-parallel training asks of a transport: the Communicator concept, and
// SingleProcess, the communicator of a run without MPI. <descent/distributed/mpi.hpp> has the one
// over MPI; nothing here needs MPI.

#include <concepts>
#include <span>
#include <stdexcept>
#include <string>

#include "descent/detail/checks.hpp"

namespace descent {

/// `C` is a communicator: a fixed group of processes ("ranks", numbered 0 to size() − 1) that call
/// the same collective operations in the same order. `rank()` is this process's number, `size()`
/// the number of processes. `allreduce_sum(span)` replaces, on every rank, each element of the span
/// by its sum over all ranks (every rank passes a span of the same length, and every rank gets the
/// same bits back); `broadcast(span, root)` copies rank `root`'s span into every other rank's.
/// Both work in place on spans of float or double and are collective: every rank must call them,
/// in the same order, or the ones that did wait for the others forever. Errors are reported by
/// exceptions.
///
/// descent::SingleProcess (one process, no MPI) and descent::mpi::Communicator (over an MPI_Comm)
/// are the two implementations.
template <class C>
concept Communicator = requires(C& c, const C& cc, std::span<float> f, std::span<double> d, int root) {
  { cc.rank() } -> std::convertible_to<int>;
  { cc.size() } -> std::convertible_to<int>;
  c.allreduce_sum(f);
  c.allreduce_sum(d);
  c.broadcast(f, root);
  c.broadcast(d, root);
};

/// The communicator of a lone process: rank 0 of 1. Reductions and broadcasts leave the data as
/// it is, so code written for a Communicator runs unchanged, and bitwise as it would with plain
/// descent::train, without MPI.
class SingleProcess {
 public:
  /// Always 0.
  int rank() const { return 0; }
  /// Always 1.
  int size() const { return 1; }
  /// The sum over one rank: the data itself.
  void allreduce_sum(std::span<float>) {}
  void allreduce_sum(std::span<double>) {}
  /// Nothing to copy; throws std::invalid_argument unless root is 0, the only rank.
  void broadcast(std::span<float>, int root = 0) { check_root(root); }
  void broadcast(std::span<double>, int root = 0) { check_root(root); }

 private:
  static void check_root(int root) {
    if (root != 0)
      throw std::invalid_argument(descent::detail::concat("descent::SingleProcess::broadcast: root ",
                                                          std::to_string(root), " is not a rank (the only one is 0)"));
  }
};

static_assert(Communicator<SingleProcess>);

}  // namespace descent
