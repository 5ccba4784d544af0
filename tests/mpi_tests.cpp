// Data-parallel training over MPI, run by ctest under mpirun with 1, 2 and 3 processes. Every rank
// runs every case; a failed check is printed with its rank, and the program exits with 1 on every
// rank if a check failed on any. The reference of each trajectory is plain descent::train on the
// whole data, computed by every rank in its own process.
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <descent/descent.hpp>
#include <descent/distributed/mpi.hpp>
#include <descent/problems/problems.hpp>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using V = Eigen::VectorXd;
using Logistic = descent::problems::LogisticRegression<double>;

int failures = 0;

void check(bool ok, const char* what, int line, const descent::mpi::Communicator& comm) {
  if (ok) return;
  ++failures;
  std::fprintf(stderr, "[rank %d of %d] mpi_tests.cpp:%d: check failed: %s\n", comm.rank(), comm.size(), line, what);
}

#define CHECK(...) check(bool(__VA_ARGS__), #__VA_ARGS__, __LINE__, comm)

/// d features plus an intercept, n samples uniform in [−1, 1), labels from a planted model with
/// noise (as bench/synthetic_logistic.hpp): the same data on every rank.
Logistic make_logistic(Eigen::Index d, Eigen::Index n, std::uint64_t seed = 7) {
  descent::detail::SplitMix64 random(seed);
  Eigen::MatrixXd X(d, n);
  V w(d), y(n);
  for (Eigen::Index i = 0; i < d; ++i) w(i) = random.uniform(-1.0, 1.0);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < d; ++i) X(i, j) = random.uniform(-1.0, 1.0);
    y(j) = X.col(j).dot(w) + 0.5 * random.uniform(-1.0, 1.0) > 0 ? 1.0 : 0.0;
  }
  return Logistic(std::move(X), std::move(y), {.l2 = 1e-3});
}

/// The parameters after every step (not the end-of-epoch calls).
struct Trajectory {
  std::vector<V> steps;
  void operator()(const descent::Progress<V>& p) {
    if (!p.end_of_epoch) steps.emplace_back(p.params);
  }
};

/// max over steps of ‖a − b‖∞ / ‖b‖∞; infinite when the lengths differ.
double relative_gap(const Trajectory& a, const Trajectory& b) {
  if (a.steps.size() != b.steps.size() || a.steps.empty()) return INFINITY;
  double gap = 0;
  for (std::size_t k = 0; k < a.steps.size(); ++k)
    gap = std::max(gap, (a.steps[k] - b.steps[k]).lpNorm<Eigen::Infinity>() / b.steps[k].lpNorm<Eigen::Infinity>());
  return gap;
}

/// Whether x is bitwise the same on every rank (collective).
bool same_on_every_rank(descent::mpi::Communicator& comm, const V& x) {
  V root = x;
  comm.broadcast(std::span<double>(root.data(), std::size_t(root.size())));
  double differing[1] = {root.size() == x.size() && (root.array() == x.array()).all() ? 0.0 : 1.0};
  comm.allreduce_sum(std::span<double>(differing));
  return differing[0] == 0;
}

/// Whether the number is the same on every rank (collective).
bool same_on_every_rank(descent::mpi::Communicator& comm, double value) {
  double root[1] = {value};
  comm.broadcast(std::span<double>(root));
  double differing[1] = {root[0] == value ? 0.0 : 1.0};
  comm.allreduce_sum(std::span<double>(differing));
  return differing[0] == 0;
}

bool same_report(const descent::Report& a, const descent::Report& b) {
  return a.iterations == b.iterations && a.epochs == b.epochs && a.reason == b.reason && a.message == b.message &&
         std::abs(a.loss - b.loss) <= 1e-12 * std::abs(b.loss);
}

void communicator_basics(descent::mpi::Communicator& comm) {
  const int p = comm.size(), r = comm.rank();
  std::vector<double> d = {double(r + 1), -0.5};
  comm.allreduce_sum(std::span<double>(d));
  CHECK(d[0] == double(p * (p + 1) / 2));
  CHECK(d[1] == -0.5 * p);
  std::vector<float> f = {float(r + 1)};
  comm.allreduce_sum(std::span<float>(f));
  CHECK(f[0] == float(p * (p + 1) / 2));
  std::vector<double> b = {double(r), 2.0 * r};
  comm.broadcast(std::span<double>(b), p - 1);
  CHECK(b[0] == p - 1);
  CHECK(b[1] == 2.0 * (p - 1));
  bool refused = false;
  try {
    comm.broadcast(std::span<double>(b), p);
  } catch (const std::invalid_argument& e) {
    refused = std::string(e.what()).find("root") != std::string::npos;
  }
  CHECK(refused);
  descent::SingleProcess single;
  CHECK(single.rank() == 0);
  CHECK(single.size() == 1);
}

// SGD with momentum, a batch of 7 (uneven over 2 and 3 ranks) and a short last batch of 5.
void sgd_momentum_matches_one_process(descent::mpi::Communicator& comm) {
  const Logistic f = make_logistic(5, 103);
  const descent::StopCriteria stop{.max_epochs = 3};
  const descent::SamplerOptions batches{.batch_size = 7, .seed = 11};

  Trajectory reference;
  V x_ref = V::Zero(f.dimension());
  descent::SGD<V> sgd_ref({.lr = 0.5, .momentum = 0.9});
  const descent::Report ref =
      descent::train(f, x_ref, sgd_ref, descent::MinibatchSampler(f.size(), batches), stop, std::ref(reference));

  Trajectory trajectory;
  V x = V::Zero(f.dimension());
  descent::SGD<V> sgd({.lr = 0.5, .momentum = 0.9});
  const descent::Report report = descent::distributed::train(f, x, sgd, descent::MinibatchSampler(f.size(), batches),
                                                             stop, comm, std::ref(trajectory));
  CHECK(report.reason == descent::StopReason::MaxEpochs);
  CHECK(same_report(report, ref));
  CHECK(relative_gap(trajectory, reference) <= 1e-12);
  CHECK(same_on_every_rank(comm, x));
}

// Batches of 2 and a last one of 1: with 2 or 3 ranks some slices are empty, and those ranks do not
// call the objective at all.
void empty_slices(descent::mpi::Communicator& comm) {
  const Logistic f = make_logistic(3, 11);
  struct Counting {
    const Logistic& f;
    int calls = 0;
    Eigen::Index size() const { return f.size(); }
    double operator()(const V& x, descent::Batch batch, V& grad) {
      ++calls;
      return f(x, batch, grad);
    }
  } counting{f};
  const descent::StopCriteria stop{.max_epochs = 3};
  const descent::SamplerOptions batches{.batch_size = 2, .seed = 8};
  Trajectory reference, trajectory;
  V x_ref = V::Zero(f.dimension()), x = V::Zero(f.dimension());
  descent::SGD<V> sgd_ref({.lr = 0.3, .momentum = 0.5}), sgd({.lr = 0.3, .momentum = 0.5});
  descent::train(f, x_ref, sgd_ref, descent::MinibatchSampler(f.size(), batches), stop, std::ref(reference));
  descent::distributed::train(counting, x, sgd, descent::MinibatchSampler(f.size(), batches), stop, comm,
                              std::ref(trajectory));
  CHECK(relative_gap(trajectory, reference) <= 1e-12);
  // 6 batches per epoch, 5 of 2 samples and 1 of 1: rank r of p has a sample of a batch of b when
  // b·(r+1)/p > b·r/p.
  int expected = 0;
  for (const std::size_t b : {2u, 2u, 2u, 2u, 2u, 1u}) {
    const auto [begin, end] = descent::detail::slice_bounds(b, comm.rank(), comm.size());
    expected += end > begin ? 3 : 0;
  }
  CHECK(counting.calls == expected);
  CHECK(same_on_every_rank(comm, x));
}

// Adam with two parameter groups (weights, intercept), clipping, and a StepLR every step.
void adam_groups_schedule_matches_one_process(descent::mpi::Communicator& comm) {
  const Logistic f = make_logistic(6, 200, 3);
  descent::Layout layout;
  layout.add("w", 6);
  layout.add("c", 1);
  auto run = [&](auto&& driver) {
    descent::Grouped<descent::Adam<V>> grouped(
        {{layout.blocks({"w"}), {.lr = 0.05, .weight_decay = 1e-2}}, {layout.blocks({"c"}), {.lr = 0.01}}});
    auto opt = descent::clipped(grouped, 0.5);
    descent::Scheduler schedule(opt, descent::StepLR{.step_size = 10, .gamma = 0.7});
    Trajectory trajectory;
    V x = V::Constant(layout.size(), 0.1);
    const descent::Report report =
        driver(x, opt, descent::MinibatchSampler(f.size(), {.batch_size = 16, .seed = 5}), trajectory, schedule);
    return std::tuple(report, trajectory, x, grouped.lr(0));
  };
  const descent::StopCriteria stop{.max_iterations = 60};
  const auto [ref, reference, x_ref, lr_ref] = run([&](V& params, auto& opt, auto&& sampler, Trajectory& t, auto& s) {
    return descent::train(f, params, opt, sampler, stop, std::ref(t), descent::every_step(s));
  });
  const auto [report, trajectory, x, lr] = run([&](V& params, auto& opt, auto&& sampler, Trajectory& t, auto& s) {
    return descent::distributed::train(f, params, opt, sampler, stop, comm, std::ref(t), descent::every_step(s));
  });
  CHECK(report.iterations == 60);
  CHECK(same_report(report, ref));
  CHECK(relative_gap(trajectory, reference) <= 1e-12);
  CHECK(lr == lr_ref);
  CHECK(same_on_every_rank(comm, x));
}

// The float path: the same batches, agreement to float's precision.
void float_matches_one_process(descent::mpi::Communicator& comm) {
  using Vf = Eigen::VectorXf;
  const Logistic fd = make_logistic(4, 50);
  const descent::problems::LogisticRegression<float> f(fd.samples().cast<float>(), fd.labels().cast<float>());
  auto run = [&](auto&& driver) {
    Vf x = Vf::Zero(f.dimension());
    descent::Adam<Vf> adam({.lr = 0.05});
    driver(x, adam, descent::MinibatchSampler(f.size(), {.batch_size = 9, .seed = 1}));
    return x;
  };
  const descent::StopCriteria stop{.max_epochs = 4};
  const Vf ref =
      run([&](Vf& params, auto& opt, auto&& sampler) { return descent::train(f, params, opt, sampler, stop); });
  const Vf x = run([&](Vf& params, auto& opt, auto&& sampler) {
    return descent::distributed::train(f, params, opt, sampler, stop, comm);
  });
  CHECK((x - ref).lpNorm<Eigen::Infinity>() <= 1e-5f * ref.lpNorm<Eigen::Infinity>());
  CHECK(same_on_every_rank(comm, V(x.cast<double>())));
}

/// The logistic objective, except that the `bad_call`-th evaluation on `bad_rank` gives a NaN loss
/// (or, with `in_gradient`, a NaN gradient coefficient).
struct Poisoned {
  const Logistic& f;
  int bad_rank;
  int bad_call;
  bool in_gradient;
  int rank = 0;
  int calls = 0;
  Eigen::Index size() const { return f.size(); }
  double operator()(const V& x, descent::Batch batch, V& grad) {
    double loss = f(x, batch, grad);
    if (++calls == bad_call && rank == bad_rank) {
      if (in_gradient)
        grad(2) = NAN;
      else
        loss = NAN;
    }
    return loss;
  }
};

void nonfinite_on_one_rank_stops_every_rank(descent::mpi::Communicator& comm) {
  const Logistic f = make_logistic(5, 90);
  for (const bool in_gradient : {false, true}) {
    const descent::StopCriteria stop{.max_epochs = 5};
    const descent::SamplerOptions batches{.batch_size = 12, .seed = 2};
    Poisoned poisoned_ref{f, 0, 6, in_gradient};
    V x_ref = V::Zero(f.dimension());
    descent::Adam<V> adam_ref({.lr = 0.1});
    const descent::Report ref =
        descent::train(poisoned_ref, x_ref, adam_ref, descent::MinibatchSampler(f.size(), batches), stop);

    // The last rank is poisoned: rank 0 alone sees nothing wrong.
    Poisoned poisoned{f, comm.size() - 1, 6, in_gradient, comm.rank()};
    V x = V::Zero(f.dimension());
    descent::Adam<V> adam({.lr = 0.1});
    const descent::Report report =
        descent::distributed::train(poisoned, x, adam, descent::MinibatchSampler(f.size(), batches), stop, comm);
    CHECK(ref.reason == descent::StopReason::NonFinite);
    CHECK(ref.iterations == 5);
    CHECK(report.reason == descent::StopReason::NonFinite);
    CHECK(report.iterations == ref.iterations);
    CHECK(report.message == ref.message);
    CHECK((x - x_ref).lpNorm<Eigen::Infinity>() <= 1e-12 * x_ref.lpNorm<Eigen::Infinity>());
    CHECK(same_on_every_rank(comm, x));
  }
}

void bitwise_reproducible(descent::mpi::Communicator& comm) {
  const Logistic f = make_logistic(8, 301, 9);
  auto run = [&] {
    Trajectory trajectory;
    V x = V::Zero(f.dimension());
    descent::Adam<V> adam({.lr = 0.05});
    descent::distributed::train(f, x, adam, descent::MinibatchSampler(f.size(), {.batch_size = 20, .seed = 4}),
                                {.max_epochs = 3}, comm, std::ref(trajectory));
    return trajectory;
  };
  const Trajectory first = run(), second = run();
  CHECK(first.steps.size() == second.steps.size());
  bool identical = first.steps.size() == second.steps.size();
  for (std::size_t k = 0; identical && k < first.steps.size(); ++k)
    identical = (first.steps[k].array() == second.steps[k].array()).all();
  CHECK(identical);
  CHECK(same_on_every_rank(comm, first.steps.back()));
}

void parameters_broadcast_from_rank_0(descent::mpi::Communicator& comm) {
  const Logistic f = make_logistic(3, 40);
  V x = V::Constant(f.dimension(), double(comm.rank()));  // only rank 0's start counts
  V x_ref = V::Zero(f.dimension());
  descent::SGD<V> sgd({.lr = 0.1}), sgd_ref({.lr = 0.1});
  const descent::StopCriteria stop{.max_iterations = 7};
  descent::train(f, x_ref, sgd_ref, descent::MinibatchSampler(f.size(), {.batch_size = 8}), stop);
  descent::distributed::train(f, x, sgd, descent::MinibatchSampler(f.size(), {.batch_size = 8}), stop, comm);
  CHECK((x - x_ref).lpNorm<Eigen::Infinity>() <= 1e-12 * x_ref.lpNorm<Eigen::Infinity>());
}

/// Runs a distributed train in which rank `odd` gets what `tweak` changes; returns whether this
/// rank threw std::invalid_argument with `expected` in its message.
template <class Tweak>
bool refused(descent::mpi::Communicator& comm, int odd, const std::string& expected, Tweak tweak) {
  const bool mine = comm.rank() == odd;
  Eigen::Index n = 60, d = 4;
  descent::SamplerOptions batches{.batch_size = 10, .seed = 1};
  descent::StopCriteria stop{.max_epochs = 2};
  if (mine) tweak(n, d, batches, stop);
  const Logistic f = make_logistic(d, n);
  V x = V::Zero(f.dimension());
  descent::SGD<V> sgd({.lr = 0.1});
  try {
    descent::distributed::train(f, x, sgd, descent::MinibatchSampler(n, batches), stop, comm);
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    const bool names_it =
        message.find(expected) != std::string::npos && message.find("descent::distributed::train") != std::string::npos;
    if (!names_it) std::fprintf(stderr, "[rank %d] unexpected message: %s\n", comm.rank(), e.what());
    return names_it;
  }
  return false;
}

void disagreement_is_an_error_on_every_rank(descent::mpi::Communicator& comm) {
  if (comm.size() == 1) return;
  const int odd = comm.size() - 1;
  using SO = descent::SamplerOptions;
  using SC = descent::StopCriteria;
  CHECK(refused(comm, odd, "the sampler's seed (rank 0 has 1", [](auto&, auto&, SO& o, SC&) { o.seed = 2; }));
  CHECK(refused(comm, odd, "the sampler's n", [](Eigen::Index& n, auto&, SO&, SC&) { n = 59; }));
  CHECK(refused(comm, odd, "the objective's size()", [](Eigen::Index& n, auto&, SO&, SC&) { n = 61; }));
  CHECK(refused(comm, odd, "the parameters' rows (rank 0 has 5", [](auto&, Eigen::Index& d, SO&, SC&) { d = 5; }));
  CHECK(refused(comm, odd, "the sampler's batch_size", [](auto&, auto&, SO& o, SC&) { o.batch_size = 12; }));
  CHECK(refused(comm, odd, "max_epochs", [](auto&, auto&, SO&, SC& s) { s.max_epochs = 3; }));

  // A sampler one batch ahead on one rank: the same options, another position.
  const Logistic f = make_logistic(4, 60);
  V x = V::Zero(f.dimension());
  descent::SGD<V> sgd({.lr = 0.1});
  descent::MinibatchSampler sampler(60, {.batch_size = 10});
  if (comm.rank() == odd) sampler.next();
  bool threw = false;
  try {
    descent::distributed::train(f, x, sgd, sampler, {.max_iterations = 3}, comm);
  } catch (const std::invalid_argument& e) {
    threw = std::string(e.what()).find("next batch") != std::string::npos;
  }
  CHECK(threw);
}

void callback_stops_every_rank(descent::mpi::Communicator& comm) {
  const Logistic f = make_logistic(3, 80);
  for (const int deciding : {0, comm.size() - 1}) {
    V x = V::Zero(f.dimension());
    descent::SGD<V> sgd({.lr = 0.1});
    int calls = 0;
    auto stop_at_9 = [&](const descent::Progress<V>& p) {
      ++calls;
      return !(comm.rank() == deciding && p.iteration == 9);
    };
    const descent::Report report = descent::distributed::train(
        f, x, sgd, descent::MinibatchSampler(f.size(), {.batch_size = 8}), {.max_epochs = 10}, comm, stop_at_9);
    CHECK(report.reason == descent::StopReason::Callback);
    CHECK(report.iterations == 9);
    CHECK(calls == 9);  // 10 batches per epoch: no end of epoch among the first 9 steps
    CHECK(same_on_every_rank(comm, x));
  }
}

void time_limit_stops_every_rank(descent::mpi::Communicator& comm) {
  const Logistic f = make_logistic(3, 80);
  // Rank 0 is slow: the others must stop when its clock says so.
  auto slow = [&](const V& x, descent::Batch batch, V& grad) {
    if (comm.rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return f(x, batch, grad);
  };
  struct Slow {
    decltype(slow)& g;
    Eigen::Index n;
    Eigen::Index size() const { return n; }
    double operator()(const V& x, descent::Batch batch, V& grad) { return g(x, batch, grad); }
  } objective{slow, f.size()};
  V x = V::Zero(f.dimension());
  descent::SGD<V> sgd({.lr = 0.1});
  double seen_limit = 0;
  auto watch = [&](const descent::Progress<V>& p) { seen_limit = p.stop.time_limit; };
  const descent::Report report = descent::distributed::train(
      objective, x, sgd, descent::MinibatchSampler(f.size(), {.batch_size = 8}), {.time_limit = 0.1}, comm, watch);
  CHECK(report.reason == descent::StopReason::TimeLimit);
  CHECK(report.iterations >= 1);
  CHECK(seen_limit == 0.1);
  CHECK(same_on_every_rank(comm, double(report.iterations)));
  CHECK(same_on_every_rank(comm, x));
}

void exception_on_one_rank_is_rethrown_on_every_rank(descent::mpi::Communicator& comm) {
  const Logistic f = make_logistic(3, 80);
  const int bad = comm.size() - 1;
  struct Throwing {
    const Logistic& f;
    bool bad;
    int calls = 0;
    Eigen::Index size() const { return f.size(); }
    double operator()(const V& x, descent::Batch batch, V& grad) {
      if (++calls == 4 && bad) throw std::domain_error("the data ran out");
      return f(x, batch, grad);
    }
  } objective{f, comm.rank() == bad};
  V x = V::Zero(f.dimension());
  descent::SGD<V> sgd({.lr = 0.1});
  std::string what;
  bool domain = false;
  try {
    descent::distributed::train(objective, x, sgd, descent::MinibatchSampler(f.size(), {.batch_size = 8}),
                                {.max_iterations = 20}, comm);
  } catch (const std::domain_error& e) {
    domain = true;
    what = e.what();
  } catch (const std::runtime_error& e) {
    what = e.what();
  }
  if (comm.rank() == bad) {
    CHECK(domain);
    CHECK(what == "the data ran out");
  } else {
    CHECK(!domain);
    CHECK(what.find(descent::detail::concat("the objective threw on rank ", std::to_string(bad))) != std::string::npos);
  }
  CHECK(same_on_every_rank(comm, x));

  // A callback that throws on one rank, one that can stop the run and one that cannot.
  auto stopping = [&](const descent::Progress<V>& p) {
    if (comm.rank() == bad && p.iteration == 3) throw std::out_of_range("callback");
    return true;
  };
  auto not_stopping = [&](const descent::Progress<V>& p) {
    if (comm.rank() == bad && p.iteration == 3) throw std::out_of_range("callback");
  };
  auto run = [&](auto& callback) {
    V y = V::Zero(f.dimension());
    descent::SGD<V> sgd_y({.lr = 0.1});
    std::string message;
    try {
      descent::distributed::train(f, y, sgd_y, descent::MinibatchSampler(f.size(), {.batch_size = 8}),
                                  {.max_iterations = 20}, comm, callback);
    } catch (const std::exception& e) {
      message = e.what();
    }
    CHECK(message == (comm.rank() == bad
                          ? std::string("callback")
                          : descent::detail::concat("descent::distributed: a callback threw on rank ",
                                                    std::to_string(bad), " (of ", std::to_string(comm.size()),
                                                    "); every rank stops with this exception")));
    CHECK(same_on_every_rank(comm, y));
  };
  run(stopping);
  run(not_stopping);
}

void on_root_calls_rank_0_only(descent::mpi::Communicator& comm) {
  const Logistic f = make_logistic(3, 40);
  V x = V::Zero(f.dimension());
  descent::SGD<V> sgd({.lr = 0.1});
  descent::History history;
  descent::distributed::train(f, x, sgd, descent::MinibatchSampler(f.size(), {.batch_size = 8}), {.max_iterations = 6},
                              comm, descent::distributed::on_root(comm, history));
  CHECK(history.steps().size() == (comm.rank() == 0 ? 6u : 0u));
}

/// An FNV-1a digest of the parameters after every step of a fixed run: what two separate runs on
/// the same number of processes must print alike (tests/mpi_repeat.cmake).
std::uint64_t trajectory_digest(descent::mpi::Communicator& comm) {
  const Logistic f = make_logistic(8, 301, 9);
  Trajectory trajectory;
  V x = V::Zero(f.dimension());
  descent::Adam<V> adam({.lr = 0.05});
  descent::distributed::train(f, x, adam, descent::MinibatchSampler(f.size(), {.batch_size = 20, .seed = 4}),
                              {.max_epochs = 3}, comm, std::ref(trajectory));
  std::uint64_t digest = 0xcbf29ce484222325u;
  for (const V& step : trajectory.steps)
    for (const double value : step)
      for (int byte = 0; byte < 8; ++byte)
        digest = (digest ^ ((std::bit_cast<std::uint64_t>(value) >> (8 * byte)) & 0xffu)) * 0x100000001b3u;
  return digest;
}

}  // namespace

int main(int argc, char** argv) {
  descent::mpi::Environment environment(argc, argv);
  descent::mpi::Communicator comm;
  if (argc > 1 && std::string(argv[1]) == "--digest") {
    const std::uint64_t digest = trajectory_digest(comm);
    if (comm.rank() == 0) std::printf("digest %016llx\n", static_cast<unsigned long long>(digest));
    return 0;
  }
  const std::pair<const char*, void (*)(descent::mpi::Communicator&)> cases[] = {
      {"communicator_basics", communicator_basics},
      {"sgd_momentum_matches_one_process", sgd_momentum_matches_one_process},
      {"empty_slices", empty_slices},
      {"adam_groups_schedule_matches_one_process", adam_groups_schedule_matches_one_process},
      {"float_matches_one_process", float_matches_one_process},
      {"nonfinite_on_one_rank_stops_every_rank", nonfinite_on_one_rank_stops_every_rank},
      {"bitwise_reproducible", bitwise_reproducible},
      {"parameters_broadcast_from_rank_0", parameters_broadcast_from_rank_0},
      {"disagreement_is_an_error_on_every_rank", disagreement_is_an_error_on_every_rank},
      {"callback_stops_every_rank", callback_stops_every_rank},
      {"time_limit_stops_every_rank", time_limit_stops_every_rank},
      {"exception_on_one_rank_is_rethrown_on_every_rank", exception_on_one_rank_is_rethrown_on_every_rank},
      {"on_root_calls_rank_0_only", on_root_calls_rank_0_only},
  };
  for (const auto& [name, run] : cases) {
    const int before = failures;
    try {
      run(comm);
    } catch (const std::exception& e) {
      ++failures;
      std::fprintf(stderr, "[rank %d of %d] %s threw: %s\n", comm.rank(), comm.size(), name, e.what());
    }
    double failed[1] = {double(failures - before)};
    comm.allreduce_sum(std::span<double>(failed));
    if (comm.rank() == 0) std::printf("%-50s %s\n", name, failed[0] == 0 ? "passed" : "FAILED");
  }
  double total[1] = {double(failures)};
  comm.allreduce_sum(std::span<double>(total));
  if (comm.rank() == 0)
    std::printf("%s on %d process(es): %g failed check(s)\n", total[0] == 0 ? "passed" : "FAILED", comm.size(),
                total[0]);
  return total[0] == 0 ? 0 : 1;
}
