// descent::distributed without MPI: SingleProcess, the Communicator concept, and distributed::train
// in one process (which must be plain train, bitwise). The runs over several processes are in
// tests/mpi_tests.cpp, run under mpirun.
#include <catch2/catch.hpp>
#include <descent/descent.hpp>
#include <descent/distributed/train.hpp>
#include <functional>
#include <span>
#include <stdexcept>
#include <vector>

#include "support.hpp"

namespace {

using V = Eigen::VectorXd;
using descent_test::make_centroid;

struct Trajectory {
  std::vector<V> steps;
  void operator()(const descent::Progress<V>& p) { steps.emplace_back(p.params); }
};

struct NotACommunicator {
  int rank() const { return 0; }
  int size() const { return 1; }
  void allreduce_sum(std::span<double>) {}
};

}  // namespace

TEST_CASE("SingleProcess: rank 0 of 1, the data left as it is", "[distributed]") {
  STATIC_REQUIRE(descent::Communicator<descent::SingleProcess>);
  STATIC_REQUIRE_FALSE(descent::Communicator<NotACommunicator>);
  descent::SingleProcess one;
  CHECK(one.rank() == 0);
  CHECK(one.size() == 1);
  std::vector<double> d = {1.5, -2.0};
  std::vector<float> f = {3.0f};
  one.allreduce_sum(std::span<double>(d));
  one.allreduce_sum(std::span<float>(f));
  one.broadcast(std::span<double>(d), 0);
  CHECK(d == std::vector<double>{1.5, -2.0});
  CHECK(f == std::vector<float>{3.0f});
  CHECK_THROWS_WITH(one.broadcast(std::span<float>(f), 1),
                    "descent::SingleProcess::broadcast: root 1 is not a rank (the only one is 0)");
}

TEST_CASE("distributed::train on one process is descent::train, bitwise, callbacks and report included",
          "[distributed]") {
  const auto f = make_centroid(3, 41);
  const descent::StopCriteria stop{.max_epochs = 3};
  Trajectory plain, distributed;
  V x_plain = V::Zero(3), x = V::Zero(3);
  descent::Adam<V> adam_plain({.lr = 0.1}), adam({.lr = 0.1});
  const descent::Report r_plain =
      descent::train(f, x_plain, adam_plain, descent::MinibatchSampler(41, {.batch_size = 6}), stop, std::ref(plain));
  descent::SingleProcess one;
  const descent::Report r = descent::distributed::train(f, x, adam, descent::MinibatchSampler(41, {.batch_size = 6}),
                                                        stop, one, std::ref(distributed));
  CHECK(x == x_plain);
  CHECK(distributed.steps == plain.steps);
  CHECK(r.iterations == r_plain.iterations);
  CHECK(r.epochs == 3);
  CHECK(r.loss == r_plain.loss);
  CHECK(r.reason == descent::StopReason::MaxEpochs);

  V x_temporary = V::Zero(3);
  descent::Adam<V> adam_temporary({.lr = 0.1});
  descent::distributed::train(f, x_temporary, adam_temporary, descent::MinibatchSampler(41, {.batch_size = 6}), stop,
                              descent::SingleProcess{});
  CHECK(x_temporary == x_plain);
}

TEST_CASE("distributed::Sharded over one process forwards to the objective", "[distributed]") {
  const auto f = make_centroid(2, 10);
  descent::SingleProcess one;
  descent::distributed::Sharded sharded(f, one);
  STATIC_REQUIRE(descent::StochasticObjective<decltype(sharded), V>);
  CHECK(sharded.size() == 10);
  const V x = V::Ones(2);
  V g(2), g_plain(2);
  const std::vector<Eigen::Index> batch = {1, 4, 7};
  const double loss = sharded(x, descent::Batch(batch), g);
  CHECK(loss == f(x, descent::Batch(batch), g_plain));
  CHECK(g == g_plain);
}

TEST_CASE("distributed::on_root: the callback runs on rank 0, on_end included", "[distributed]") {
  const auto f = make_centroid(2, 12);
  descent::SingleProcess one;
  descent::History history;
  int stops = 0;
  auto stop_at_3 = [&](const descent::Progress<V>& p) {
    ++stops;
    return p.iteration < 3;
  };
  V x = V::Zero(2);
  descent::SGD<V> sgd({.lr = 0.1});
  const descent::Report r = descent::distributed::train(
      f, x, sgd, descent::MinibatchSampler(12, {.batch_size = 4}), {.max_epochs = 5}, one,
      descent::distributed::on_root(one, history), descent::distributed::on_root(one, stop_at_3));
  CHECK(r.reason == descent::StopReason::Callback);
  CHECK(r.iterations == 3);
  CHECK(history.steps().size() == 3);
  CHECK(stops == 3);

  // On a rank other than 0 (a RootOnly told so), nothing is called and the run goes on.
  int calls = 0;
  descent::distributed::RootOnly<decltype(stop_at_3)&> elsewhere(stop_at_3, false);
  auto count = [&](const descent::Progress<V>&) { ++calls; };
  V y = V::Zero(2);
  const descent::Report r2 = descent::train(f, y, sgd, descent::MinibatchSampler(12, {.batch_size = 4}),
                                            {.max_iterations = 5}, elsewhere, count);
  CHECK(r2.iterations == 5);
  CHECK(calls == 5 + 1);  // 5 steps, one end of epoch (3 batches per epoch)
  CHECK(stops == 3);
}
