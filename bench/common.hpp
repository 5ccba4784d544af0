#pragma once
// What the step benchmarks share: step_throughput.cpp and torch_steps.cpp (libtorch's steps, built
// with -DDESCENT_BENCH_TORCH=ON into the same executable). The same data, sizes, time units,
// statistics and counters, so that the rows descent/..., hand/... and torch/... compare directly.
// Needs Google Benchmark and descent/sampler.hpp (for its generator), not Eigen's dense types or
// torch, so that either file can include it.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <descent/sampler.hpp>
#include <type_traits>
#include <vector>

namespace bench {

/// Fills data[0, n) with values of random sign and lo <= |x| <= 1, deterministic in seed: value i
/// is the i-th SplitMix64 output, whose lowest bit gives the sign and whose top 53 bits give the
/// magnitude. Cheap enough to refill 1e7 values every time Google Benchmark re-runs a benchmark.
template <class T>
void random_values(T* data, std::int64_t n, std::uint64_t seed, double lo) {
  descent::detail::SplitMix64 random(seed);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint64_t r = random();
    const double magnitude = lo + (1.0 - lo) * descent::detail::SplitMix64::unit_interval(r);
    data[i] = T((r & 1) ? -magnitude : magnitude);
  }
}

/// The seeds and smallest magnitudes of a benchmark's data: parameters in [−1, 1], gradients with
/// 0.05 <= |g| <= 1 (no denormals in g², and no zero gradient letting AdamW's shrink decay the
/// parameters into denormals).
constexpr std::uint64_t params_seed = 1, grads_seed = 2;
constexpr double grad_floor = 0.05;

template <class T>
constexpr const char* type_name() {
  return std::is_same_v<T, float> ? "float" : "double";
}

/// The numbers of parameters benchmarked.
constexpr std::int64_t sizes[] = {100, 1'000, 10'000, 100'000, 1'000'000, 10'000'000};

inline benchmark::TimeUnit unit_for(std::int64_t n) {
  if (n <= 10'000) return benchmark::kNanosecond;
  if (n <= 1'000'000) return benchmark::kMicrosecond;
  return benchmark::kMillisecond;
}

/// Size, time unit, and a "min" statistic next to mean/median/stddev when run with repetitions:
/// on a shared machine interference only ever adds time, so the minimum is the steadiest figure.
inline void configure(benchmark::internal::Benchmark* b, std::int64_t n) {
  b->Arg(n)->Unit(unit_for(n))->ComputeStatistics("min", [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
  });
}

/// The counters of a step over n parameters of type T whose formula reads and writes `arrays`
/// arrays of n scalars in all: bytes_per_second counts that minimal memory traffic (every array
/// touched once), so it is an effective bandwidth, the same figure for every implementation of the
/// step; ns_per_param is the time of one step divided by n, in nanoseconds (the console prints it
/// with a trailing "s", Google Benchmark's unit for inverted rates).
template <class T>
void report_step(benchmark::State& state, std::int64_t n, int arrays) {
  state.SetBytesProcessed(std::int64_t(state.iterations()) * n * arrays * std::int64_t(sizeof(T)));
  // Counter value n·1e-9, as an iteration-invariant rate, inverted: seconds / (iterations · n · 1e-9).
  state.counters["ns_per_param"] =
      benchmark::Counter(double(n) * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

}  // namespace bench
