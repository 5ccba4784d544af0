#pragma once
// The interface between bench/fashion_torch.cpp (descent, Eigen, the data, main) and
// bench/fashion_torch_libtorch.cpp (everything that includes a torch header), in standard types only,
// so that each side compiles without the other's headers.

#include <cstdint>
#include <string>
#include <vector>

namespace fashion_torch {

// Views of memory owned by the caller, which outlives every call below.
struct Problem {
  std::vector<std::int64_t> sizes;  // {784, 256, 128, 10} or {784, 10}
  // Images as Eigen holds them, pixels x n column-major: the same bytes as torch's row-major
  // [n, pixels], one sample per row, so torch reads them in place.
  const float* train_x = nullptr;
  std::int64_t train_n = 0;
  std::vector<std::int64_t> train_y;
  const float* test_x = nullptr;
  std::int64_t test_n = 0;
  std::vector<std::int64_t> test_y;
  // descent's flat initial parameters and, per layer, where its W (outputs x inputs, column-major)
  // and b blocks start.
  const float* initial = nullptr;
  std::vector<std::int64_t> w_offset, b_offset;
};

// Every minibatch of the run in order: batch k is indices[starts[k] .. starts[k + 1]).
struct Batches {
  std::vector<std::int64_t> indices;
  std::vector<std::int64_t> starts;
  std::int64_t per_epoch = 0;
  std::int64_t count() const { return std::int64_t(starts.size()) - 1; }
};

enum class Optimizer { adam, nesterov };

struct Run {
  double first_loss = 0;                // loss of batch 0 at the initial weights, before any step
  std::vector<double> seconds;          // training time of each epoch
  std::vector<double> epoch_loss;       // mean minibatch loss of each epoch (as descent::train reports)
  double accuracy = 0;                  // test accuracy after the last epoch
};

// Seconds per batch spent in each phase of an instrumented training epoch (the first epoch's
// batches, Adam), from the repetition with the smallest total.
struct Phases {
  double gather = 0, forward = 0, loss = 0, backward = 0, step = 0, total = 0;
};

int torch_default_threads();
std::string torch_version();
// The file that sgemm_ (the BLAS torch's CPU matrix products call) was loaded from.
std::string blas_library();
Run torch_train(const Problem& problem, const Batches& batches, Optimizer optimizer, std::int64_t epochs, int threads);
Phases torch_phases(const Problem& problem, const Batches& batches, int threads, int repetitions);

}  // namespace fashion_torch
