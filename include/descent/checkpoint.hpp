#pragma once
// Checkpoints: the exact state of a training run (parameters, optimizers, sampler, schedulers,
// callbacks) in one safetensors file, saved atomically, validated and checksummed on load.
//
// Not part of <descent/descent.hpp>: it needs nlohmann/json (Debian: nlohmann-json3-dev) and
// xxHash (libxxhash-dev, used header-only). Link the CMake target descent::checkpoint, which
// brings both. The format and the guarantees are documented in docs/checkpoints.md.

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "descent/callbacks.hpp"
#include "descent/clipping.hpp"
#include "descent/detail/access.hpp"
#include "descent/detail/checks.hpp"
#include "descent/grouped.hpp"
#include "descent/optimizers/adadelta.hpp"
#include "descent/optimizers/adagrad.hpp"
#include "descent/optimizers/adam.hpp"
#include "descent/optimizers/adamax.hpp"
#include "descent/optimizers/adamw.hpp"
#include "descent/optimizers/asgd.hpp"
#include "descent/optimizers/gradient_descent.hpp"
#include "descent/optimizers/lbfgs.hpp"
#include "descent/optimizers/lion.hpp"
#include "descent/optimizers/nadam.hpp"
#include "descent/optimizers/radam.hpp"
#include "descent/optimizers/rmsprop.hpp"
#include "descent/optimizers/rprop.hpp"
#include "descent/optimizers/schedule_free_adamw.hpp"
#include "descent/optimizers/schedule_free_sgd.hpp"
#include "descent/optimizers/sgd.hpp"
#include "descent/optimizers/sparse_adam.hpp"
#include "descent/sampler.hpp"
#include "descent/scheduler.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#else
#error "descent/checkpoint.hpp: atomic saving (write, fsync, rename) is implemented for POSIX systems only"
#endif

// xxHash's own header-only mode: its symbols are renamed (XXH_INLINE_*) and static, so this does
// not clash with a program that also links libxxhash.
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#define DESCENT_DETAIL_DEFINED_XXH_INLINE_ALL
#endif
#include <xxhash.h>
#ifdef DESCENT_DETAIL_DEFINED_XXH_INLINE_ALL
#undef XXH_INLINE_ALL
#undef DESCENT_DETAIL_DEFINED_XXH_INLINE_ALL
#endif

static_assert(std::endian::native == std::endian::little,
              "descent/checkpoint.hpp: checkpoints are little-endian, and only little-endian hosts are supported");

namespace descent {

/// Everything that can go wrong reading, writing or restoring a checkpoint. The message says what
/// and where: the file, the entry, the array or the option.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// The format's version, in __metadata__["descent.format"]. A reader refuses other versions.
inline constexpr int checkpoint_format_version = 1;
/// safetensors' own cap on the JSON header; also what keeps a corrupted length from allocating.
inline constexpr std::uint64_t checkpoint_max_header = 100u << 20;

enum class Dtype { F32, F64, I64, U64 };

inline std::string_view dtype_name(Dtype d) {
  switch (d) {
    case Dtype::F32:
      return "F32";
    case Dtype::F64:
      return "F64";
    case Dtype::I64:
      return "I64";
    case Dtype::U64:
      return "U64";
  }
  return "?";
}
inline std::size_t dtype_size(Dtype d) { return d == Dtype::F32 ? 4 : 8; }

template <class T>
constexpr Dtype dtype_of() {
  if constexpr (std::is_same_v<T, float>)
    return Dtype::F32;
  else if constexpr (std::is_same_v<T, double>)
    return Dtype::F64;
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return Dtype::U64;
  else {
    static_assert(std::is_same_v<T, std::int64_t>, "descent checkpoints hold float, double, int64 and uint64 arrays");
    return Dtype::I64;
  }
}

/// The scalar names used in the metadata ("float32"/"float64"), as numpy spells them.
template <class Scalar>
constexpr const char* checkpoint_scalar() {
  return std::is_same_v<Scalar, float> ? "float32" : "float64";
}

// GCC 12 at -O3 -march=native reports -Wstringop-overflow in construct() below, inlined into a
// vector<unsigned char>::resize from empty (the move of the old elements, of which there are none):
// a known false positive of its object-size tracking through operator new.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif

/// std::allocator whose resize leaves new bytes uninitialized: every byte of an array is written
/// right after (by a copy or a read), and zero-filling 120 MB first would cost a pass of its own.
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  UninitializedAllocator() = default;
  template <class U>
  UninitializedAllocator(const UninitializedAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... A>
  void construct(U* p, A&&... a) {
    ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
  }
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

struct CheckpointArray {
  Dtype dtype = Dtype::F64;
  std::vector<std::int64_t> shape;
  std::vector<unsigned char, UninitializedAllocator<unsigned char>> bytes;

  std::size_t count() const { return bytes.size() / dtype_size(dtype); }
};

struct CheckpointEntry {
  nlohmann::json meta = nlohmann::json::object();
  /// By field ("" for an entry that is one array); the file's tensor is "<entry>.<field>".
  std::map<std::string, CheckpointArray, std::less<>> arrays;
};

inline std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  s += "]";
  return s;
}

inline std::string tensor_name(std::string_view entry, std::string_view field) {
  return field.empty() ? std::string(entry) : concat(std::string(entry), ".", std::string(field));
}

/// A double in the metadata: a JSON number when finite (nlohmann writes the shortest form that
/// reads back to the same double), else "inf", "-inf" or "nan".
inline nlohmann::json encode_double(double x) {
  if (std::isfinite(x)) return x;
  return std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf");
}

template <class T>
struct StateAccess;

template <class T>
concept Integer = std::integral<T> && !std::is_same_v<T, bool>;

}  // namespace detail

/// What a type's save function writes into: one entry of a Checkpoint (or a part of one, see
/// child). Values go into the entry's metadata, arrays into the file's tensors "<entry>.<field>".
class CheckpointWriter {
 public:
  /// The kind of object the entry holds (what a reader checks first), e.g. "Adam".
  void kind(std::string_view kind) { (*meta_)["kind"] = std::string(kind); }
  /// A number: exact for every double (and float); integers as int64 or uint64 by signedness.
  template <std::floating_point F>
  void value(std::string_view key, F x) {
    (*meta_)[std::string(key)] = detail::encode_double(double(x));
  }
  template <detail::Integer I>
  void value(std::string_view key, I x) {
    if constexpr (std::is_signed_v<I>)
      (*meta_)[std::string(key)] = std::int64_t(x);
    else
      (*meta_)[std::string(key)] = std::uint64_t(x);
  }
  void value(std::string_view key, bool x) { (*meta_)[std::string(key)] = x; }
  void value(std::string_view key, std::string_view x) { (*meta_)[std::string(key)] = std::string(x); }
  void value(std::string_view key, const char* x) { value(key, std::string_view(x)); }
  /// A list of doubles (each exact, like value).
  void value(std::string_view key, const std::vector<double>& xs) {
    nlohmann::json list = nlohmann::json::array();
    for (double x : xs) list.push_back(detail::encode_double(x));
    (*meta_)[std::string(key)] = std::move(list);
  }

  /// An Eigen array or matrix of float or double (any expression; it is evaluated). Vectors are
  /// stored with shape [n], matrices as [rows, cols] in row-major order (numpy's C order).
  template <class Derived>
  void array(std::string_view field, const Eigen::DenseBase<Derived>& x) {
    using Scalar = typename Derived::Scalar;
    static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                  "descent::CheckpointWriter::array: Eigen arrays of float or double only");
    detail::CheckpointArray& a = slot(field);
    a.dtype = detail::dtype_of<Scalar>();
    const auto bytes = std::size_t(x.size()) * sizeof(Scalar);
    a.bytes.resize(bytes);
    if constexpr (Derived::IsVectorAtCompileTime) {
      a.shape = {std::int64_t(x.size())};
      Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>(reinterpret_cast<Scalar*>(a.bytes.data()), x.size()) =
          x.derived().reshaped();
    } else {
      a.shape = {std::int64_t(x.rows()), std::int64_t(x.cols())};
      Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          reinterpret_cast<Scalar*>(a.bytes.data()), x.rows(), x.cols()) = x.derived();
    }
  }
  /// A one-dimensional array of float, double, int64 or uint64.
  template <class T>
  void array(std::string_view field, std::span<const T> xs) {
    detail::CheckpointArray& a = slot(field);
    a.dtype = detail::dtype_of<T>();
    a.shape = {std::int64_t(xs.size())};
    a.bytes.resize(xs.size() * sizeof(T));
    if (!xs.empty()) std::memcpy(a.bytes.data(), xs.data(), a.bytes.size());
  }
  template <class T>
  void array(std::string_view field, const std::vector<T>& xs) {
    array(field, std::span<const T>(xs));
  }

  /// A part of this entry with its own metadata object (key `name`) and its arrays under
  /// "<field prefix><name>.": how Grouped writes each group, and how a type of yours can nest
  /// another's state (write it with `descent::checkpoint_save(w.child("inner"), inner)`).
  CheckpointWriter child(std::string_view name) {
    nlohmann::json& sub = (*meta_)[std::string(name)];
    if (!sub.is_object()) sub = nlohmann::json::object();
    return CheckpointWriter(entry_, &sub, detail::concat(prefix_, name, "."));
  }

 private:
  friend class Checkpoint;
  CheckpointWriter(detail::CheckpointEntry* entry, nlohmann::json* meta, std::string prefix)
      : entry_(entry), meta_(meta), prefix_(std::move(prefix)) {}
  detail::CheckpointArray& slot(std::string_view field) {
    std::string key = detail::concat(prefix_, field);
    if (!key.empty() && key.back() == '.') key.pop_back();
    return entry_->arrays[key];
  }

  detail::CheckpointEntry* entry_;
  nlohmann::json* meta_;
  std::string prefix_;
};

/// What a type's load function reads from: one entry of a Checkpoint (or a part of it). Every
/// accessor throws CheckpointError naming the entry and the key when the value is missing or of
/// the wrong type; fail() throws one with your own message.
class CheckpointReader {
 public:
  /// The entry's name, with the path of the child for a part ("optimizer.group1").
  const std::string& where() const { return where_; }
  /// The kind the entry was saved as ("" if none).
  std::string kind() const {
    const auto* k = find("kind");
    return k && k->is_string() ? k->get<std::string>() : std::string();
  }
  /// Throws unless the entry holds `expected` (e.g. "an Adam state into an SGD").
  void expect_kind(std::string_view expected) const {
    const std::string k = kind();
    if (k != expected)
      fail(detail::concat("holds ",
                          k.empty() ? std::string("no kind of state") : detail::concat("the state of ", article(k), k),
                          ", not of ", article(expected), std::string(expected)));
  }
  bool has(std::string_view key) const { return find(key) != nullptr; }

  double number(std::string_view key) const {
    const auto d = decode_double(at(key));
    if (!d) fail(detail::concat("'", std::string(key), "' is not a number"));
    return *d;
  }
  std::int64_t integer(std::string_view key) const {
    const nlohmann::json& v = at(key);
    if (v.is_number_integer() && !(v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(INT64_MAX)))
      return v.get<std::int64_t>();
    fail(detail::concat("'", std::string(key), "' is not a 64-bit integer"));
  }
  std::uint64_t unsigned_integer(std::string_view key) const {
    const nlohmann::json& v = at(key);
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    fail(detail::concat("'", std::string(key), "' is not an unsigned 64-bit integer"));
  }
  bool boolean(std::string_view key) const {
    const nlohmann::json& v = at(key);
    if (v.is_boolean()) return v.get<bool>();
    fail(detail::concat("'", std::string(key), "' is not a boolean"));
  }
  std::string text(std::string_view key) const {
    const nlohmann::json& v = at(key);
    if (v.is_string()) return v.get<std::string>();
    fail(detail::concat("'", std::string(key), "' is not a string"));
  }
  std::vector<double> numbers(std::string_view key) const {
    const nlohmann::json& v = at(key);
    if (!v.is_array()) fail(detail::concat("'", std::string(key), "' is not a list of numbers"));
    std::vector<double> out;
    out.reserve(v.size());
    for (const nlohmann::json& x : v) {
      const auto d = decode_double(x);
      if (!d) fail(detail::concat("'", std::string(key), "' is not a list of numbers"));
      out.push_back(*d);
    }
    return out;
  }

  /// The array `field` as a V (an Eigen Matrix or Array of float or double), with the shape it
  /// was saved with: throws if its dtype is not V's scalar, or its shape cannot be V's (a matrix
  /// into a vector, a size other than a fixed-size V's).
  template <class V>
  V array(std::string_view field) const {
    using Scalar = typename V::Scalar;
    const detail::CheckpointArray& a = raw(field);
    const std::string name = detail::tensor_name(where_, detail::concat(prefix_, field));
    if (a.dtype != detail::dtype_of<Scalar>())
      fail(detail::concat("array '", name, "' holds ", std::string(detail::dtype_name(a.dtype)), " (",
                          a.dtype == detail::Dtype::F32 ? "float" : "double", "), but the target is ",
                          std::is_same_v<Scalar, float> ? "float (F32)" : "double (F64)"));
    Eigen::Index rows = 0, cols = 0;
    if constexpr (V::IsVectorAtCompileTime) {
      if (a.shape.size() != 1)
        fail(detail::concat("array '", name, "' has shape ", detail::shape_string(a.shape), ", not a vector's"));
      const auto n = Eigen::Index(a.shape[0]);
      rows = V::ColsAtCompileTime == 1 ? n : 1;
      cols = V::ColsAtCompileTime == 1 ? 1 : n;
    } else {
      if (a.shape.size() != 2)
        fail(detail::concat("array '", name, "' has shape ", detail::shape_string(a.shape), ", not a matrix's"));
      rows = Eigen::Index(a.shape[0]);
      cols = Eigen::Index(a.shape[1]);
    }
    if ((V::RowsAtCompileTime != Eigen::Dynamic && rows != V::RowsAtCompileTime) ||
        (V::ColsAtCompileTime != Eigen::Dynamic && cols != V::ColsAtCompileTime))
      fail(detail::concat("array '", name, "' has shape ", detail::shape_string(a.shape),
                          ", which the fixed-size target cannot hold"));
    if (a.bytes.size() != std::size_t(rows) * std::size_t(cols) * sizeof(Scalar))
      fail(detail::concat("array '", name, "' holds ", std::to_string(a.bytes.size()), " bytes for shape ",
                          detail::shape_string(a.shape)));
    V out(rows, cols);
    const auto* data = reinterpret_cast<const Scalar*>(a.bytes.data());
    if constexpr (V::IsVectorAtCompileTime) {
      if (out.size() > 0) std::memcpy(out.data(), data, a.bytes.size());
    } else {
      out = Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(data, rows, cols)
                .template cast<Scalar>();
    }
    return out;
  }
  /// Copies the array `field` into `out`'s own storage and returns true when it holds out's
  /// scalar type and exactly out's (non-empty) vector shape; otherwise returns false and leaves
  /// out alone. No allocation, so nothing can fail once it has started.
  template <class V, class Out>
  bool copy_into(std::string_view field, Out& out) const {
    using Scalar = typename V::Scalar;
    if constexpr (V::IsVectorAtCompileTime && detail::has_direct_access_v<Out>) {
      const detail::CheckpointArray& a = raw(field);
      if (a.dtype != detail::dtype_of<Scalar>() || a.shape.size() != 1 || out.size() == 0 ||
          a.shape[0] != std::int64_t(out.size()) || out.innerStride() != 1 ||
          a.bytes.size() != std::size_t(out.size()) * sizeof(Scalar))
        return false;
      std::memcpy(out.data(), a.bytes.data(), a.bytes.size());
      return true;
    } else {
      return (void)field, (void)out, false;
    }
  }
  /// The one-dimensional array `field` of float, double, int64 or uint64.
  template <class T>
  std::vector<T> list(std::string_view field) const {
    const detail::CheckpointArray& a = raw(field);
    const std::string name = detail::tensor_name(where_, detail::concat(prefix_, field));
    if (a.dtype != detail::dtype_of<T>())
      fail(detail::concat("array '", name, "' holds ", std::string(detail::dtype_name(a.dtype)), ", expected ",
                          std::string(detail::dtype_name(detail::dtype_of<T>()))));
    if (a.shape.size() != 1)
      fail(detail::concat("array '", name, "' has shape ", detail::shape_string(a.shape), ", not a list's"));
    if (a.bytes.size() != std::size_t(a.shape[0]) * sizeof(T))
      fail(detail::concat("array '", name, "' holds ", std::to_string(a.bytes.size()), " bytes for shape ",
                          detail::shape_string(a.shape)));
    std::vector<T> out(a.count());
    if (!out.empty()) std::memcpy(out.data(), a.bytes.data(), a.bytes.size());
    return out;
  }
  bool has_array(std::string_view field) const {
    return entry_ && entry_->arrays.find(arrays_key(field)) != entry_->arrays.end();
  }

  /// The part written by CheckpointWriter::child(name).
  CheckpointReader child(std::string_view name) const {
    const nlohmann::json& sub = at(name);
    if (!sub.is_object()) fail(detail::concat("'", std::string(name), "' is not a part of it"));
    return CheckpointReader(entry_, &sub, detail::concat(where_, ".", std::string(name)),
                            detail::concat(prefix_, name, "."));
  }

  /// Throws CheckpointError "descent::Checkpoint::get: entry '<where>' <what>".
  [[noreturn]] void fail(const std::string& what) const {
    throw CheckpointError(detail::concat("descent::Checkpoint::get: entry '", where_, "' ", what));
  }

  /// Throws unless the saved option `key` equals `expected` (an option whose change would change
  /// the meaning of the saved state, such as amsgrad).
  template <class T>
  void expect_option(std::string_view key, const T& expected) const {
    T saved{};
    if constexpr (std::is_same_v<T, bool>)
      saved = boolean(key);
    else if constexpr (std::is_floating_point_v<T>)
      saved = T(number(key));
    else if constexpr (std::is_same_v<T, std::string>)
      saved = text(key);
    else
      saved = T(integer(key));
    const bool same = [&] {
      if constexpr (std::is_floating_point_v<T>)
        return saved == expected || (std::isnan(saved) && std::isnan(expected));
      else
        return saved == expected;
    }();
    if (!same)
      fail(detail::concat("was saved with ", std::string(key), " = ", show(saved), ", but the target has ",
                          std::string(key), " = ", show(expected),
                          " (restoring would change what the saved state means)"));
  }

 private:
  friend class Checkpoint;
  CheckpointReader(const detail::CheckpointEntry* entry, const nlohmann::json* meta, std::string where,
                   std::string prefix)
      : entry_(entry), meta_(meta), where_(std::move(where)), prefix_(std::move(prefix)) {}

  static std::string article(std::string_view kind) {
    // initialisms read with a vowel sound: an SGD, an RMSProp, an NAdam, an RAdam, an Rprop, an LBFGS
    for (std::string_view k : {"SGD", "RMSProp", "NAdam", "RAdam", "Rprop", "LBFGS"})
      if (kind == k) return "an ";
    const bool vowel = !kind.empty() && std::string_view("AEIOU").find(kind[0]) != std::string_view::npos;
    return vowel ? "an " : "a ";
  }

  static std::optional<double> decode_double(const nlohmann::json& v) {
    if (v.is_number()) return v.get<double>();
    if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      if (s == "inf") return std::numeric_limits<double>::infinity();
      if (s == "-inf") return -std::numeric_limits<double>::infinity();
      if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    }
    return std::nullopt;
  }
  template <class T>
  static std::string show(const T& x) {
    if constexpr (std::is_same_v<T, bool>)
      return x ? "true" : "false";
    else if constexpr (std::is_same_v<T, std::string>)
      return x;
    else if constexpr (std::is_floating_point_v<T>)
      return detail::format_number(double(x));
    else
      return std::to_string(x);
  }
  const nlohmann::json* find(std::string_view key) const {
    if (!meta_->is_object()) return nullptr;
    const auto it = meta_->find(std::string(key));
    return it == meta_->end() ? nullptr : &*it;
  }
  const nlohmann::json& at(std::string_view key) const {
    const auto* v = find(key);
    if (!v) fail(detail::concat("has no '", std::string(key), "' (saved by another version or kind of object?)"));
    return *v;
  }
  std::string arrays_key(std::string_view field) const {
    std::string key = detail::concat(prefix_, field);
    if (!key.empty() && key.back() == '.') key.pop_back();
    return key;
  }
  const detail::CheckpointArray& raw(std::string_view field) const {
    const std::string key = arrays_key(field);
    if (entry_) {
      const auto it = entry_->arrays.find(key);
      if (it != entry_->arrays.end()) return it->second;
    }
    const auto dot = where_.find('.');
    fail(detail::concat("has no array '", detail::tensor_name(where_.substr(0, dot), key), "'"));
  }

  const detail::CheckpointEntry* entry_;
  const nlohmann::json* meta_;
  std::string where_;
  std::string prefix_;
};

namespace detail {

template <class T>
concept EigenDense = std::is_base_of_v<Eigen::DenseBase<T>, T>;
template <class T>
concept EigenPlain = std::is_base_of_v<Eigen::PlainObjectBase<T>, T>;
template <class T>
struct is_plain_map : std::false_type {};
template <class P>
struct is_plain_map<Eigen::Map<P>> : std::bool_constant<std::is_base_of_v<Eigen::PlainObjectBase<P>, P>> {};
template <class T>
concept EigenWritableMap = is_plain_map<T>::value;

template <class T>
concept HasStateAccess = requires(CheckpointWriter& w, const CheckpointReader& r, const T& c, T& t) {
  StateAccess<T>::save(w, c);
  StateAccess<T>::load(r, t);
};

}  // namespace detail

/// The pair a type of yours provides, found by argument-dependent lookup (declare them in your
/// type's namespace), to be put into and got from a Checkpoint:
///
///     void descent_checkpoint_save(descent::CheckpointWriter& w, const MyType& x);
///     void descent_checkpoint_load(const descent::CheckpointReader& r, MyType& x);
///
/// load should give the strong guarantee (read everything first, then assign); Checkpoint::get
/// adds it by loading into a copy when the type is copyable and move-assignable.
template <class T>
concept CheckpointUserType = requires(CheckpointWriter& w, const CheckpointReader& r, const T& c, T& t) {
  descent_checkpoint_save(w, c);
  descent_checkpoint_load(r, t);
};

/// `T` can be put into and got from a Checkpoint.
template <class T>
concept Checkpointable = detail::EigenDense<T> || detail::HasStateAccess<T> || CheckpointUserType<T>;

/// Writes x's state with w (what Checkpoint::put does for one entry; use it to nest one object's
/// state inside your own type's, under w.child(...)).
template <class T>
void checkpoint_save(CheckpointWriter&& w, const T& x);
template <class T>
void checkpoint_save(CheckpointWriter& w, const T& x);
/// Restores x from r, with the strong guarantee for descent's types.
template <class T>
void checkpoint_load(const CheckpointReader& r, T& x);

/// A set of named entries, each the state of one object, saved to and loaded from a file in the
/// safetensors layout (docs/checkpoints.md):
///
///     descent::Checkpoint ck;
///     ck.put("params", x);  ck.put("optimizer", adam);  ck.put("sampler", sampler);
///     ck.save("run.ckpt");
///     ...
///     auto ck = descent::Checkpoint::load("run.ckpt");
///     ck.get("params", x);  ck.get("optimizer", adam);  ck.get("sampler", sampler);
///
/// put copies the state at the time of the call. Entry names are non-empty and contain no '.'
/// (the file's arrays are "<entry>.<field>").
class Checkpoint {
 public:
  /// Records the state of `value` under `name`, replacing an entry of that name. Throws
  /// std::invalid_argument for an empty name or one with '.' or a control character.
  template <class T>
  void put(std::string_view name, const T& value) {
    static_assert(Checkpointable<T>,
                  "descent::Checkpoint::put: T is not an Eigen object, not one of descent's optimizers, samplers, "
                  "schedulers or callbacks, and has no descent_checkpoint_save(descent::CheckpointWriter&, const T&) "
                  "found by argument-dependent lookup (docs/checkpoints.md)");
    check_name(name);
    detail::CheckpointEntry entry;
    checkpoint_save(CheckpointWriter(&entry, &entry.meta, ""), value);
    entries_.insert_or_assign(std::string(name), std::move(entry));
  }

  /// Restores `value` from the entry `name`. Throws CheckpointError when there is no such entry,
  /// or it holds another kind of object, another scalar type, another shape, or options that
  /// would change the meaning of the state; `value` is then exactly as before (strong guarantee).
  template <class T>
  void get(std::string_view name, T& value) const {
    static_assert(Checkpointable<T>,
                  "descent::Checkpoint::get: T is not an Eigen object, not one of descent's optimizers, samplers, "
                  "schedulers or callbacks, and has no descent_checkpoint_load(const descent::CheckpointReader&, T&) "
                  "found by argument-dependent lookup (docs/checkpoints.md)");
    const auto it = entries_.find(name);
    if (it == entries_.end()) {
      std::string known;
      for (const auto& [n, e] : entries_) {
        if (!known.empty()) known += ", ";
        known += detail::concat("'", n, "'");
      }
      throw CheckpointError(detail::concat("descent::Checkpoint::get: no entry '", std::string(name),
                                           "' (the checkpoint has ", known.empty() ? std::string("none") : known, ")"));
    }
    checkpoint_load(CheckpointReader(&it->second, &it->second.meta, std::string(name), ""), value);
  }

  bool contains(std::string_view name) const { return entries_.find(name) != entries_.end(); }
  /// The entries' names, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [n, e] : entries_) out.push_back(n);
    return out;
  }
  /// The kind of object entry `name` holds ("Adam", "MinibatchSampler", "Eigen", ...).
  std::string kind(std::string_view name) const {
    const auto it = entries_.find(name);
    if (it == entries_.end())
      throw CheckpointError(detail::concat("descent::Checkpoint::kind: no entry '", std::string(name), "'"));
    const auto k = it->second.meta.find("kind");
    return k != it->second.meta.end() && k->is_string() ? k->get<std::string>() : std::string();
  }
  /// Removes entry `name`; returns whether there was one.
  bool erase(std::string_view name) {
    const auto it = entries_.find(name);
    if (it == entries_.end()) return false;
    entries_.erase(it);
    return true;
  }

  /// Writes the checkpoint to `out`. Throws CheckpointError if the stream fails.
  void save(std::ostream& out) const {
    const Layout layout = lay_out();
    write_all(layout, [&](const void* data, std::size_t n) {
      out.write(static_cast<const char*>(data), std::streamsize(n));
      return bool(out);
    });
    if (!out) throw CheckpointError("descent::Checkpoint::save: the stream failed while writing");
  }

  /// Writes the checkpoint to `path` atomically: into a temporary file in the same folder, flushed
  /// to disk (fsync), then renamed over `path`. A crash or an error midway leaves any previous
  /// file at `path` intact and no partial file under that name. Throws CheckpointError naming the
  /// path and the system's reason.
  void save(const std::filesystem::path& path) const {
    const Layout layout = lay_out();
    const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    std::string temp = (folder / detail::concat(".", path.filename().string(), ".tmp-XXXXXX")).string();
    auto fail = [&](const char* doing, int error) {
      throw CheckpointError(detail::concat("descent::Checkpoint::save: cannot ", doing, " '", path.string(),
                                           "': ", std::strerror(error)));
    };
    std::error_code ec;
    if (path.filename().empty() || std::filesystem::is_directory(path, ec)) fail("write", EISDIR);
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) fail("create a temporary file next to", errno);
    auto abandon = [&](const char* doing) {
      const int error = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      fail(doing, error);
    };
    const bool written = write_all(layout, [&](const void* data, std::size_t n) {
      const auto* p = static_cast<const char*>(data);
      while (n > 0) {
        const ::ssize_t k = ::write(fd, p, std::min<std::size_t>(n, std::size_t(1) << 30));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        p += k;
        n -= std::size_t(k);
      }
      return true;
    });
    if (!written) abandon("write");
    if (::fchmod(fd, 0644 & ~current_umask()) != 0) abandon("set the permissions of");
    if (::fsync(fd) != 0) abandon("flush to disk");
    if (::close(fd) != 0) {
      const int error = errno;
      ::unlink(temp.c_str());
      fail("close", error);
    }
    if (std::rename(temp.c_str(), path.c_str()) != 0) {
      const int error = errno;
      ::unlink(temp.c_str());
      fail("rename the temporary file to", error);
    }
    // the rename itself reaches the disk only with the folder's entry
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }

  /// Reads a checkpoint from `in` (to its end or to the checkpoint's end). Throws CheckpointError
  /// saying what is wrong: not a descent checkpoint, an unsupported version, truncated, a checksum
  /// mismatch, an invalid header. Never allocates more than the input holds.
  static Checkpoint load(std::istream& in) { return read(in, std::nullopt, "the stream"); }

  /// Reads the checkpoint at `path` (see load(std::istream&)).
  static Checkpoint load(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
      throw CheckpointError(detail::concat("descent::Checkpoint::load: '", path.string(), "' is a directory"));
    std::ifstream in(path, std::ios::binary);
    if (!in)
      throw CheckpointError(
          detail::concat("descent::Checkpoint::load: cannot open '", path.string(), "': ", std::strerror(errno)));
    const auto size = std::filesystem::file_size(path, ec);
    return read(in, ec ? std::nullopt : std::optional<std::uint64_t>(size), detail::concat("'", path.string(), "'"));
  }

 private:
  struct Placed {
    std::string name;
    const detail::CheckpointArray* array;
  };
  struct Layout {
    std::string header;  // padded, with the checksum filled in
    std::vector<Placed> arrays;
  };

  static mode_t current_umask() {
    const mode_t m = ::umask(0);
    ::umask(m);
    return m;
  }

  static void check_name(std::string_view name) {
    if (name.empty()) throw std::invalid_argument("descent::Checkpoint::put: the entry name is empty");
    for (char c : name)
      if (c == '.' || static_cast<unsigned char>(c) < 0x20)
        throw std::invalid_argument(detail::concat("descent::Checkpoint::put: entry name '", std::string(name),
                                                   "' contains '.' or a control character (arrays are named "
                                                   "<entry>.<field>)"));
  }

  static constexpr std::string_view checksum_key = "\"descent.checksum\":\"xxh64:";

  static std::string hex64(std::uint64_t h) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }

  Layout lay_out() const {
    Layout layout;
    nlohmann::json header = nlohmann::json::object();
    nlohmann::json entries = nlohmann::json::object();
    std::uint64_t offset = 0;
    for (const auto& [name, entry] : entries_) {
      entries[name] = entry.meta;
      for (const auto& [field, a] : entry.arrays) {
        std::string tensor = detail::tensor_name(name, field);
        header[tensor] = {{"dtype", detail::dtype_name(a.dtype)},
                          {"shape", a.shape},
                          {"data_offsets", {offset, offset + a.bytes.size()}}};
        offset += a.bytes.size();
        layout.arrays.push_back({std::move(tensor), &a});
      }
    }
    try {
      header["__metadata__"] = {{"descent.format", std::to_string(detail::checkpoint_format_version)},
                                {"descent.checksum", "xxh64:0000000000000000"},
                                {"descent.entries", entries.dump()}};
      layout.header = header.dump();
    } catch (const nlohmann::json::exception& e) {  // a name or a string value that is not UTF-8
      throw CheckpointError(detail::concat("descent::Checkpoint::save: cannot write the header: ", e.what()));
    }
    layout.header.append((8 - layout.header.size() % 8) % 8, ' ');  // data 8-byte aligned, as safetensors pads
    // the checksum covers the length, the header (with its own 16 digits read as '0') and the data
    const std::size_t at = layout.header.find(checksum_key) + checksum_key.size();
    XXH64_state_t state;
    XXH64_reset(&state, 0);
    const auto length = prefix(layout.header.size());
    XXH64_update(&state, length.data(), length.size());
    XXH64_update(&state, layout.header.data(), layout.header.size());
    for (const Placed& p : layout.arrays) XXH64_update(&state, p.array->bytes.data(), p.array->bytes.size());
    const std::string digits = hex64(XXH64_digest(&state));
    layout.header.replace(at, 16, digits);
    return layout;
  }

  static std::array<unsigned char, 8> prefix(std::uint64_t n) {
    std::array<unsigned char, 8> b{};
    for (int i = 0; i < 8; ++i) b[std::size_t(i)] = static_cast<unsigned char>(n >> (8 * i));
    return b;
  }

  template <class Write>
  static bool write_all(const Layout& layout, Write write) {
    const auto length = prefix(layout.header.size());
    if (!write(length.data(), length.size()) || !write(layout.header.data(), layout.header.size())) return false;
    for (const Placed& p : layout.arrays)
      if (!p.array->bytes.empty() && !write(p.array->bytes.data(), p.array->bytes.size())) return false;
    return true;
  }

  /// Deeper JSON is refused before parsing: nlohmann/json copies and dumps values recursively, so
  /// a header of a few kilobytes of '[' would overflow the stack.
  static constexpr std::size_t max_json_depth = 64;
  /// The deepest nesting of arrays and objects in `text`, outside strings (an estimate for invalid JSON).
  static std::size_t json_depth(std::string_view text) {
    std::size_t depth = 0, deepest = 0;
    bool in_string = false, escape = false;
    for (const char c : text) {
      if (in_string) {
        if (escape)
          escape = false;
        else if (c == '\\')
          escape = true;
        else if (c == '"')
          in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '[' || c == '{') {
        deepest = std::max(deepest, ++depth);
      } else if ((c == ']' || c == '}') && depth > 0) {
        --depth;
      }
    }
    return deepest;
  }

  template <class... Pieces>
  [[noreturn]] static void bad(const std::string& source, const Pieces&... what) {
    throw CheckpointError(detail::concat("descent::Checkpoint::load: ", source, ": ", what...));
  }

  /// Reads n bytes into out, in chunks when the input's size is unknown, so that a corrupted
  /// length cannot allocate more than the input holds. False if the input ends first.
  template <class Bytes>
  static bool read_exact(std::istream& in, std::uint64_t n, bool size_known, Bytes& out) {
    if (size_known) {
      out.resize(std::size_t(n));
      in.read(reinterpret_cast<char*>(out.data()), std::streamsize(n));
      return std::uint64_t(in.gcount()) == n;
    }
    constexpr std::uint64_t chunk = 16u << 20;
    out.clear();
    while (out.size() < n) {
      const std::size_t k = std::size_t(std::min<std::uint64_t>(chunk, n - out.size()));
      const std::size_t old = out.size();
      out.resize(old + k);
      in.read(reinterpret_cast<char*>(out.data() + old), std::streamsize(k));
      if (std::size_t(in.gcount()) != k) return false;
    }
    return true;
  }

  static Checkpoint read(std::istream& in, std::optional<std::uint64_t> file_size, const std::string& source) {
    unsigned char length_bytes[8];
    in.read(reinterpret_cast<char*>(length_bytes), 8);
    const auto got = std::size_t(in.gcount());
    if (got == 0) bad(source, "empty: not a descent checkpoint");
    if (got < 8) bad(source, "truncated: ", std::to_string(got), " bytes, shorter than the 8-byte header length");
    std::uint64_t header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | length_bytes[i];
    if (header_size > detail::checkpoint_max_header)
      bad(source, "not a descent checkpoint (or corrupted): its first 8 bytes give a header length of ",
          std::to_string(header_size), " bytes, more than safetensors' limit of 100 MiB");
    if (file_size && header_size > *file_size - 8)
      bad(source, "truncated or not a descent checkpoint: the header length is ", std::to_string(header_size),
          " bytes but only ", std::to_string(*file_size - 8), " follow");
    std::vector<unsigned char> header_bytes;
    if (!read_exact(in, header_size, file_size.has_value(), header_bytes))
      bad(source, "truncated: the header length is ", std::to_string(header_size), " bytes but the input ends first");
    std::string header_text(header_bytes.begin(), header_bytes.end());

    if (json_depth(header_text) > max_json_depth)
      bad(source, "the header nests arrays and objects deeper than ", std::to_string(max_json_depth), " levels");
    nlohmann::json header;
    try {
      header = nlohmann::json::parse(header_text);
    } catch (const nlohmann::json::exception& e) {
      bad(source, "not a descent checkpoint (or corrupted): the header is not valid JSON: ", e.what());
    }
    if (!header.is_object()) bad(source, "not a descent checkpoint: the header is not a JSON object");
    const auto meta_it = header.find("__metadata__");
    if (meta_it == header.end() || !meta_it->is_object())
      bad(source, "not a descent checkpoint: a safetensors header without __metadata__");
    const nlohmann::json& meta = *meta_it;
    auto meta_string = [&](const char* key, const char* missing) -> std::string {
      const auto it = meta.find(key);
      if (it == meta.end() || !it->is_string()) bad(source, missing);
      return it->get<std::string>();
    };
    const std::string format = meta_string("descent.format",
                                           "not a descent checkpoint: no descent.format in __metadata__ (a safetensors "
                                           "file from elsewhere?)");
    if (format != std::to_string(detail::checkpoint_format_version))
      bad(source, "unsupported format version '", format, "' (this descent reads version ",
          std::to_string(detail::checkpoint_format_version), ")");
    const std::string checksum = meta_string("descent.checksum", "no descent.checksum in __metadata__");
    if (checksum.size() != 22 || checksum.compare(0, 6, "xxh64:") != 0 ||
        checksum.find_first_not_of("0123456789abcdef", 6) != std::string::npos)
      bad(source, "descent.checksum '", checksum, "' is not xxh64: and 16 hex digits");
    const std::string entries_text = meta_string("descent.entries", "no descent.entries in __metadata__");
    if (json_depth(entries_text) > max_json_depth)
      bad(source, "descent.entries nests arrays and objects deeper than ", std::to_string(max_json_depth), " levels");
    nlohmann::json entries_meta;
    try {
      entries_meta = nlohmann::json::parse(entries_text);
    } catch (const nlohmann::json::exception& e) {
      bad(source, "descent.entries is not valid JSON: ", e.what());
    }
    if (!entries_meta.is_object()) bad(source, "descent.entries is not a JSON object");

    Checkpoint ck;
    for (const auto& [name, m] : entries_meta.items()) {
      if (!m.is_object()) bad(source, "the metadata of entry '", name, "' is not a JSON object");
      if (name.empty() || std::any_of(name.begin(), name.end(),
                                      [](char c) { return c == '.' || static_cast<unsigned char>(c) < 0x20; }))
        bad(source, "invalid entry name '", name, "' (empty, or with '.' or a control character)");
      ck.entries_[name].meta = m;
    }

    struct Span {
      std::uint64_t begin, end;
      detail::CheckpointArray* array;
      std::string name;
    };
    std::vector<Span> spans;
    for (const auto& item : header.items()) {
      // not a structured binding: clang before 16 cannot capture one in the lambda below
      const std::string& tensor = item.key();
      const nlohmann::json& info = item.value();
      if (tensor == "__metadata__") continue;
      auto invalid = [&](const auto&... what) { bad(source, "tensor '", tensor, "': ", what...); };
      if (!info.is_object()) invalid("not a JSON object");
      const auto dt = info.find("dtype");
      const auto sh = info.find("shape");
      const auto off = info.find("data_offsets");
      if (dt == info.end() || sh == info.end() || off == info.end()) invalid("needs dtype, shape and data_offsets");
      if (!dt->is_string()) invalid("dtype is not a string");
      const std::string d = dt->get<std::string>();
      detail::Dtype dtype;
      if (d == "F32")
        dtype = detail::Dtype::F32;
      else if (d == "F64")
        dtype = detail::Dtype::F64;
      else if (d == "I64")
        dtype = detail::Dtype::I64;
      else if (d == "U64")
        dtype = detail::Dtype::U64;
      else
        invalid("unknown dtype '", d, "' (descent reads F32, F64, I64 and U64)");
      if (!sh->is_array()) invalid("shape is not a list");
      std::vector<std::int64_t> shape;
      std::uint64_t count = 1;
      for (const auto& s : *sh) {
        if (!s.is_number_unsigned() || s.get<std::uint64_t>() > (std::uint64_t(1) << 62))
          invalid("shape ", sh->dump(), " is not a list of sizes");
        const auto k = s.get<std::uint64_t>();
        if (k != 0 && count > (std::uint64_t(1) << 62) / k) invalid("shape ", sh->dump(), " is absurdly large");
        count *= k;
        shape.push_back(std::int64_t(k));
      }
      if (!off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
        invalid("data_offsets is not a pair of offsets");
      const auto b = (*off)[0].get<std::uint64_t>(), e = (*off)[1].get<std::uint64_t>();
      if (e < b) invalid("data_offsets [", std::to_string(b), ", ", std::to_string(e), "] end before they begin");
      if (count > (std::uint64_t(1) << 60) || e - b != count * detail::dtype_size(dtype))
        invalid("data_offsets [", std::to_string(b), ", ", std::to_string(e), "] hold ", std::to_string(e - b),
                " bytes, but ", d, " of shape ", sh->dump(), " needs ",
                std::to_string(count * detail::dtype_size(dtype)));
      // "<entry>.<field>", or the entry itself
      const auto dot = tensor.find('.');
      const std::string entry = tensor.substr(0, dot);
      const auto it = ck.entries_.find(entry);
      if (it == ck.entries_.end()) invalid("belongs to no entry in descent.entries");
      // one tensor per array: "p." would be the same array as "p", and descent never writes a field
      // that ends with '.' (CheckpointWriter/Reader drop it)
      if (dot != std::string::npos && tensor.back() == '.')
        invalid("has an empty field name or one that ends with '.'");
      const auto [slot, fresh] =
          it->second.arrays.try_emplace(dot == std::string::npos ? std::string() : tensor.substr(dot + 1));
      if (!fresh) invalid("names the same array as another tensor");
      detail::CheckpointArray& a = slot->second;
      a.dtype = dtype;
      a.shape = std::move(shape);
      spans.push_back({b, e, &a, tensor});
    }
    std::sort(spans.begin(), spans.end(),
              [](const Span& x, const Span& y) { return x.begin != y.begin ? x.begin < y.begin : x.end < y.end; });
    std::uint64_t data_size = 0;
    for (const Span& s : spans) {
      if (s.begin != data_size)
        bad(source, s.begin < data_size ? "tensor '" : "a hole in the data before tensor '", s.name,
            s.begin < data_size ? "' overlaps another" : "'", " (data_offsets from ", std::to_string(s.begin), ")");
      data_size = s.end;
    }
    if (file_size && data_size != *file_size - 8 - header_size) {
      if (data_size > *file_size - 8 - header_size)
        bad(source, "truncated, or offsets point past the end: the tensors need ", std::to_string(data_size),
            " bytes of data but the file holds ", std::to_string(*file_size - 8 - header_size));
      bad(source, "the file has ", std::to_string(*file_size - 8 - header_size - data_size),
          " bytes after the last tensor's data");
    }

    XXH64_state_t state;
    XXH64_reset(&state, 0);
    XXH64_update(&state, length_bytes, 8);
    {
      const std::size_t at = header_text.find(checksum_key);
      if (at == std::string::npos || header_text.find(checksum_key, at + 1) != std::string::npos)
        bad(source, "the header's descent.checksum is not written as descent writes it");
      std::string zeroed = header_text;
      zeroed.replace(at + checksum_key.size(), 16, 16, '0');
      XXH64_update(&state, zeroed.data(), zeroed.size());
    }
    for (const Span& s : spans) {
      if (!read_exact(in, s.end - s.begin, file_size.has_value(), s.array->bytes))
        bad(source, "truncated: the data ends inside tensor '", s.name, "' (data_offsets [", std::to_string(s.begin),
            ", ", std::to_string(s.end), "])");
      XXH64_update(&state, s.array->bytes.data(), s.array->bytes.size());
    }
    const std::string digest = detail::concat("xxh64:", hex64(XXH64_digest(&state)));
    if (digest != checksum)
      bad(source, "checksum mismatch: the header says ", checksum, " but the content hashes to ", digest,
          " (the file is corrupted or was modified)");
    return ck;
  }

  std::map<std::string, detail::CheckpointEntry, std::less<>> entries_;
};

namespace detail {

/// Copies are what give get its strong guarantee for types without a staged load of their own.
template <class T>
void load_on_copy(const CheckpointReader& r, T& x) {
  if constexpr (std::is_copy_constructible_v<T> && std::is_move_assignable_v<T>) {
    T copy = x;
    descent_checkpoint_load(r, copy);
    x = std::move(copy);
  } else {
    descent_checkpoint_load(r, x);
  }
}

template <class Scalar>
void expect_scalar(const CheckpointReader& r) {
  const std::string saved = r.text("scalar");
  if (saved != checkpoint_scalar<Scalar>())
    r.fail(concat("holds ", saved, " state, but the target is ", checkpoint_scalar<Scalar>(), " (",
                  std::is_same_v<Scalar, float> ? "float" : "double", ")"));
}

/// A state array of V that is either empty (before the first step) or of the shape `like`.
template <class V>
V state_array(const CheckpointReader& r, std::string_view field, std::int64_t steps, const V* like) {
  V a = r.template array<V>(field);
  if (steps > 0 && like && (a.rows() != like->rows() || a.cols() != like->cols()))
    r.fail(concat("array '", std::string(field), "' has shape ", shape_text(a.rows(), a.cols()), " but the others ",
                  shape_text(like->rows(), like->cols())));
  return a;
}

/// A counter that a restored object goes on incrementing: in [0, 2^62], so that it cannot overflow.
inline std::int64_t counter(const CheckpointReader& r, std::string_view key) {
  const std::int64_t n = r.integer(key);
  if (n < 0 || n > (std::int64_t(1) << 62))
    r.fail(concat("has an impossible ", std::string(key), " ", std::to_string(n), " (not in [0, 2^62])"));
  return n;
}

inline std::int64_t steps_of(const CheckpointReader& r) { return counter(r, "steps"); }

/// Runs `validate` (which throws std::invalid_argument on options the target refuses) and turns its
/// error into the reader's: restored options are validated as the constructor would.
template <class Validate>
void expect_valid(const CheckpointReader& r, Validate&& validate) {
  try {
    validate();
  } catch (const std::invalid_argument& e) {
    r.fail(concat("holds options the target refuses: ", e.what()));
  }
}

/// That an optimizer T accepts `options` (its constructor validates them; it allocates nothing).
template <class T, class Options>
void expect_accepted(const CheckpointReader& r, const Options& options) {
  expect_valid(r, [&] { T probe(options); });
}

// ---- optimizers -------------------------------------------------------------------------------

template <class V>
struct StateAccess<GradientDescent<V>> {
  using T = GradientDescent<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("GradientDescent");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("weight_decay", o.options_.weight_decay);
    w.value("maximize", o.options_.maximize);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("GradientDescent");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("weight_decay", o.options_.weight_decay);
    r.expect_option("maximize", o.options_.maximize);
    auto options = o.options_;
    options.lr = r.number("lr");
    const std::int64_t steps = steps_of(r);
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = steps;
  }
};

template <class V>
struct StateAccess<SGD<V>> {
  using T = SGD<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("SGD");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("momentum", o.options_.momentum);
    w.value("dampening", o.options_.dampening);
    w.value("weight_decay", o.options_.weight_decay);
    w.value("nesterov", o.options_.nesterov);
    w.value("maximize", o.options_.maximize);
    w.value("has_momentum_buffer", o.has_buffer_);
    if (o.has_buffer_) w.array("momentum_buffer", o.buffer_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("SGD");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("dampening", o.options_.dampening);
    r.expect_option("weight_decay", o.options_.weight_decay);
    r.expect_option("nesterov", o.options_.nesterov);
    r.expect_option("maximize", o.options_.maximize);
    auto options = o.options_;
    options.lr = r.number("lr");
    options.momentum = r.number("momentum");
    const std::int64_t steps = steps_of(r);
    const bool has_buffer = r.boolean("has_momentum_buffer");
    V buffer = has_buffer ? r.template array<V>("momentum_buffer") : V{};
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = steps;
    o.has_buffer_ = has_buffer;
    if (has_buffer) o.buffer_.swap(buffer);
  }
};

template <class V>
struct StateAccess<Adam<V>> {
  using T = Adam<V>;
  static const char* kind_of(const AdamOptions& o) { return o.decoupled_weight_decay ? "AdamW" : "Adam"; }
  static void save(CheckpointWriter& w, const T& o) {
    w.kind(kind_of(o.options_));
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("beta1", o.options_.beta1);
    w.value("beta2", o.options_.beta2);
    w.value("eps", o.options_.eps);
    w.value("weight_decay", o.options_.weight_decay);
    w.value("amsgrad", o.options_.amsgrad);
    w.value("maximize", o.options_.maximize);
    w.array("exp_avg", o.m_);
    w.array("exp_avg_sq", o.v_);
    if (o.options_.amsgrad) w.array("max_exp_avg_sq", o.vmax_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind(kind_of(o.options_));
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("amsgrad", o.options_.amsgrad);
    r.expect_option("beta2", o.options_.beta2);
    r.expect_option("eps", o.options_.eps);
    r.expect_option("weight_decay", o.options_.weight_decay);
    r.expect_option("maximize", o.options_.maximize);
    auto options = o.options_;
    options.lr = r.number("lr");
    options.beta1 = r.number("beta1");
    const std::int64_t steps = steps_of(r);
    V m = r.template array<V>("exp_avg");
    V v = state_array<V>(r, "exp_avg_sq", steps, &m);
    V vmax = options.amsgrad ? state_array<V>(r, "max_exp_avg_sq", steps, &m) : V{};
    expect_valid(r, [&] { options.template validate_for<typename V::Scalar>(o.options_name()); });
    o.options_ = options;
    o.steps_ = steps;
    o.m_.swap(m);
    o.v_.swap(v);
    o.vmax_.swap(vmax);
  }
};

template <class V>
struct StateAccess<AdamW<V>> {
  static void save(CheckpointWriter& w, const AdamW<V>& o) { StateAccess<Adam<V>>::save(w, o); }
  static void load(const CheckpointReader& r, AdamW<V>& o) { StateAccess<Adam<V>>::load(r, o); }
};

template <class V>
struct StateAccess<Adagrad<V>> {
  using T = Adagrad<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("Adagrad");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("lr_decay", o.options_.lr_decay);
    w.value("weight_decay", o.options_.weight_decay);
    w.value("initial_accumulator_value", o.options_.initial_accumulator_value);
    w.value("eps", o.options_.eps);
    w.value("maximize", o.options_.maximize);
    w.array("sum", o.sum_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("Adagrad");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("lr_decay", o.options_.lr_decay);
    r.expect_option("weight_decay", o.options_.weight_decay);
    r.expect_option("initial_accumulator_value", o.options_.initial_accumulator_value);
    r.expect_option("eps", o.options_.eps);
    r.expect_option("maximize", o.options_.maximize);
    auto options = o.options_;
    options.lr = r.number("lr");
    const std::int64_t steps = steps_of(r);
    V sum = r.template array<V>("sum");
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = steps;
    o.sum_.swap(sum);
  }
};

template <class V>
struct StateAccess<SparseAdam<V>> {
  using T = SparseAdam<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("SparseAdam");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("beta1", o.options_.beta1);
    w.value("beta2", o.options_.beta2);
    w.value("eps", o.options_.eps);
    w.value("maximize", o.options_.maximize);
    w.array("exp_avg", o.m_);
    w.array("exp_avg_sq", o.v_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("SparseAdam");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("beta2", o.options_.beta2);
    r.expect_option("eps", o.options_.eps);
    r.expect_option("maximize", o.options_.maximize);
    auto options = o.options_;
    // lr and beta1 are what schedules change (set_lr, set_momentum), so the saved ones win.
    options.lr = r.number("lr");
    options.beta1 = r.number("beta1");
    const std::int64_t steps = steps_of(r);
    V m = r.template array<V>("exp_avg");
    V v = state_array<V>(r, "exp_avg_sq", steps, &m);
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = steps;
    o.m_.swap(m);
    o.v_.swap(v);
  }
};

template <class V>
struct StateAccess<RMSProp<V>> {
  using T = RMSProp<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("RMSProp");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("alpha", o.options_.alpha);
    w.value("eps", o.options_.eps);
    w.value("weight_decay", o.options_.weight_decay);
    w.value("momentum", o.options_.momentum);
    w.value("centered", o.options_.centered);
    w.value("maximize", o.options_.maximize);
    w.value("has_momentum_buffer", o.has_buffer_);
    w.array("square_avg", o.v_);
    if (o.options_.centered) w.array("grad_avg", o.ga_);
    if (o.has_buffer_) w.array("momentum_buffer", o.buf_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("RMSProp");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("centered", o.options_.centered);
    r.expect_option("alpha", o.options_.alpha);
    r.expect_option("eps", o.options_.eps);
    r.expect_option("weight_decay", o.options_.weight_decay);
    r.expect_option("maximize", o.options_.maximize);
    auto options = o.options_;
    options.lr = r.number("lr");
    options.momentum = r.number("momentum");
    const std::int64_t steps = steps_of(r);
    const bool has_buffer = r.boolean("has_momentum_buffer");
    V v = r.template array<V>("square_avg");
    V ga = options.centered ? state_array<V>(r, "grad_avg", steps, &v) : V{};
    V buf = has_buffer ? state_array<V>(r, "momentum_buffer", steps, &v) : V{};
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = steps;
    o.has_buffer_ = has_buffer;
    o.v_.swap(v);
    o.ga_.swap(ga);
    o.buf_.swap(buf);
  }
};

template <class V>
struct StateAccess<NAdam<V>> {
  using T = NAdam<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("NAdam");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("beta1", o.options_.beta1);
    w.value("beta2", o.options_.beta2);
    w.value("eps", o.options_.eps);
    w.value("weight_decay", o.options_.weight_decay);
    w.value("momentum_decay", o.options_.momentum_decay);
    w.value("mu_product", o.mu_product_);  // torch's per-parameter 0-d tensor; a double here
    w.array("exp_avg", o.m_);
    w.array("exp_avg_sq", o.v_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("NAdam");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("beta2", o.options_.beta2);
    r.expect_option("eps", o.options_.eps);
    r.expect_option("weight_decay", o.options_.weight_decay);
    r.expect_option("momentum_decay", o.options_.momentum_decay);
    auto options = o.options_;
    options.lr = r.number("lr");
    options.beta1 = r.number("beta1");
    const std::int64_t steps = steps_of(r);
    const double mu_product = r.number("mu_product");
    if (!(mu_product >= 0.0 && mu_product <= 1.0))
      r.fail(concat("has mu_product = ", format_number(mu_product),
                    " (a product of factors in [0, 1) must be in [0, 1])"));
    V m = r.template array<V>("exp_avg");
    V v = state_array<V>(r, "exp_avg_sq", steps, &m);
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = steps;
    o.mu_product_ = mu_product;
    o.m_.swap(m);
    o.v_.swap(v);
  }
};

template <class V>
struct StateAccess<RAdam<V>> {
  using T = RAdam<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("RAdam");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("beta1", o.options_.beta1);
    w.value("beta2", o.options_.beta2);
    w.value("eps", o.options_.eps);
    w.value("weight_decay", o.options_.weight_decay);
    w.array("exp_avg", o.m_);
    w.array("exp_avg_sq", o.v_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("RAdam");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("beta2", o.options_.beta2);
    r.expect_option("eps", o.options_.eps);
    r.expect_option("weight_decay", o.options_.weight_decay);
    auto options = o.options_;
    options.lr = r.number("lr");
    options.beta1 = r.number("beta1");
    const std::int64_t steps = steps_of(r);
    V m = r.template array<V>("exp_avg");
    V v = state_array<V>(r, "exp_avg_sq", steps, &m);
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = steps;
    o.m_.swap(m);
    o.v_.swap(v);
  }
};

template <class V>
struct StateAccess<Adamax<V>> {
  using T = Adamax<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("Adamax");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("beta1", o.options_.beta1);
    w.value("beta2", o.options_.beta2);
    w.value("eps", o.options_.eps);
    w.value("weight_decay", o.options_.weight_decay);
    w.value("maximize", o.options_.maximize);
    w.array("exp_avg", o.m_);
    w.array("exp_inf", o.u_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("Adamax");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("beta2", o.options_.beta2);
    r.expect_option("eps", o.options_.eps);
    r.expect_option("weight_decay", o.options_.weight_decay);
    r.expect_option("maximize", o.options_.maximize);
    auto options = o.options_;
    options.lr = r.number("lr");
    options.beta1 = r.number("beta1");
    const std::int64_t steps = steps_of(r);
    V m = r.template array<V>("exp_avg");
    V u = state_array<V>(r, "exp_inf", steps, &m);
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = steps;
    o.m_.swap(m);
    o.u_.swap(u);
  }
};

template <class V>
struct StateAccess<Adadelta<V>> {
  using T = Adadelta<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("Adadelta");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("rho", o.options_.rho);
    w.value("eps", o.options_.eps);
    w.value("weight_decay", o.options_.weight_decay);
    w.value("maximize", o.options_.maximize);
    w.array("square_avg", o.v_);
    w.array("acc_delta", o.a_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("Adadelta");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("rho", o.options_.rho);
    r.expect_option("eps", o.options_.eps);
    r.expect_option("weight_decay", o.options_.weight_decay);
    r.expect_option("maximize", o.options_.maximize);
    auto options = o.options_;
    options.lr = r.number("lr");
    const std::int64_t steps = steps_of(r);
    V v = r.template array<V>("square_avg");
    V a = state_array<V>(r, "acc_delta", steps, &v);
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = steps;
    o.v_.swap(v);
    o.a_.swap(a);
  }
};

template <class V>
struct StateAccess<ASGD<V>> {
  using T = ASGD<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("ASGD");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("lambd", o.options_.lambd);
    w.value("alpha", o.options_.alpha);
    w.value("t0", o.options_.t0);
    w.value("weight_decay", o.options_.weight_decay);
    w.value("maximize", o.options_.maximize);
    w.value("eta", o.eta_);
    w.value("mu", o.mu_);
    w.array("ax", o.ax_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("ASGD");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("lambd", o.options_.lambd);
    r.expect_option("alpha", o.options_.alpha);
    r.expect_option("t0", o.options_.t0);
    r.expect_option("weight_decay", o.options_.weight_decay);
    r.expect_option("maximize", o.options_.maximize);
    auto options = o.options_;
    options.lr = r.number("lr");
    const std::int64_t steps = steps_of(r);
    const double eta = r.number("eta");
    const double mu = r.number("mu");
    if (!(std::isfinite(eta) && eta >= 0.0)) r.fail(concat("has an invalid eta ", format_number(eta)));
    if (!(mu > 0.0 && mu <= 1.0)) r.fail(concat("has an invalid mu ", format_number(mu)));
    V ax = r.template array<V>("ax");
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = steps;
    o.eta_ = eta;
    o.mu_ = mu;
    o.ax_.swap(ax);
  }
};

template <class V>
struct StateAccess<Rprop<V>> {
  using T = Rprop<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("Rprop");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("eta_minus", o.options_.eta_minus);
    w.value("eta_plus", o.options_.eta_plus);
    w.value("step_size_min", o.options_.step_size_min);
    w.value("step_size_max", o.options_.step_size_max);
    w.value("maximize", o.options_.maximize);
    w.array("prev", o.prev_);
    w.array("step_size", o.step_size_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("Rprop");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("eta_minus", o.options_.eta_minus);
    r.expect_option("eta_plus", o.options_.eta_plus);
    r.expect_option("step_size_min", o.options_.step_size_min);
    r.expect_option("step_size_max", o.options_.step_size_max);
    r.expect_option("maximize", o.options_.maximize);
    auto options = o.options_;
    options.lr = r.number("lr");
    const std::int64_t steps = steps_of(r);
    V prev = r.template array<V>("prev");
    V step_size = state_array<V>(r, "step_size", steps, &prev);
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = steps;
    o.prev_.swap(prev);
    o.step_size_.swap(step_size);
  }
};

template <class V>
struct StateAccess<Lion<V>> {
  using T = Lion<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("Lion");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("beta1", o.options_.beta1);
    w.value("beta2", o.options_.beta2);
    w.value("weight_decay", o.options_.weight_decay);
    w.value("maximize", o.options_.maximize);
    w.array("exp_avg", o.m_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("Lion");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("beta2", o.options_.beta2);
    r.expect_option("weight_decay", o.options_.weight_decay);
    r.expect_option("maximize", o.options_.maximize);
    auto options = o.options_;
    options.lr = r.number("lr");
    options.beta1 = r.number("beta1");
    const std::int64_t steps = steps_of(r);
    V m = r.template array<V>("exp_avg");
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = steps;
    o.m_.swap(m);
  }
};

/// The scalars and the mode of a schedule-free optimizer (ScheduleFreeAdamW, ScheduleFreeSGD),
/// read and checked: lr_max is −1 before the first step and a finite lr_t >= 0 after it,
/// weight_sum finite and >= 0.
struct ScheduleFreeScalars {
  std::int64_t steps;
  double lr_max;
  double weight_sum;
  bool train_mode;
};

inline ScheduleFreeScalars schedule_free_scalars(const CheckpointReader& r) {
  ScheduleFreeScalars s{steps_of(r), r.number("lr_max"), r.number("weight_sum"), r.boolean("train_mode")};
  const bool lr_max_ok = s.steps == 0 ? s.lr_max == -1.0 : (std::isfinite(s.lr_max) && s.lr_max >= 0.0);
  if (!lr_max_ok) r.fail(concat("has an invalid lr_max ", format_number(s.lr_max)));
  if (!(std::isfinite(s.weight_sum) && s.weight_sum >= 0.0) || (s.steps == 0 && s.weight_sum != 0.0))
    r.fail(concat("has an invalid weight_sum ", format_number(s.weight_sum)));
  return s;
}

template <class V>
struct StateAccess<ScheduleFreeAdamW<V>> {
  using T = ScheduleFreeAdamW<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("ScheduleFreeAdamW");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("beta1", o.options_.beta1);
    w.value("beta2", o.options_.beta2);
    w.value("eps", o.options_.eps);
    w.value("weight_decay", o.options_.weight_decay);
    w.value("warmup_steps", o.options_.warmup_steps);
    w.value("r", o.options_.r);
    w.value("weight_lr_power", o.options_.weight_lr_power);
    w.value("lr_max", o.lr_max_);
    w.value("weight_sum", o.weight_sum_);
    w.value("train_mode", o.training_);
    w.array("z", o.z_);
    w.array("exp_avg_sq", o.v_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("ScheduleFreeAdamW");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("beta2", o.options_.beta2);
    r.expect_option("eps", o.options_.eps);
    r.expect_option("weight_decay", o.options_.weight_decay);
    r.expect_option("warmup_steps", o.options_.warmup_steps);
    r.expect_option("r", o.options_.r);
    r.expect_option("weight_lr_power", o.options_.weight_lr_power);
    auto options = o.options_;
    options.lr = r.number("lr");
    options.beta1 = r.number("beta1");
    const ScheduleFreeScalars s = schedule_free_scalars(r);
    V z = r.template array<V>("z");
    V v = state_array<V>(r, "exp_avg_sq", s.steps, &z);
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = s.steps;
    o.lr_max_ = s.lr_max;
    o.weight_sum_ = s.weight_sum;
    o.training_ = s.train_mode;
    o.z_.swap(z);
    o.v_.swap(v);
  }
};

template <class V>
struct StateAccess<ScheduleFreeSGD<V>> {
  using T = ScheduleFreeSGD<V>;
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("ScheduleFreeSGD");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("steps", o.steps_);
    w.value("lr", o.options_.lr);
    w.value("momentum", o.options_.momentum);
    w.value("weight_decay", o.options_.weight_decay);
    w.value("warmup_steps", o.options_.warmup_steps);
    w.value("r", o.options_.r);
    w.value("weight_lr_power", o.options_.weight_lr_power);
    w.value("lr_max", o.lr_max_);
    w.value("weight_sum", o.weight_sum_);
    w.value("train_mode", o.training_);
    w.array("z", o.z_);
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("ScheduleFreeSGD");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("weight_decay", o.options_.weight_decay);
    r.expect_option("warmup_steps", o.options_.warmup_steps);
    r.expect_option("r", o.options_.r);
    r.expect_option("weight_lr_power", o.options_.weight_lr_power);
    auto options = o.options_;
    options.lr = r.number("lr");
    options.momentum = r.number("momentum");
    const ScheduleFreeScalars s = schedule_free_scalars(r);
    V z = r.template array<V>("z");
    expect_accepted<T>(r, options);
    o.options_ = options;
    o.steps_ = s.steps;
    o.lr_max_ = s.lr_max;
    o.weight_sum_ = s.weight_sum;
    o.training_ = s.train_mode;
    o.z_.swap(z);
  }
};

/// L-BFGS: torch's state. The history is saved oldest pair first, as torch's lists: old_dirs (the
/// y's) and old_stps (the s's) as [count, n] arrays, one pair per row, and ro (1/sᵀy) as [count].
/// Before the first iteration (iterations() == 0) only the counters are saved. The line search's
/// scratch (the gradient pool, x0, the two-loop coefficients) is not state: every step rebuilds it.
template <class V>
struct StateAccess<LBFGS<V>> {
  using T = LBFGS<V>;
  using Scalar = typename V::Scalar;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  using Flat = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  static void save(CheckpointWriter& w, const T& o) {
    w.kind("LBFGS");
    w.value("scalar", checkpoint_scalar<Scalar>());
    w.value("lr", o.options_.lr);
    w.value("max_iter", o.options_.max_iter);
    w.value("max_eval", o.options_.max_eval);
    w.value("tolerance_grad", o.options_.tolerance_grad);
    w.value("tolerance_change", o.options_.tolerance_change);
    w.value("history_size", o.options_.history_size);
    w.value("line_search", to_string(o.options_.line_search));
    w.value("n_iter", o.n_iter_);
    w.value("func_evals", o.func_evals_);
    w.value("finite", o.finite_);
    if (o.n_iter_ == 0) return;
    w.value("t", o.t_);
    w.value("prev_loss", o.prev_loss_);
    w.value("H_diag", double(o.h_diag_));
    const Eigen::Index ring = Eigen::Index(o.options_.history_size) + 1, n = o.d_.size();
    Matrix dirs(o.count_, n), stps(o.count_, n);
    Flat ro(o.count_);
    for (Eigen::Index k = 0; k < o.count_; ++k) {
      const Eigen::Index i = (o.head_ + k) % ring;
      dirs.row(k) = o.y_.col(i).transpose();
      stps.row(k) = o.s_.col(i).transpose();
      ro(k) = o.ro_(i);
    }
    w.array("d", o.d_);
    w.array("prev_flat_grad", o.prev_grad_);
    w.array("old_dirs", dirs);
    w.array("old_stps", stps);
    w.array("ro", ro);
  }

  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("LBFGS");
    expect_scalar<Scalar>(r);
    r.expect_option("max_iter", o.options_.max_iter);
    r.expect_option("max_eval", o.options_.max_eval);
    r.expect_option("tolerance_grad", o.options_.tolerance_grad);
    r.expect_option("tolerance_change", o.options_.tolerance_change);
    r.expect_option("history_size", o.options_.history_size);
    r.expect_option("line_search", std::string(to_string(o.options_.line_search)));
    auto options = o.options_;
    options.lr = r.number("lr");
    expect_accepted<T>(r, options);
    T fresh(options);
    fresh.n_iter_ = counter(r, "n_iter");
    fresh.func_evals_ = counter(r, "func_evals");
    fresh.finite_ = r.boolean("finite");
    if (fresh.n_iter_ > 0) {
      fresh.t_ = finite_scalar(r, "t");
      fresh.prev_loss_ = finite_scalar(r, "prev_loss");
      const double h_diag = finite_scalar(r, "H_diag");
      if (!(h_diag > 0.0)) r.fail(concat("has H_diag = ", format_number(h_diag), " (it is sᵀy / yᵀy > 0)"));
      V d = r.template array<V>("d");
      V prev = state_array<V>(r, "prev_flat_grad", 1, &d);
      Matrix dirs = r.template array<Matrix>("old_dirs"), stps = r.template array<Matrix>("old_stps");
      Flat ro = r.template array<Flat>("ro");
      const Eigen::Index n = d.size(), count = ro.size();
      if (dirs.rows() != count || stps.rows() != count || dirs.cols() != n || stps.cols() != n)
        r.fail(concat("holds a history of shapes ", shape_text(dirs.rows(), dirs.cols()), " (old_dirs), ",
                      shape_text(stps.rows(), stps.cols()), " (old_stps) and ", std::to_string(count),
                      " (ro) for ", std::to_string(n), " parameters"));
      if (count > options.history_size)
        r.fail(concat("holds ", std::to_string(count), " pairs, more than history_size ",
                      std::to_string(options.history_size)));
      if (!(ro.array() > Scalar(0)).all() || !ro.allFinite())
        r.fail("holds an ro (1 / sᵀy) that is not a finite number > 0");
      if (!d.allFinite() || !prev.allFinite() || !dirs.allFinite() || !stps.allFinite())
        r.fail("holds a non-finite direction, gradient or history pair");
      fresh.prepare(d.rows(), d.cols());
      fresh.d_.swap(d);
      fresh.prev_grad_.swap(prev);
      fresh.s_.leftCols(count) = stps.transpose();
      fresh.y_.leftCols(count) = dirs.transpose();
      fresh.ro_.head(count) = ro;
      fresh.head_ = 0;
      fresh.count_ = count;
      fresh.h_diag_ = Scalar(h_diag);
      if (double(fresh.h_diag_) != h_diag) r.fail(concat("has an H_diag that is not a ", checkpoint_scalar<Scalar>()));
    }
    o = std::move(fresh);
  }

  static double finite_scalar(const CheckpointReader& r, std::string_view key) {
    const double x = r.number(key);
    if (!std::isfinite(x)) r.fail(concat("has a non-finite ", std::string(key), " ", format_number(x)));
    return x;
  }
};

template <class O>
struct StateAccess<Grouped<O>> {
  using T = Grouped<O>;
  using Block = descent::Block;
  static std::string block_key(std::size_t i) { return concat("block", std::to_string(i)); }
  static void save(CheckpointWriter& w, const T& o) {
    w.kind("Grouped");
    w.value("scalar", checkpoint_scalar<typename T::Scalar>());
    w.value("steps", o.steps_);
    w.value("groups", std::int64_t(o.groups_.size()));
    for (std::size_t g = 0; g < o.groups_.size(); ++g) {
      CheckpointWriter gw = w.child(concat("group", std::to_string(g)));
      const auto& s = o.groups_[g];
      std::vector<std::int64_t> layout;
      std::string names;
      for (std::size_t i = 0; i < s.blocks.size(); ++i) {
        const Block& b = s.blocks[i];
        layout.insert(layout.end(), {std::int64_t(b.offset), std::int64_t(b.rows), std::int64_t(b.cols)});
        if (i) names += ',';
        names += b.name;
      }
      gw.value("block_names", names);
      gw.value("lr", s.options.lr);
      gw.array("blocks", layout);
      for (std::size_t i = 0; i < s.blocks.size(); ++i) {
        CheckpointWriter bw = gw.child(block_key(i));
        checkpoint_save(bw, s.optimizers[i]);
      }
    }
  }
  static void load(const CheckpointReader& r, T& o) {
    r.expect_kind("Grouped");
    expect_scalar<typename T::Scalar>(r);
    const std::int64_t groups = r.integer("groups");
    if (groups != std::int64_t(o.groups_.size()))
      r.fail(
          concat("has ", std::to_string(groups), " parameter groups, the target ", std::to_string(o.groups_.size())));
    const std::int64_t steps = steps_of(r);
    auto restored = o.groups_;  // every block's state is restored into a copy first
    for (std::size_t g = 0; g < restored.size(); ++g) {
      const CheckpointReader gr = r.child(concat("group", std::to_string(g)));
      auto& s = restored[g];
      const auto layout = gr.template list<std::int64_t>("blocks");
      std::string names;
      for (std::size_t i = 0; i < s.blocks.size(); ++i) {
        if (i) names += ',';
        names += s.blocks[i].name;
      }
      bool same = layout.size() == 3 * s.blocks.size() && gr.text("block_names") == names;
      for (std::size_t i = 0; same && i < s.blocks.size(); ++i)
        same = layout[3 * i] == s.blocks[i].offset && layout[3 * i + 1] == s.blocks[i].rows &&
               layout[3 * i + 2] == s.blocks[i].cols;
      if (!same)
        gr.fail(concat("has other blocks than the target's group ", std::to_string(g), " (saved: '",
                       gr.text("block_names"), "')"));
      for (std::size_t i = 0; i < s.blocks.size(); ++i) checkpoint_load(gr.child(block_key(i)), s.optimizers[i]);
      // a group's options are its blocks' (their lr and momentum as restored); an empty group keeps its lr
      if (!s.optimizers.empty())
        s.options = s.optimizers.front().options();
      else
        s.options.lr = gr.number("lr");
    }
    o.groups_.swap(restored);
    o.steps_ = steps;
  }
};

/// Clipped: the state is the wrapped optimizer's (the clip options are the program's).
template <class O, class V>
struct StateAccess<Clipped<O, V>> {
  static void save(CheckpointWriter& w, const Clipped<O, V>& c) { checkpoint_save(w, c.optimizer()); }
  static void load(const CheckpointReader& r, Clipped<O, V>& c) { checkpoint_load(r, c.optimizer()); }
};

// ---- sampler ----------------------------------------------------------------------------------

template <>
struct StateAccess<Xoshiro256StarStar> {
  static const std::array<std::uint64_t, 4>& words(const Xoshiro256StarStar& g) { return g.s_; }
};

template <>
struct StateAccess<MinibatchSampler> {
  using T = MinibatchSampler;
  static void save(CheckpointWriter& w, const T& s) {
    w.kind("MinibatchSampler");
    w.value("n", std::int64_t(s.n_));
    w.value("batch_size", std::int64_t(s.options_.batch_size));
    w.value("shuffle", s.options_.shuffle);
    w.value("drop_last", s.options_.drop_last);
    w.value("with_replacement", s.options_.with_replacement);
    w.value("seed", std::uint64_t(s.options_.seed));
    w.value("epoch", std::int64_t(s.epoch_));
    w.value("batch", std::int64_t(s.batch_));
    const auto& state = StateAccess<Xoshiro256StarStar>::words(s.rng_);
    w.array("generator", std::span<const std::uint64_t>(state.data(), state.size()));
    std::vector<std::int64_t> buffer(s.buffer_.begin(), s.buffer_.end());
    w.array("order", buffer);
  }
  static void load(const CheckpointReader& r, T& s) {
    r.expect_kind("MinibatchSampler");
    r.expect_option("n", std::int64_t(s.n_));
    r.expect_option("batch_size", std::int64_t(s.options_.batch_size));
    r.expect_option("shuffle", s.options_.shuffle);
    r.expect_option("drop_last", s.options_.drop_last);
    r.expect_option("with_replacement", s.options_.with_replacement);
    const std::uint64_t seed = r.unsigned_integer("seed");
    if (seed != s.options_.seed)
      r.fail(concat("was saved with seed = ", std::to_string(seed), ", but the target has seed = ",
                    std::to_string(s.options_.seed), " (restoring would change what the saved state means)"));
    const std::int64_t epoch = r.integer("epoch"), batch = r.integer("batch");
    if (epoch < 0 || epoch > (std::int64_t(1) << 62) || batch < -1 ||
        batch >= std::max<std::int64_t>(s.batches_per_epoch_, 1))
      r.fail(concat("has an impossible position: epoch ", std::to_string(epoch), ", batch ", std::to_string(batch),
                    " of ", std::to_string(s.batches_per_epoch_)));
    const auto words = r.template list<std::uint64_t>("generator");
    if (words.size() != 4 || (words[0] | words[1] | words[2] | words[3]) == 0)
      r.fail("has no valid generator state (4 words, not all zero)");
    const auto order = r.template list<std::int64_t>("order");
    if (order.size() != s.buffer_.size())
      r.fail(concat("has an order of ", std::to_string(order.size()), " indices, expected ",
                    std::to_string(s.buffer_.size())));
    std::vector<Eigen::Index> buffer(order.size());
    std::vector<char> seen(s.options_.with_replacement ? 0 : order.size(), 0);
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (order[i] < 0 || order[i] >= std::int64_t(s.n_))
        r.fail(concat("has sample index ", std::to_string(order[i]), " outside [0, ", std::to_string(s.n_), ")"));
      // without replacement the order is a permutation of 0..n-1, and without shuffle 0..n-1 itself
      if (!s.options_.with_replacement &&
          (seen[std::size_t(order[i])]++ || (!s.options_.shuffle && order[i] != std::int64_t(i))))
        r.fail(concat("has an order that is not ", s.options_.shuffle ? "a permutation of 0..n-1" : "0..n-1",
                      " (index ", std::to_string(order[i]), " at ", std::to_string(i), ")"));
      buffer[i] = Eigen::Index(order[i]);
    }
    s.rng_ = Xoshiro256StarStar::from_state({words[0], words[1], words[2], words[3]});
    s.epoch_ = Eigen::Index(epoch);
    s.batch_ = Eigen::Index(batch);
    s.buffer_.swap(buffer);
  }
};

// ---- schedulers -------------------------------------------------------------------------------

template <class S>
std::string schedule_signature(const S& s) {
  if constexpr (std::is_same_v<S, StepLR>)
    return (void)s, "StepLR";
  else if constexpr (std::is_same_v<S, MultiStepLR>)
    return (void)s, "MultiStepLR";
  else if constexpr (std::is_same_v<S, ConstantLR>)
    return (void)s, "ConstantLR";
  else if constexpr (std::is_same_v<S, LinearLR>)
    return (void)s, "LinearLR";
  else if constexpr (std::is_same_v<S, ExponentialLR>)
    return (void)s, "ExponentialLR";
  else if constexpr (std::is_same_v<S, PolynomialLR>)
    return (void)s, "PolynomialLR";
  else if constexpr (std::is_same_v<S, CosineAnnealingLR>)
    return (void)s, "CosineAnnealingLR";
  else if constexpr (std::is_same_v<S, CosineAnnealingWarmRestarts>)
    return (void)s, "CosineAnnealingWarmRestarts";
  else if constexpr (std::is_same_v<S, CyclicLR>)
    return (void)s, "CyclicLR";
  else if constexpr (std::is_same_v<S, OneCycleLR>)
    return (void)s, "OneCycleLR";
  else if constexpr (std::is_same_v<S, LambdaLR>)
    return (void)s, "LambdaLR";
  else if constexpr (std::is_same_v<S, MultiplicativeLR>)
    return (void)s, "MultiplicativeLR";
  else if constexpr (std::is_same_v<S, SequentialLR>) {
    std::string out = "SequentialLR(";
    for (std::size_t i = 0; i < s.schedulers.size(); ++i) {
      if (i) out += ',';
      out += std::visit([](const auto& c) { return schedule_signature(c); }, s.schedulers[i]);
    }
    out += ";milestones";
    for (std::int64_t m : s.milestones) {
      out += ' ';
      out += std::to_string(m);
    }
    out += ")";
    return out;
  } else
    return (void)s, "schedule";
}

inline std::vector<double> group_values(const CheckpointReader& r, std::string_view key, std::size_t n) {
  std::vector<double> v = r.numbers(key);
  if (v.size() != n)
    r.fail(concat("has ", std::to_string(v.size()), " values of ", std::string(key),
                  ", one per group; the target's "
                  "optimizer has ",
                  std::to_string(n), " groups"));
  return v;
}

template <class O, class S>
struct StateAccess<Scheduler<O, S>> {
  using T = Scheduler<O, S>;
  static void save(CheckpointWriter& w, const T& s) {
    w.kind("Scheduler");
    w.value("schedule", schedule_signature(s.schedule_));
    w.value("last_epoch", s.last_epoch_);
    w.value("initial_lr", s.initial_lr_);
    w.value("last_lr", s.last_lr_);
    w.value("last_value", s.last_value_);
    w.value("scale", s.scale_);
  }
  static void load(const CheckpointReader& r, T& s) {
    r.expect_kind("Scheduler");
    r.expect_option("schedule", schedule_signature(s.schedule_));
    const std::size_t n = s.initial_lr_.size();
    const std::int64_t last_epoch = counter(r, "last_epoch");
    auto initial = group_values(r, "initial_lr", n), last = group_values(r, "last_lr", n),
         value = group_values(r, "last_value", n), scale = group_values(r, "scale", n);
    s.initial_lr_.swap(initial);
    s.last_lr_.swap(last);
    s.last_value_.swap(value);
    s.scale_.swap(scale);
    s.last_epoch_ = last_epoch;
  }
};

template <class O>
struct StateAccess<ReduceLROnPlateau<O>> {
  using T = ReduceLROnPlateau<O>;
  static void save(CheckpointWriter& w, const T& s) {
    w.kind("ReduceLROnPlateau");
    const auto& o = s.options_;
    w.value("mode", std::string(to_string(o.mode)));
    w.value("factor", o.factor);
    w.value("patience", o.patience);
    w.value("threshold", o.threshold);
    w.value("threshold_mode", std::string(to_string(o.threshold_mode)));
    w.value("cooldown", o.cooldown);
    w.value("min_lr", o.min_lr);
    w.value("eps", o.eps);
    w.value("best", s.best_);
    w.value("num_bad_epochs", s.bad_epochs_);
    w.value("cooldown_counter", s.cooldown_counter_);
    w.value("last_epoch", s.last_epoch_);
    w.value("last_lr", s.last_lr_);
  }
  static void load(const CheckpointReader& r, T& s) {
    r.expect_kind("ReduceLROnPlateau");
    const auto& o = s.options_;
    r.expect_option("mode", std::string(to_string(o.mode)));
    r.expect_option("factor", o.factor);
    r.expect_option("patience", o.patience);
    r.expect_option("threshold", o.threshold);
    r.expect_option("threshold_mode", std::string(to_string(o.threshold_mode)));
    r.expect_option("cooldown", o.cooldown);
    r.expect_option("min_lr", o.min_lr);
    r.expect_option("eps", o.eps);
    const double best = r.number("best");
    const std::int64_t bad = counter(r, "num_bad_epochs"), cooldown = counter(r, "cooldown_counter"),
                       last_epoch = counter(r, "last_epoch");
    auto last = group_values(r, "last_lr", s.last_lr_.size());
    s.best_ = best;
    s.bad_epochs_ = bad;
    s.cooldown_counter_ = cooldown;
    s.last_epoch_ = last_epoch;
    s.last_lr_.swap(last);
  }
};

// ---- callbacks --------------------------------------------------------------------------------

template <>
struct StateAccess<History> {
  static void save_list(CheckpointWriter w, const std::vector<History::Entry>& list) {
    std::vector<std::int64_t> iteration, epoch;
    std::vector<double> loss, gnorm, seconds;
    for (const auto& e : list) {
      iteration.push_back(e.iteration);
      epoch.push_back(e.epoch);
      loss.push_back(e.loss);
      gnorm.push_back(e.gradient_norm);
      seconds.push_back(e.seconds);
    }
    w.array("iteration", iteration);
    w.array("epoch", epoch);
    w.array("loss", loss);
    w.array("gradient_norm", gnorm);
    w.array("seconds", seconds);
  }
  static std::vector<History::Entry> load_list(const CheckpointReader& r) {
    const auto iteration = r.template list<std::int64_t>("iteration");
    const auto epoch = r.template list<std::int64_t>("epoch");
    const auto loss = r.template list<double>("loss");
    const auto gnorm = r.template list<double>("gradient_norm");
    const auto seconds = r.template list<double>("seconds");
    const std::size_t n = iteration.size();
    if (epoch.size() != n || loss.size() != n || gnorm.size() != n || seconds.size() != n)
      r.fail("has columns of different lengths");
    std::vector<History::Entry> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = {iteration[i], epoch[i], loss[i], gnorm[i], seconds[i]};
    return out;
  }
  static void save(CheckpointWriter& w, const History& h) {
    w.kind("History");
    save_list(w.child("steps"), h.steps_);
    save_list(w.child("epochs"), h.epochs_);
  }
  static void load(const CheckpointReader& r, History& h) {
    r.expect_kind("History");
    auto steps = load_list(r.child("steps"));
    auto epochs = load_list(r.child("epochs"));
    h.steps_.swap(steps);
    h.epochs_.swap(epochs);
    h.started_ = false;
  }
};

template <class V>
struct StateAccess<KeepBest<V>> {
  static void save(CheckpointWriter& w, const KeepBest<V>& k) {
    w.kind("KeepBest");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("best_loss", k.best_loss_);
    w.value("best_iteration", k.best_iteration_);
    w.array("best_params", k.best_);
  }
  static void load(const CheckpointReader& r, KeepBest<V>& k) {
    r.expect_kind("KeepBest");
    expect_scalar<typename V::Scalar>(r);
    const double loss = r.number("best_loss");
    const std::int64_t iteration = r.integer("best_iteration");
    V best = r.template array<V>("best_params");
    k.best_loss_ = loss;
    k.best_iteration_ = iteration;
    k.best_.swap(best);
  }
};

template <class V, class Validation>
struct StateAccess<EarlyStopping<V, Validation>> {
  using T = EarlyStopping<V, Validation>;
  static void save(CheckpointWriter& w, const T& e) {
    w.kind("EarlyStopping");
    w.value("scalar", checkpoint_scalar<typename V::Scalar>());
    w.value("patience", e.options_.patience);
    w.value("min_delta", e.options_.min_delta);
    w.value("interval", e.options_.interval);
    w.value("restore_best", e.options_.restore_best);
    w.value("has_best", e.has_best_);
    w.value("stopped", e.stopped_);
    w.value("running", e.running_);
    w.value("best_loss", e.best_loss_);
    w.value("best_iteration", e.best_iteration_);
    w.value("best_epoch", e.best_epoch_);
    w.value("since_best", e.since_best_);
    w.array("best_params", e.best_);
    w.array("validation_history", e.history_);
  }
  static void load(const CheckpointReader& r, T& e) {
    r.expect_kind("EarlyStopping");
    expect_scalar<typename V::Scalar>(r);
    r.expect_option("patience", e.options_.patience);
    r.expect_option("min_delta", e.options_.min_delta);
    r.expect_option("interval", e.options_.interval);
    r.expect_option("restore_best", e.options_.restore_best);
    const bool has_best = r.boolean("has_best"), stopped = r.boolean("stopped"), running = r.boolean("running");
    const double best_loss = r.number("best_loss");
    const std::int64_t best_iteration = r.integer("best_iteration"), best_epoch = r.integer("best_epoch"),
                       since_best = counter(r, "since_best");
    V best = r.template array<V>("best_params");
    auto history = r.template list<double>("validation_history");
    e.has_best_ = has_best;
    e.stopped_ = stopped;
    e.running_ = running;
    e.best_loss_ = best_loss;
    e.best_iteration_ = best_iteration;
    e.best_epoch_ = best_epoch;
    e.since_best_ = since_best;
    e.best_.swap(best);
    e.history_.swap(history);
  }
};

}  // namespace detail

template <class T>
void checkpoint_save(CheckpointWriter& w, const T& x) {
  if constexpr (detail::EigenDense<T>) {
    w.kind("Eigen");
    w.value("scalar", detail::checkpoint_scalar<typename T::Scalar>());
    w.array("", x);
  } else if constexpr (detail::HasStateAccess<T>) {
    detail::StateAccess<T>::save(w, x);
  } else {
    static_assert(CheckpointUserType<T>, "descent::checkpoint_save: T is not checkpointable (docs/checkpoints.md)");
    descent_checkpoint_save(w, x);
  }
}
template <class T>
void checkpoint_save(CheckpointWriter&& w, const T& x) {
  checkpoint_save(w, x);
}

template <class T>
void checkpoint_load(const CheckpointReader& r, T& x) {
  if constexpr (detail::EigenDense<T>) {
    static_assert(detail::EigenPlain<T> || detail::EigenWritableMap<T>,
                  "descent::Checkpoint::get: an Eigen target must be a Matrix, an Array or a Map of one");
    using Plain = typename T::PlainObject;
    r.expect_kind("Eigen");
    detail::expect_scalar<typename T::Scalar>(r);
    if (r.template copy_into<Plain>("", x)) return;  // into x's own storage: no allocation
    Plain value = r.template array<Plain>("");
    const bool empty_dynamic =
        detail::EigenPlain<T> && x.size() == 0 &&
        (Plain::RowsAtCompileTime == Eigen::Dynamic || Plain::ColsAtCompileTime == Eigen::Dynamic);
    if (!empty_dynamic && (value.rows() != x.rows() || value.cols() != x.cols()))
      r.fail(detail::concat("holds ", detail::shape_text(value.rows(), value.cols()), " parameters, but the target is ",
                            detail::shape_text(x.rows(), x.cols())));
    if constexpr (detail::EigenPlain<T>)
      x.swap(value);
    else
      x = value;
  } else if constexpr (detail::HasStateAccess<T>) {
    detail::StateAccess<T>::load(r, x);
  } else {
    static_assert(CheckpointUserType<T>, "descent::checkpoint_load: T is not checkpointable (docs/checkpoints.md)");
    detail::load_on_copy(r, x);
  }
}

}  // namespace descent
