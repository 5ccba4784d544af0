// Data-parallel training over MPI (docs/distributed.md): logistic regression on n synthetic samples
// of d features (bench/synthetic_logistic.hpp, fixed seed), Adam, trained by
// descent::distributed::train on every process of mpirun. Rank 0 prints the epochs per second,
// the time per step and the part of it spent in the gradient's allreduce (the mean over the
// ranks), the same number of back-to-back allreduces with no work between them, and, with
// --compare, the largest relative difference of the final parameters from a one-process run on
// the same batches.
//
// Usage: mpirun -np P distributed_train [--n 1000000] [--d 100] [--batch 1000] [--epochs 3] [--compare]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <descent/descent.hpp>
#include <descent/distributed/mpi.hpp>
#include <span>
#include <string>
#include <vector>

#include "synthetic_logistic.hpp"

namespace {

/// A descent::Communicator that times another one's reductions.
template <class C>
class Timed {
 public:
  explicit Timed(C& comm) : comm_(&comm) {}
  int rank() const { return comm_->rank(); }
  int size() const { return comm_->size(); }
  void allreduce_sum(std::span<float> data) {
    timed([&] { comm_->allreduce_sum(data); });
  }
  void allreduce_sum(std::span<double> data) {
    timed([&] { comm_->allreduce_sum(data); });
  }
  void broadcast(std::span<float> data, int root = 0) { comm_->broadcast(data, root); }
  void broadcast(std::span<double> data, int root = 0) { comm_->broadcast(data, root); }
  double seconds = 0;
  long calls = 0;

 private:
  template <class Call>
  void timed(Call call) {
    const auto start = std::chrono::steady_clock::now();
    call();
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ++calls;
  }
  C* comm_;
};

}  // namespace

int main(int argc, char** argv) {
  descent::mpi::Environment mpi(argc, argv);
  descent::mpi::Communicator world;
  Eigen::Index n = 1000000, d = 100, batch = 1000;
  std::int64_t epochs = 3;
  bool compare = false;
  for (int i = 1; i < argc; ++i) {
    auto value = [&] { return i + 1 < argc ? std::atoll(argv[++i]) : 0; };
    if (!std::strcmp(argv[i], "--n"))
      n = value();
    else if (!std::strcmp(argv[i], "--d"))
      d = value();
    else if (!std::strcmp(argv[i], "--batch"))
      batch = value();
    else if (!std::strcmp(argv[i], "--epochs"))
      epochs = value();
    else if (!std::strcmp(argv[i], "--compare"))
      compare = true;
  }
  if (n < 1 || d < 1 || batch < 1 || epochs < 1) {
    if (world.rank() == 0)
      std::fprintf(stderr, "usage: distributed_train [--n N] [--d D] [--batch B] [--epochs E] [--compare]\n");
    return 2;
  }

  const auto f = bench::synthetic_logistic(d, n, 2026, 1e-4);
  const descent::SamplerOptions batches{.batch_size = batch, .seed = 1};
  const descent::StopCriteria stop{.max_epochs = epochs};
  Timed timed(world);
  Eigen::VectorXd w = Eigen::VectorXd::Zero(f.dimension());
  descent::Adam<Eigen::VectorXd> adam({.lr = 1e-3});
  const descent::Report report =
      descent::distributed::train(f, w, adam, descent::MinibatchSampler(n, batches), stop, timed);

  // The mean over the ranks of the time each spent in the gradient's reduction (which includes
  // waiting for the slowest rank).
  double reduce[1] = {timed.seconds};
  world.allreduce_sum(std::span<double>(reduce));
  // The reduction alone: as many back-to-back allreduces of a step's n + 3 doubles, no work between.
  std::vector<double> message(std::size_t(f.dimension()) + 3, 1.0);
  const auto alone_start = std::chrono::steady_clock::now();
  for (std::int64_t k = 0; k < report.iterations; ++k) world.allreduce_sum(std::span<double>(message));
  double alone[1] = {std::chrono::duration<double>(std::chrono::steady_clock::now() - alone_start).count()};
  world.allreduce_sum(std::span<double>(alone));
  if (world.rank() != 0) return 0;
  const double per_step = report.seconds / double(report.iterations);
  std::printf("processes %d  n %lld  d %lld  batch %lld  epochs %lld  loss %.6f\n", world.size(),
              static_cast<long long>(n), static_cast<long long>(d), static_cast<long long>(batch),
              static_cast<long long>(report.epochs), report.loss);
  std::printf("  %.3f epochs/s  %.1f us/step  allreduce %.1f us/step (%lld bytes per step)\n",
              double(report.epochs) / report.seconds, 1e6 * per_step,
              1e6 * reduce[0] / world.size() / double(report.iterations),
              static_cast<long long>(8 * (f.dimension() + 3)));
  std::printf("  the allreduce alone, back to back: %.1f us per call\n",
              1e6 * alone[0] / world.size() / double(report.iterations));
  if (compare) {
    Eigen::VectorXd w_one = Eigen::VectorXd::Zero(f.dimension());
    descent::Adam<Eigen::VectorXd> adam_one({.lr = 1e-3});
    descent::train(f, w_one, adam_one, descent::MinibatchSampler(n, batches), stop);
    std::printf("  final parameters: largest difference from one process %.3g relative (max |w| %.3g)\n",
                (w - w_one).lpNorm<Eigen::Infinity>() / w_one.lpNorm<Eigen::Infinity>(),
                w_one.lpNorm<Eigen::Infinity>());
  }
  return 0;
}
