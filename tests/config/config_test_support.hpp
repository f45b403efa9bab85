#pragma once
// Test helpers for the configuration tests: a scratch working directory for appsettings files.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace opstream::config::testing {

// A fresh directory under the system temp folder, removed when the test ends.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "opstream-config-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  const std::filesystem::path& path() const { return path_; }

  void Write(std::string_view name, std::string_view contents) const {
    std::ofstream file(path_ / name, std::ios::binary | std::ios::trunc);
    file << contents;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace opstream::config::testing
