#pragma once
// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/, "file formats"):
// a big-endian header (magic number 0x0000TTDD: TT the element type, DD the number of dimensions;
// then DD 32-bit sizes) followed by the elements, last dimension fastest. Only unsigned bytes
// (TT = 0x08) occur in these data sets, so only they are read: images (magic 0x00000803,
// count x rows x columns) and labels (0x00000801, count).
//
// Files may be gzipped (as distributed, and as Debian's dataset-fashion-mnist installs them) or
// plain: zlib's gzread reads a file without a gzip header as it is. Strict like csv.hpp: a wrong
// magic number, a header or data cut short, bytes after the data, a label out of range or images
// and labels that do not match stop the example with the file and the reason.
//
// Needs Eigen, the standard library and zlib (link with -lz, or ZLIB::ZLIB in CMake).

#include <zlib.h>

#include <Eigen/Core>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace descent::examples {

/// Images of an IDX file, one per column: column i holds image i's rows · columns pixels in the
/// file's order (row by row), scaled from 0..255 to [0, 1]. Samples as columns is the layout the
/// problems and a minibatch X(all, batch) read.
template <class Scalar>
struct IdxImages {
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> pixels;
  Eigen::Index rows = 0;
  Eigen::Index columns = 0;
};

namespace detail {

inline constexpr std::uint32_t idx_images_magic = 0x00000803;
inline constexpr std::uint32_t idx_labels_magic = 0x00000801;

[[noreturn]] inline void idx_error(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

inline std::string hex32(std::uint32_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s.push_back(digits[(v >> shift) & 0xf]);
  return s;
}

// The whole (decompressed) contents. zlib reports a damaged or cut-off gzip stream only through
// gzerror/gzclose, so both are checked: otherwise a truncated download would read as a short file
// and be reported as truncated data, which is true but hides the cause.
inline std::vector<unsigned char> read_maybe_gzipped(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ignored;  // any other failure shows up when opening
  const fs::file_type type = fs::status(path, ignored).type();
  if (type == fs::file_type::not_found) idx_error(path, "cannot open: no such file");
  if (type == fs::file_type::directory) idx_error(path, "cannot open: is a directory");
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) idx_error(path, "cannot open for reading");
  std::vector<unsigned char> contents;
  constexpr unsigned chunk = 1u << 20;
  for (;;) {
    const std::size_t old_size = contents.size();
    contents.resize(old_size + chunk);
    const int got = gzread(file, contents.data() + old_size, chunk);
    if (got < 0) {
      int code = 0;
      const std::string message = gzerror(file, &code);
      gzclose(file);
      idx_error(path, "read error (zlib: " + message + ")");
    }
    contents.resize(old_size + std::size_t(got));
    if (got == 0) break;
  }
  int code = Z_OK;
  const std::string message = gzerror(file, &code);
  const int closed = gzclose(file);
  if (code == Z_BUF_ERROR || closed == Z_BUF_ERROR) idx_error(path, "gzip data cut short (zlib: unexpected end of file)");
  if (code != Z_OK) idx_error(path, "damaged gzip data (zlib: " + message + ")");
  if (closed != Z_OK) idx_error(path, "read error (zlib code " + std::to_string(closed) + ")");
  return contents;
}

inline std::uint32_t big_endian32(const unsigned char* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | std::uint32_t(p[3]);
}

// Checks the header (magic number and `dimensions` sizes, none zero) and that exactly the elements
// it announces follow; returns the sizes. The product is compared with the data by division, so a
// header with absurd sizes cannot overflow it.
template <std::size_t dimensions>
std::array<std::uint32_t, dimensions> idx_header(const std::string& path, const std::vector<unsigned char>& contents,
                                                 std::uint32_t magic, const char* kind) {
  const std::size_t header_size = 4 * (1 + dimensions);
  if (contents.size() < 4) idx_error(path, "truncated header: " + std::to_string(contents.size()) + " bytes, not an IDX file");
  const std::uint32_t found = big_endian32(contents.data());
  if (found != magic) {
    std::string what = "wrong magic number " + hex32(found) + ", expected " + hex32(magic) + " (IDX " + kind + ")";
    if (found == idx_images_magic || found == idx_labels_magic)
      what += found == idx_images_magic ? ": this is an image file" : ": this is a label file";
    idx_error(path, what);
  }
  if (contents.size() < header_size)
    idx_error(path, "truncated header: " + std::to_string(contents.size()) + " bytes, the header of IDX " + kind +
                        " has " + std::to_string(header_size));
  std::array<std::uint32_t, dimensions> sizes{};
  std::size_t remaining = contents.size() - header_size;
  std::size_t elements = 1;  // the product of the sizes seen so far, never above `remaining`
  for (std::size_t d = 0; d < dimensions; ++d) {
    sizes[d] = big_endian32(contents.data() + 4 * (1 + d));
    if (sizes[d] == 0) idx_error(path, "size " + std::to_string(d + 1) + " in the header is 0");
    if (elements > remaining / sizes[d]) {
      std::string product;
      for (std::size_t e = 0; e < dimensions; ++e)
        product += (e ? " x " : "") + std::to_string(big_endian32(contents.data() + 4 * (1 + e)));
      idx_error(path, "truncated data: the header announces " + product + " bytes, the file has " +
                          std::to_string(remaining) + " after the header");
    }
    elements *= sizes[d];
  }
  if (remaining != elements)
    idx_error(path, std::to_string(remaining - elements) + " trailing bytes after the " + std::to_string(elements) +
                        " bytes of data the header announces");
  return sizes;
}

}  // namespace detail

/// Reads an IDX image file (magic 0x00000803, unsigned bytes, count x rows x columns), gzipped or
/// plain. Throws std::runtime_error "PATH: what is wrong" for a missing or unreadable file, damaged
/// gzip data, a wrong magic number, a truncated header, a size of 0, data shorter than the header
/// announces, or bytes after it.
template <class Scalar = float>
IdxImages<Scalar> read_idx_images(const std::string& path) {
  const std::vector<unsigned char> contents = detail::read_maybe_gzipped(path);
  const auto [count, rows, columns] = detail::idx_header<3>(path, contents, detail::idx_images_magic, "images");
  using Bytes = Eigen::Matrix<unsigned char, Eigen::Dynamic, Eigen::Dynamic>;
  const Eigen::Map<const Bytes> bytes(contents.data() + 16, Eigen::Index(rows) * Eigen::Index(columns),
                                      Eigen::Index(count));
  IdxImages<Scalar> images;
  images.pixels = bytes.cast<Scalar>() / Scalar(255);
  images.rows = rows;
  images.columns = columns;
  return images;
}

/// Reads an IDX label file (magic 0x00000801, unsigned bytes, count), gzipped or plain. Throws
/// std::runtime_error "PATH: what is wrong" as read_idx_images does, and for a label not in
/// [0, classes), naming the label and its sample.
inline Eigen::VectorXi read_idx_labels(const std::string& path, int classes) {
  const std::vector<unsigned char> contents = detail::read_maybe_gzipped(path);
  const auto [count] = detail::idx_header<1>(path, contents, detail::idx_labels_magic, "labels");
  Eigen::VectorXi labels(static_cast<Eigen::Index>(count));
  for (std::uint32_t i = 0; i < count; ++i) {
    const int label = contents[8 + i];
    if (label >= classes)
      detail::idx_error(path, "label " + std::to_string(label) + " of sample " + std::to_string(i) + " is not in [0, " +
                                  std::to_string(classes) + ")");
    labels[Eigen::Index(i)] = label;
  }
  return labels;
}

/// One part of an image classification data set, samples as columns.
template <class Scalar>
struct LabelledImages {
  Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic> X;  // rows · columns pixels x n
  Eigen::VectorXi y;                                        // n labels in [0, classes)
};

/// Reads an image file and its label file, and checks that they go together: the same number of
/// samples, and images of rows x columns pixels. Throws std::runtime_error naming the file at fault.
template <class Scalar = float>
LabelledImages<Scalar> read_idx_pair(const std::string& images_path, const std::string& labels_path,
                                     Eigen::Index rows, Eigen::Index columns, int classes) {
  IdxImages<Scalar> images = read_idx_images<Scalar>(images_path);
  if (images.rows != rows || images.columns != columns)
    detail::idx_error(images_path, "images of " + std::to_string(images.rows) + " x " + std::to_string(images.columns) +
                                       " pixels, expected " + std::to_string(rows) + " x " + std::to_string(columns));
  Eigen::VectorXi labels = read_idx_labels(labels_path, classes);
  if (labels.size() != images.pixels.cols())
    detail::idx_error(labels_path, std::to_string(labels.size()) + " labels, but " + images_path + " has " +
                                       std::to_string(images.pixels.cols()) + " images");
  return {std::move(images.pixels), std::move(labels)};
}

/// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747): 60 000 training and 10 000 test
/// images of 28 x 28 pixels, 10 classes.
template <class Scalar>
struct FashionMnist {
  LabelledImages<Scalar> train;
  LabelledImages<Scalar> test;
};

/// The path of an IDX file in `dir`: NAME.gz if it exists, else NAME (a decompressed copy).
inline std::string idx_file_in(const std::string& dir, const std::string& name) {
  const std::filesystem::path gz = std::filesystem::path(dir) / (name + ".gz");
  std::error_code ignored;
  return std::filesystem::exists(gz, ignored) ? gz.string() : (std::filesystem::path(dir) / name).string();
}

/// Reads Fashion-MNIST's four files from `dir` under their distributed names
/// (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-...), gzipped or not, and checks
/// their shapes: 28 x 28 images, 10 classes, as many labels as images.
template <class Scalar = float>
FashionMnist<Scalar> load_fashion_mnist(const std::string& dir) {
  const auto part = [&dir](const std::string& prefix) {
    return read_idx_pair<Scalar>(idx_file_in(dir, prefix + "-images-idx3-ubyte"),
                                 idx_file_in(dir, prefix + "-labels-idx1-ubyte"), 28, 28, 10);
  };
  return {part("train"), part("t10k")};
}

}  // namespace descent::examples
