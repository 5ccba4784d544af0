// Data-parallel training over MPI (docs/distributed.md): logistic regression on n synthetic samples
// of d features (bench/synthetic_logistic.hpp, fixed seed), or the digits MLP 64-128-10 of
// examples/common/fashion_net.hpp on examples/data/digits.csv (--problem digits), Adam, trained by
// descent::distributed::train on every process of mpirun. Rank 0 prints the epochs per second,
// the time per step and the part of it spent in the gradient's allreduce (the mean over the
// ranks), the same number of back-to-back allreduces with no work between them, each rank's time
// in the objective, and, with
// --compare, the largest relative difference of the final parameters from a one-process run on
// the same batches.
//
// Usage: mpirun -np P distributed_train [--problem logistic|digits] [--n 1000000] [--d 100]
//                                       [--batch 1000 or 64] [--epochs 3 or 20] [--compare]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <descent/descent.hpp>
#include <descent/distributed/mpi.hpp>
#include <span>
#include <string>
#include <vector>

#include "common/csv.hpp"
#include "common/fashion_net.hpp"
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

/// The objective, timed: where a rank's share of a step goes.
template <class F>
struct TimedObjective {
  const F& f;
  double seconds = 0;
  Eigen::Index size() const { return f.size(); }
  double operator()(const Eigen::VectorXd& w, descent::Batch batch, Eigen::VectorXd& grad) {
    const auto start = std::chrono::steady_clock::now();
    const double loss = f(w, batch, grad);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return loss;
  }
};

/// Trains f from w0 with Adam on every rank, then prints (rank 0) the timings and, with compare,
/// the agreement with one process.
template <class F>
void run(const char* label, const F& f, const Eigen::VectorXd& w0, Eigen::Index batch, std::int64_t epochs, double lr,
         bool compare, descent::mpi::Communicator& world) {
  const descent::SamplerOptions batches{.batch_size = batch, .seed = 1};
  const descent::StopCriteria stop{.max_epochs = epochs};
  Timed timed(world);
  Eigen::VectorXd w = w0;
  descent::Adam<Eigen::VectorXd> adam({.lr = lr});
  TimedObjective<F> objective{f};
  const descent::Report report =
      descent::distributed::train(objective, w, adam, descent::MinibatchSampler(f.size(), batches), stop, timed);

  // The mean over the ranks of the time each spent in the gradient's reduction (which includes
  // waiting for the slowest rank).
  double reduce[1] = {timed.seconds};
  world.allreduce_sum(std::span<double>(reduce));
  // The reduction alone: as many back-to-back allreduces of a step's n + 3 doubles, no work between.
  std::vector<double> message(std::size_t(w.size()) + 3, 1.0);
  const auto alone_start = std::chrono::steady_clock::now();
  for (std::int64_t k = 0; k < report.iterations; ++k) world.allreduce_sum(std::span<double>(message));
  double alone[1] = {std::chrono::duration<double>(std::chrono::steady_clock::now() - alone_start).count()};
  world.allreduce_sum(std::span<double>(alone));
  // Each rank's time in its slices, side by side: an imbalance shows as waiting in the reduction.
  std::vector<double> evaluating(std::size_t(world.size()), 0.0);
  evaluating[std::size_t(world.rank())] = objective.seconds;
  world.allreduce_sum(std::span<double>(evaluating));
  if (world.rank() != 0) return;
  const double per_step = report.seconds / double(report.iterations);
  std::printf("%s: processes %d  samples %lld  parameters %lld  batch %lld  epochs %lld  loss %.6f\n", label,
              world.size(), static_cast<long long>(f.size()), static_cast<long long>(w.size()),
              static_cast<long long>(batch), static_cast<long long>(report.epochs), report.loss);
  std::printf("  %.3f epochs/s  %.1f us/step  allreduce %.1f us/step (%lld bytes per step)\n",
              double(report.epochs) / report.seconds, 1e6 * per_step,
              1e6 * reduce[0] / world.size() / double(report.iterations), static_cast<long long>(8 * (w.size() + 3)));
  std::printf("  the allreduce alone, back to back: %.1f us per call\n",
              1e6 * alone[0] / world.size() / double(report.iterations));
  std::printf("  evaluating the slice, us/step, rank by rank:");
  for (const double seconds : evaluating) std::printf(" %.1f", 1e6 * seconds / double(report.iterations));
  std::printf("\n");
  if (compare) {
    Eigen::VectorXd w_one = w0;
    descent::Adam<Eigen::VectorXd> adam_one({.lr = lr});
    descent::train(f, w_one, adam_one, descent::MinibatchSampler(f.size(), batches), stop);
    std::printf("  final parameters: largest difference from one process %.3g relative (max |w| %.3g)\n",
                (w - w_one).lpNorm<Eigen::Infinity>() / w_one.lpNorm<Eigen::Infinity>(),
                w_one.lpNorm<Eigen::Infinity>());
  }
}

}  // namespace

int main(int argc, char** argv) {
  descent::mpi::Environment mpi(argc, argv);
  descent::mpi::Communicator world;
  std::string problem = "logistic";
  Eigen::Index n = 1000000, d = 100, batch = 0;
  std::int64_t epochs = 0;
  bool compare = false;
  for (int i = 1; i < argc; ++i) {
    auto value = [&] { return i + 1 < argc ? std::atoll(argv[++i]) : 0; };
    if (!std::strcmp(argv[i], "--problem") && i + 1 < argc)
      problem = argv[++i];
    else if (!std::strcmp(argv[i], "--n"))
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
  if (n < 1 || d < 1 || batch < 0 || epochs < 0 || (problem != "logistic" && problem != "digits")) {
    if (world.rank() == 0)
      std::fprintf(stderr,
                   "usage: distributed_train [--problem logistic|digits] [--n N] [--d D] [--batch B] [--epochs E] "
                   "[--compare]\n");
    return 2;
  }
  try {
    if (problem == "logistic") {
      const auto f = bench::synthetic_logistic(d, n, 2026, 1e-4);
      run("logistic", f, Eigen::VectorXd::Zero(f.dimension()), batch > 0 ? batch : 1000, epochs > 0 ? epochs : 3, 1e-3,
          compare, world);
    } else {
      // The digits MLP: 64 pixels scaled to [0, 1] -> 128 (ReLU) -> 10, softmax cross-entropy.
      namespace ex = descent::examples;
      const auto [X, y] = ex::split_features_labels(ex::read_csv(DESCENT_EXAMPLES_DATA_DIR "/digits.csv"));
      const ex::LabelledImages<double> data{X.transpose() / 16.0, y.cast<int>()};
      const ex::Net<double> net({64, 128, 10});
      const ex::Objective<double> f{net, data};
      run("digits MLP", f, net.initial(1), batch > 0 ? batch : 64, epochs > 0 ? epochs : 20, 1e-3, compare, world);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "distributed_train (rank %d): %s\n", world.rank(), e.what());
    MPI_Abort(world.get(), 2);
  }
  return 0;
}
