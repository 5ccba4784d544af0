// Run-time dispatch of the step kernels (detail/lanes.hpp): where the build is narrower than the
// CPU, a contiguous step runs on the CPU's widest packets. Proved here: every optimizer variant
// gives bitwise the same parameters at every instruction set this CPU offers, for sizes that end
// in every kind of tail, under the drivers' guard too; and the numbers do not depend on the build:
// a digest of every variant's trajectory is compared with tests/data/step_digests.txt, which every
// preset (the -O2 release build, the -march=native build, the sanitizer build) must reproduce.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "support.hpp"

namespace {

template <class S>
using VX = Eigen::Matrix<S, Eigen::Dynamic, 1>;

using descent::detail::Isa;

/// The instruction sets this build can dispatch to on this CPU, baseline first.
std::vector<Isa> available_isas() {
  std::vector<Isa> isas{Isa::baseline};
  const Isa best = descent::detail::detect_isa();
  if (best == Isa::avx512) isas.push_back(Isa::avx512);
#if defined(DESCENT_DETAIL_ISA_DISPATCH) && !defined(__AVX2__)
  if (best == Isa::avx512 || best == Isa::avx2) isas.push_back(Isa::avx2);
#endif
  return isas;
}

/// Sets the dispatch for its lifetime (the tests run on one thread).
struct IsaScope {
  Isa previous = descent::detail::dispatch_isa;
  explicit IsaScope(Isa isa) { descent::detail::dispatch_isa = isa; }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;
  ~IsaScope() { descent::detail::dispatch_isa = previous; }
};

/// NaN where the other is NaN (payloads may differ: which operand's payload an instruction keeps
/// is not part of the formula), every other coefficient bit for bit.
template <class S>
bool same_numbers(const VX<S>& a, const VX<S>& b) {
  if (a.size() != b.size()) return false;
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    const S u = a(i), v = b(i);
    if (std::isnan(u) || std::isnan(v)) {
      if (!(std::isnan(u) && std::isnan(v))) return false;
    } else if (std::memcmp(&u, &v, sizeof(S)) != 0) {
      return false;
    }
  }
  return true;
}

/// `steps` steps of Cfg's optimizer from descent_test's start on its noisy quadratic; with
/// `poison`, the gradient of step 3 has a NaN and an infinity (coefficients 0 and n − 1) and of
/// step 5 a signed zero pattern, so that the NaN-propagating max, the selects and the signs see
/// them in the packets and the tail alike.
template <class Cfg, class S>
VX<S> trajectory(Eigen::Index n, int steps, bool poison) {
  auto opt = Cfg::template make<VX<S>>();
  VX<S> x(n), g(n);
  descent_test::fill_start(x);
  for (int t = 0; t < steps; ++t) {
    descent_test::gradient(g, x, t);
    if (poison && t == 3) {
      g(0) = std::numeric_limits<S>::quiet_NaN();
      g(n - 1) = std::numeric_limits<S>::infinity();
    }
    if (poison && t == 5)
      for (Eigen::Index i = 0; i < n; i += 3) g(i) = i % 2 ? S(-0.0) : S(0.0);
    opt.step(x, g);
  }
  return x;
}

/// FNV-1a over the bytes of the coefficients, NaN coefficients counted as one canonical NaN.
template <class S>
std::uint64_t digest(const VX<S>& x) {
  std::uint64_t h = 1469598103934665603ull;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    S v = x(i);
    if (std::isnan(v)) v = std::numeric_limits<S>::quiet_NaN();
    unsigned char bytes[sizeof(S)];
    std::memcpy(bytes, &v, sizeof(S));
    for (unsigned char b : bytes) h = (h ^ b) * 1099511628211ull;
  }
  return h;
}

const std::vector<Eigen::Index> kSizes{1, 3, 7, 8, 15, 16, 17, 31, 33, 47, 64, 77, 1000 + 13};

}  // namespace

TEMPLATE_TEST_CASE("dispatch: every instruction set gives bitwise the numbers of the build's own packets",
                   "[dispatch]", DESCENT_TEST_ALL_VARIANTS) {
  const std::vector<Isa> isas = available_isas();
  INFO(TestType::name << ", " << isas.size() << " instruction sets on this CPU and build");
  for (const Eigen::Index n : kSizes) {
    for (const bool poison : {false, true}) {
      INFO("n = " << n << (poison ? ", NaN, infinity and signed zeros in the gradient" : ""));
      VX<float> float_base;
      VX<double> double_base;
      {
        const IsaScope scope(Isa::baseline);
        float_base = trajectory<TestType, float>(n, 12, poison);
        double_base = trajectory<TestType, double>(n, 12, poison);
      }
      for (const Isa isa : isas) {
        INFO("instruction set " << int(isa));
        const IsaScope scope(isa);
        CHECK(same_numbers(trajectory<TestType, float>(n, 12, poison), float_base));
        CHECK(same_numbers(trajectory<TestType, double>(n, 12, poison), double_base));
      }
    }
  }
}

TEST_CASE("dispatch: the drivers' guard sees the same backup and check at every instruction set", "[dispatch]") {
  for (const Isa isa : available_isas()) {
    INFO("instruction set " << int(isa));
    for (int at : {-1, 2, 5}) {
      INFO("NaN gradient at call " << at);
      auto run = [&](Isa which) {
        const IsaScope scope(which);
        descent_test::Poisoned<float> f{.kind = descent_test::Poisoned<float>::Kind::nan_gradient, .at = at};
        VX<float> x = VX<float>::LinSpaced(f.n, 0.5f, -0.25f);
        descent::Adam<VX<float>> opt({.lr = 0.05, .amsgrad = true});
        descent::MinibatchSampler sampler(f.size(), {.batch_size = 3, .seed = 11});
        const descent::Report report = descent::train(f, x, opt, sampler, {.max_iterations = 8});
        return std::make_pair(report, x);
      };
      const auto [base_report, base_x] = run(Isa::baseline);
      const auto [report, x] = run(isa);
      CHECK(report.reason == base_report.reason);
      CHECK(report.iterations == base_report.iterations);
      CHECK(same_numbers(x, base_x));
      CHECK(x.allFinite());
    }
  }
}

namespace {

template <class... Cfg>
struct VariantList {};

/// "<variant> | <float or double> | <n>" → digest of the parameters after 25 steps, for every variant.
template <class... Cfg>
std::map<std::string, std::uint64_t> all_digests(VariantList<Cfg...>) {
  std::map<std::string, std::uint64_t> digests;
  (
      [&] {
        for (const Eigen::Index n : {Eigen::Index(5), Eigen::Index(1000 + 13)}) {
          digests[std::string(Cfg::name) + " | float | " + std::to_string(n)] = digest(trajectory<Cfg, float>(n, 25, false));
          digests[std::string(Cfg::name) + " | double | " + std::to_string(n)] = digest(trajectory<Cfg, double>(n, 25, false));
        }
      }(),
      ...);
  return digests;
}

}  // namespace

TEST_CASE("dispatch: every build computes the same numbers (tests/data/step_digests.txt)", "[dispatch]") {
  const auto digests = all_digests(VariantList<DESCENT_TEST_ALL_VARIANTS>{});
  const std::string path = std::string(DESCENT_TEST_DATA_DIR) + "/step_digests.txt";
  if (const char* update = std::getenv("DESCENT_UPDATE_STEP_DIGESTS"); update && std::string(update) == "1") {
    std::ofstream out(path);
    out << "# variant | scalar | n | FNV-1a of the parameters after 25 steps (tests/test_dispatch.cpp)\n";
    for (const auto& [key, value] : digests) out << key << " | " << std::hex << value << "\n";
    WARN("wrote " << path);
    return;
  }
  std::ifstream in(path);
  REQUIRE(in.good());
  std::map<std::string, std::uint64_t> expected;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto bar = line.rfind(" | ");
    REQUIRE(bar != std::string::npos);
    expected[line.substr(0, bar)] = std::stoull(line.substr(bar + 3), nullptr, 16);
  }
  CHECK(expected.size() == digests.size());
  for (const auto& [key, value] : digests) {
    INFO(key);
    REQUIRE(expected.count(key) == 1);
    CHECK(value == expected.at(key));
  }
}
