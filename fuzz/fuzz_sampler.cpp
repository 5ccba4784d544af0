// Fuzzes MinibatchSampler: sizes, batch sizes, flags and seed from the bytes, then a few epochs
// of next() with reset() at arbitrary points. Checked against the documented behaviour:
//   - n < 1 or batch_size < 1 is refused with std::invalid_argument; anything else is accepted;
//   - batches_per_epoch() is n / batch_size, plus one for a remainder unless drop_last; with no
//     batch at all next() throws std::logic_error;
//   - each batch has batch_size indices except an epoch's last without drop_last (n mod batch_size);
//   - every index is in [0, n); without replacement each epoch visits every index exactly once
//     (at most once with drop_last), in the order 0..n−1 without shuffle;
//   - epoch() and end_of_epoch() follow the batches; reset() replays the same batches;
//   - the batches are exactly those of a model written here from the header's specification
//     (SplitMix64-seeded xoshiro256**, Lemire's bounded draw, Durstenfeld's shuffle), so they are
//     a function of (n, options) alone.

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <descent/sampler.hpp>

#include "fuzz_common.hpp"

namespace {

using Eigen::Index;
using fuzz::Input;

/// The sampler's specification, written out independently.
class Model {
 public:
  Model(Index n, const descent::SamplerOptions& o) : n_(n), o_(o) {
    bpe_ = o.drop_last ? n / o.batch_size : n / o.batch_size + (n % o.batch_size != 0);
    reset();
  }

  void reset() {
    std::uint64_t z = o_.seed;
    for (auto& word : s_) {
      // SplitMix64
      std::uint64_t x = (z += 0x9e3779b97f4a7c15u);
      x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
      x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
      word = x ^ (x >> 31);
    }
    batch_ = -1;
    epoch_ = 0;
  }

  Index batches_per_epoch() const { return bpe_; }

  std::vector<Index> next() {
    if (batch_ < 0 || batch_ + 1 == bpe_) {
      if (batch_ >= 0) ++epoch_;
      batch_ = 0;
      order_.resize(std::size_t(n_));
      for (Index i = 0; i < n_; ++i) order_[std::size_t(i)] = i;
      if (o_.shuffle && !o_.with_replacement)
        for (std::uint64_t i = std::uint64_t(n_); i > 1; --i) std::swap(order_[i - 1], order_[below(i)]);
    } else {
      ++batch_;
    }
    const Index begin = batch_ * o_.batch_size;
    const Index count = std::min(o_.batch_size, n_ - begin);
    std::vector<Index> batch;
    for (Index k = 0; k < count; ++k)
      batch.push_back(o_.with_replacement ? Index(below(std::uint64_t(n_))) : order_[std::size_t(begin + k)]);
    return batch;
  }

  Index epoch() const { return epoch_; }
  bool end_of_epoch() const { return batch_ >= 0 && batch_ + 1 == bpe_; }

 private:
  std::uint64_t xoshiro() {
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

  // Lemire's multiply-and-reject draw from [0, s).
  std::uint64_t below(std::uint64_t s) {
    __extension__ using u128 = unsigned __int128;
    std::uint64_t x = xoshiro();
    u128 m = u128(x) * s;
    if (std::uint64_t(m) < s) {
      const std::uint64_t threshold = (0 - s) % s;
      while (std::uint64_t(m) < threshold) {
        x = xoshiro();
        m = u128(x) * s;
      }
    }
    return std::uint64_t(m >> 64);
  }

  Index n_;
  descent::SamplerOptions o_;
  Index bpe_;
  std::array<std::uint64_t, 4> s_{};
  std::vector<Index> order_;
  Index batch_ = -1, epoch_ = 0;
};

std::string describe(Index n, const descent::SamplerOptions& o) {
  return "MinibatchSampler(" + std::to_string(n) + ", {.batch_size = " + std::to_string(o.batch_size) +
         ", .shuffle = " + (o.shuffle ? "true" : "false") + ", .drop_last = " + (o.drop_last ? "true" : "false") +
         ", .with_replacement = " + (o.with_replacement ? "true" : "false") + ", .seed = " + std::to_string(o.seed) +
         "})";
}

Index draw_size(Input& in, Index max) {
  switch (in.below(8)) {
    case 0:
      return -Index(in.below(3));  // 0, -1, -2: invalid
    case 1:
      return std::numeric_limits<Index>::min();
    case 2:
      return max;
    default:
      return 1 + Index(in.bits(2) % std::uint64_t(max));
  }
}

void run(Input& in) {
  const Index n = draw_size(in, 600);
  descent::SamplerOptions o;
  switch (in.below(6)) {
    case 0:
      o.batch_size = draw_size(in, 64);
      break;
    case 1:
      o.batch_size = std::numeric_limits<Index>::max() - Index(in.below(2));
      break;
    case 2:
      o.batch_size = n > 0 ? n + Index(in.below(3)) - 1 : 1;
      break;
    default:
      o.batch_size = 1 + Index(in.below(40));
  }
  o.shuffle = in.flag();
  o.drop_last = in.flag();
  o.with_replacement = in.rarely() || in.rarely();
  o.seed = in.flag() ? in.bits(8) : in.below(4);
  const std::string what = describe(n, o);

  const bool valid = n >= 1 && o.batch_size >= 1;
  std::optional<descent::MinibatchSampler> sampler;
  std::string message;
  try {
    sampler.emplace(n, o);
  } catch (const std::invalid_argument& e) {
    message = e.what();
  }
  FUZZ_CHECK(sampler.has_value() == valid, what + (valid ? ": refused: " + message : ": accepted"));
  if (!valid) return;

  Model model(n, o);
  FUZZ_CHECK(sampler->size() == n, what + ": size() = " + std::to_string(sampler->size()));
  FUZZ_CHECK(sampler->batches_per_epoch() == model.batches_per_epoch(),
             what + ": batches_per_epoch() = " + std::to_string(sampler->batches_per_epoch()) + ", expected " +
                 std::to_string(model.batches_per_epoch()));
  FUZZ_CHECK(sampler->epoch() == 0 && !sampler->end_of_epoch(), what + ": a new sampler is not at its start");
  const descent::SamplerOptions& got = sampler->options();
  FUZZ_CHECK(got.batch_size == o.batch_size && got.shuffle == o.shuffle && got.drop_last == o.drop_last &&
                 got.with_replacement == o.with_replacement && got.seed == o.seed,
             what + ": options() differ");

  const Index bpe = model.batches_per_epoch();
  if (bpe == 0) {
    bool threw = false;
    try {
      sampler->next();
    } catch (const std::logic_error&) {
      threw = true;
    }
    FUZZ_CHECK(threw, what + ": next() with no batch per epoch did not throw std::logic_error");
    return;
  }

  // Up to a few epochs, at most ~5000 batches, with resets where the input says.
  const Index epochs = 1 + Index(in.below(3));
  const Index total = std::min<Index>(epochs * bpe, 5000);
  std::vector<int> seen(std::size_t(n), 0);
  Index batch_in_epoch = 0, epoch = 0;
  for (Index call = 0; call < total; ++call) {
    if (in.rarely() && in.rarely()) {
      sampler->reset();
      model.reset();
      std::fill(seen.begin(), seen.end(), 0);
      batch_in_epoch = 0;
      epoch = 0;
      FUZZ_CHECK(sampler->epoch() == 0 && !sampler->end_of_epoch(), what + ": reset() did not go back to the start");
    }
    const auto batch = sampler->next();
    const std::vector<Index> expected = model.next();
    const std::string at = what + ", batch " + std::to_string(batch_in_epoch) + " of epoch " + std::to_string(epoch);
    const bool last = batch_in_epoch + 1 == bpe;

    // Sizes as documented (checked before the model, so a size error reads as such).
    const Index full = o.batch_size < n ? o.batch_size : n;
    const Index size = last && !o.drop_last && n % o.batch_size != 0 ? n % o.batch_size : full;
    FUZZ_CHECK(Index(batch.size()) == size,
               at + ": " + std::to_string(batch.size()) + " indices, expected " + std::to_string(size));
    for (std::size_t k = 0; k < batch.size(); ++k) {
      FUZZ_CHECK(batch[k] >= 0 && batch[k] < n, at + ": index " + std::to_string(batch[k]) + " out of range");
      if (!o.with_replacement) {
        FUZZ_CHECK(++seen[std::size_t(batch[k])] == 1, at + ": index " + std::to_string(batch[k]) + " seen twice");
        if (!o.shuffle) FUZZ_CHECK(batch[k] == batch_in_epoch * o.batch_size + Index(k), at + ": not in order");
      }
    }
    FUZZ_CHECK(std::equal(batch.begin(), batch.end(), expected.begin(), expected.end()),
               at + ": differs from the specification's batch");
    FUZZ_CHECK(sampler->epoch() == epoch && sampler->epoch() == model.epoch(),
               at + ": epoch() = " + std::to_string(sampler->epoch()));
    FUZZ_CHECK(sampler->end_of_epoch() == last && model.end_of_epoch() == last,
               at + ": end_of_epoch() = " + (sampler->end_of_epoch() ? "true" : "false"));
    if (last) {
      if (!o.with_replacement) {
        const Index visited = Index(std::count(seen.begin(), seen.end(), 1));
        const Index expected_visits = o.drop_last ? bpe * o.batch_size : n;
        FUZZ_CHECK(visited == expected_visits,
                   at + ": the epoch visited " + std::to_string(visited) + " indices, expected " +
                       std::to_string(expected_visits));
      }
      std::fill(seen.begin(), seen.end(), 0);
      batch_in_epoch = 0;
      ++epoch;
    } else {
      ++batch_in_epoch;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Input in(data, size);
  run(in);
  return 0;
}
