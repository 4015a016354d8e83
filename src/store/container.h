// The .llmrt container: libllmrt's own model form, written by `llmrt-convert`.
//
// A container is a folder:
//   model.llmrt               the tensors (any StoredType: plain, our compressed codecs, GGUF
//                             blocks), each plane aligned for mmap, with a checksum per tensor
//   config.json, tokenizer.json, tokenizer_config.json, generation_config.json,
//   chat_template.jinja ...   copied from a Hugging Face source, or
//   metadata.gguf             a GGUF source's metadata (config, tokenizer, chat template) with
//                             no tensors
//   conversion_report.tsv     llmrt-convert's per-tensor error report (not needed to load)
//
// model.llmrt (little-endian; docs/formats.md):
//   0   8  magic "LLMRT\0\x1a\n"
//   8   4  format version (1)
//   12  4  flags (0)
//   16  8  index offset   (bytes from the start of the file)
//   24  8  index length
//   32  8  XXH3-64 of the index bytes
//   40 ..  tensor planes, each starting at a multiple of 64
//   then   the index: UTF-8 JSON, written last so that tensors stream to disk one at a time
// The index holds the source format, the model's companion files with their sizes and
// checksums, the conversion settings, and per tensor: name, type, shape, group size, scale
// type, each plane's [offset, length] and an XXH3-64 of its planes.
//
// Reading maps the file and returns views (loading is a map, not a copy). The index's own
// checksum and every offset, size and type are checked on every read; the tensors' checksums
// only on demand (verify()), since hashing a model costs as much as reading it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/tensor_set.h"
#include "util/mapped_file.h"

namespace llmrt::container {

inline constexpr char kMagic[8] = {'L', 'L', 'M', 'R', 'T', '\0', '\x1a', '\n'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr uint64_t kPlaneAlignment = 64;
inline constexpr uint64_t kPreambleBytes = 40;
inline constexpr const char* kTensorFile = "model.llmrt";
inline constexpr const char* kGgufMetadataFile = "metadata.gguf";
inline constexpr uint64_t kMaxIndexBytes = 256ull << 20;
inline constexpr uint64_t kMaxTensors = 1u << 20;

// XXH3-64 of bytes, as the container records it ("xxh3:0123456789abcdef").
std::string checksum_text(uint64_t hash);
uint64_t xxh3(std::span<const std::byte> bytes);
// One tensor's checksum: XXH3-64 over its data, scales and zero-point planes in turn.
uint64_t tensor_checksum(const Tensor& t);

struct FileRecord {  // a companion file in the container folder
  std::string name;
  uint64_t bytes = 0;
  uint64_t checksum = 0;
};

struct File {
  uint32_t version = 0;
  std::string source_format;  // "huggingface" or "gguf"
  std::string source;         // the path converted from, as given (informational)
  std::string writer;         // "llmrt-convert <version>"
  std::string conversion;     // the conversion settings, a JSON object as text
  std::vector<FileRecord> files;
  TensorSet tensors;                  // views into the mapped file, file order
  std::vector<uint64_t> checksums;    // per tensor, same order
  std::shared_ptr<const MappedFile> map;

  // `path` is the container folder or its model.llmrt. Errors: NOT_FOUND (missing file),
  // BAD_FORMAT naming the file and the field for anything malformed (bad magic, truncated
  // file, index checksum mismatch, plane outside the file or misaligned, sizes that disagree
  // with the type and shape, duplicate names), UNSUPPORTED for a newer format version or an
  // unknown tensor type.
  static File read(const std::filesystem::path& path);
};

// True when `path` is a container folder (holds model.llmrt) or a model.llmrt file.
bool is_container(const std::filesystem::path& path);
// The folder of a container given as the folder or as its model.llmrt.
std::filesystem::path container_dir(const std::filesystem::path& path);

struct VerifyProblem {
  std::string what;  // "tensor 'blk.0.attn_q.weight'" or "file 'tokenizer.json'"
  std::string detail;
};
// Recomputes every tensor's and companion file's checksum; returns what disagrees (empty when
// all agree). `progress(done, total)` is called after each tensor when given.
std::vector<VerifyProblem> verify(const File& file, const std::function<void(size_t, size_t)>& progress = {});

// Writes model.llmrt tensor by tensor: add() streams a tensor's planes to disk at once, so a
// converter holds one tensor in memory at a time. finish() writes the index and renames the
// partial file into place; a Writer destroyed without finish() removes its partial file.
class Writer {
 public:
  struct Info {
    std::string source_format, source, writer, conversion = "{}";
  };
  // `dir` must exist; the companion files named in add_file() must already be in it when
  // finish() runs (their checksums are taken then).
  Writer(std::filesystem::path dir, Info info);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void add(const Tensor& t);  // validates it first; BAD_FORMAT for a duplicate name
  void add_file(std::string name);
  // The conversion settings (a JSON object as text), when known only after the tensors.
  void set_conversion(std::string json);
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmrt::container
