#pragma once
// descent::mpi::Communicator: the Communicator over MPI, for data-parallel training across
// processes and machines (docs/distributed.md). The only header of descent that needs MPI: link
// descent::mpi (CMake), which brings MPI::MPI_CXX.

// The C API only: the C++ bindings (removed from the standard in MPI 3.0) that Open MPI's and
// MPICH's mpi.h still pull in for C++ do not compile cleanly under -Wextra -Werror.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "descent/detail/checks.hpp"
#include "descent/distributed/communicator.hpp"
#include "descent/distributed/train.hpp"

namespace descent::detail {

/// Throws std::runtime_error naming the call (`what`, the caller in front) and MPI's description
/// of the error code.
inline void mpi_check(int code, std::string_view what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  const std::string_view description =
      length > 0 ? std::string_view(text, std::size_t(length)) : std::string_view("unknown MPI error");
  throw std::runtime_error(concat(what, " failed: ", description));
}

template <class T>
MPI_Datatype mpi_datatype() {
  if constexpr (std::is_same_v<T, float>)
    return MPI_FLOAT;
  else
    return MPI_DOUBLE;
}

}  // namespace descent::detail

namespace descent::mpi {

/// A descent::Communicator over an MPI communicator (MPI_COMM_WORLD by default), which it neither
/// owns nor frees: MPI must be initialized (MPI_Init, or a descent::mpi::Environment) before one
/// is made and finalized only after its last use. rank() and size() are read once, at construction.
///
/// allreduce_sum is one MPI_Allreduce (MPI_IN_PLACE, MPI_SUM) and broadcast one MPI_Bcast, split
/// into pieces of at most INT_MAX elements (MPI's counts are int). The order in which MPI sums the
/// ranks' values is its own, but fixed for a given MPI library, message length and number of
/// processes, so runs repeat bitwise; every rank gets the same bits back from Open MPI and MPICH
/// (which the MPI standard recommends), which keeps the ranks' parameters identical.
///
/// Errors: MPI's default error handler (MPI_ERRORS_ARE_FATAL) aborts every process on an error of
/// a call. Under MPI_ERRORS_RETURN (`MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN)`) a failed
/// call throws std::runtime_error with MPI's description of the error instead.
class Communicator {
 public:
  /// Throws std::logic_error if MPI is not initialized or already finalized, std::invalid_argument
  /// for MPI_COMM_NULL.
  explicit Communicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
    int initialized = 0, finalized = 0;
    descent::detail::mpi_check(MPI_Initialized(&initialized), "descent::mpi::Communicator: MPI_Initialized");
    descent::detail::mpi_check(MPI_Finalized(&finalized), "descent::mpi::Communicator: MPI_Finalized");
    if (!initialized || finalized)
      throw std::logic_error(finalized ? "descent::mpi::Communicator: MPI is already finalized"
                                       : "descent::mpi::Communicator: MPI is not initialized (call MPI_Init, or make a "
                                         "descent::mpi::Environment, first)");
    if (comm == MPI_COMM_NULL)
      throw std::invalid_argument("descent::mpi::Communicator: the communicator is MPI_COMM_NULL");
    descent::detail::mpi_check(MPI_Comm_rank(comm_, &rank_), "descent::mpi::Communicator: MPI_Comm_rank");
    descent::detail::mpi_check(MPI_Comm_size(comm_, &size_), "descent::mpi::Communicator: MPI_Comm_size");
  }

  /// This process's rank in the communicator, from 0.
  int rank() const { return rank_; }
  /// The number of processes in the communicator.
  int size() const { return size_; }
  /// The MPI communicator it wraps.
  MPI_Comm get() const { return comm_; }

  /// Replaces each element, on every rank, by its sum over all ranks (collective).
  void allreduce_sum(std::span<float> data) { allreduce(data); }
  void allreduce_sum(std::span<double> data) { allreduce(data); }

  /// Copies rank `root`'s data into every rank's (collective; every rank passes the same length).
  /// Throws std::invalid_argument, on every rank, when root is not a rank.
  void broadcast(std::span<float> data, int root = 0) { bcast(data, root); }
  void broadcast(std::span<double> data, int root = 0) { bcast(data, root); }

 private:
  static constexpr std::size_t max_count = std::size_t(INT_MAX);

  template <class T>
  void allreduce(std::span<T> data) {
    for (std::size_t begin = 0; begin < data.size(); begin += max_count) {
      const std::size_t count = std::min(max_count, data.size() - begin);
      descent::detail::mpi_check(MPI_Allreduce(MPI_IN_PLACE, data.data() + begin, int(count),
                                               descent::detail::mpi_datatype<T>(), MPI_SUM, comm_),
                                 "descent::mpi::Communicator: MPI_Allreduce");
    }
  }

  template <class T>
  void bcast(std::span<T> data, int root) {
    // Checked before any rank enters the call, and the same way on every rank, so none is left waiting.
    if (root < 0 || root >= size_)
      throw std::invalid_argument(descent::detail::concat("descent::mpi::Communicator::broadcast: root ",
                                                          std::to_string(root), " is not a rank (there are ",
                                                          std::to_string(size_), ")"));
    for (std::size_t begin = 0; begin < data.size(); begin += max_count) {
      const std::size_t count = std::min(max_count, data.size() - begin);
      descent::detail::mpi_check(
          MPI_Bcast(data.data() + begin, int(count), descent::detail::mpi_datatype<T>(), root, comm_),
          "descent::mpi::Communicator: MPI_Bcast");
    }
  }

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

static_assert(descent::Communicator<Communicator>);

/// MPI_Init at construction (unless MPI is already initialized) and MPI_Finalize at destruction
/// (if it initialized MPI): `descent::mpi::Environment mpi(argc, argv);` at the top of main. Not
/// copyable. Throws std::runtime_error if MPI_Init fails.
class Environment {
 public:
  Environment(int& argc, char**& argv) { init(&argc, &argv); }
  Environment() { init(nullptr, nullptr); }
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  ~Environment() {
    int finalized = 0;
    if (owner_ && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) MPI_Finalize();
  }

 private:
  void init(int* argc, char*** argv) {
    int initialized = 0;
    descent::detail::mpi_check(MPI_Initialized(&initialized), "descent::mpi::Environment: MPI_Initialized");
    if (initialized) return;
    descent::detail::mpi_check(MPI_Init(argc, argv), "descent::mpi::Environment: MPI_Init");
    owner_ = true;
  }

  bool owner_ = false;
};

}  // namespace descent::mpi
