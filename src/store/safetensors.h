// safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian header size
// N, N bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
// {str: str}}, then the data region; offsets are relative to the data region.
//
// Reading maps the file and returns views (no copy). Every offset is checked against the
// file; overlapping tensors, unknown dtypes, duplicate names, sizes that disagree with shapes
// and headers that are not UTF-8 JSON are BAD_FORMAT errors naming the file and tensor.
// Sharded models: model.safetensors.index.json {"weight_map": {tensor: shard file}}.
#pragma once

#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "store/tensor_set.h"

namespace llmrt::safetensors {

struct File {
  TensorSet tensors;
  std::map<std::string, std::string> metadata;  // "__metadata__"
};

inline constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // as the reference implementation

File read(const std::filesystem::path& path);
// A folder with model.safetensors.index.json (shards) or model.safetensors; or a file.
File read_model(const std::filesystem::path& path_or_dir);

// Safetensors dtype name ("F32", "BF16", ...) for a plain stored type, and back.
std::string_view dtype_name(StoredType type);  // throws UNSUPPORTED for non-plain types
std::optional<StoredType> parse_dtype(std::string_view name);

struct WriteTensor {
  std::string name;
  StoredType type;  // plain types only
  Shape shape;
  std::span<const std::byte> bytes;
};
// Writes tensors in the given order, header padded with spaces to a multiple of 8.
void write(const std::filesystem::path& path, const std::vector<WriteTensor>& tensors,
           const std::map<std::string, std::string>& metadata = {});
// Writes `shards` files named model-0000K-of-0000N.safetensors plus the index into `dir`.
void write_sharded(const std::filesystem::path& dir, const std::vector<std::vector<WriteTensor>>& shards);

}  // namespace llmrt::safetensors
