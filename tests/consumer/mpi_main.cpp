// A downstream program over descent::mpi: data-parallel train of a mean (full batches), run on its
// own (MPI's singleton mode: one process).
#include <cstdio>
#include <descent/descent.hpp>
#include <descent/distributed/mpi.hpp>

namespace {

struct Mean {
  Eigen::Index size() const { return 10; }
  double operator()(const Eigen::VectorXd& x, descent::Batch batch, Eigen::VectorXd& grad) const {
    grad.setZero();
    double loss = 0;
    for (Eigen::Index i : batch) {
      grad.array() += x.array() - double(i);
      loss += 0.5 * (x.array() - double(i)).square().sum();
    }
    grad /= double(batch.size());
    return loss / double(batch.size());
  }
};

}  // namespace

int main(int argc, char** argv) {
  descent::mpi::Environment mpi(argc, argv);
  descent::mpi::Communicator comm;
  Eigen::VectorXd x = Eigen::VectorXd::Zero(2);
  descent::SGD<Eigen::VectorXd> sgd({.lr = 0.1});
  const descent::Report report = descent::distributed::train(
      Mean{}, x, sgd, descent::MinibatchSampler(10, {.batch_size = 10}), {.max_epochs = 200}, comm);
  std::printf("rank %d of %d: x = (%g, %g) after %lld steps\n", comm.rank(), comm.size(), x(0), x(1),
              static_cast<long long>(report.iterations));
  return std::abs(x(0) - 4.5) < 1e-2 && std::abs(x(1) - 4.5) < 1e-2 ? 0 : 1;
}
