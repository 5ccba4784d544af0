// Fuzzes descent::Checkpoint::load (include/descent/checkpoint.hpp) on any bytes, then every
// Checkpoint::get the loaded entries allow, then a save/load round trip. The first byte of the
// input is a control byte, the rest is the file:
//   bit 0: recompute the checksum as descent writes it (XXH64, seed 0, of the whole file with the
//          16 hex digits after "descent.checksum":"xxh64: read as '0') before loading, so that a
//          mutated file gets past the checksum to get() and the round trip;
//   bit 1: recompute the 8-byte header length from the extent of the JSON object at byte 8 (up to
//          its matching brace, plus the spaces that pad it to 8 bytes), so that insertions and
//          deletions in the header keep it readable;
//   bit 2: load from a file (load(path): the size is known) instead of a stream (load(istream)).
// Checked:
//   - load either returns or throws CheckpointError: nothing else, no crash, no UB, no absurd
//     allocation or time;
//   - every entry can be tried with get() into an Eigen::VectorXd / VectorXf / MatrixXd / Vector3d
//     / Map, an Adam<VectorXf> with and without amsgrad, an SGD<VectorXf> with momentum, an
//     LBFGS<VectorXf> (history ring, its shapes and values), a
//     MinibatchSampler of the saved n and options (read through a reader of our own, a user type
//     found by ADL) and a fixed one, a History: each either succeeds or throws CheckpointError and
//     leaves the target exactly as it was (strong guarantee, compared through the target's own
//     saved state);
//   - what get() restores is usable: an optimizer takes a step on parameters of its state's shape,
//     a sampler gives batches of indices in [0, n), each once per epoch without replacement, in
//     order without shuffle;
//   - the loaded checkpoint saves, and that file loads again with the same names() and saves to
//     the same bytes.
//
// Findings of this target, all fixed in checkpoint.hpp (their inputs, corpus/fuzz_checkpoint/
// crash-ck*.seed, stay as regression seeds; tests/test_checkpoint.cpp has a test for each). CK1
// and CK2 keep their tags for DESCENT_FUZZ_TOLERATE (see fuzz_common.hpp), to look past them in a
// build of an older header:
//   CK1: a MinibatchSampler entry's "order" was only checked index by index ([0, n)), not as an
//        order the sampler can have (a permutation of 0..n-1, the identity without shuffle).
//   CK2: counters were restored up to INT64_MAX ("steps" of the optimizers, "epoch" of the
//        sampler), so the next step / epoch overflowed a signed integer (UB).
//   CK3: two tensors for one array ("p" and "p.", both the entry's field ""): the array kept the
//        dtype and shape of one and the bytes of the other (heap-buffer-overflow in get()).
//   CK4: JSON nested some 10^4 levels deep (in descent.entries, or in a shape): nlohmann/json
//        copies and dumps recursively (stack overflow); load now refuses nesting deeper than 64.

#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <descent/checkpoint.hpp>

#include "fuzz_common.hpp"

namespace {

using descent::Checkpoint;
using descent::CheckpointError;
using Eigen::Index;

constexpr std::string_view checksum_key = "\"descent.checksum\":\"xxh64:";

std::uint64_t length_of(const std::string& file) {
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(file[std::size_t(i)]);
  return n;
}

/// Bit 1: the header length is the extent of the JSON object that starts at byte 8.
void fix_length(std::string& file) {
  if (file.size() < 9 || file[8] != '{') return;
  std::size_t depth = 0, i = 8;
  bool in_string = false, escape = false;
  for (; i < file.size(); ++i) {
    const char c = file[i];
    if (in_string) {
      if (escape)
        escape = false;
      else if (c == '\\')
        escape = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && depth > 0 && --depth == 0) {
      break;
    }
  }
  if (i == file.size()) return;
  std::size_t end = i + 1;
  while ((end - 8) % 8 != 0 && end < file.size() && file[end] == ' ') ++end;
  const std::uint64_t n = end - 8;
  for (int b = 0; b < 8; ++b) file[std::size_t(b)] = char((n >> (8 * b)) & 0xff);
}

/// Bit 0: the checksum descent would write for these bytes.
void fix_checksum(std::string& file) {
  if (file.size() < 8) return;
  const std::uint64_t length = length_of(file);
  const std::size_t header_end = length <= file.size() - 8 ? std::size_t(8 + length) : file.size();
  const std::size_t at = std::string_view(file).substr(0, header_end).find(checksum_key, 8);
  if (at == std::string_view::npos || at + checksum_key.size() + 16 > header_end) return;
  file.replace(at + checksum_key.size(), 16, 16, '0');
  char digits[17];
  std::snprintf(digits, sizeof digits, "%016llx",
                static_cast<unsigned long long>(XXH64(file.data(), file.size(), 0)));
  file.replace(at + checksum_key.size(), 16, digits);
}

/// The file each input is written to for bit 2: one per process, in memory when the machine has
/// /dev/shm, removed at exit (the string is never destroyed, so the exit handler can still use it).
const std::string& temp_file() {
  static const std::string* path = [] {
    std::error_code ec;
    const std::filesystem::path dir = std::filesystem::is_directory("/dev/shm", ec)
                                          ? std::filesystem::path("/dev/shm")
                                          : std::filesystem::temp_directory_path();
    const auto* p = new std::string((dir / ("descent_fuzz_checkpoint_" + std::to_string(::getpid()) + ".ckpt")).string());
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove(temp_file(), ignored);
    });
    return p;
  }();
  return *path;
}

Checkpoint from_bytes(const std::string& bytes) {
  std::istringstream in(bytes, std::ios::binary);
  return Checkpoint::load(in);
}

std::string bytes_of(const Checkpoint& ck) {
  std::ostringstream out(std::ios::binary);
  ck.save(out);
  return out.str();
}

/// A target's own saved state: two objects are in the same state exactly when these agree.
template <class T>
std::string state_of(const T& x) {
  Checkpoint ck;
  ck.put("x", x);
  return bytes_of(ck);
}

std::string describe(const std::exception& e) { return std::string(typeid(e).name()) + ": " + e.what(); }

/// What a MinibatchSampler entry says about its sampler, read with the reader API (a user type of
/// ours, found by argument-dependent lookup), to build a sampler that the entry can fit.
struct SamplerShape {
  std::int64_t n = 0, batch_size = 0;
  bool shuffle = true, drop_last = false, with_replacement = false;
  std::uint64_t seed = 0;
};

void descent_checkpoint_save(descent::CheckpointWriter& w, const SamplerShape& s) {
  w.kind("MinibatchSampler");
  w.value("n", s.n);
  w.value("batch_size", s.batch_size);
  w.value("shuffle", s.shuffle);
  w.value("drop_last", s.drop_last);
  w.value("with_replacement", s.with_replacement);
  w.value("seed", s.seed);
}

void descent_checkpoint_load(const descent::CheckpointReader& r, SamplerShape& s) {
  r.expect_kind("MinibatchSampler");
  s.n = r.integer("n");
  s.batch_size = r.integer("batch_size");
  s.shuffle = r.boolean("shuffle");
  s.drop_last = r.boolean("drop_last");
  s.with_replacement = r.boolean("with_replacement");
  s.seed = r.unsigned_integer("seed");
  if (s.n < 1) r.fail("has n < 1");  // our own refusal, through the reader's fail()
}

/// Tries get(name, target): it succeeds, then `use` checks what it restored, or it throws
/// CheckpointError and leaves the target as it was. Anything else fails the input.
template <class T, class Use>
void attempt(const Checkpoint& ck, const std::string& name, const char* target_name, T& target, Use use) {
  const std::string what = "get('" + name + "') into " + target_name;
  const std::string before = state_of(target);
  try {
    ck.get(name, target);
  } catch (const CheckpointError& e) {
    FUZZ_CHECK(state_of(target) == before, what + " threw \"" + e.what() + "\" and changed the target");
    return;
  } catch (const std::exception& e) {
    fuzz::fail(__FILE__, __LINE__, "get throws CheckpointError only", what + " threw " + describe(e));
  }
  use(target, what);
}

template <class T>
void attempt(const Checkpoint& ck, const std::string& name, const char* target_name, T& target) {
  attempt(ck, name, target_name, target, [](const T&, const std::string&) {});
}

template <class O>
void check_step(O& o, Index k, const std::string& what) {
  const std::int64_t steps = o.steps();
  FUZZ_CHECK(steps >= 0, what + ": restored a negative step count " + std::to_string(steps));
  if (steps == std::numeric_limits<std::int64_t>::max() && fuzz::tolerated("CK2")) return;
  Eigen::VectorXf p = Eigen::VectorXf::LinSpaced(k, -1.0f, 1.0f);
  const Eigen::VectorXf g = Eigen::VectorXf::Constant(k, 0.25f);
  try {
    o.step(p, g);
  } catch (const std::exception& e) {
    fuzz::fail(__FILE__, __LINE__, "a restored optimizer steps",
               what + ": a step on " + std::to_string(k) + " parameters threw " + describe(e));
  }
  FUZZ_CHECK(steps < std::numeric_limits<std::int64_t>::max() && o.steps() == steps + 1,
             what + ": the step count went from " + std::to_string(steps) + " to " + std::to_string(o.steps()));
}

void use_adam(descent::Adam<Eigen::VectorXf>& o, const std::string& what) {
  const Index k = o.steps() > 0 ? o.first_moment().size() : 4;
  if (o.steps() > 0) {
    FUZZ_CHECK(o.second_moment().size() == k && (!o.options().amsgrad || o.max_second_moment().size() == k),
               what + ": restored moments of different sizes after " + std::to_string(o.steps()) + " steps");
  }
  check_step(o, k, what);
}

void use_sgd(descent::SGD<Eigen::VectorXf>& o, const std::string& what) {
  // With momentum the step needs parameters of the buffer's shape when there is a buffer; an
  // empty buffer is either none (any shape works) or an empty one (only 0 parameters work).
  check_step(o, o.momentum() != 0.0 ? o.momentum_buffer().size() : 4, what);
}

/// One step(f, x) on a quadratic, on parameters of the restored direction's shape: it returns
/// (non-finite values in a restored history end the step with x put back, as documented) and
/// leaves x finite.
void use_lbfgs(descent::LBFGS<Eigen::VectorXf>& o, const std::string& what) {
  FUZZ_CHECK(o.iterations() >= 0 && o.evaluations() >= 0 && o.history_count() <= o.options().history_size,
             what + ": restored impossible counters");
  const Index k = o.iterations() > 0 ? o.direction().size() : 4;
  Eigen::VectorXf p = Eigen::VectorXf::LinSpaced(k, -1.0f, 1.0f);
  const auto f = [](const Eigen::VectorXf& x, Eigen::VectorXf& g) {
    g = x.array() - 0.5f;
    return 0.5 * double(g.squaredNorm());
  };
  try {
    o.step(f, p);
  } catch (const std::exception& e) {
    fuzz::fail(__FILE__, __LINE__, "a restored optimizer steps",
               what + ": a step on " + std::to_string(k) + " parameters threw " + describe(e));
  }
  FUZZ_CHECK(p.allFinite(), what + ": a step left non-finite parameters");
}

/// The rest of the restored epoch, then one whole epoch: indices in range, batch sizes, each index
/// once per epoch without replacement, in order without shuffle.
void use_sampler(descent::MinibatchSampler& s, const std::string& what) {
  const Index n = s.size(), bs = s.options().batch_size, bpe = s.batches_per_epoch();
  const auto& o = s.options();
  if (bpe == 0 || n > (Index(1) << 16)) return;  // next() throws (documented) / too long to walk
  if (s.epoch() >= std::numeric_limits<Index>::max() - 1 && fuzz::tolerated("CK2")) return;
  for (int pass = 0; pass < 2; ++pass) {
    // pass 0: up to the end of the restored epoch; pass 1: a whole epoch
    std::vector<std::vector<Index>> batches;
    const Index epoch = s.epoch();
    do {
      const auto b = s.next();
      batches.emplace_back(b.begin(), b.end());
      FUZZ_CHECK(Index(batches.size()) <= bpe, what + ": an epoch of more than " + std::to_string(bpe) + " batches");
    } while (!s.end_of_epoch());
    FUZZ_CHECK(pass == 0 || Index(batches.size()) == bpe,
               what + ": an epoch of " + std::to_string(batches.size()) + " batches, not " + std::to_string(bpe));
    FUZZ_CHECK(s.epoch() >= epoch, what + ": the epoch went back");
    std::vector<char> seen(std::size_t(n), 0);
    const Index first = bpe - Index(batches.size());  // position in the epoch of the first batch
    for (std::size_t j = 0; j < batches.size(); ++j) {
      const Index position = first + Index(j);
      const Index size = std::min(bs, n - position * bs);
      FUZZ_CHECK(Index(batches[j].size()) == size, what + ": batch " + std::to_string(position) + " of an epoch has " +
                                                       std::to_string(batches[j].size()) + " indices, not " +
                                                       std::to_string(size));
      for (std::size_t i = 0; i < batches[j].size(); ++i) {
        const Index x = batches[j][i];
        FUZZ_CHECK(x >= 0 && x < n, what + ": index " + std::to_string(x) + " outside [0, " + std::to_string(n) + ")");
        if (o.with_replacement) continue;
        // The rest of the restored epoch (pass 0) comes from the file's order, and without
        // shuffle so does every later epoch (CK1).
        const char* tag = pass == 0 || !o.shuffle ? "CK1" : nullptr;
        FUZZ_CHECK_KNOWN(tag, !seen[std::size_t(x)]++,
                         what + ": index " + std::to_string(x) + " twice in one epoch (pass " + std::to_string(pass) +
                             ", batch " + std::to_string(position) + ")");
        FUZZ_CHECK_KNOWN(tag, o.shuffle || x == position * bs + Index(i),
                         what + ": without shuffle, batch " + std::to_string(position) + " holds " +
                             std::to_string(x) + " at " + std::to_string(i) + " (pass " + std::to_string(pass) + ")");
      }
    }
  }
}

void try_entry(const Checkpoint& ck, const std::string& name) {
  {
    Eigen::VectorXd v;
    attempt(ck, name, "an empty VectorXd", v);
    Eigen::VectorXd three = Eigen::VectorXd::Constant(3, 7.0);
    attempt(ck, name, "a VectorXd of 3", three, [](const Eigen::VectorXd& x, const std::string& what) {
      FUZZ_CHECK(x.size() == 3, what + ": restored a size " + std::to_string(x.size()));
    });
    Eigen::VectorXf f;
    attempt(ck, name, "an empty VectorXf", f);
    Eigen::MatrixXd m;
    attempt(ck, name, "an empty MatrixXd", m);
    Eigen::Vector3d fixed = Eigen::Vector3d::Constant(5.0);
    attempt(ck, name, "a Vector3d", fixed);
    double buffer[3] = {1.0, 2.0, 3.0};
    Eigen::Map<Eigen::VectorXd> map(buffer, 3);
    attempt(ck, name, "a Map<VectorXd> of 3", map);
  }
  for (const bool amsgrad : {true, false}) {
    descent::Adam<Eigen::VectorXf> adam(descent::AdamOptions{.lr = 0.01, .amsgrad = amsgrad});
    Eigen::VectorXf p = Eigen::VectorXf::Ones(2);
    adam.step(p, Eigen::VectorXf::Constant(2, 0.5f));  // a state of its own, which a failed get keeps
    attempt(ck, name, amsgrad ? "an Adam<VectorXf> with amsgrad" : "an Adam<VectorXf>", adam, use_adam);
  }
  {
    descent::SGD<Eigen::VectorXf> sgd(descent::SGDOptions{.lr = 0.1, .momentum = 0.9});
    Eigen::VectorXf p = Eigen::VectorXf::Ones(2);
    sgd.step(p, Eigen::VectorXf::Constant(2, 0.5f));
    attempt(ck, name, "an SGD<VectorXf> with momentum", sgd, use_sgd);
  }
  {
    descent::LBFGS<Eigen::VectorXf> lbfgs(descent::LBFGSOptions{.max_iter = 3, .history_size = 4});
    Eigen::VectorXf p = Eigen::VectorXf::Ones(2);
    lbfgs.step([](const Eigen::VectorXf& x, Eigen::VectorXf& g) { return double((g = x).squaredNorm()); }, p);
    attempt(ck, name, "an LBFGS<VectorXf>({.max_iter = 3, .history_size = 4})", lbfgs, use_lbfgs);
  }
  {
    SamplerShape shape;
    bool read = false;
    attempt(ck, name, "a SamplerShape (a user type)", shape,
            [&](const SamplerShape&, const std::string&) { read = true; });
    if (read && shape.n >= 1 && shape.n <= (std::int64_t(1) << 16) && shape.batch_size >= 1) {
      descent::MinibatchSampler s(Index(shape.n), descent::SamplerOptions{.batch_size = Index(shape.batch_size),
                                                                          .shuffle = shape.shuffle,
                                                                          .drop_last = shape.drop_last,
                                                                          .with_replacement = shape.with_replacement,
                                                                          .seed = shape.seed});
      if (s.batches_per_epoch() > 0) s.next();
      attempt(ck, name, "a MinibatchSampler of the saved n and options", s, use_sampler);
    }
    descent::MinibatchSampler fixed(10, descent::SamplerOptions{.batch_size = 3, .seed = 7});
    attempt(ck, name, "a MinibatchSampler(10, {.batch_size = 3, .seed = 7})", fixed, use_sampler);
  }
  {
    descent::History h;
    attempt(ck, name, "a History", h);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (control & 2) fix_length(file);
  if (control & 1) fix_checksum(file);
  const bool from_file = control & 4;
  const std::string what = "load of " + std::to_string(file.size()) + " bytes" + (from_file ? " from a file" : "") +
                           ((control & 1) ? ", checksum fixed" : "") + ((control & 2) ? ", length fixed" : "");

  std::optional<Checkpoint> ck;
  try {
    if (from_file) {
      const std::string& path = temp_file();
      {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(file.data(), std::streamsize(file.size()));
        FUZZ_CHECK(bool(out), "harness: cannot write " + path);
      }
      ck = Checkpoint::load(std::filesystem::path(path));
    } else {
      ck = from_bytes(file);
    }
  } catch (const CheckpointError&) {
    return 0;
  } catch (const std::exception& e) {
    fuzz::fail(__FILE__, __LINE__, "load throws CheckpointError only", what + " threw " + describe(e));
  }

  try {
    const std::vector<std::string> names = ck->names();
    for (const std::string& name : names) {
      FUZZ_CHECK(!name.empty() && name.find('.') == std::string::npos, what + ": an entry named '" + name + "'");
      FUZZ_CHECK(ck->contains(name), what + ": names() lists '" + name + "' but contains() denies it");
      (void)ck->kind(name);
      try_entry(*ck, name);
    }

    std::string saved;
    try {
      saved = bytes_of(*ck);
    } catch (const std::exception& e) {
      fuzz::fail(__FILE__, __LINE__, "a loaded checkpoint saves", what + ": save threw " + describe(e));
    }
    std::optional<Checkpoint> again;
    try {
      again = from_bytes(saved);
    } catch (const std::exception& e) {
      fuzz::fail(__FILE__, __LINE__, "a saved checkpoint loads", what + ": loading what it saved threw " + describe(e));
    }
    FUZZ_CHECK(again->names() == names, what + ": the round trip changed the names");
    FUZZ_CHECK(bytes_of(*again) == saved, what + ": the round trip does not save the same bytes");
  } catch (const fuzz::Abandon&) {
  }
  return 0;
}
