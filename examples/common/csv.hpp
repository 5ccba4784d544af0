#pragma once
// The examples' data handling: a small, strict CSV reader for the files in examples/data/, and the
// few steps between such a table and an optimizer (features and labels, a reproducible train/test
// split, standardization). Strict on purpose: a file that is not what an example expects should
// stop it with the file, the line and the reason, not let it train quietly on misread numbers.
//
// Needs only Eigen, the standard library and descent's random generator (descent/sampler.hpp), so it
// can be copied out of the examples.

#include <Eigen/Core>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <descent/sampler.hpp>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace descent::examples {

/// Options of read_csv.
struct CsvOptions {
  /// The first line holds the column names. Default true.
  bool has_header = true;
  /// The field separator. Default ','.
  char delimiter = ',';
  /// Accept the texts std::from_chars reads as NaN or infinity ("nan", "inf", "-Infinity", ...).
  /// Default false: in a data set they are almost always a missing value or a bad export.
  bool allow_non_finite = false;
};

/// A numeric table: one row of `values` per sample (line of the file), one column per field.
struct Table {
  /// The column names; empty when read without a header.
  std::vector<std::string> header;
  Eigen::MatrixXd values;
};

namespace detail {

[[noreturn]] inline void csv_error(const std::string& path, std::size_t line, const std::string& what) {
  throw std::runtime_error(path + ":" + std::to_string(line) + ": " + what);
}

// The field as it appears in messages: quoted, and shortened, since a wrong delimiter makes a
// whole line one field.
inline std::string quote(std::string_view field) {
  // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a known false positive) about
  // "literal" + std::string.
  constexpr std::size_t max_shown = 40;
  std::string quoted(1, '"');
  quoted.append(field.substr(0, max_shown));
  if (field.size() > max_shown) quoted.append("...");
  quoted.push_back('"');
  return quoted;
}

inline std::vector<std::string_view> split_fields(std::string_view line, char delimiter) {
  std::vector<std::string_view> fields;
  for (std::size_t start = 0;;) {
    const std::size_t end = line.find(delimiter, start);
    fields.push_back(line.substr(start, end - start));
    if (end == std::string_view::npos) return fields;
    start = end + 1;
  }
}

// Shortest round-trip text of x, independent of the locale (std::to_string would print "0.001000").
inline std::string format(double x) {
  char buffer[32];
  return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, x).ptr);
}

// "column 3" or, with a header, "column 3 ("mean area")": the name is what the user will search for.
inline std::string column_label(const std::vector<std::string>& header, std::size_t index) {
  std::string label = "column " + std::to_string(index + 1);
  if (index < header.size()) label += " (" + quote(header[index]) + ")";
  return label;
}

}  // namespace detail

/// Reads a CSV file of numbers: optionally a header line of column names, then one sample per line,
/// the same number of fields on every line. Fields are plain numbers as std::from_chars reads them
/// (so "1", "-2.5", "1e-3", ".5", not "+1", " 1" or "1,5"), independent of the locale; there is no
/// quoting, so neither names nor numbers may contain the delimiter. Line endings may be \n or \r\n;
/// the last line may or may not end with one. A UTF-8 byte order mark at the start is skipped.
///
/// Throws std::runtime_error "PATH:LINE: what is wrong" (LINE counts from 1) for: an empty file, a
/// header without data rows, a blank line, a line with a different number of fields than the first
/// (or the header), an empty field or column name, a field that is not entirely a number, a number
/// out of range for double, NaN or infinity (unless allow_non_finite). A file that cannot be read
/// throws "PATH: cannot open ...", without a line.
inline Table read_csv(const std::string& path, const CsvOptions& options = {}) {
  namespace fs = std::filesystem;
  std::error_code ignored;  // any other failure shows up when opening
  const fs::file_type type = fs::status(path, ignored).type();
  if (type == fs::file_type::not_found) throw std::runtime_error(path + ": cannot open: no such file");
  if (type == fs::file_type::directory) throw std::runtime_error(path + ": cannot open: is a directory");
  std::ifstream in(path, std::ios::binary);  // binary: \r\n is handled below, the same on every platform
  if (!in) throw std::runtime_error(path + ": cannot open for reading");
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path + ": read error");
  const std::string text = std::move(contents).str();

  std::string_view rest = text;
  // Spreadsheet programs write a BOM; it is an encoding marker, not part of the first name.
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);
  if (rest.empty()) detail::csv_error(path, 1, "empty file");

  Table table;
  std::vector<double> values;  // row-major, as the file is laid out
  std::size_t columns = 0, rows = 0, line_number = 0;
  while (!rest.empty()) {
    ++line_number;
    const std::size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) detail::csv_error(path, line_number, "blank line");

    const auto fields = detail::split_fields(line, options.delimiter);
    if (columns == 0) {
      columns = fields.size();
    } else if (fields.size() != columns) {
      detail::csv_error(path, line_number,
                        "expected " + std::to_string(columns) + " fields, got " + std::to_string(fields.size()));
    }

    if (options.has_header && line_number == 1) {
      for (std::size_t c = 0; c < fields.size(); ++c) {
        if (fields[c].empty()) detail::csv_error(path, line_number, "empty name for column " + std::to_string(c + 1));
        table.header.emplace_back(fields[c]);
      }
      continue;
    }

    for (std::size_t c = 0; c < fields.size(); ++c) {
      const std::string_view field = fields[c];
      const auto where = [&] { return detail::column_label(table.header, c); };
      if (field.empty()) detail::csv_error(path, line_number, "empty field in " + where());
      double value = 0;
      const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
      if (error == std::errc::result_out_of_range)
        detail::csv_error(path, line_number, where() + ": " + detail::quote(field) + " is out of range for a double");
      if (error != std::errc{})
        detail::csv_error(path, line_number, where() + ": " + detail::quote(field) + " is not a number");
      if (end != field.data() + field.size()) {
        const auto parsed = static_cast<std::size_t>(end - field.data());
        detail::csv_error(path, line_number,
                          where() + ": " + detail::quote(field) + " is not a number (" +
                              detail::quote(field.substr(parsed)) + " after " + detail::quote(field.substr(0, parsed)) +
                              ")");
      }
      if (!std::isfinite(value) && !options.allow_non_finite)
        detail::csv_error(path, line_number,
                          where() + ": " + detail::quote(field) + " is not finite (see CsvOptions::allow_non_finite)");
      values.push_back(value);
    }
    ++rows;
  }
  if (rows == 0) detail::csv_error(path, line_number + 1, "no data rows after the header");

  using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  table.values = Eigen::Map<const RowMajor>(values.data(), Eigen::Index(rows), Eigen::Index(columns));
  return table;
}

/// A supervised data set: features X (one row per sample) and labels or targets y.
struct Dataset {
  Eigen::MatrixXd X;
  Eigen::VectorXd y;
};

/// Splits a table whose last column is the label or target (the layout of examples/data/) into X
/// (every other column) and y. Throws std::invalid_argument for a table of fewer than 2 columns.
inline Dataset split_features_labels(const Table& table) {
  const Eigen::Index d = table.values.cols() - 1;
  if (d < 1)
    throw std::invalid_argument("split_features_labels: need at least 2 columns, got " + std::to_string(d + 1));
  return {table.values.leftCols(d), table.values.col(d)};
}

/// The largest class label class_count accepts: int's largest value, since the examples hand the
/// labels to SoftmaxRegression as ints (y.cast<int>()).
inline constexpr double max_class_label = double(std::numeric_limits<int>::max());

/// The number of classes k of class labels 0, 1, ..., k−1 (the largest label plus one). Throws
/// std::invalid_argument if y is empty, or, naming the label and its sample (row of y), if a label
/// is not an integer in [0, max_class_label]: negative, fractional, NaN, infinite or too large. A
/// classifier indexing its outputs by label would read out of bounds, and converting such a
/// double to an integer is undefined behaviour.
inline Eigen::Index class_count(const Eigen::VectorXd& y) {
  if (y.size() == 0) throw std::invalid_argument("class_count: no labels");
  for (Eigen::Index i = 0; i < y.size(); ++i) {
    // NaN fails both comparisons, -inf the first, +inf and anything too large the second.
    if (!(y[i] >= 0 && y[i] <= max_class_label) || y[i] != std::floor(y[i])) {
      std::string message = "class_count: label ";
      message.append(detail::format(y[i])).append(" of sample ").append(std::to_string(i));
      message.append(" is not an integer in [0, ").append(detail::format(max_class_label)).append("]");
      throw std::invalid_argument(message);
    }
  }
  return Eigen::Index(y.maxCoeff()) + 1;
}

/// Sample indices of a train/test split, each part in increasing order. Select the rows with
/// Eigen 3.4's indexing: X(split.train, Eigen::all), y(split.test).
struct TrainTestSplit {
  std::vector<Eigen::Index> train;
  std::vector<Eigen::Index> test;
};

/// Splits 0, 1, ..., n−1 at random into a test part of round(test_fraction · n) indices and a
/// train part of the rest. The same (n, test_fraction, seed) gives the same split on every platform
/// and standard library, because the generator and the shuffle are written out here (std::shuffle
/// and the std distributions are implementation-defined):
///   - the generator is SplitMix64 (Steele, Lea & Flood, OOPSLA 2014; https://prng.di.unimi.it/splitmix64.c)
///     started at `seed`, descent's own (descent::detail::SplitMix64, in descent/sampler.hpp);
///   - a draw from [0, b) takes generator outputs r until r >= 2^64 mod b and returns r mod b, which
///     is exactly uniform;
///   - the permutation is Durstenfeld's Fisher–Yates shuffle of 0..n−1: for i = n−1 down to 1,
///     swap elements i and a draw from [0, i + 1);
///   - the first round(test_fraction · n) shuffled indices are the test part, the others the train
///     part, and each part is then sorted.
/// Throws std::invalid_argument unless 0 < test_fraction < 1 and both parts are non-empty.
inline TrainTestSplit train_test_split(Eigen::Index n, double test_fraction, std::uint64_t seed) {
  if (!(test_fraction > 0 && test_fraction < 1))
    throw std::invalid_argument("train_test_split: test_fraction must be in (0, 1), got " +
                                detail::format(test_fraction));
  const auto n_test = static_cast<Eigen::Index>(std::llround(test_fraction * double(n)));
  if (n_test < 1 || n_test > n - 1)
    throw std::invalid_argument("train_test_split: test_fraction " + detail::format(test_fraction) + " of " +
                                std::to_string(n) + " samples leaves a part empty");

  descent::detail::SplitMix64 next(seed);
  const auto below = [&next](std::uint64_t bound) {
    // Outputs below 2^64 mod bound are the surplus that would make small results more likely.
    const std::uint64_t threshold = (std::uint64_t(0) - bound) % bound;
    std::uint64_t r = next();
    while (r < threshold) r = next();
    return r % bound;
  };

  std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Eigen::Index(0));
  for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[below(i + 1)]);

  TrainTestSplit split;
  split.test.assign(order.begin(), order.begin() + n_test);
  split.train.assign(order.begin() + n_test, order.end());
  std::sort(split.test.begin(), split.test.end());
  std::sort(split.train.begin(), split.train.end());
  return split;
}

/// Per-column standardization x ↦ (x − mean) / scale, with mean and scale fitted on one data set
/// (the training part) and then applied unchanged to others (the test part, new samples), so that
/// nothing about the test part leaks into training.
struct Standardizer {
  /// Column means of the fitted data.
  Eigen::RowVectorXd mean;
  /// Column standard deviations of the fitted data (dividing by n, not n − 1), or 1 for a column
  /// that is constant there: it only needs centering, and dividing by ~0 would blow up new data.
  Eigen::RowVectorXd scale;

  /// Fits mean and scale to the rows of X. Throws std::invalid_argument if X has no rows.
  static Standardizer fit(const Eigen::MatrixXd& X) {
    if (X.rows() == 0) throw std::invalid_argument("Standardizer::fit: no rows");
    Standardizer s;
    s.mean = X.colwise().mean();
    // Two passes, so that a constant column comes out with a deviation of rounding size, which
    // the relative test below recognizes, rather than a difference of large sums.
    const Eigen::RowVectorXd sd = (X.rowwise() - s.mean).array().square().colwise().mean().sqrt();
    s.scale = sd;
    for (Eigen::Index j = 0; j < sd.size(); ++j)
      if (!(sd[j] > 1e-10 * std::abs(s.mean[j]))) s.scale[j] = 1;
    return s;
  }

  /// Standardizes the rows of X in place. Throws std::invalid_argument if X has a different
  /// number of columns than the fitted data.
  void transform(Eigen::MatrixXd& X) const {
    if (X.cols() != mean.size())
      throw std::invalid_argument("Standardizer::transform: fitted on " + std::to_string(mean.size()) +
                                  " columns, given " + std::to_string(X.cols()));
    X = (X.rowwise() - mean).array().rowwise() / scale.array();
  }
};

/// Fits a Standardizer on `train` and applies it to `train` and `test` in place; returns it, for
/// data that arrives later.
inline Standardizer standardize(Eigen::MatrixXd& train, Eigen::MatrixXd& test) {
  const Standardizer s = Standardizer::fit(train);
  s.transform(train);
  s.transform(test);
  return s;
}

}  // namespace descent::examples
