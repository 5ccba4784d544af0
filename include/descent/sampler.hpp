#pragma once
// Minibatch sampling over a finite-sum objective: which sample indices each step sees. The
// sequence of batches is a function of (n, options) alone, identical on every platform and
// standard library, because the generator, the bounded draw and the shuffle are all written out
// here: std::shuffle and std::uniform_int_distribution are implementation-defined.

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"

namespace descent {

/// Options of MinibatchSampler.
struct SamplerOptions {
  /// Samples per batch. Default 32; >= 1. Larger than n is allowed: each epoch is then one batch
  /// of all n samples, or no batch at all with drop_last (see MinibatchSampler::next).
  Eigen::Index batch_size = 32;
  /// Visit the samples in a fresh random order every epoch; otherwise in the order 0, 1, ..., n−1.
  /// Default true. Ignored with with_replacement, whose draws are random anyway.
  bool shuffle = true;
  /// Skip the last batch of an epoch when it is shorter than batch_size, so that every batch has
  /// exactly batch_size samples. Default false.
  bool drop_last = false;
  /// Draw every index of every batch independently and uniformly from [0, n) (duplicates
  /// possible) instead of cutting a permutation. Epochs keep the same number and sizes of batches
  /// as without replacement, so they stay comparable. Default false.
  bool with_replacement = false;
  /// Seed of the random stream; the same seed gives the same batches everywhere. Default 0.
  std::uint64_t seed = 0;

  /// Throws std::invalid_argument naming the first invalid field and its value.
  void validate() const {
    if (batch_size < 1)
      detail::invalid_option("SamplerOptions", "batch_size", std::to_string(batch_size), "must be >= 1");
  }
};

namespace detail {

/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA
/// 2014), as in Vigna's reference https://prng.di.unimi.it/splitmix64.c. Here it expands a 64-bit
/// seed into xoshiro's state, as the xoshiro authors recommend: consecutive seeds then give
/// unrelated states, and the state cannot come out all zero. It is also the one generator behind
/// every seeded number outside the sampler (Quadratic::ill_conditioned, and the tests', benchmarks'
/// and examples' data): written out, unlike <random>'s distributions, so that the same seed gives
/// the same numbers with every compiler and standard library.
class SplitMix64 {
 public:
  explicit constexpr SplitMix64(std::uint64_t seed) : state_(seed) {}

  /// The next 64 random bits.
  constexpr std::uint64_t operator()() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  }

  /// A uniform double in [lo, hi): lo + (hi − lo)·u with u = unit_interval(next 64 bits), in IEEE
  /// double arithmetic, so the same on every platform. (When hi − lo is a power of two, as for
  /// [−1, 1), the product is exact too, and a compiler contracting it into an FMA changes nothing.)
  constexpr double uniform(double lo = 0.0, double hi = 1.0) { return lo + (hi - lo) * unit_interval((*this)()); }

  /// The top 53 bits of `bits` as a double in [0, 1): k·2⁻⁵³ for k = bits >> 11, exactly.
  static constexpr double unit_interval(std::uint64_t bits) { return double(bits >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

/// xoshiro256** 1.0 (Blackman & Vigna, "Scrambled linear pseudorandom number generators", ACM
/// TOMS 47(4), 2021), as in the reference https://prng.di.unimi.it/xoshiro256starstar.c. Seeded
/// from four successive SplitMix64 outputs. A UniformRandomBitGenerator, but give it only to the
/// algorithms below: the standard distributions would make the results implementation-defined again.
class Xoshiro256StarStar {
 public:
  using result_type = std::uint64_t;

  explicit constexpr Xoshiro256StarStar(std::uint64_t seed) {
    SplitMix64 expand(seed);
    for (auto& word : s_) word = expand();
  }

  /// Starts from a raw state, which must not be all zero (the generator would then stay at zero).
  static constexpr Xoshiro256StarStar from_state(const std::array<std::uint64_t, 4>& state) {
    Xoshiro256StarStar g(0);
    g.s_ = state;
    return g;
  }

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type(0); }

  constexpr result_type operator()() {
    const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

 private:
  template <class>
  friend struct detail::StateAccess;
  std::array<std::uint64_t, 4> s_{};
};

/// The full 128-bit product of two 64-bit words.
struct Product128 {
  std::uint64_t hi, lo;
};

/// Schoolbook multiplication on 32-bit halves: standard C++, for compilers without a 128-bit type
/// (MSVC). Gives exactly what the native path gives, so the batches do not depend on which is used.
constexpr Product128 multiply_portable(std::uint64_t a, std::uint64_t b) {
  constexpr std::uint64_t mask = 0xffffffffu;
  const std::uint64_t a_lo = a & mask, a_hi = a >> 32;
  const std::uint64_t b_lo = b & mask, b_hi = b >> 32;
  const std::uint64_t p00 = a_lo * b_lo, p01 = a_lo * b_hi, p10 = a_hi * b_lo, p11 = a_hi * b_hi;
  // Sum of three values below 2^32 each: cannot overflow 64 bits.
  const std::uint64_t middle = (p00 >> 32) + (p01 & mask) + (p10 & mask);
  return {p11 + (p01 >> 32) + (p10 >> 32) + (middle >> 32), (middle << 32) | (p00 & mask)};
}

#if defined(__SIZEOF_INT128__) && !defined(DESCENT_NO_INT128)
// __extension__ keeps -Wpedantic quiet about the non-standard type.
__extension__ typedef unsigned __int128 uint128;
#endif

/// 64×64 → 128-bit product: GCC's and Clang's unsigned __int128 where available (one instruction
/// on 64-bit targets), multiply_portable elsewhere. Define DESCENT_NO_INT128 to force the portable
/// path (the tests run both).
constexpr Product128 multiply(std::uint64_t a, std::uint64_t b) {
#if defined(__SIZEOF_INT128__) && !defined(DESCENT_NO_INT128)
  const uint128 p = uint128(a) * b;
  return {std::uint64_t(p >> 64), std::uint64_t(p)};
#else
  return multiply_portable(a, b);
#endif
}

/// (hi, lo) words of the double-width product a·b, for the word types lemire_below accepts.
template <class Word>
constexpr Product128 multiply_words(Word a, Word b) {
  if constexpr (sizeof(Word) == 8) {
    return multiply(a, b);
  } else {
    static_assert(sizeof(Word) <= 4);
    const std::uint64_t p = std::uint64_t(a) * std::uint64_t(b);
    return {p >> (8 * sizeof(Word)), p & std::uint64_t(Word(~Word(0)))};
  }
}

/// A uniform draw from [0, s), s >= 1, from a source `next()` of uniform `Word`s: Lemire's
/// multiply-and-reject method (D. Lemire, "Fast random integer generation in an interval", ACM
/// TOMACS 29(1), 2019, arXiv:1805.10941, Algorithm 5). The high word of x·s is the draw; it is
/// exactly unbiased because x is rejected when the low word falls below 2^w mod s, which leaves
/// floor(2^w / s) values of x for each result. The remainder, the only division, is computed only
/// when the low word is below s, which for small s almost never happens. Generic over the word
/// type so that the tests can check unbiasedness exhaustively on 8-bit words.
template <class Word, class Next>
constexpr Word lemire_below(Word s, Next&& next) {
  Word x = next();
  Product128 m = multiply_words<Word>(x, s);
  if (Word(m.lo) < s) {
    const Word threshold = Word(Word(Word(0) - s) % s);  // 2^w mod s, in w-bit arithmetic
    while (Word(m.lo) < threshold) {
      x = next();
      m = multiply_words<Word>(x, s);
    }
  }
  return Word(m.hi);
}

/// A uniform draw from [0, s), s >= 1.
inline std::uint64_t uniform_below(Xoshiro256StarStar& rng, std::uint64_t s) {
  return lemire_below<std::uint64_t>(s, rng);
}

/// Durstenfeld's in-place Fisher–Yates shuffle (R. Durstenfeld, "Algorithm 235: Random
/// permutation", CACM 7(7), 1964; Knuth, TAOCP vol. 2, 3.4.2, Algorithm P): for i = n−1 down to 1,
/// swap element i with a uniform j in [0, i]. Each of the n! orders is equally likely given
/// unbiased draws; the loop and the draws are spelled out so the result is the same everywhere.
inline void fisher_yates_shuffle(std::span<Eigen::Index> values, Xoshiro256StarStar& rng) {
  for (auto i = std::uint64_t(values.size()); i > 1; --i) {
    const std::uint64_t j = uniform_below(rng, i);
    std::swap(values[i - 1], values[j]);
  }
}

}  // namespace detail

/// Yields minibatches of sample indices in [0, n), epoch after epoch, for a StochasticObjective.
///
/// An epoch has batches_per_epoch() batches: n / batch_size of batch_size samples each, then,
/// unless drop_last, one shorter batch with the n mod batch_size samples left over.
///   - Without replacement, an epoch is an ordering of 0..n−1 cut into consecutive batches, so
///     every index appears exactly once per epoch (at most once with drop_last). With shuffle the
///     ordering is the Fisher–Yates shuffle of 0, 1, ..., n−1, drawn afresh at the start of every
///     epoch from a single random stream; without, it is 0, 1, ..., n−1 every epoch.
///   - With replacement, every index of every batch is an independent uniform draw from [0, n).
/// The random stream is xoshiro256** seeded through SplitMix64 with options.seed, so the batches
/// depend on nothing but n and the options.
///
/// Memory: n indices without replacement, min(batch_size, n) with replacement, allocated at
/// construction; next() never allocates.
class MinibatchSampler {
 public:
  /// Throws std::invalid_argument when n < 1 or when an option is invalid, naming the value.
  explicit MinibatchSampler(Eigen::Index n, const SamplerOptions& options = {})
      // options_ is declared first, so the validation runs before the divisions by batch_size.
      : options_(validated(n, options)),
        n_(n),
        batches_per_epoch_(options.drop_last ? n / options.batch_size
                                             : n / options.batch_size + (n % options.batch_size != 0)),
        buffer_(std::size_t(options.with_replacement ? std::min(options.batch_size, n) : n)),
        rng_(options.seed) {
    if (!options_.with_replacement)
      for (Eigen::Index i = 0; i < n_; ++i) buffer_[std::size_t(i)] = i;
  }

  /// The next batch, starting the next epoch (and drawing its order) after the last batch of one.
  /// The span points into the sampler's own buffer and is valid until the next call to next() or
  /// reset(), or until the sampler is destroyed; copy the indices to keep them longer.
  /// Throws std::logic_error when batches_per_epoch() == 0 (batch_size > n with drop_last): there
  /// is no batch to give, and skipping empty epochs would never return.
  std::span<const Eigen::Index> next() {
    if (batches_per_epoch_ == 0) {
      throw std::logic_error(detail::concat(
          "descent::MinibatchSampler::next: no batches to sample: batch_size = ", std::to_string(options_.batch_size),
          " > n = ", std::to_string(n_), " with drop_last leaves an empty epoch"));
    }
    if (batch_ < 0) {
      batch_ = 0;
      start_epoch();
    } else if (batch_ + 1 == batches_per_epoch_) {
      ++epoch_;
      batch_ = 0;
      start_epoch();
    } else {
      ++batch_;
    }

    const Eigen::Index begin = batch_ * options_.batch_size;
    const auto count = std::size_t(std::min(options_.batch_size, n_ - begin));
    if (!options_.with_replacement) return {buffer_.data() + begin, count};
    for (std::size_t k = 0; k < count; ++k) buffer_[k] = Eigen::Index(detail::uniform_below(rng_, std::uint64_t(n_)));
    return {buffer_.data(), count};
  }

  /// Epoch of the batch most recently returned by next(), from 0; 0 before the first call.
  Eigen::Index epoch() const { return epoch_; }
  /// Whether the batch most recently returned by next() was the last of its epoch (false before
  /// the first call): the moment to evaluate, checkpoint or step a per-epoch schedule.
  bool end_of_epoch() const { return batch_ >= 0 && batch_ + 1 == batches_per_epoch_; }
  /// Number of batches in each epoch; 0 when batch_size > n with drop_last.
  Eigen::Index batches_per_epoch() const { return batches_per_epoch_; }
  /// n, the number of samples.
  Eigen::Index size() const { return n_; }
  const SamplerOptions& options() const { return options_; }

  /// Back to the state right after construction: the same batches come again.
  void reset() {
    rng_ = detail::Xoshiro256StarStar(options_.seed);
    epoch_ = 0;
    batch_ = -1;
  }

 private:
  template <class>
  friend struct detail::StateAccess;
  static const SamplerOptions& validated(Eigen::Index n, const SamplerOptions& options) {
    if (n < 1) detail::invalid_option("MinibatchSampler", "n", std::to_string(n), "must be >= 1");
    options.validate();
    return options;
  }

  void start_epoch() {
    // Shuffling the identity rather than last epoch's order makes each epoch's order a function
    // of the random stream alone, which is simpler to specify; refilling costs less than the shuffle.
    if (options_.with_replacement || !options_.shuffle) return;
    for (std::size_t i = 0; i < buffer_.size(); ++i) buffer_[i] = Eigen::Index(i);
    detail::fisher_yates_shuffle(buffer_, rng_);
  }

  SamplerOptions options_;
  Eigen::Index n_;
  Eigen::Index batches_per_epoch_;
  // Without replacement: the epoch's order, which the batches are views of. With replacement: the
  // current batch.
  std::vector<Eigen::Index> buffer_;
  detail::Xoshiro256StarStar rng_;
  Eigen::Index epoch_ = 0;
  // Position in its epoch of the batch most recently returned; −1 before the first.
  Eigen::Index batch_ = -1;
};

}  // namespace descent
