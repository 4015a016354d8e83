// A read-only memory map of a whole file. Model weights are views into such maps, so a
// loaded model costs page-cache pages, not a heap copy. Shared ownership: every tensor view
// keeps its map alive (std::shared_ptr<const MappedFile>).
//
// Thread-safety: immutable after open(); any number of threads may read it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

namespace llmrt {

class MappedFile {
 public:
  // Errors (llmrt::Error): NOT_FOUND for a missing file, INVALID_ARGUMENT for a directory,
  // BAD_FORMAT for an empty file, IO when the OS refuses to open or map it. Each message
  // names the path.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_, size_}; }

  // [offset, offset+length) as a span, or BAD_FORMAT naming `what` and the file when the
  // range does not lie inside the file (overflow-safe).
  std::span<const std::byte> range(uint64_t offset, uint64_t length, std::string_view what) const;

  // Hints to the kernel; failures are ignored (they change speed, not results).
  void advise_sequential() const;
  void advise_willneed(uint64_t offset, uint64_t length) const;

 private:
  MappedFile(std::filesystem::path path, const std::byte* data, size_t size);
  std::filesystem::path path_;
  const std::byte* data_;
  size_t size_;
};

// Drops the whole pages inside [p, p + n) from this process (madvise MADV_DONTNEED); a later
// read faults them back in. Only for memory that is a read-only *file* mapping, where that is
// harmless (on anonymous memory it would zero the pages). Failures are ignored.
void release_file_pages(const void* p, size_t n);

// Reads a whole (small) text file such as config.json; errors as for MappedFile::open
// except that an empty file is returned as an empty string, and OUT_OF_RANGE when the file
// is larger than `max_bytes` (so a hostile file cannot make us allocate without bound).
inline constexpr uint64_t kMaxTextFileBytes = 64ull << 20;
std::string read_text_file(const std::filesystem::path& path, uint64_t max_bytes = kMaxTextFileBytes);

}  // namespace llmrt
