#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace llmrt {
namespace {

// Opens `path` read-only and returns the descriptor and its size; throws with a clear
// message for each way this goes wrong.
int open_regular_file(const std::filesystem::path& path, uint64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    ErrorCode code = (err == ENOENT || err == ENOTDIR) ? ErrorCode::kNotFound : ErrorCode::kIo;
    fail(code, "cannot open '{}': {}", path.string(), std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    fail(ErrorCode::kIo, "cannot stat '{}': {}", path.string(), std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail(ErrorCode::kInvalidArgument, "'{}' is a directory, expected a file", path.string());
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorCode::kInvalidArgument, "'{}' is not a regular file", path.string());
  }
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& path) {
  uint64_t size = 0;
  int fd = open_regular_file(path, &size);
  if (size == 0) {
    ::close(fd);
    fail(ErrorCode::kBadFormat, "'{}' is empty (0 bytes)", path.string());
  }
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);  // the mapping keeps the file open
  if (p == MAP_FAILED) {
    fail(err == ENOMEM ? ErrorCode::kOutOfMemory : ErrorCode::kIo, "cannot map '{}' ({} bytes): {}",
         path.string(), size, std::strerror(err));
  }
  return std::shared_ptr<const MappedFile>(
      new MappedFile(path, static_cast<const std::byte*>(p), static_cast<size_t>(size)));
}

MappedFile::MappedFile(std::filesystem::path path, const std::byte* data, size_t size)
    : path_(std::move(path)), data_(data), size_(size) {}

MappedFile::~MappedFile() { ::munmap(const_cast<std::byte*>(data_), size_); }

std::span<const std::byte> MappedFile::range(uint64_t offset, uint64_t length, std::string_view what) const {
  if (offset > size_ || length > size_ - offset) {
    fail(ErrorCode::kBadFormat, "'{}': {} at bytes [{}, {}+{}) lies past the end of the file ({} bytes)",
         path_.string(), what, offset, offset, length, size_);
  }
  return {data_ + offset, static_cast<size_t>(length)};
}

void MappedFile::advise_sequential() const {
  ::madvise(const_cast<std::byte*>(data_), size_, MADV_SEQUENTIAL);
}

void MappedFile::advise_willneed(uint64_t offset, uint64_t length) const {
  if (offset >= size_) return;
  if (length > size_ - offset) length = size_ - offset;
  long page = ::sysconf(_SC_PAGESIZE);
  uint64_t aligned = offset - offset % static_cast<uint64_t>(page);
  ::madvise(const_cast<std::byte*>(data_) + aligned, length + (offset - aligned), MADV_WILLNEED);
}

void release_file_pages(const void* p, size_t n) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(p), end = begin + n;
  const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
  if (p == nullptr || last <= first) return;
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

std::string read_text_file(const std::filesystem::path& path, uint64_t max_bytes) {
  uint64_t size = 0;
  int fd = open_regular_file(path, &size);
  if (size > max_bytes) {
    ::close(fd);
    fail(ErrorCode::kOutOfRange, "'{}' is {} bytes, more than the {} bytes allowed for a text file",
         path.string(), size, max_bytes);
  }
  std::string text(size, '\0');
  uint64_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, text.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      ::close(fd);
      fail(ErrorCode::kIo, "cannot read '{}': {}", path.string(), err ? std::strerror(err) : "file shrank while reading");
    }
    done += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return text;
}

}  // namespace llmrt
