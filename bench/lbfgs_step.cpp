// L-BFGS iterations against a hand-written L-BFGS doing the same arithmetic.
//
//   descent/LBFGS/<type>/h<m>/<n>   lbfgs.step(f, x) with max_iter = 1 and fixed steps: one torch
//                                   step(closure) = one evaluation of f and one iteration
//   hand/LBFGS/<type>/h<m>/<n>      the same iteration as plain Eigen statements over the same
//                                   column-major history (a ring of m pairs), without descent's
//                                   safety: no copy of x before the step (descent keeps one to put x
//                                   back after a non-finite evaluation), no NaN fill of the gradient
//                                   before f writes it, no finiteness checks, no tolerance tests
//
// f is a diagonal quadratic, f(x) = Σ ½ a_i x_i² − b_i x_i (one pass over x, a, b writing g), so the
// time is L-BFGS's own: the two-loop recursion reads the 2m history vectors twice (2m dot products
// and 2m axpys) plus a dozen passes for f, the new pair and the step. bytes_per_second counts the
// traffic of the hand iteration's statements, each array a statement reads or writes counted once
// (10m + 21 arrays of n: per pair and loop a dot (2) and an axpy (3); f 4, y 3, s 2, sᵀy 2, yᵀy 1,
// d = −g 2, d *= H_diag 2, g_prev = g 2, x += t·d 3), the same figure for both rows, so "GB/s" is an
// effective bandwidth; ns_per_param is the time per iteration divided by n.
//
// The run never converges during a benchmark (lr = 1e-4: each iteration removes about 1e-4 of the
// distance to the minimizer) and the tolerances are 0, so every timed iteration does the full work.
// Before any benchmark runs, main() runs both side by side for 30 iterations and stops if they
// disagree (relative 1e-5 in float, 1e-12 in double).

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <descent/optimizers/lbfgs.hpp>

#include "common.hpp"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace {

using Index = Eigen::Index;
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;

constexpr double lr = 1e-4;

/// f(x) = Σ ½ a_i x_i² − b_i x_i with a in [1, 10], b in [−1, 1].
template <class T>
struct Quadratic {
  explicit Quadratic(Index n) : a(n), b(n) {
    bench::random_values(a.data(), n, 11, 0.0);
    a = (a.array().abs() * T(9) + T(1)).matrix();
    bench::random_values(b.data(), n, 12, 0.0);
  }
  double operator()(const Vec<T>& x, Vec<T>& g) const {
    g = a.cwiseProduct(x) - b;
    return double((T(0.5) * a.cwiseProduct(x) - b).dot(x));
  }
  Vec<T> a, b;
};

template <class T>
descent::LBFGSOptions options(Index history) {
  return {.lr = lr, .max_iter = 1, .tolerance_grad = 0, .tolerance_change = 0, .history_size = history};
}

/// torch's L-BFGS with fixed steps, one evaluation per iteration, as a user would write it with Eigen.
template <class T>
struct HandLBFGS {
  HandLBFGS(Index n, Index history)
      : m(history), s(n, m + 1), y(n, m + 1), ro(m + 1), al(m + 1), d(n), g(n), g_prev(n) {}

  void iterate(const Quadratic<T>& f, Vec<T>& x) {
    f(x, g);
    const Index ring = m + 1;  // one spare slot: the candidate pair never overwrites a live one
    if (iterations++ == 0) {
      d = -g;
      t = std::min(T(1), T(1) / g.cwiseAbs().sum()) * T(lr);
    } else {
      const Index slot = (head + count) % ring;
      y.col(slot) = g - g_prev;
      s.col(slot) = d * t;
      const T ys = y.col(slot).dot(s.col(slot));
      if (ys > T(1e-10)) {
        if (count == m) head = (head + 1) % ring;
        else ++count;
        ro(slot) = T(1) / ys;
        h_diag = ys / y.col(slot).squaredNorm();
      }
      d = -g;
      for (Index k = count - 1; k >= 0; --k) {
        const Index i = (head + k) % ring;
        al(i) = s.col(i).dot(d) * ro(i);
        d -= al(i) * y.col(i);
      }
      d *= h_diag;
      for (Index k = 0; k < count; ++k) {
        const Index i = (head + k) % ring;
        const T be = y.col(i).dot(d) * ro(i);
        d += (al(i) - be) * s.col(i);
      }
      t = T(lr);
    }
    g_prev = g;
    x += t * d;
  }

  Index m, head = 0, count = 0;
  std::int64_t iterations = 0;
  Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> s, y;
  Vec<T> ro, al, d, g, g_prev;
  T t = 0, h_diag = 1;
};

template <class T>
Vec<T> start(Index n) {
  Vec<T> x(n);
  bench::random_values(x.data(), n, bench::params_seed, 0.0);
  return x;
}

template <class T>
void finish(benchmark::State& state, Index n, Index m, const Vec<T>& x) {
  if (!x.allFinite()) state.SkipWithError("parameters became non-finite");
  bench::report_step<T>(state, n, int(10 * m + 21));
}

template <class T>
void bench_descent(benchmark::State& state) {
  const Index n = state.range(0), m = state.range(1);
  const Quadratic<T> f(n);
  Vec<T> x = start<T>(n);
  descent::LBFGS<Vec<T>> opt(options<T>(m));
  // not timed: the first steps allocate, and fill the history
  for (Index k = 0; k <= m; ++k) opt.step(f, x);
  for (auto _ : state) {
    opt.step(f, x);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  finish<T>(state, n, m, x);
}

template <class T>
void bench_hand(benchmark::State& state) {
  const Index n = state.range(0), m = state.range(1);
  const Quadratic<T> f(n);
  Vec<T> x = start<T>(n);
  HandLBFGS<T> opt(n, m);
  for (Index k = 0; k <= m; ++k) opt.iterate(f, x);
  for (auto _ : state) {
    opt.iterate(f, x);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  finish<T>(state, n, m, x);
}

template <class T>
bool agrees() {
  constexpr Index n = 1'003, m = 5;
  const double rtol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  const Quadratic<T> f(n);
  const Vec<T> x0 = start<T>(n);
  Vec<T> xd = x0, xh = x0;
  descent::LBFGS<Vec<T>> opt(options<T>(m));
  HandLBFGS<T> hand(n, m);
  for (int k = 0; k < 30; ++k) {
    opt.step(f, xd);
    hand.iterate(f, xh);
  }
  const double moved = double((xh - x0).cwiseAbs().maxCoeff());
  const double diff = double((xd - xh).cwiseAbs().maxCoeff());
  if (!(moved > 0.0) || !(diff <= rtol * moved) || opt.history_count() != hand.count) {
    std::fprintf(stderr, "hand L-BFGS disagrees with descent (%s): max |diff| = %g, moved %g, pairs %lld / %lld\n",
                 bench::type_name<T>(), diff, moved, static_cast<long long>(opt.history_count()),
                 static_cast<long long>(hand.count));
    return false;
  }
  return true;
}

template <class T>
void register_type() {
  for (const Index m : {Index(5), Index(20)}) {
    for (const Index n : {Index(1'000), Index(100'000), Index(10'000'000)}) {
      const std::string tail = std::string("LBFGS/") + bench::type_name<T>() + "/h" + std::to_string(m);
      for (auto [kind, body] : {std::pair{"descent/", &bench_descent<T>}, std::pair{"hand/", &bench_hand<T>}}) {
        benchmark::RegisterBenchmark((kind + tail).c_str(), body)
            ->Args({n, m})
            ->Unit(bench::unit_for(n))
            ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (!agrees<float>() || !agrees<double>()) return 1;
  register_type<float>();
  register_type<double>();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
