// Temporary folders and small file helpers shared by the store tests.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "llmrt/error.hpp"

namespace llmrt::testing_util {

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("llmrt_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::filesystem::path& p, const std::vector<std::byte>& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(bytes.data()),
                                                             static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<std::byte> read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

template <class T>
std::vector<std::byte> as_bytes(const std::vector<T>& v) {
  std::vector<std::byte> out(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// Runs fn, expects llmrt::Error with `code` whose message contains every `needles` entry.
template <class F>
::testing::AssertionResult fails_with(F&& fn, ErrorCode code, std::vector<std::string> needles) {
  try {
    fn();
  } catch (const Error& e) {
    std::string msg = e.what();
    if (e.code() != code) {
      return ::testing::AssertionFailure() << "code " << static_cast<int>(e.code()) << " instead of "
                                           << static_cast<int>(code) << ": " << msg;
    }
    for (const auto& n : needles) {
      if (msg.find(n) == std::string::npos) return ::testing::AssertionFailure() << "'" << n << "' not in: " << msg;
    }
    return ::testing::AssertionSuccess() << msg;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "non-llmrt exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "no error";
}

}  // namespace llmrt::testing_util
