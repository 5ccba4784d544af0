// Sparse steps against the dense step and a hand-written loop (docs/sparse.md): n = 1e7 float
// parameters, gradients with 1e3, 1e4 and 1e5 nonzeros at random distinct indices.
//   descent/sparse/<O>/<nnz>  opt.step(x, g) with g an Eigen::SparseVector<float>
//   descent/dense/<O>/<nnz>   the dense step on the densified gradient (for SparseAdam: Adam, which
//                             is what a dense gradient would have to use), O(n) whatever nnz is
//   hand/<O>/<nnz>            the same formula in a plain loop over the nonzeros, what a user
//                             would write by hand
// A sparse step should cost about what the hand loop costs, and a fraction nnz/n of the dense one
// plus the random access to each touched coefficient.

#include <Eigen/Core>
#include <Eigen/SparseCore>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <descent/descent.hpp>
#include <string>
#include <vector>

#include "common.hpp"

namespace {

using V = Eigen::VectorXf;
using SV = Eigen::SparseVector<float>;
constexpr std::int64_t kN = 10'000'000;
constexpr std::int64_t kNonzeros[] = {1'000, 10'000, 100'000};

V params() {
  V x(kN);
  bench::random_values(x.data(), kN, bench::params_seed, 0.0);
  return x;
}

/// nnz distinct indices in [0, n), spread at random, sorted; values with bench's gradient floor.
SV sparse_gradient(std::int64_t nnz) {
  descent::detail::SplitMix64 random(bench::grads_seed + std::uint64_t(nnz));
  std::vector<std::int64_t> indices;
  indices.reserve(std::size_t(nnz) * 2);
  while (std::int64_t(indices.size()) < nnz) {
    const std::int64_t need = nnz - std::int64_t(indices.size());
    for (std::int64_t k = 0; k < need; ++k) indices.push_back(std::int64_t(random() % std::uint64_t(kN)));
    std::sort(indices.begin(), indices.end());
    indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  }
  std::vector<float> values(static_cast<std::size_t>(nnz));
  bench::random_values(values.data(), nnz, bench::grads_seed, bench::grad_floor);
  SV g(kN);
  g.reserve(nnz);
  for (std::int64_t k = 0; k < nnz; ++k) g.insertBack(Eigen::Index(indices[std::size_t(k)])) = values[std::size_t(k)];
  return g;
}

void report(benchmark::State& state, std::int64_t nnz) {
  state.counters["nnz"] = double(nnz);
  state.counters["ns_per_nonzero"] = benchmark::Counter(
      double(nnz) * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

template <class O>
void descent_sparse(benchmark::State& state, O opt) {
  const std::int64_t nnz = state.range(0);
  V x = params();
  const SV g = sparse_gradient(nnz);
  for (auto _ : state) {
    opt.step(x, g);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  report(state, nnz);
}

template <class O>
void descent_dense(benchmark::State& state, O opt) {
  const std::int64_t nnz = state.range(0);
  V x = params();
  const V g = V(sparse_gradient(nnz));
  for (auto _ : state) {
    opt.step(x, g);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  report(state, nnz);
}

// The hand loops: the formulas of SGDOptions, AdagradOptions and SparseAdamOptions over the stored
// entries, with the state in plain std::vectors.
void hand_sgd(benchmark::State& state) {
  const std::int64_t nnz = state.range(0);
  V x = params();
  const SV g = sparse_gradient(nnz);
  const float lr = 1e-3f;
  for (auto _ : state) {
    const float* v = g.valuePtr();
    const int* idx = g.innerIndexPtr();
    float* p = x.data();
    for (Eigen::Index k = 0; k < g.nonZeros(); ++k) p[idx[k]] -= lr * v[k];
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  report(state, nnz);
}

void hand_adagrad(benchmark::State& state) {
  const std::int64_t nnz = state.range(0);
  V x = params();
  const SV g = sparse_gradient(nnz);
  std::vector<float> sum(std::size_t(kN), 0.0f);
  const double lr = 1e-2, lr_decay = 1e-4;
  std::int64_t t = 0;
  for (auto _ : state) {
    ++t;
    const float clr = float(lr / (1.0 + double(t - 1) * lr_decay));
    const float* v = g.valuePtr();
    const int* idx = g.innerIndexPtr();
    float* p = x.data();
    float* s = sum.data();
    for (Eigen::Index k = 0; k < g.nonZeros(); ++k) {
      const int i = idx[k];
      s[i] += v[k] * v[k];
      p[i] -= clr * (v[k] / (std::sqrt(s[i]) + 1e-10f));
    }
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  report(state, nnz);
}

void hand_sparse_adam(benchmark::State& state) {
  const std::int64_t nnz = state.range(0);
  V x = params();
  const SV g = sparse_gradient(nnz);
  std::vector<float> m(std::size_t(kN), 0.0f), s(std::size_t(kN), 0.0f);
  const double lr = 1e-3, beta1 = 0.9, beta2 = 0.999;
  std::int64_t t = 0;
  for (auto _ : state) {
    ++t;
    const double bc1 = 1.0 - std::pow(beta1, double(t)), bc2 = 1.0 - std::pow(beta2, double(t));
    const float step = float(lr * std::sqrt(bc2) / bc1);
    const float* v = g.valuePtr();
    const int* idx = g.innerIndexPtr();
    float* p = x.data();
    for (Eigen::Index k = 0; k < g.nonZeros(); ++k) {
      const int i = idx[k];
      m[std::size_t(i)] += (v[k] - m[std::size_t(i)]) * float(1.0 - beta1);
      s[std::size_t(i)] += (v[k] * v[k] - s[std::size_t(i)]) * float(1.0 - beta2);
      p[i] -= step * (m[std::size_t(i)] / (std::sqrt(s[std::size_t(i)]) + 1e-8f));
    }
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  report(state, nnz);
}

template <class F>
void add(const std::string& name, F f) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), f);
  for (std::int64_t nnz : kNonzeros) b->Arg(nnz);
  b->Unit(benchmark::kMicrosecond)->ComputeStatistics("min", [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
  });
}

const bool registered = [] {
  using SGDV = descent::SGD<V>;
  using AdagradV = descent::Adagrad<V>;
  const descent::SGDOptions sgd{.lr = 1e-3};
  const descent::AdagradOptions adagrad{.lr = 1e-2, .lr_decay = 1e-4};
  add("descent/sparse/SGD", [=](benchmark::State& s) { descent_sparse(s, SGDV(sgd)); });
  add("descent/dense/SGD", [=](benchmark::State& s) { descent_dense(s, SGDV(sgd)); });
  add("hand/SGD", hand_sgd);
  add("descent/sparse/Adagrad", [=](benchmark::State& s) { descent_sparse(s, AdagradV(adagrad)); });
  add("descent/dense/Adagrad", [=](benchmark::State& s) { descent_dense(s, AdagradV(adagrad)); });
  add("hand/Adagrad", hand_adagrad);
  add("descent/sparse/SparseAdam", [](benchmark::State& s) { descent_sparse(s, descent::SparseAdam<V>()); });
  add("descent/dense/Adam", [](benchmark::State& s) { descent_dense(s, descent::Adam<V>()); });
  add("hand/SparseAdam", hand_sparse_adam);
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
