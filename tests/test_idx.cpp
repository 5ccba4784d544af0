// The examples' IDX reader (examples/common/idx.hpp): images and labels written here, plain and
// gzipped, read back exactly, and every malformed file is rejected with its name and the reason.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/idx.hpp"
#include "temp_dir.hpp"

namespace {

namespace ex = descent::examples;
using Bytes = std::vector<unsigned char>;

// Plain and gzipped fixture files, in a directory of their own.
struct TempDir : descent_test::TempDir {
  TempDir() : descent_test::TempDir("descent_idx_test_") {}
  std::string write_gz(const std::string& name, const Bytes& contents) const {
    const std::string path = file(name);
    gzFile out = gzopen(path.c_str(), "wb");
    REQUIRE(out != nullptr);
    if (!contents.empty()) REQUIRE(gzwrite(out, contents.data(), unsigned(contents.size())) == int(contents.size()));
    REQUIRE(gzclose(out) == Z_OK);
    return path;
  }
};

void put32(Bytes& b, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<unsigned char>(v >> shift));
}

// n images of rows x columns, pixel value (image + pixel index) mod 256, so each is distinct.
Bytes images_file(std::uint32_t n, std::uint32_t rows, std::uint32_t columns) {
  Bytes b;
  put32(b, 0x00000803);
  put32(b, n);
  put32(b, rows);
  put32(b, columns);
  for (std::uint32_t i = 0; i < n; ++i)
    for (std::uint32_t p = 0; p < rows * columns; ++p) b.push_back(static_cast<unsigned char>((7 * i + p) % 256));
  return b;
}

Bytes labels_file(const std::vector<unsigned char>& labels) {
  Bytes b;
  put32(b, 0x00000801);
  put32(b, std::uint32_t(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

template <class F>
std::string error_of(F&& read) {
  try {
    read();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL_CHECK("no exception");
  return "";
}

}  // namespace

TEST_CASE("idx: images and labels read back exactly, plain and gzipped", "[idx]") {
  const TempDir dir;
  const Bytes images = images_file(3, 2, 4);
  const Bytes labels = labels_file({9, 0, 4});
  for (const bool gz : {false, true}) {
    const std::string ip = gz ? dir.write_gz("i.gz", images) : dir.write("i", images);
    const std::string lp = gz ? dir.write_gz("l.gz", labels) : dir.write("l", labels);
    const ex::IdxImages<double> read = ex::read_idx_images<double>(ip);
    CHECK(read.rows == 2);
    CHECK(read.columns == 4);
    REQUIRE(read.pixels.rows() == 8);
    REQUIRE(read.pixels.cols() == 3);
    for (Eigen::Index i = 0; i < 3; ++i)
      for (Eigen::Index p = 0; p < 8; ++p) CHECK(read.pixels(p, i) == double((7 * i + p) % 256) / 255.0);
    const Eigen::VectorXi y = ex::read_idx_labels(lp, 10);
    CHECK(y == (Eigen::VectorXi(3) << 9, 0, 4).finished());
    const ex::LabelledImages<float> pair = ex::read_idx_pair<float>(ip, lp, 2, 4, 10);
    CHECK(pair.X.cols() == 3);
    CHECK(pair.y.size() == 3);
  }
}

TEST_CASE("idx: load_fashion_mnist finds gzipped and plain files by their distributed names", "[idx]") {
  const TempDir dir;
  dir.write_gz("train-images-idx3-ubyte.gz", images_file(5, 28, 28));
  dir.write_gz("train-labels-idx1-ubyte.gz", labels_file({0, 1, 2, 3, 9}));
  dir.write("t10k-images-idx3-ubyte", images_file(2, 28, 28));
  dir.write("t10k-labels-idx1-ubyte", labels_file({5, 6}));
  const auto data = ex::load_fashion_mnist(dir.path());
  CHECK(data.train.X.rows() == 784);
  CHECK(data.train.X.cols() == 5);
  CHECK(data.test.X.cols() == 2);
  CHECK(data.test.y[1] == 6);
}

TEST_CASE("idx: malformed files are rejected with the file and the reason", "[idx]") {
  const TempDir dir;
  const auto images = [](const std::string& p) { return [p] { ex::read_idx_images(p); }; };
  const auto labels = [](const std::string& p) { return [p] { ex::read_idx_labels(p, 10); }; };

  const std::string missing = dir.path() + "/missing";
  CHECK_THAT(error_of(images(missing)), Catch::Contains(missing) && Catch::Contains("no such file"));
  CHECK_THAT(error_of(images(dir.path())), Catch::Contains("is a directory"));

  const std::string as_images = dir.write("labels_as_images", labels_file({1, 2}));
  CHECK_THAT(error_of(images(as_images)),
             Catch::Contains(as_images) && Catch::Contains("wrong magic number 0x00000801, expected 0x00000803") &&
                 Catch::Contains("label file"));
  Bytes wrong = images_file(1, 2, 2);
  wrong[2] = 0x0d;  // a float file
  const std::string wrong_type = dir.write_gz("float.gz", wrong);
  CHECK_THAT(error_of(images(wrong_type)), Catch::Contains(wrong_type) && Catch::Contains("wrong magic number 0x00000d03"));

  const Bytes full = images_file(2, 3, 3);
  const std::string short_magic = dir.write("short_magic", Bytes(full.begin(), full.begin() + 3));
  CHECK_THAT(error_of(images(short_magic)), Catch::Contains(short_magic) && Catch::Contains("truncated header"));
  const std::string short_header = dir.write_gz("short_header.gz", Bytes(full.begin(), full.begin() + 10));
  CHECK_THAT(error_of(images(short_header)), Catch::Contains(short_header) && Catch::Contains("truncated header"));
  const std::string empty = dir.write("empty", Bytes{});
  CHECK_THAT(error_of(labels(empty)), Catch::Contains(empty) && Catch::Contains("truncated header"));

  const std::string short_data = dir.write_gz("short_data.gz", Bytes(full.begin(), full.end() - 1));
  CHECK_THAT(error_of(images(short_data)),
             Catch::Contains(short_data) && Catch::Contains("truncated data: the header announces 2 x 3 x 3 bytes"));
  Bytes huge;
  put32(huge, 0x00000803);
  for (int d = 0; d < 3; ++d) put32(huge, 0xffffffff);
  const std::string absurd = dir.write("absurd", huge);
  CHECK_THAT(error_of(images(absurd)), Catch::Contains("truncated data"));

  Bytes longer = full;
  longer.push_back(0);
  longer.push_back(0);
  const std::string trailing = dir.write("trailing", longer);
  CHECK_THAT(error_of(images(trailing)), Catch::Contains(trailing) && Catch::Contains("2 trailing bytes"));

  Bytes zero = images_file(1, 2, 2);
  zero[11] = 0;  // rows = 0
  CHECK_THAT(error_of(images(dir.write("zero", zero))), Catch::Contains("size 2 in the header is 0"));

  const std::string out_of_range = dir.write("range", labels_file({1, 10, 2}));
  CHECK_THAT(error_of(labels(out_of_range)),
             Catch::Contains(out_of_range) && Catch::Contains("label 10 of sample 1 is not in [0, 10)"));

  // A gzip stream cut off in the middle: zlib reports it, and so does the message.
  const std::string gz = dir.write_gz("whole.gz", images_file(50, 28, 28));
  std::ifstream in(gz, std::ios::binary);
  const Bytes compressed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = dir.write("cut.gz", Bytes(compressed.begin(), compressed.begin() + Eigen::Index(compressed.size() / 2)));
  CHECK_THAT(error_of(images(cut)), Catch::Contains(cut));
}

TEST_CASE("idx: images and labels that do not go together are rejected", "[idx]") {
  const TempDir dir;
  const std::string ip = dir.write("i", images_file(3, 28, 28));
  const std::string lp = dir.write("l", labels_file({1, 2}));
  CHECK_THAT(error_of([&] { ex::read_idx_pair<float>(ip, lp, 28, 28, 10); }),
             Catch::Contains(lp) && Catch::Contains("2 labels, but") && Catch::Contains("has 3 images"));
  const std::string small = dir.write("small", images_file(2, 27, 28));
  CHECK_THAT(error_of([&] { ex::read_idx_pair<float>(small, lp, 28, 28, 10); }),
             Catch::Contains(small) && Catch::Contains("images of 27 x 28 pixels, expected 28 x 28"));
}
