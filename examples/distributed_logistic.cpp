// Data-parallel logistic regression over MPI: the breast cancer data set of logistic_regression,
// trained with Adam by descent::distributed::train on every process of mpirun. Every rank loads
// the whole data and draws the same batches; each evaluates its slice of every batch, the
// gradients are averaged, and every rank takes the same step. Rank 0 alone prints; at the end it
// retrains in one process on the same batches and checks that both runs agree.
//
// Usage: mpirun -np 2 distributed_logistic [path/to/breast_cancer.csv]
#include <cstdio>
#include <descent/descent.hpp>
#include <descent/distributed/mpi.hpp>
#include <descent/problems/logistic_regression.hpp>
#include <iostream>
#include <string>

#include "common/csv.hpp"

int main(int argc, char** argv) {
  descent::mpi::Environment mpi(argc, argv);
  descent::mpi::Communicator comm;  // MPI_COMM_WORLD
  try {
    namespace ex = descent::examples;
    using Model = descent::problems::LogisticRegression<double>;
    const std::string path = argc > 1 ? argv[1] : std::string(DESCENT_EXAMPLES_DATA_DIR) + "/breast_cancer.csv";
    const auto [X, y] = ex::split_features_labels(ex::read_csv(path));
    const ex::TrainTestSplit split = ex::train_test_split(X.rows(), 0.2, 2026);
    Eigen::MatrixXd X_train = X(split.train, Eigen::all), X_test = X(split.test, Eigen::all);
    ex::standardize(X_train, X_test);
    const Eigen::VectorXd y_train = y(split.train), y_test = y(split.test);
    const Model model = Model::from_rows(X_train, y_train, {.l2 = 1e-3});
    const Eigen::MatrixXd test_samples = X_test.transpose();

    const descent::StopCriteria stop{.max_iterations = 0, .max_epochs = 40};
    const descent::SamplerOptions batches{.batch_size = 50, .seed = 1};  // not a multiple of 3: uneven slices
    Eigen::VectorXd w = Eigen::VectorXd::Zero(model.dimension());
    descent::Adam<Eigen::VectorXd> adam({.lr = 0.01});
    const descent::Report report =
        descent::distributed::train(model, w, adam, descent::MinibatchSampler(model.size(), batches), stop, comm,
                                    descent::distributed::on_root(comm, descent::ProgressBar({.label = "Adam"})));

    if (comm.rank() != 0) return 0;
    const double accuracy = model.accuracy(w, test_samples, y_test);
    std::cout << comm.size() << " processes: " << report << "\n  test accuracy " << accuracy << '\n';

    Eigen::VectorXd w_one = Eigen::VectorXd::Zero(model.dimension());
    descent::Adam<Eigen::VectorXd> adam_one({.lr = 0.01});
    descent::train(model, w_one, adam_one, descent::MinibatchSampler(model.size(), batches), stop);
    const double gap = (w - w_one).lpNorm<Eigen::Infinity>() / w_one.lpNorm<Eigen::Infinity>();
    std::printf("largest difference from one process: %.3g relative (required: <= 1e-12; accuracy >= 0.95)\n", gap);
    return gap <= 1e-12 && accuracy >= 0.95 ? 0 : 1;
  } catch (const std::exception& e) {
    // Before or after distributed::train (which throws on every rank together), one rank's error
    // would leave the others waiting in a collective: end them all.
    std::fprintf(stderr, "distributed_logistic (rank %d): %s\n", comm.rank(), e.what());
    MPI_Abort(comm.get(), 2);
    return 2;
  }
}
