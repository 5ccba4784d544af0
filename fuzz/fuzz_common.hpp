#pragma once
// Shared by the fuzz targets: the invariant check that aborts (so libFuzzer records the input), a
// reader that turns the fuzzer's bytes into sizes, flags and numbers biased towards the values that
// break numerical code (NaN, ±inf, huge, denormal, negative zero), and number formatting.
//
// Known findings: a check tagged with a finding (FUZZ_CHECK_KNOWN("F1", ...)) aborts like any
// other unless that tag is listed in the environment variable DESCENT_FUZZ_TOLERATE (comma
// separated, e.g. DESCENT_FUZZ_TOLERATE=F1,F7); then the input is abandoned silently, so that a
// long run can look past a finding that is already reported. The default is strict.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

namespace fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* condition, const std::string& message) {
  std::fprintf(stderr, "\n==== invariant violated at %s:%d\n  check: %s\n  %s\n", file, line, condition,
               message.c_str());
  std::fflush(stderr);
  std::abort();
}

/// Whether the known finding `tag` is listed in DESCENT_FUZZ_TOLERATE.
inline bool tolerated(const char* tag) {
  static const std::string list = [] {
    const char* env = std::getenv("DESCENT_FUZZ_TOLERATE");
    return env ? "," + std::string(env) + "," : std::string();
  }();
  return list.find("," + std::string(tag) + ",") != std::string::npos;
}

/// Thrown to abandon an input at a tolerated known finding; caught in LLVMFuzzerTestOneInput.
struct Abandon {};

}  // namespace fuzz

/// Aborts with a message (evaluated only on failure) unless `condition` holds.
#define FUZZ_CHECK(condition, message)                                       \
  do {                                                                       \
    if (!(condition)) ::fuzz::fail(__FILE__, __LINE__, #condition, (message)); \
  } while (0)

/// The same for an invariant that a known finding breaks: `tag` (a const char*, e.g. "F1", or
/// nullptr for none) is the finding, which DESCENT_FUZZ_TOLERATE can list (see the header comment).
#define FUZZ_CHECK_KNOWN(tag, condition, message)                                                       \
  do {                                                                                                  \
    if (!(condition)) {                                                                                 \
      const char* fuzz_tag_ = (tag);                                                                    \
      if (fuzz_tag_ && ::fuzz::tolerated(fuzz_tag_)) throw ::fuzz::Abandon{};                           \
      ::fuzz::fail(__FILE__, __LINE__, #condition,                                                      \
                   (fuzz_tag_ ? "[known finding " + std::string(fuzz_tag_) + "] " : std::string()) + (message)); \
    }                                                                                                   \
  } while (0)

namespace fuzz {

/// Shortest text that reads back as the same double (17 significant digits), for messages.
inline std::string num(double x) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", x);
  return buffer;
}

/// Doubles that break numerical code, for options and values alike.
inline constexpr double specials[] = {
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    2.0,
    1e-8,
    -1e-8,
    1e-300,
    std::numeric_limits<double>::denorm_min(),
    -std::numeric_limits<double>::denorm_min(),
    std::numeric_limits<double>::min(),
    1e-40,  // a float denormal
    1e-46,  // rounds to 0 in float
    double(std::numeric_limits<float>::max()),
    3.5e38,  // finite in double, above float's largest
    1e39,
    1e300,
    -1e300,
    std::numeric_limits<double>::max(),
    std::numeric_limits<double>::lowest(),
    std::numeric_limits<double>::infinity(),
    -std::numeric_limits<double>::infinity(),
    std::numeric_limits<double>::quiet_NaN(),
    -std::numeric_limits<double>::quiet_NaN(),
    0.9999999999999999,   // the double below 1
    0.99999994039535522,  // the float below 1
    0.99999999,           // below 1 in double, rounds to 1 in float
    1.0000000000000002,
    0.9,
    0.999,
    1e154,  // its square overflows
    1e20,
    9.2233720368547758e18,  // 2^63
    4503599627370497.0,     // 2^52 + 1
};
inline constexpr std::size_t special_count = sizeof specials / sizeof specials[0];

/// What an option field usually holds, so that most drawn options are valid.
enum class Field {
  rate,   // lr, weight_decay, momentum, lr_decay, initial_accumulator_value: >= 0, often small
  unit,   // beta1, beta2, alpha, dampening: [0, 1] or [0, 1)
  small,  // eps
};

/// The fuzzer's bytes as a stream of decisions. Reading past the end gives zeros, so every input
/// is a complete (if short) program.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  bool empty() const { return pos_ >= size_; }
  std::size_t remaining() const { return empty() ? 0 : size_ - pos_; }

  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }

  std::uint64_t bits(int bytes) {
    std::uint64_t x = 0;
    for (int i = 0; i < bytes; ++i) x = (x << 8) | byte();
    return x;
  }

  /// A value in [0, n) for n >= 1 (0 when n == 0).
  std::size_t below(std::size_t n) {
    if (n <= 1) return 0;
    if (n <= 256) return byte() % n;
    return std::size_t(bits(4) % n);
  }

  /// A value in [lo, hi].
  long long range(long long lo, long long hi) { return lo + (long long)below(std::size_t(hi - lo + 1)); }

  bool flag() { return byte() & 1; }

  /// Mostly false: true with probability 1/8.
  bool rarely() { return (byte() & 7) == 0; }

  double raw_double() { return std::bit_cast<double>(bits(8)); }

  double special() { return specials[below(special_count)]; }

  /// A value for an option field: usually a typical one, sometimes anything.
  double option(Field kind) {
    const std::uint8_t selector = byte();
    if (selector < 200) {
      const std::uint8_t b = byte();
      switch (kind) {
        case Field::rate:
          if (b < 32) return 0.0;
          return double(1 + b % 9) * std::pow(10.0, -double(b % 7));  // 1e-6 .. 9
        case Field::unit: {
          static constexpr double units[] = {0.0, 0.5, 0.9, 0.99, 0.999, 0.1, 0.95, 0.3, 1.0};
          return units[b % 9];
        }
        case Field::small:
          if (b < 32) return 0.0;
          return std::pow(10.0, -double(b % 12));  // 1 .. 1e-11
      }
    }
    if (selector < 240) return special();
    return raw_double();
  }

  /// A parameter or gradient coefficient: mostly moderate, sometimes extreme.
  template <class S>
  S value() {
    const std::uint8_t selector = byte();
    if (selector < 96) return S(std::int8_t(byte())) / S(16);
    if (selector < 176) return S(double(std::int16_t(bits(2))) * std::ldexp(1.0, -int(byte() % 32)));
    if (selector < 208) return S(double(std::int8_t(byte())) * std::ldexp(1.0, int(byte() % 64) - 32));
    if (selector < 248) return S(special());
    if constexpr (std::is_same_v<S, float>)
      return std::bit_cast<float>(std::uint32_t(bits(4)));
    else
      return S(raw_double());
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

/// `expected` and `actual` agree: both NaN, or within a relative 1e-5 (float) / 1e-12 (double) of
/// the largest of their magnitudes and `scale` (the magnitude of the inputs, so that cancellation
/// does not count as an error). Values that are infinite or huge are not compared (apart from
/// NaN, which must match position for position): their rounding is not meaningful.
template <class S>
bool agree(S expected, S actual, S scale) {
  const bool nan_e = std::isnan(expected), nan_a = std::isnan(actual);
  if (nan_e || nan_a) return nan_e && nan_a;
  const S huge = std::numeric_limits<S>::max() / S(16);
  if (!(std::abs(expected) < huge) || !(std::abs(actual) < huge) || !(std::abs(scale) < huge)) return true;
  if (expected == actual) return true;
  const S tolerance = std::is_same_v<S, float> ? S(1e-5) : S(1e-12);
  const S magnitude = std::max({std::abs(expected), std::abs(actual), std::abs(scale)});
  return std::abs(expected - actual) <= tolerance * magnitude;
}

/// Bitwise equality (NaN equals the same NaN), for "unchanged".
template <class S>
bool same_bits(S a, S b) {
  return std::memcmp(&a, &b, sizeof(S)) == 0;
}

}  // namespace fuzz
