// Fuzzes the examples' CSV reader (examples/common/csv.hpp) and the helpers after it. The first
// byte chooses the options (header, delimiter, non-finite values), the rest is the file. Checked:
//   - read_csv either returns or throws std::runtime_error "PATH:LINE: ..." -- nothing else, no
//     crash, no UB -- and it agrees with a reference reading of its documented grammar (written
//     here): the same outcome, the same line in the message, the same header and values, bit for
//     bit;
//   - parsed values round-trip through the shortest text (std::to_chars, and the header's own
//     detail::format) back to the same double;
//   - split_features_labels, class_count (F10: huge or infinite labels must be refused, never
//     converted to an integer), train_test_split and Standardizer behave as documented on the
//     parsed table.

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/csv.hpp"
#include "fuzz_common.hpp"

namespace {

namespace ex = descent::examples;
using Eigen::Index;
using fuzz::num;

/// What the documentation says a file means: a table, or an error on a given line.
struct Reference {
  bool ok = false;
  std::size_t error_line = 0;
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
};

std::vector<std::string_view> split(std::string_view line, char delimiter) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == delimiter) {
      fields.push_back(line.substr(start, i - start));
      start = i + 1;
    }
  }
  return fields;
}

Reference reference(std::string_view text, const ex::CsvOptions& o) {
  Reference r;
  auto error = [&](std::size_t line) {
    r.error_line = line;
    return r;
  };
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  if (text.empty()) return error(1);
  // Lines end at '\n'; a final '\n' ends the last line rather than starting an empty one.
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  std::size_t columns = 0;
  for (std::size_t l = 0; l < lines.size(); ++l) {
    std::string_view line = lines[l];
    const std::size_t number = l + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return error(number);
    const auto fields = split(line, o.delimiter);
    if (columns == 0) columns = fields.size();
    if (fields.size() != columns) return error(number);
    if (o.has_header && number == 1) {
      for (const auto f : fields) {
        if (f.empty()) return error(number);
        r.header.emplace_back(f);
      }
      continue;
    }
    std::vector<double> row;
    for (const auto f : fields) {
      if (f.empty()) return error(number);
      double v = 0;
      const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
      if (ec != std::errc{} || end != f.data() + f.size()) return error(number);
      if (!std::isfinite(v) && !o.allow_non_finite) return error(number);
      row.push_back(v);
    }
    r.rows.push_back(std::move(row));
  }
  if (r.rows.empty()) return error(lines.size() + 1);
  r.ok = true;
  return r;
}

bool same_double(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

/// The file each input is written to: one per process, removed at exit (the string is never
/// destroyed, so the exit handler can still use it).
const std::string& temp_file() {
  static const std::string* path = [] {
    // In memory when the machine has /dev/shm: writing to disk would halve the speed.
    std::error_code ec;
    const std::filesystem::path dir =
        std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path();
    const auto* p = new std::string((dir / ("descent_fuzz_csv_" + std::to_string(::getpid()) + ".csv")).string());
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove(temp_file(), ignored);
    });
    return p;
  }();
  return *path;
}

/// class_count: the largest label plus one when every label is an integer in [0,
/// max_class_label]; std::invalid_argument otherwise -- in particular for labels too large for an
/// integer (F10: converting those is undefined behaviour).
void check_labels(const Eigen::VectorXd& y, const std::string& what) {
  bool integers = y.size() > 0;
  double max = -1;
  for (Index i = 0; i < y.size(); ++i) {
    integers = integers && y[i] >= 0 && y[i] == std::floor(y[i]);
    if (y[i] > max || std::isnan(y[i])) max = y[i];
  }
  const bool valid = integers && max <= ex::max_class_label;
  const char* tag = integers && !(max < 9.2233720368547758e18) ? "F10" : nullptr;
  if (tag && fuzz::tolerated(tag)) return;  // the call itself would be the undefined behaviour
  std::optional<Index> k;
  std::string message;
  try {
    k = ex::class_count(y);
  } catch (const std::invalid_argument& e) {
    message = e.what();
  }
  if (!valid) {
    FUZZ_CHECK_KNOWN(tag, !k, what + ": class_count accepted the labels (largest " + num(max) + ")");
    return;
  }
  FUZZ_CHECK(k.has_value(), what + ": class_count refused labels up to " + num(max) + ": " + message);
  FUZZ_CHECK(*k >= 1 && double(*k - 1) == max,
             what + ": class_count = " + std::to_string(*k) + " for largest label " + num(max));
}

void check_split(Index n, double fraction, std::uint64_t seed, const std::string& what) {
  const bool fraction_ok = fraction > 0 && fraction < 1;
  const long long n_test = fraction_ok ? std::llround(fraction * double(n)) : 0;
  const bool valid = fraction_ok && n_test >= 1 && n_test <= n - 1;
  std::optional<ex::TrainTestSplit> split;
  try {
    split = ex::train_test_split(n, fraction, seed);
  } catch (const std::invalid_argument&) {
  }
  const std::string w = what + ", train_test_split(" + std::to_string(n) + ", " + num(fraction) + ", " +
                        std::to_string(seed) + ")";
  FUZZ_CHECK(split.has_value() == valid, w + (valid ? ": refused" : ": accepted"));
  if (!split) return;
  FUZZ_CHECK(Index(split->test.size()) == n_test && Index(split->train.size()) == n - n_test, w + ": part sizes");
  std::vector<int> seen(std::size_t(n), 0);
  for (const auto* part : {&split->test, &split->train}) {
    FUZZ_CHECK(std::is_sorted(part->begin(), part->end()), w + ": a part is not sorted");
    for (const Index i : *part) {
      FUZZ_CHECK(i >= 0 && i < n && ++seen[std::size_t(i)] == 1, w + ": not a partition of 0..n-1");
    }
  }
}

void check_standardizer(const Eigen::MatrixXd& X, const std::string& what) {
  const ex::Standardizer s = ex::Standardizer::fit(X);
  FUZZ_CHECK(s.mean.size() == X.cols() && s.scale.size() == X.cols(), what + ": Standardizer has the wrong size");
  for (Index j = 0; j < X.cols(); ++j) {
    const auto col = X.col(j);
    // Only columns whose sums cannot overflow have meaningful statistics.
    if (!col.allFinite() || !(col.array().abs().maxCoeff() < 1e150)) continue;
    FUZZ_CHECK(std::isfinite(s.mean[j]) && std::isfinite(s.scale[j]) && s.scale[j] > 0,
               what + ": column " + std::to_string(j) + " has mean " + num(s.mean[j]) + ", scale " + num(s.scale[j]));
    const double lo = col.minCoeff(), hi = col.maxCoeff(), slack = 1e-9 * std::max(std::abs(lo), std::abs(hi));
    FUZZ_CHECK(s.mean[j] >= lo - slack && s.mean[j] <= hi + slack, what + ": a column mean outside its range");
  }
  Eigen::MatrixXd copy = X;
  s.transform(copy);
  Eigen::MatrixXd wrong(X.rows(), X.cols() + 1);
  bool threw = false;
  try {
    s.transform(wrong);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  FUZZ_CHECK(threw, what + ": Standardizer::transform accepted the wrong number of columns");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  ex::CsvOptions o;
  const std::uint8_t flags = in.byte();
  o.has_header = flags & 1;
  o.allow_non_finite = flags & 2;
  static constexpr char delimiters[] = {',', ';', '\t'};
  o.delimiter = (flags >> 2) % 4 == 3 ? char(in.byte()) : delimiters[(flags >> 2) % 4];
  const double fraction = in.flag() ? double(in.byte()) / 256.0 : fuzz::specials[in.below(fuzz::special_count)];
  const std::uint64_t seed = in.byte();
  const std::size_t used = size - in.remaining();  // the rest of the input is the file
  const std::string text(reinterpret_cast<const char*>(data) + used, size - used);

  const std::string& path = temp_file();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), std::streamsize(text.size()));
    FUZZ_CHECK(bool(out), "harness: cannot write " + path);
  }
  std::string what = "read_csv of " + std::to_string(text.size()) + " bytes with {.has_header = " +
                     (o.has_header ? "true" : "false") + ", .delimiter = " + std::to_string(int(o.delimiter)) +
                     ", .allow_non_finite = " + (o.allow_non_finite ? "true" : "false") + "}";

  const Reference expected = reference(text, o);
  std::optional<ex::Table> table;
  std::string message;
  try {
    table = ex::read_csv(path, o);
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  if (!table) {
    FUZZ_CHECK(!expected.ok, what + ": refused a valid file: " + message);
    const std::string prefix = path + ":" + std::to_string(expected.error_line) + ": ";
    FUZZ_CHECK(message.rfind(prefix, 0) == 0,
               what + ": the message does not start with \"" + prefix + "\": " + message);
    return 0;
  }
  FUZZ_CHECK(expected.ok, what + ": accepted a file the documentation rejects at line " +
                              std::to_string(expected.error_line));
  FUZZ_CHECK(table->header == expected.header, what + ": header differs");
  const Index rows = Index(expected.rows.size()), cols = Index(expected.rows[0].size());
  FUZZ_CHECK(table->values.rows() == rows && table->values.cols() == cols,
             what + ": table is " + std::to_string(table->values.rows()) + "x" + std::to_string(table->values.cols()));
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) {
      const double v = table->values(i, j);
      FUZZ_CHECK(same_double(v, expected.rows[std::size_t(i)][std::size_t(j)]),
                 what + ": value (" + std::to_string(i) + ", " + std::to_string(j) + ") is " + num(v));
      FUZZ_CHECK(o.allow_non_finite || std::isfinite(v), what + ": a non-finite value was accepted");
      if (!std::isfinite(v)) continue;
      char buffer[64];
      const auto end = std::to_chars(buffer, buffer + sizeof buffer, v).ptr;
      double back = 0;
      std::from_chars(buffer, end, back);
      FUZZ_CHECK(same_double(back, v), what + ": " + num(v) + " does not round-trip through " + std::string(buffer, end));
      const std::string text_of = ex::detail::format(v);
      std::from_chars(text_of.data(), text_of.data() + text_of.size(), back);
      FUZZ_CHECK(same_double(back, v), what + ": detail::format(" + num(v) + ") = " + text_of + " does not read back");
    }
  }

  // The helpers the examples run on such a table.
  if (cols < 2) {
    bool threw = false;
    try {
      ex::split_features_labels(*table);
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    FUZZ_CHECK(threw, what + ": split_features_labels accepted a single column");
  } else {
    const ex::Dataset d = ex::split_features_labels(*table);
    FUZZ_CHECK(d.X.rows() == rows && d.X.cols() == cols - 1 && d.y.size() == rows, what + ": split shapes");
    for (Index i = 0; i < rows; ++i) {
      FUZZ_CHECK(same_double(d.y[i], table->values(i, cols - 1)), what + ": y is not the last column");
      for (Index j = 0; j + 1 < cols; ++j)
        FUZZ_CHECK(same_double(d.X(i, j), table->values(i, j)), what + ": X is not the other columns");
    }
    check_labels(d.y, what);
    check_standardizer(d.X, what);
  }
  check_split(rows, fraction, seed, what);
  return 0;
}
