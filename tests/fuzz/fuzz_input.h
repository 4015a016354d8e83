// Helpers shared by the fuzz targets: the readers take paths (they map files), so an input is
// handed over as an in-memory file (memfd) named by /proc/self/fd/N, and targets that read a
// folder get a private scratch folder.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "store/tensor.h"

namespace llmrt::fuzz {

// `data` as a file that lives while this object does.
class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) : fd_(::memfd_create("llmrt-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) std::abort();
    for (size_t done = 0; done < size;) {
      const ssize_t n = ::write(fd_, data + done, size - done);
      if (n <= 0) std::abort();
      done += static_cast<size_t>(n);
    }
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  std::filesystem::path path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

// A folder of this process's own, emptied of the files a target writes.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("llmrt-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Decodes the first row of every tensor with at most 2^16 columns, so the decoders see the
// input's scales and values (hostile ones included).
inline void decode_first_rows(const std::vector<Tensor>& tensors) {
  std::vector<float> row;
  for (const Tensor& t : tensors) {
    if (t.numel() == 0 || t.cols() > (1 << 16)) continue;
    row.resize(static_cast<size_t>(t.cols()));
    t.dequantize_rows(0, 1, row.data());
  }
}

}  // namespace llmrt::fuzz
