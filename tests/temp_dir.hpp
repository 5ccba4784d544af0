#pragma once
// A fresh directory for the files a test writes (test_csv.cpp, test_idx.cpp), removed afterwards.
// Its name is random so that test runs in parallel (ctest -j, two build presets at once) do not
// overwrite each other's files.

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <system_error>
#include <vector>

namespace descent_test {

class TempDir {
 public:
  /// A directory named `prefix` followed by random digits, in the system's temporary directory.
  explicit TempDir(const std::string& prefix) {
    std::random_device entropy;
    path_ = std::filesystem::temp_directory_path() / (prefix + std::to_string(entropy()) + std::to_string(entropy()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  /// Writes `contents` byte for byte (binary, so "\r\n" stays "\r\n") and returns the file's path.
  std::string write(const std::string& name, const std::string& contents) const {
    const std::filesystem::path file = path_ / name;
    std::ofstream(file, std::ios::binary) << contents;
    return file.string();
  }
  std::string write(const std::string& name, const std::vector<unsigned char>& contents) const {
    return write(name, std::string(contents.begin(), contents.end()));
  }
  /// The path of `name` in the directory (nothing is written).
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace descent_test
