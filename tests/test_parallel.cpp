// Threaded steps (descent/parallel.hpp): the pool runs every index once, on distinct threads,
// rethrows a task's exception and runs nested calls in order; a step in a ParallelSteps scope is
// split over the pool (its run count says so) and gives bitwise the numbers of the single-threaded
// step, for every optimizer variant, float and double, with any number of threads, under the
// drivers' fused guard too (backup, finiteness sum) and through whole train runs that hit a NaN.
#include <catch2/catch.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

namespace {

template <class S>
using VX = Eigen::Matrix<S, Eigen::Dynamic, 1>;

constexpr int kParallelSteps = 12;

/// kParallelSteps steps from the same start, on `threads` threads (0: no ParallelSteps scope).
template <class Cfg, class S>
VX<S> parallel_run(Eigen::Index n, unsigned threads, std::uint64_t* pool_runs = nullptr) {
  auto opt = Cfg::template make<VX<S>>();
  VX<S> x(n), g(n);
  descent_test::fill_start(x);
  auto steps = [&] {
    for (int t = 0; t < kParallelSteps; ++t) {
      descent_test::gradient(g, x, t);
      opt.step(x, g);
    }
  };
  if (threads == 0) {
    steps();
  } else {
    descent::ThreadPool pool(threads);
    {
      const descent::ParallelSteps parallel(pool, {.min_size = 1});
      steps();
    }
    if (pool_runs) *pool_runs = pool.runs();
  }
  return x;
}

template <class S>
bool bitwise_equal(const VX<S>& a, const VX<S>& b) {
  return a.size() == b.size() && std::equal(a.data(), a.data() + a.size(), b.data(), [](S u, S v) {
           return std::memcmp(&u, &v, sizeof(S)) == 0;
         });
}

}  // namespace

TEST_CASE("thread pool: every index once, on distinct threads, and the caller's is index 0", "[parallel]") {
  CHECK_THROWS_WITH(descent::ThreadPool(0), Catch::Contains("threads must be at least 1"));
  for (unsigned threads : {1u, 2u, 3u, 5u}) {
    INFO(threads << " threads");
    descent::ThreadPool pool(threads);
    CHECK(pool.size() == threads);
    for (int repeat = 0; repeat < 50; ++repeat) {
      std::vector<int> calls(threads, 0);
      std::vector<std::thread::id> ids(threads);
      pool.run([&](unsigned i) {
        ++calls[i];
        ids[i] = std::this_thread::get_id();
      });
      CHECK(std::all_of(calls.begin(), calls.end(), [](int c) { return c == 1; }));
      CHECK(std::set<std::thread::id>(ids.begin(), ids.end()).size() == threads);
      CHECK(ids[0] == std::this_thread::get_id());
    }
    CHECK(pool.runs() == (threads == 1 ? 0u : 50u));
  }
}

TEST_CASE("thread pool: exceptions reach the caller, nested runs run in order, calls from threads serialize",
          "[parallel]") {
  descent::ThreadPool pool(3);
  std::atomic<int> finished{0};
  CHECK_THROWS_WITH(pool.run([&](unsigned i) {
    if (i == 2) throw std::runtime_error("task 2 failed");
    if (i == 1) throw std::logic_error("task 1 failed");
    ++finished;
  }),
                    "task 1 failed");
  CHECK(finished == 1);  // the others still ran to the end

  std::vector<std::vector<unsigned>> inner(3);
  pool.run([&](unsigned i) { pool.run([&](unsigned j) { inner[i].push_back(j); }); });
  for (const auto& order : inner) CHECK(order == std::vector<unsigned>{0, 1, 2});

  // Run on the caller alone (nested, or a pool of one), the contract is the same: every index
  // runs, then the first exception in index order is rethrown.
  std::vector<int> ran(3, 0);
  std::vector<std::string> nested_errors(3);
  pool.run([&](unsigned i) {
    try {
      pool.run([&](unsigned j) {
        if (i == 0) ++ran[j];
        if (j >= 1) throw std::runtime_error("nested task " + std::to_string(j) + " failed");
      });
    } catch (const std::exception& e) {
      nested_errors[i] = e.what();
    }
  });
  CHECK(ran == std::vector<int>{1, 1, 1});
  CHECK(nested_errors == std::vector<std::string>(3, "nested task 1 failed"));
  descent::ThreadPool single(1);
  int single_ran = 0;
  CHECK_THROWS_WITH(single.run([&](unsigned) {
    ++single_ran;
    throw std::runtime_error("single failed");
  }),
                    "single failed");
  CHECK(single_ran == 1);

  // Two threads sharing the pool: each of their runs sees all indices, none interleaved.
  std::mutex m;
  std::vector<int> counts(2, 0);
  auto user = [&](int who) {
    for (int k = 0; k < 100; ++k) {
      std::atomic<int> seen{0};
      pool.run([&](unsigned) { ++seen; });
      const std::lock_guard lock(m);
      counts[who] += seen.load() == 3 ? 1 : 0;
    }
  };
  std::thread a(user, 0), b(user, 1);
  a.join();
  b.join();
  CHECK(counts == std::vector<int>{100, 100});
}

TEST_CASE("parallel steps: chunks are cache lines apart and cover every coefficient once", "[parallel]") {
  CHECK(descent::detail::parallel_chunk_quantum<float> == 16);
  CHECK(descent::detail::parallel_chunk_quantum<double> == 8);
  for (Eigen::Index n : {0, 1, 15, 16, 17, 100, 4099, 1000000}) {
    for (Eigen::Index parts : {1, 2, 3, 7, 64}) {
      const descent::detail::ChunkSplit split{n, parts, 16};
      INFO("n " << n << ", parts " << parts);
      CHECK(split.begin(0) == 0);
      CHECK(split.begin(parts) == n);
      Eigen::Index largest = 0, smallest = n;
      for (Eigen::Index i = 0; i < parts; ++i) {
        CHECK(split.begin(i) <= split.begin(i + 1));
        if (i > 0) CHECK(split.begin(i) % 16 == 0);
        largest = std::max(largest, split.begin(i + 1) - split.begin(i));
        smallest = std::min(smallest, split.begin(i + 1) - split.begin(i));
      }
      CHECK(largest - smallest <= 2 * 16);  // balanced to a cache line, the remainder on the last
    }
  }
  CHECK_THROWS_WITH([] {
    descent::ThreadPool pool(2);
    descent::ParallelSteps parallel(pool, {.min_size = 0});
  }(), Catch::Contains("min_size must be at least 1"));
}

TEMPLATE_TEST_CASE("parallel steps: bitwise the numbers of the single-threaded step", "[parallel]",
                   DESCENT_TEST_ALL_VARIANTS) {
  INFO(TestType::name);
  auto check = [](auto scalar) {
    using S = decltype(scalar);
    INFO((std::is_same_v<S, float> ? "float" : "double"));
    for (Eigen::Index n : {20, 4099}) {
      const VX<S> serial = parallel_run<TestType, S>(n, 0);
      for (unsigned threads : {1u, 2u, 3u}) {
        INFO("n " << n << ", " << threads << " threads");
        std::uint64_t runs = 0;
        const VX<S> parallel = parallel_run<TestType, S>(n, threads, &runs);
        CHECK(bitwise_equal(parallel, serial));
        CHECK(runs == (threads == 1 ? 0u : std::uint64_t(kParallelSteps)));
      }
    }
  };
  check(double{});
  check(float{});
}

TEST_CASE("parallel steps: below min_size, in several spans and outside the scope a step stays on its thread",
          "[parallel]") {
  descent::ThreadPool pool(2);
  descent::Adam<Eigen::VectorXd> opt({.lr = 0.1});
  Eigen::VectorXd x = Eigen::VectorXd::LinSpaced(1000, -1.0, 1.0), g = Eigen::VectorXd::Ones(1000);
  opt.step(x, g);
  CHECK(pool.runs() == 0);
  {
    const descent::ParallelSteps parallel(pool, {.min_size = 1001});
    opt.step(x, g);
    CHECK(pool.runs() == 0);
    {
      const descent::ParallelSteps inner(pool, {.min_size = 1000});
      opt.step(x, g);
      CHECK(pool.runs() == 1);
    }
    opt.step(x, g);  // the outer scope again
    CHECK(pool.runs() == 1);

    // A block of a larger matrix: 10 spans of 100, run one after another on this thread.
    Eigen::MatrixXd big = Eigen::MatrixXd::Ones(200, 10);
    descent::Adam<Eigen::MatrixXd> block_opt({.lr = 0.1});
    const descent::ParallelSteps all(pool, {.min_size = 1});
    block_opt.step(big.topRows(100), Eigen::MatrixXd::Ones(100, 10));
    CHECK(pool.runs() == 1);
    descent::Adam<Eigen::MatrixXd> whole_opt({.lr = 0.1});
    whole_opt.step(big, Eigen::MatrixXd::Ones(200, 10));  // one run of 2000: split
    CHECK(pool.runs() == 2);
  }
  CHECK(descent::detail::active_parallel_steps == nullptr);
}

TEST_CASE("parallel steps: under the drivers' guard, the same backup and finiteness sum", "[parallel]") {
  const Eigen::Index n = 1037;
  for (int poison = 0; poison < 3; ++poison) {
    INFO("poison " << poison);
    VX<double> x = VX<double>::LinSpaced(n, -2.0, 3.0), g = VX<double>::LinSpaced(n, 1.0, -1.5);
    if (poison == 1) g(n - 1) = std::numeric_limits<double>::quiet_NaN();  // the last chunk's tail
    if (poison == 2) g(3) = -std::numeric_limits<double>::infinity();       // the first chunk
    descent::RMSProp<VX<double>> plain_opt({.lr = 0.01, .momentum = 0.5, .centered = true});
    auto guarded_opt = plain_opt;
    VX<double> plain = x, guarded = x;
    plain_opt.step(plain, g);
    VX<double> backup = VX<double>::Constant(n, -7.0);
    descent::detail::StepGuard<double> guard{guarded.data(), n, backup.data()};
    descent::ThreadPool pool(3);
    {
      const descent::ParallelSteps parallel(pool, {.min_size = 1});
      const descent::detail::StepGuardScope<double> scope(guard);
      guarded_opt.step(guarded, g);
    }
    CHECK(pool.runs() == 1);
    CHECK(((plain.array() == guarded.array()) || (plain.array().isNaN() && guarded.array().isNaN())).all());
    CHECK(bitwise_equal(backup, x));
    CHECK(guard.covered == n);
    CHECK_FALSE(guard.outside);
    if (poison == 0) {
      CHECK(guard.zeros == 0.0);
    } else {
      CHECK(std::isnan(guard.zeros));
    }
  }
}

TEST_CASE("parallel steps: train in a scope ends bitwise where it ends without, a NaN gradient included",
          "[parallel]") {
  const Eigen::Index n = descent::detail::fused_guard_min_size + 301;
  for (int at : {-1, 1, 4}) {
    INFO("NaN gradient at call " << at);
    auto run = [&](bool threaded) {
      descent_test::Poisoned<double> f{.n = n, .kind = descent_test::Poisoned<double>::Kind::nan_gradient, .at = at};
      VX<double> x = VX<double>::LinSpaced(n, 0.5, -0.25);
      descent::Adam<VX<double>> opt({.lr = 0.05, .amsgrad = true});
      descent::MinibatchSampler sampler(f.size(), {.batch_size = 3, .seed = 7});
      descent::ThreadPool pool(2);
      descent::Report report;
      if (threaded) {
        const descent::ParallelSteps parallel(pool, {.min_size = 64});
        report = descent::train(f, x, opt, sampler, {.max_iterations = 10});
        CHECK(pool.runs() > 0);
      } else {
        report = descent::train(f, x, opt, sampler, {.max_iterations = 10});
      }
      return std::make_pair(report, x);
    };
    const auto [serial_report, serial_x] = run(false);
    const auto [threaded_report, threaded_x] = run(true);
    CHECK(threaded_report.reason == serial_report.reason);
    CHECK(threaded_report.iterations == serial_report.iterations);
    CHECK(bitwise_equal(threaded_x, serial_x));
    CHECK(threaded_x.allFinite());
    CHECK(threaded_report.reason == (at < 0 ? descent::StopReason::MaxIterations : descent::StopReason::NonFinite));
  }
}

namespace {

/// Σ over the piece of the per-sample loss ½‖x − t_i‖² and its gradient, t_i from the sample index.
double piece_loss(const VX<double>& x, descent::Batch piece, VX<double>& g) {
  double loss = 0.0;
  for (Eigen::Index i : piece) {
    const VX<double> t = VX<double>::LinSpaced(x.size(), std::sin(double(i)), std::cos(0.3 * double(i)));
    g += x - t;
    loss += 0.5 * (x - t).squaredNorm();
  }
  return loss;
}

}  // namespace

TEST_CASE("batch split: pieces in a fixed order, bitwise the same sums for any pool size", "[parallel]") {
  const Eigen::Index d = 37;
  const VX<double> x = VX<double>::LinSpaced(d, -1.0, 2.0);
  std::vector<Eigen::Index> samples(101);
  for (std::size_t k = 0; k < samples.size(); ++k) samples[k] = Eigen::Index((k * 37) % 101);
  const descent::Batch batch(samples);

  for (int pieces : {1, 3, 8, 200}) {
    INFO(pieces << " pieces");
    // The reference: the pieces one after another, summed in order, by hand.
    VX<double> expected_g = VX<double>::Zero(d);
    double expected_loss = 0.0;
    for (int k = 0; k < pieces; ++k) {
      const std::size_t b = samples.size(), first = std::size_t(k) * b / std::size_t(pieces),
                        last = std::size_t(k + 1) * b / std::size_t(pieces);
      VX<double> gk = VX<double>::Zero(d);
      const double lk = piece_loss(x, batch.subspan(first, last - first), gk);
      expected_g = k == 0 ? gk : VX<double>(expected_g + gk);
      expected_loss = k == 0 ? lk : expected_loss + lk;
    }
    for (unsigned threads : {1u, 2u, 3u}) {
      INFO(threads << " threads");
      descent::ThreadPool pool(threads);
      descent::BatchSplit<VX<double>> split(pool, {.pieces = pieces});
      VX<double> g = VX<double>::Constant(d, 99.0);
      // Counted here and checked below: Catch2's assertions are not thread-safe.
      std::atomic<std::size_t> seen{0};
      std::atomic<int> dirty_buffers{0};
      const double loss = split(batch, g, [&](descent::Batch piece, VX<double>& gp) {
        if (!(gp.array() == 0.0).all()) ++dirty_buffers;  // each buffer must start at zero
        seen += piece.size();
        return piece_loss(x, piece, gp);
      });
      CHECK(seen == samples.size());
      CHECK(dirty_buffers == 0);
      CHECK(std::memcmp(&loss, &expected_loss, sizeof(double)) == 0);
      CHECK(bitwise_equal(g, expected_g));
    }
  }

  descent::ThreadPool pool(2);
  CHECK_THROWS_WITH(descent::BatchSplit<VX<double>>(pool, {.pieces = 0}), Catch::Contains("pieces must be at least 1"));
  descent::BatchSplit<VX<double>> split(pool, {.pieces = 4});
  VX<double> g(d);
  CHECK_THROWS_WITH(split(batch, g,
                          [&](descent::Batch piece, VX<double>&) -> double {
                            if (piece.data() != samples.data()) throw std::runtime_error("piece failed");
                            return 0.0;
                          }),
                    "piece failed");
}

TEST_CASE("batch split: train with a split objective gives the same run on 1, 2 and 3 threads", "[parallel]") {
  const Eigen::Index d = 23;
  auto run = [&](unsigned threads) {
    descent::ThreadPool pool(threads);
    descent::BatchSplit<VX<double>> split(pool, {.pieces = 5});
    struct Objective {
      descent::BatchSplit<VX<double>>* split;
      Eigen::Index size() const { return 64; }
      double operator()(const VX<double>& x, descent::Batch batch, VX<double>& g) const {
        const double loss = (*split)(batch, g, [&](descent::Batch piece, VX<double>& gp) {
          return piece_loss(x, piece, gp);
        });
        g /= double(batch.size());
        return loss / double(batch.size());
      }
    } f{&split};
    VX<double> x = VX<double>::LinSpaced(d, 1.0, -1.0);
    descent::Adam<VX<double>> opt({.lr = 0.05});
    descent::MinibatchSampler sampler(f.size(), {.batch_size = 13, .seed = 3});
    const descent::Report report = descent::train(f, x, opt, sampler, {.max_iterations = 40});
    CHECK(report.iterations == 40);
    return x;
  };
  const VX<double> one = run(1);
  CHECK(bitwise_equal(run(2), one));
  CHECK(bitwise_equal(run(3), one));
}
