// The cost of checkpointing a 1e7-parameter Adam run (float): the parameters and Adam's exp_avg
// and exp_avg_sq, 3 × 40 MB = 120 MB, saved with descent::Checkpoint and loaded back, against a
// raw fwrite (+ fflush + fsync, as the atomic save flushes to disk too) and a raw fread of the
// same 120 MB.
//
//     build/release/bench/checkpoint_io --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// Files go to the folder in the environment variable DESCENT_BENCH_DIR, else /tmp; each benchmark
// writes what it needs before timing and removes its files at its end. Every row is timed in wall
// time (UseRealTime: fsync and reads wait on the disk, not the CPU), in ms per operation.
//
// Rows (each one operation on the whole 120 MB):
//   descent/put        Checkpoint ck; ck.put("params", x); ck.put("optimizer", adam)  (and ck's
//                      destruction at the end of the iteration)
//   descent/save       ck.save(path) of a checkpoint filled once: header, XXH64, temp file,
//                      write, fchmod, fsync, close, rename, fsync of the folder
//   descent/save_path  put + save: what a training loop pays per checkpoint
//   raw/fwrite         fopen, 3 fwrite, fflush, fsync, fclose of the same 120 MB
//   raw/fwrite_atomic  raw/fwrite into a temporary file, rename over the target, fsync of the
//                      folder: save's protocol without descent's header, checksum and copies
//   descent/load       Checkpoint::load(path) (warm: the file was just written, so it is in the
//                      page cache)
//   descent/get        l.get("params", x); l.get("optimizer", adam) from a loaded checkpoint
//   descent/load_path  load + get: what a resume pays
//   raw/fread          fopen, 3 fread into the existing (allocated) x, exp_avg, exp_avg_sq, fclose
//   .../cold           descent/load_path and raw/fread with the file dropped from the page cache
//                      before each iteration (posix_fadvise DONTNEED on that file alone, untimed),
//                      so that the data comes from the disk, as when resuming after a reboot
// and, to explain the differences (the operations descent's paths are made of):
//   parts/alloc_fill   3 std::vector<unsigned char>(40 MB): allocation, first touch, zero fill
//                      (a plain vector's resize; descent's arrays skip the zero fill)
//   parts/alloc_copy   3 × (new unsigned char[40 MB], uninitialized; memcpy into it; free)
//   parts/memcpy       3 memcpy of 40 MB into buffers already touched
//   parts/xxh64        XXH64 of the 120 MB
//
// Counters: MB is the bytes one operation writes, reads or copies (10^6 bytes; for save and load
// the file's size, header included); MB_per_s is MB over the wall time (10^6 bytes per second);
// bytes_per_second is Google Benchmark's own (SetBytesProcessed), printed in binary units (M/s =
// MiB/s); page_faults is the minor page faults per operation: fresh memory costs one per 4 KiB
// page on its first touch, about 29 300 for 120 MB of new buffers, and that is most of what
// copying into newly allocated buffers costs. With repetitions, a "min" row is added to the
// aggregates: on a shared machine interference only ever adds time. There,
// --benchmark_enable_random_interleaving=true also spreads the disk's ups and downs over all rows.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <descent/checkpoint.hpp>
#include <exception>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "common.hpp"

namespace {

using Vec = Eigen::VectorXf;
using Opt = descent::Adam<Vec>;
constexpr Eigen::Index n = 10'000'000;
const descent::AdamOptions options{.lr = 1e-3};

/// x after one Adam step, and the Adam whose exp_avg and exp_avg_sq that step created.
struct Run {
  Run() : x(n), adam(options) {
    Vec g(n);
    bench::random_values(x.data(), n, bench::params_seed, 0.0);
    bench::random_values(g.data(), n, bench::grads_seed, bench::grad_floor);
    adam.step(x, g);
  }
  Vec x;
  Opt adam;
};

const Run& run() {
  static const Run r;
  return r;
}

/// The bytes descent's file and the raw file hold as data: params, exp_avg, exp_avg_sq.
constexpr std::int64_t data_bytes = 3 * n * std::int64_t(sizeof(float));

std::filesystem::path folder() {
  const char* dir = std::getenv("DESCENT_BENCH_DIR");
  return dir && *dir ? std::filesystem::path(dir) : std::filesystem::path("/tmp");
}

/// A file name of this process's own in the folder, removed when the benchmark ends.
struct TempPath {
  explicit TempPath(const char* what)
      : path(folder() / descent::detail::concat("descent_checkpoint_io_", std::to_string(::getpid()), "_", what)) {}
  ~TempPath() {  // with raw/fwrite_atomic's temporary file, left if a write failed
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::filesystem::remove(path.string() + ".tmp", ec);
  }
  TempPath(const TempPath&) = delete;
  TempPath& operator=(const TempPath&) = delete;
  std::filesystem::path path;
};

descent::Checkpoint filled(const Run& r) {
  descent::Checkpoint ck;
  ck.put("params", r.x);
  ck.put("optimizer", r.adam);
  return ck;
}

/// Whether two Adams hold the same state.
bool same_state(const Opt& a, const Opt& b) {
  return a.steps() == b.steps() && a.first_moment() == b.first_moment() && a.second_moment() == b.second_moment();
}

/// The size of the file at p (0 if it cannot be read).
std::int64_t bytes_of(const std::filesystem::path& p) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(p, ec);
  return ec ? 0 : std::int64_t(size);
}

/// Drops the file's pages from the page cache (they are clean: every writer here fsyncs), so that
/// the next read comes from the disk. Only this file's pages: nothing else on the machine.
bool evict(const std::filesystem::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  if (fd < 0) return false;
  const bool ok = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ::close(fd);
  return ok;
}

/// Before an iteration of a cold benchmark: the file out of the page cache, untimed.
void make_cold(benchmark::State& state, const std::filesystem::path& p) {
  state.PauseTiming();
  if (!evict(p)) state.SkipWithError("posix_fadvise(DONTNEED) failed");
  state.ResumeTiming();
}

/// MB (10^6 bytes) per operation, MB per second of wall time, and Google Benchmark's bytes_per_second.
void report(benchmark::State& state, std::int64_t bytes) {
  state.SetBytesProcessed(std::int64_t(state.iterations()) * bytes);
  state.counters["MB"] = benchmark::Counter(double(bytes) / 1e6);
  state.counters["MB_per_s"] = benchmark::Counter(double(bytes) / 1e6, benchmark::Counter::kIsIterationInvariantRate);
}

/// The minor page faults of this process so far: a first touch of fresh memory costs one per
/// 4 KiB page, and is most of what copying into newly allocated buffers costs.
long minor_faults() {
  ::rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

/// Runs body in the timed loop and counts the page faults per operation (counter page_faults).
/// A CheckpointError (or any std::exception) ends the benchmark with its message.
template <class Body>
void loop(benchmark::State& state, Body body) {
  const long faults = minor_faults();
  try {
    for (auto _ : state) body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  state.counters["page_faults"] =
      benchmark::Counter(double(minor_faults() - faults), benchmark::Counter::kAvgIterations);
}

/// Throws std::runtime_error "<doing> '<path>': <the system's reason>".
[[noreturn]] void fail(const char* doing, const std::filesystem::path& p) {
  throw std::runtime_error(descent::detail::concat(doing, " '", p.string(), "': ", std::strerror(errno)));
}

// ---- descent ----------------------------------------------------------------------------------

void descent_put(benchmark::State& state) {
  const Run& r = run();
  loop(state, [&] {
    descent::Checkpoint ck;
    ck.put("params", r.x);
    ck.put("optimizer", r.adam);
    benchmark::DoNotOptimize(ck);
    benchmark::ClobberMemory();
  });
  report(state, data_bytes);
}

void descent_save(benchmark::State& state) {
  const Run& r = run();
  const TempPath file("save.ckpt");
  const descent::Checkpoint ck = filled(r);
  loop(state, [&] { ck.save(file.path); });
  if (!state.error_occurred()) report(state, bytes_of(file.path));
}

void descent_save_path(benchmark::State& state) {
  const Run& r = run();
  const TempPath file("save_path.ckpt");
  loop(state, [&] {
    descent::Checkpoint ck;
    ck.put("params", r.x);
    ck.put("optimizer", r.adam);
    ck.save(file.path);
  });
  if (!state.error_occurred()) report(state, bytes_of(file.path));
}

void descent_load(benchmark::State& state) {
  const Run& r = run();
  const TempPath file("load.ckpt");
  filled(r).save(file.path);
  loop(state, [&] {
    auto l = descent::Checkpoint::load(file.path);
    benchmark::DoNotOptimize(l);
    benchmark::ClobberMemory();
  });
  report(state, bytes_of(file.path));
}

void descent_get(benchmark::State& state) {
  const Run& r = run();
  const descent::Checkpoint l = filled(r);
  Vec x(n);
  Opt adam(options);
  loop(state, [&] {
    l.get("params", x);
    l.get("optimizer", adam);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  });
  if (!state.error_occurred() && (x != r.x || !same_state(adam, r.adam)))
    state.SkipWithError("get did not restore the saved state");
  report(state, data_bytes);
}

void descent_load_path(benchmark::State& state, bool cold) {
  const Run& r = run();
  const TempPath file("load_path.ckpt");
  filled(r).save(file.path);
  Vec x(n);
  Opt adam(options);
  loop(state, [&] {
    if (cold) make_cold(state, file.path);
    const auto l = descent::Checkpoint::load(file.path);
    l.get("params", x);
    l.get("optimizer", adam);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  });
  if (!state.error_occurred() && (x != r.x || !same_state(adam, r.adam)))
    state.SkipWithError("load + get did not restore the saved state");
  report(state, bytes_of(file.path));
}

// ---- raw stdio --------------------------------------------------------------------------------

/// The three arrays a raw checkpoint writes and reads: params, exp_avg, exp_avg_sq.
struct Arrays {
  Arrays() : v(3, Vec(n)) {}
  std::vector<Vec> v;
};

/// The saved state's three arrays: params, exp_avg, exp_avg_sq.
Arrays saved_arrays(const Run& r) {
  Arrays a;
  a.v[0] = r.x;
  a.v[1] = r.adam.first_moment();
  a.v[2] = r.adam.second_moment();
  return a;
}

/// fopen, fwrite of each array, fflush, fsync, fclose: the plain way to put 120 MB on the disk.
void raw_write(const std::filesystem::path& path, const Arrays& a) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) fail("cannot open", path);
  for (const Vec& v : a.v)
    if (std::fwrite(v.data(), sizeof(float), std::size_t(v.size()), f) != std::size_t(v.size())) {
      std::fclose(f);
      fail("cannot write", path);
    }
  if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0) {
    std::fclose(f);
    fail("cannot flush", path);
  }
  if (std::fclose(f) != 0) fail("cannot close", path);
}

/// raw_write into a temporary file next to `path`, renamed over it, then an fsync of the folder:
/// the same protocol as Checkpoint::save (without its header, checksum and fchmod), to tell the
/// cost of atomicity from descent's own.
void raw_write_atomic(const std::filesystem::path& path, const Arrays& a) {
  const std::filesystem::path temp = path.string() + ".tmp";
  raw_write(temp, a);
  if (std::rename(temp.c_str(), path.c_str()) != 0) fail("cannot rename", temp);
  const int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (dir < 0) fail("cannot open the folder of", path);
  const bool synced = ::fsync(dir) == 0;
  ::close(dir);
  if (!synced) fail("cannot fsync the folder of", path);
}

/// fopen, fread of each array into the existing (allocated, already touched) arrays, fclose.
void raw_read(const std::filesystem::path& path, Arrays& a) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail("cannot open", path);
  for (Vec& v : a.v)
    if (std::fread(v.data(), sizeof(float), std::size_t(v.size()), f) != std::size_t(v.size())) {
      std::fclose(f);
      fail("cannot read", path);
    }
  if (std::fclose(f) != 0) fail("cannot close", path);
}

void raw_fwrite(benchmark::State& state, bool atomic) {
  const Arrays a = saved_arrays(run());
  const TempPath file(atomic ? "raw_atomic.bin" : "raw.bin");
  loop(state, [&] { atomic ? raw_write_atomic(file.path, a) : raw_write(file.path, a); });
  if (!state.error_occurred()) report(state, bytes_of(file.path));
}

void raw_fread(benchmark::State& state, bool cold) {
  const Arrays saved = saved_arrays(run());
  const TempPath file("raw_read.bin");
  try {
    raw_write(file.path, saved);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  Arrays a;
  loop(state, [&] {
    if (cold) make_cold(state, file.path);
    raw_read(file.path, a);
    benchmark::DoNotOptimize(a.v[0].data());
    benchmark::ClobberMemory();
  });
  if (!state.error_occurred() && (a.v[0] != saved.v[0] || a.v[1] != saved.v[1] || a.v[2] != saved.v[2]))
    state.SkipWithError("the raw read did not give back the arrays");
  report(state, bytes_of(file.path));
}

// ---- the parts descent's paths are made of -----------------------------------------------------

constexpr std::size_t array_bytes = std::size_t(n) * sizeof(float);

/// What CheckpointWriter::array and read_exact do before copying: vector<unsigned char>::resize,
/// i.e. a fresh allocation (mmap at this size), its first touch (page faults) and a zero fill.
void parts_alloc_fill(benchmark::State& state) {
  loop(state, [&] {
    std::vector<unsigned char> a(array_bytes), b(array_bytes), c(array_bytes);
    benchmark::DoNotOptimize(a.data());
    benchmark::DoNotOptimize(b.data());
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  });
  report(state, data_bytes);
}

/// What a copy into fresh memory costs without the zero fill (what get does for each array, and
/// what put and read_exact would cost with an uninitialized buffer): new[] (uninitialized), then a
/// memcpy that touches the pages first.
void parts_alloc_copy(benchmark::State& state) {
  const Arrays from = saved_arrays(run());
  loop(state, [&] {
    for (const Vec& v : from.v) {
      std::unique_ptr<unsigned char[]> to(new unsigned char[array_bytes]);
      std::memcpy(to.get(), v.data(), array_bytes);
      benchmark::DoNotOptimize(to.get());
      benchmark::ClobberMemory();
    }
  });
  report(state, data_bytes);
}

void parts_memcpy(benchmark::State& state) {
  const Arrays from = saved_arrays(run());
  Arrays to;
  loop(state, [&] {
    for (int i = 0; i < 3; ++i) std::memcpy(to.v[std::size_t(i)].data(), from.v[std::size_t(i)].data(), array_bytes);
    benchmark::DoNotOptimize(to.v[0].data());
    benchmark::ClobberMemory();
  });
  report(state, data_bytes);
}

void parts_xxh64(benchmark::State& state) {
  const Arrays a = saved_arrays(run());
  loop(state, [&] {
    XXH64_state_t h;
    XXH64_reset(&h, 0);
    for (const Vec& v : a.v) XXH64_update(&h, v.data(), array_bytes);
    benchmark::DoNotOptimize(XXH64_digest(&h));
  });
  report(state, data_bytes);
}

void configure(benchmark::internal::Benchmark* b) {
  b->Unit(benchmark::kMillisecond)->UseRealTime()->ComputeStatistics("min", [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
  });
}

}  // namespace

int main(int argc, char** argv) {
  configure(benchmark::RegisterBenchmark("descent/put", descent_put));
  configure(benchmark::RegisterBenchmark("descent/save", descent_save));
  configure(benchmark::RegisterBenchmark("descent/save_path", descent_save_path));
  configure(benchmark::RegisterBenchmark("raw/fwrite", raw_fwrite, false));
  configure(benchmark::RegisterBenchmark("raw/fwrite_atomic", raw_fwrite, true));
  configure(benchmark::RegisterBenchmark("descent/load", descent_load));
  configure(benchmark::RegisterBenchmark("descent/get", descent_get));
  configure(benchmark::RegisterBenchmark("descent/load_path", descent_load_path, false));
  configure(benchmark::RegisterBenchmark("raw/fread", raw_fread, false));
  configure(benchmark::RegisterBenchmark("descent/load_path/cold", descent_load_path, true));
  configure(benchmark::RegisterBenchmark("raw/fread/cold", raw_fread, true));
  configure(benchmark::RegisterBenchmark("parts/alloc_fill", parts_alloc_fill));
  configure(benchmark::RegisterBenchmark("parts/alloc_copy", parts_alloc_copy));
  configure(benchmark::RegisterBenchmark("parts/memcpy", parts_memcpy));
  configure(benchmark::RegisterBenchmark("parts/xxh64", parts_xxh64));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
