#include "store/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include "util/error.h"
#include "util/mapped_file.h"
#include "util/utf8.h"

namespace llmrt::safetensors {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::pair<std::string_view, StoredType> kDtypes[] = {
    {"F32", StoredType::kF32}, {"F16", StoredType::kF16}, {"BF16", StoredType::kBF16}, {"F64", StoredType::kF64},
    {"I8", StoredType::kI8},   {"U8", StoredType::kU8},   {"I16", StoredType::kI16},   {"I32", StoredType::kI32},
    {"I64", StoredType::kI64},
};

// Parses the header, rejecting duplicate keys at any depth (JSON allows them; a model file
// must not) and keys that are not valid UTF-8.
json parse_header(std::string_view text, const std::string& file) {
  std::vector<std::set<std::string>> keys_at_depth;
  std::string duplicate;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      if (keys_at_depth.size() <= static_cast<size_t>(depth)) keys_at_depth.resize(static_cast<size_t>(depth) + 1);
      keys_at_depth[static_cast<size_t>(depth)].clear();
    } else if (event == json::parse_event_t::key) {
      auto& seen = keys_at_depth[static_cast<size_t>(depth) - 1];
      if (!seen.insert(parsed.get<std::string>()).second && duplicate.empty()) duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    fail(ErrorCode::kBadFormat, "'{}': the header is not valid JSON: {}", file, e.what());
  }
  if (!duplicate.empty()) fail(ErrorCode::kBadFormat, "'{}': key '{}' appears twice in the header", file, printable(duplicate));
  if (!header.is_object()) fail(ErrorCode::kBadFormat, "'{}': the header is not a JSON object", file);
  return header;
}

Shape parse_shape(const json& j, const std::string& where) {
  if (!j.is_array()) fail(ErrorCode::kBadFormat, "{}: \"shape\" is not an array", where);
  if (j.size() > 8) fail(ErrorCode::kBadFormat, "{}: shape has {} dimensions (at most 8)", where, j.size());
  Shape shape;
  for (const json& d : j) {
    if (!d.is_number_unsigned()) fail(ErrorCode::kBadFormat, "{}: shape entry {} is not a non-negative integer", where, d.dump());
    shape.push_back(static_cast<int64_t>(std::min<uint64_t>(d.get<uint64_t>(), uint64_t{1} << 62)));
  }
  checked_numel(shape, where);
  return shape;
}

}  // namespace

std::string_view dtype_name(StoredType type) {
  for (auto [name, t] : kDtypes) {
    if (t == type) return name;
  }
  fail(ErrorCode::kUnsupported, "safetensors has no dtype for {}", to_string(type));
}

std::optional<StoredType> parse_dtype(std::string_view name) {
  for (auto [n, t] : kDtypes) {
    if (n == name) return t;
  }
  return std::nullopt;
}

File read(const fs::path& path) {
  auto map = MappedFile::open(path);
  const std::string file = path.string();
  if (map->size() < 8) fail(ErrorCode::kBadFormat, "'{}': {} bytes is too short for a safetensors file", file, map->size());
  uint64_t header_size;
  std::memcpy(&header_size, map->data(), 8);
  if (header_size > kMaxHeaderBytes) {
    fail(ErrorCode::kBadFormat, "'{}': header size {} exceeds the {} byte limit (not a safetensors file?)", file,
         header_size, kMaxHeaderBytes);
  }
  auto header_bytes = map->range(8, header_size, "the JSON header");
  std::string_view text(reinterpret_cast<const char*>(header_bytes.data()), header_bytes.size());
  if (!is_valid_utf8(text)) fail(ErrorCode::kBadFormat, "'{}': the header is not valid UTF-8", file);
  json header = parse_header(text, file);

  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = map->size() - data_start;
  File out{TensorSet(file), {}};
  struct Extent {
    uint64_t begin, end;
    Tensor tensor;
  };
  std::vector<Extent> extents;
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(ErrorCode::kBadFormat, "'{}': __metadata__ is not an object", file);
      for (auto& [k, v] : entry.items()) {
        if (!v.is_string()) fail(ErrorCode::kBadFormat, "'{}': __metadata__ value of '{}' is not a string", file, k);
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = fmt::format("'{}': tensor '{}'", file, printable(name));
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets")) {
      fail(ErrorCode::kBadFormat, "{}: needs \"dtype\", \"shape\" and \"data_offsets\"", where);
    }
    const json& dtype = entry["dtype"];
    if (!dtype.is_string()) fail(ErrorCode::kBadFormat, "{}: \"dtype\" is not a string", where);
    auto type = parse_dtype(dtype.get<std::string>());
    if (!type) {
      fail(ErrorCode::kUnsupported, "{}: dtype '{}' is not supported (F32, F16, BF16, F64, I8, U8, I16, I32, I64 are)",
           where, printable(dtype.get<std::string>()));
    }
    Shape shape = parse_shape(entry["shape"], where);
    const json& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned()) {
      fail(ErrorCode::kBadFormat, "{}: \"data_offsets\" must be two non-negative integers", where);
    }
    uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (end < begin) fail(ErrorCode::kBadFormat, "{}: data_offsets [{}, {}] end before they begin", where, begin, end);
    if (end > data_size) {
      fail(ErrorCode::kBadFormat, "{}: data_offsets [{}, {}] lie past the end of the data ({} bytes; file truncated?)",
           where, begin, end, data_size);
    }
    Tensor t;
    t.name = name;
    t.type = *type;
    t.shape = std::move(shape);
    uint64_t want = t.expected_sizes().data;
    if (end - begin != want) {
      fail(ErrorCode::kBadFormat, "{}: {} {} needs {} bytes but data_offsets [{}, {}] hold {}", where, dtype.get<std::string>(),
           shape_to_string(t.shape), want, begin, end, end - begin);
    }
    t.data = map->range(data_start + begin, end - begin, "tensor data");
    t.owner = map;
    t.file_mapped = true;
    extents.push_back({begin, end, std::move(t)});
  }
  // File order (by offset), which also puts any overlapping pair next to each other.
  std::sort(extents.begin(), extents.end(), [](const Extent& a, const Extent& b) { return a.begin < b.begin; });
  for (size_t i = 0; i < extents.size(); ++i) {
    if (i > 0 && extents[i].begin < extents[i - 1].end) {
      fail(ErrorCode::kBadFormat, "'{}': tensors '{}' and '{}' overlap (bytes {}..{} and {}..{})", file,
           printable(extents[i - 1].tensor.name), printable(extents[i].tensor.name), extents[i - 1].begin,
           extents[i - 1].end, extents[i].begin, extents[i].end);
    }
  }
  for (Extent& e : extents) out.tensors.add(std::move(e.tensor));
  return out;
}

File read_model(const fs::path& path_or_dir) {
  if (!fs::is_directory(path_or_dir)) return read(path_or_dir);
  const fs::path index_path = path_or_dir / "model.safetensors.index.json";
  if (!fs::exists(index_path)) {
    if (fs::exists(path_or_dir / "model.safetensors")) return read(path_or_dir / "model.safetensors");
    fail(ErrorCode::kNotFound, "'{}' has neither model.safetensors nor model.safetensors.index.json",
         path_or_dir.string());
  }
  json index;
  try {
    index = json::parse(read_text_file(index_path));
  } catch (const json::exception& e) {
    fail(ErrorCode::kBadFormat, "'{}' is not valid JSON: {}", index_path.string(), e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    fail(ErrorCode::kBadFormat, "'{}' has no \"weight_map\" object", index_path.string());
  }
  std::map<std::string, std::vector<std::string>> wanted;  // shard -> tensors it must hold
  for (auto& [tensor, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) fail(ErrorCode::kBadFormat, "'{}': shard of '{}' is not a string", index_path.string(), tensor);
    std::string name = shard.get<std::string>();
    // A shard is a file beside the index: never a path that could reach elsewhere.
    if (name.empty() || name.find('/') != std::string::npos || name.find('\\') != std::string::npos || name == "." ||
        name == "..") {
      fail(ErrorCode::kBadFormat, "'{}': shard name '{}' for tensor '{}' is not a plain file name",
           index_path.string(), printable(name), tensor);
    }
    wanted[name].push_back(tensor);
  }
  File out{TensorSet(fmt::format("{} shards in '{}'", wanted.size(), path_or_dir.string())), {}};
  for (auto& [shard, names] : wanted) {
    File part = read(path_or_dir / shard);
    for (const std::string& name : names) {
      if (!part.tensors.find(name)) {
        fail(ErrorCode::kBadFormat, "'{}' maps tensor '{}' to '{}', which does not contain it", index_path.string(),
             name, shard);
      }
    }
    if (part.tensors.size() != names.size()) {
      fail(ErrorCode::kBadFormat, "'{}' holds {} tensors but the index maps {} to it", (path_or_dir / shard).string(),
           part.tensors.size(), names.size());
    }
    for (const Tensor& t : part.tensors.tensors()) out.tensors.add(t);
    out.metadata.merge(part.metadata);
  }
  return out;
}

void write(const fs::path& path, const std::vector<WriteTensor>& tensors, const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const WriteTensor& t : tensors) {
    Tensor check;
    check.name = t.name;
    check.type = t.type;
    check.shape = t.shape;
    if (family(t.type) != TypeFamily::kPlain) fail(ErrorCode::kInvalidArgument, "safetensors cannot hold {} tensor '{}'", to_string(t.type), t.name);
    if (check.expected_sizes().data != t.bytes.size()) {
      fail(ErrorCode::kInvalidArgument, "tensor '{}': {} {} needs {} bytes, {} given", t.name, to_string(t.type),
           shape_to_string(t.shape), check.expected_sizes().data, t.bytes.size());
    }
    header[t.name] = {{"dtype", dtype_name(t.type)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(ErrorCode::kIo, "cannot create '{}'", path.string());
  uint64_t n = text.size();
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const WriteTensor& t : tensors) out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
  if (!out.flush()) fail(ErrorCode::kIo, "cannot write '{}'", path.string());
}

void write_sharded(const fs::path& dir, const std::vector<std::vector<WriteTensor>>& shards) {
  json weight_map = json::object();
  uint64_t total = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    std::string name = fmt::format("model-{:05}-of-{:05}.safetensors", i + 1, shards.size());
    write(dir / name, shards[i]);
    for (const WriteTensor& t : shards[i]) {
      weight_map[t.name] = name;
      total += t.bytes.size();
    }
  }
  json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  std::ofstream out(dir / "model.safetensors.index.json", std::ios::trunc);
  out << index.dump(2) << "\n";
  if (!out.flush()) fail(ErrorCode::kIo, "cannot write '{}'", (dir / "model.safetensors.index.json").string());
}

}  // namespace llmrt::safetensors
