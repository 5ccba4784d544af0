#pragma once
// What the reference replays share (test_torch_reference.cpp, test_modern_optimizers.cpp,
// test_lbfgs.cpp): the index of a reference folder, strict number parsing, and the relative error
// every replay is judged by.

#include <Eigen/Core>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace descent_test::reference {

/// A line of a reference folder's index.txt: `<descent class> <dtype> <file>`.
struct IndexEntry {
  std::string family;  // the descent class the file is for
  std::string dtype;   // float64 or float32
  std::string file;
};

/// Throws std::runtime_error("<source>: <where>: <what>").
[[noreturn]] inline void parse_error(const std::string& source, const std::string& where, const std::string& what) {
  throw std::runtime_error(source + ": " + where + ": " + what);
}

/// The entries of `path` (an index.txt; blank lines and '#' comments skipped). Throws on a line
/// that is not three words, or if the file cannot be opened.
inline std::vector<IndexEntry> read_index(const std::string& source, const std::string& path) {
  std::ifstream in(path);
  if (!in.is_open()) parse_error(source, path, "cannot open");
  std::vector<IndexEntry> entries;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    IndexEntry e;
    std::string extra;
    if (!(words >> e.family >> e.dtype >> e.file) || (words >> extra))
      parse_error(source, path + ":" + std::to_string(number), "expected '<descent class> <dtype> <file>'");
    entries.push_back(e);
  }
  return entries;
}

/// The whole token as a number: parsed as a float when `single` (a float32 file's values are
/// floats, widened exactly), otherwise as a double.
inline double parse_number(const std::string& source, const std::string& token, bool single, const std::string& where) {
  const char* first = token.data();
  const char* last = token.data() + token.size();
  std::from_chars_result r{};
  double value = 0.0;
  if (single) {
    float f = 0.0f;
    r = std::from_chars(first, last, f);
    value = f;
  } else {
    r = std::from_chars(first, last, value);
  }
  if (r.ec != std::errc() || r.ptr != last) parse_error(source, where, "not a number: '" + token + "'");
  return value;
}

inline int parse_int(const std::string& source, const std::string& token, const std::string& where) {
  int value = 0;
  const auto r = std::from_chars(token.data(), token.data() + token.size(), value);
  if (r.ec != std::errc() || r.ptr != token.data() + token.size())
    parse_error(source, where, "not an integer: '" + token + "'");
  return value;
}

template <class V>
V to_vector(const std::vector<double>& values) {
  V v(Eigen::Index(values.size()));
  for (std::size_t i = 0; i < values.size(); ++i) v[Eigen::Index(i)] = typename V::Scalar(values[i]);
  return v;
}

/// max_i |x_i − ref_i| / max(max_i |ref_i|, 1e-30), in double; infinity if any x_i is NaN or an
/// infinity the reference does not have (a NaN would slip through std::max, which keeps its first
/// argument).
template <class X>
double relative_error(const X& x, const std::vector<double>& ref) {
  double diff = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double xi = double(x[Eigen::Index(i)]);
    if (!std::isfinite(xi)) {
      if (xi == ref[i]) continue;  // the same infinity
      return std::numeric_limits<double>::infinity();
    }
    diff = std::max(diff, std::abs(xi - ref[i]));
    scale = std::max(scale, std::abs(ref[i]));
  }
  return diff / std::max(scale, 1e-30);
}

/// x with 3 significant digits, in scientific notation ("1.234e-05" → "1.23e-05").
inline std::string sci(double x) {
  std::ostringstream out;
  out.precision(3);
  out << std::scientific << x;
  return out.str();
}

}  // namespace descent_test::reference
