#include "store/container.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <set>

#include "util/error.h"

namespace llmrt::container {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr size_t kMaxNameBytes = 4096;
constexpr size_t kMaxDims = 8;

template <class T>
T load_le(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::optional<uint64_t> parse_checksum(const json& j) {
  if (!j.is_string()) return std::nullopt;
  const std::string& s = j.get_ref<const std::string&>();
  if (s.size() != 21 || s.compare(0, 5, "xxh3:") != 0) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 5; i < s.size(); ++i) {
    const char c = s[i];
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return v;
}

// Reads fields of the index, every fault a BAD_FORMAT naming the file and the field.
class IndexReader {
 public:
  explicit IndexReader(std::string file) : file_(std::move(file)) {}

  const json& field(const json& obj, std::string_view key, std::string_view where) const {
    auto it = obj.find(key);
    if (it == obj.end()) fail(ErrorCode::kBadFormat, "'{}': {} has no '{}'", file_, where, key);
    return *it;
  }
  std::string string(const json& obj, std::string_view key, std::string_view where, size_t max_bytes) const {
    const json& v = field(obj, key, where);
    if (!v.is_string()) fail(ErrorCode::kBadFormat, "'{}': {} '{}' is not a string", file_, where, key);
    const std::string& s = v.get_ref<const std::string&>();
    if (s.size() > max_bytes) fail(ErrorCode::kBadFormat, "'{}': {} '{}' is {} bytes (limit {})", file_, where, key, s.size(), max_bytes);
    return s;
  }
  uint64_t u64(const json& v, std::string_view what) const {
    if (!v.is_number_unsigned()) fail(ErrorCode::kBadFormat, "'{}': {} is not a non-negative integer", file_, what);
    return v.get<uint64_t>();
  }
  uint64_t checksum(const json& obj, std::string_view where) const {
    auto v = parse_checksum(field(obj, "xxh3", where));
    if (!v) fail(ErrorCode::kBadFormat, "'{}': {} has a malformed checksum (want \"xxh3:\" and 16 hex digits)", file_, where);
    return *v;
  }
  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

struct Plane {
  uint64_t offset = 0, length = 0;
};

json plane_json(uint64_t offset, uint64_t length) { return json::array({offset, length}); }

// A companion file must name a file in the container folder itself.
bool plain_file_name(std::string_view name) {
  return !name.empty() && name.size() <= 255 && name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos &&
         name != "." && name != "..";
}

}  // namespace

uint64_t xxh3(std::span<const std::byte> bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

uint64_t tensor_checksum(const Tensor& t) {
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  for (std::span<const std::byte> plane : {t.data, t.scales, t.zero_points}) {
    XXH3_64bits_update(&state, plane.data(), plane.size());
  }
  return XXH3_64bits_digest(&state);
}

std::string checksum_text(uint64_t hash) { return fmt::format("xxh3:{:016x}", hash); }

bool is_container(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return fs::is_regular_file(path / kTensorFile, ec);
  return path.filename() == kTensorFile && fs::is_regular_file(path, ec);
}

fs::path container_dir(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) ? path : path.parent_path();
}

File File::read(const fs::path& path) {
  std::error_code ec;
  const fs::path tensor_path = fs::is_directory(path, ec) ? path / kTensorFile : path;
  File f;
  f.map = MappedFile::open(tensor_path);
  const std::string name = tensor_path.string();
  const MappedFile& map = *f.map;
  if (map.size() < kPreambleBytes || std::memcmp(map.data(), kMagic, sizeof kMagic) != 0) {
    fail(ErrorCode::kBadFormat, "'{}' is not an llmrt container (no \"LLMRT\" magic, or shorter than its {}-byte preamble)",
         name, kPreambleBytes);
  }
  const std::byte* p = map.data();
  f.version = load_le<uint32_t>(p + 8);
  if (f.version == 0 || f.version > kFormatVersion) {
    fail(ErrorCode::kUnsupported, "'{}' is llmrt container version {}; this build reads version {} (a newer llmrt wrote it?)",
         name, f.version, kFormatVersion);
  }
  if (const uint32_t flags = load_le<uint32_t>(p + 12); flags != 0) {
    fail(ErrorCode::kUnsupported, "'{}': unknown container flags 0x{:x}", name, flags);
  }
  const uint64_t index_offset = load_le<uint64_t>(p + 16), index_length = load_le<uint64_t>(p + 24);
  if (index_length > kMaxIndexBytes) {
    fail(ErrorCode::kBadFormat, "'{}': index of {} bytes exceeds the {}-byte limit", name, index_length, kMaxIndexBytes);
  }
  if (index_offset < kPreambleBytes) fail(ErrorCode::kBadFormat, "'{}': index offset {} lies inside the preamble", name, index_offset);
  const std::span<const std::byte> index = map.range(index_offset, index_length, "the container index (file truncated?)");
  if (xxh3(index) != load_le<uint64_t>(p + 32)) {
    fail(ErrorCode::kBadFormat, "'{}': the index checksum does not match (the file is damaged or was cut short)", name);
  }
  json j;
  try {
    j = json::parse(std::string_view(reinterpret_cast<const char*>(index.data()), index.size()));
  } catch (const json::exception& e) {
    fail(ErrorCode::kBadFormat, "'{}': the index is not valid JSON: {}", name, e.what());
  }
  if (!j.is_object()) fail(ErrorCode::kBadFormat, "'{}': the index is not a JSON object", name);
  IndexReader r(name);
  f.source_format = r.string(j, "source_format", "the index", 64);
  if (f.source_format != "huggingface" && f.source_format != "gguf") {
    fail(ErrorCode::kBadFormat, "'{}': source_format '{}' is neither 'huggingface' nor 'gguf'", name, f.source_format);
  }
  f.source = r.string(j, "source", "the index", kMaxNameBytes);
  f.writer = r.string(j, "writer", "the index", 256);
  f.conversion = r.field(j, "conversion", "the index").dump();

  const json& files = r.field(j, "files", "the index");
  if (!files.is_array() || files.size() > 64) fail(ErrorCode::kBadFormat, "'{}': 'files' is not an array of at most 64 files", name);
  for (const json& e : files) {
    if (!e.is_object()) fail(ErrorCode::kBadFormat, "'{}': an entry of 'files' is not an object", name);
    FileRecord rec{r.string(e, "name", "a file entry", 255), r.u64(r.field(e, "bytes", "a file entry"), "a file's 'bytes'"),
                   r.checksum(e, "a file entry")};
    if (!plain_file_name(rec.name)) {
      fail(ErrorCode::kBadFormat, "'{}': companion file name '{}' is not a plain file name", name, rec.name);
    }
    f.files.push_back(std::move(rec));
  }

  const json& tensors = r.field(j, "tensors", "the index");
  if (!tensors.is_array()) fail(ErrorCode::kBadFormat, "'{}': 'tensors' is not an array", name);
  if (tensors.size() > kMaxTensors) {
    fail(ErrorCode::kBadFormat, "'{}': {} tensors exceeds the limit of {}", name, tensors.size(), kMaxTensors);
  }
  f.tensors = TensorSet(name);
  std::vector<std::pair<Plane, size_t>> planes;  // every non-empty plane, to check for overlaps
  for (const json& e : tensors) {
    if (!e.is_object()) fail(ErrorCode::kBadFormat, "'{}': an entry of 'tensors' is not an object", name);
    Tensor t;
    t.name = r.string(e, "name", "a tensor entry", kMaxNameBytes);
    const std::string where = fmt::format("tensor '{}'", t.name);
    const std::string type = r.string(e, "type", where, 32);
    const auto st = parse_stored_type(type);
    if (!st) fail(ErrorCode::kUnsupported, "'{}': {} has type '{}', unknown to this build", name, where, type);
    t.type = *st;
    const json& shape = r.field(e, "shape", where);
    if (!shape.is_array() || shape.size() > kMaxDims) {
      fail(ErrorCode::kBadFormat, "'{}': {} shape is not an array of at most {} dims", name, where, kMaxDims);
    }
    for (const json& d : shape) {
      const uint64_t v = r.u64(d, where + " dimension");
      if (v > (1ull << 40)) fail(ErrorCode::kBadFormat, "'{}': {} has dimension {} (too large)", name, where, v);
      t.shape.push_back(static_cast<int64_t>(v));
    }
    checked_numel(t.shape, where);
    const json& group = r.field(e, "group_size", where);
    if (!group.is_number_integer() || group.get<int64_t>() < -1 || group.get<int64_t>() > (1 << 30)) {
      fail(ErrorCode::kBadFormat, "'{}': {} group_size is not an integer in [-1, 2^30]", name, where);
    }
    t.group_size = group.get<int32_t>();
    const std::string scale_type = r.string(e, "scale_type", where, 32);
    if (scale_type != "f32" && scale_type != "f16") {
      fail(ErrorCode::kBadFormat, "'{}': {} scale_type '{}' is neither f32 nor f16", name, where, scale_type);
    }
    t.scale_type = scale_type == "f16" ? StoredType::kF16 : StoredType::kF32;
    std::span<const std::byte>* spans[3] = {&t.data, &t.scales, &t.zero_points};
    const char* plane_names[3] = {"data", "scales", "zero_points"};
    for (int k = 0; k < 3; ++k) {
      const json& pj = r.field(e, plane_names[k], where);
      if (!pj.is_array() || pj.size() != 2) {
        fail(ErrorCode::kBadFormat, "'{}': {} plane '{}' is not [offset, length]", name, where, plane_names[k]);
      }
      const std::string what = fmt::format("{} plane '{}'", where, plane_names[k]);
      const Plane pl{r.u64(pj[0], what + " offset"), r.u64(pj[1], what + " length")};
      if (pl.length == 0) continue;
      if (pl.offset % kPlaneAlignment != 0 || pl.offset < kPreambleBytes || pl.offset > index_offset ||
          pl.length > index_offset - pl.offset) {
        fail(ErrorCode::kBadFormat, "'{}': {} [{}, +{}) is misaligned or outside the tensor region [{}, {})", name, what,
             pl.offset, pl.length, kPreambleBytes, index_offset);
      }
      *spans[k] = map.range(pl.offset, pl.length, what);
      planes.push_back({pl, f.tensors.size()});
    }
    t.owner = f.map;
    t.file_mapped = true;
    t.validate();  // plane sizes agree with type, shape and grouping (BAD_FORMAT naming the tensor)
    f.checksums.push_back(r.checksum(e, where));
    f.tensors.add(std::move(t));  // BAD_FORMAT for a duplicate name
  }
  std::sort(planes.begin(), planes.end(), [](const auto& a, const auto& b) { return a.first.offset < b.first.offset; });
  for (size_t i = 1; i < planes.size(); ++i) {
    if (planes[i].first.offset < planes[i - 1].first.offset + planes[i - 1].first.length) {
      fail(ErrorCode::kBadFormat, "'{}': the planes of tensors '{}' and '{}' overlap", name,
           f.tensors.tensors()[planes[i - 1].second].name, f.tensors.tensors()[planes[i].second].name);
    }
  }
  return f;
}

std::vector<VerifyProblem> verify(const File& file, const std::function<void(size_t, size_t)>& progress) {
  std::vector<VerifyProblem> problems;
  const auto& tensors = file.tensors.tensors();
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t got = tensor_checksum(tensors[i]);
    if (got != file.checksums[i]) {
      problems.push_back({fmt::format("tensor '{}'", tensors[i].name),
                          fmt::format("checksum {} but the index records {}", checksum_text(got), checksum_text(file.checksums[i]))});
    }
    if (progress) progress(i + 1, tensors.size());
  }
  const fs::path dir = file.map->path().parent_path();
  for (const FileRecord& rec : file.files) {
    const fs::path p = dir / rec.name;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) {
      problems.push_back({fmt::format("file '{}'", rec.name), "missing from the container folder"});
      continue;
    }
    const uint64_t size = fs::file_size(p, ec);
    if (size != rec.bytes) {
      problems.push_back({fmt::format("file '{}'", rec.name), fmt::format("{} bytes but the index records {}", size, rec.bytes)});
      continue;
    }
    const uint64_t got = size == 0 ? xxh3({}) : xxh3(MappedFile::open(p)->bytes());
    if (got != rec.checksum) {
      problems.push_back({fmt::format("file '{}'", rec.name),
                          fmt::format("checksum {} but the index records {}", checksum_text(got), checksum_text(rec.checksum))});
    }
  }
  return problems;
}

struct Writer::Impl {
  fs::path dir, partial, final_path;
  Info info;
  std::ofstream out;
  uint64_t pos = 0;
  json tensors = json::array();
  std::set<std::string, std::less<>> names;
  std::vector<std::string> files;
  bool finished = false;

  void write(std::span<const std::byte> bytes) {
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) fail(ErrorCode::kIo, "cannot write '{}' (disk full?)", partial.string());
    pos += bytes.size();
  }
  void pad_to(uint64_t alignment) {
    static constexpr std::array<std::byte, kPlaneAlignment> zeros{};
    const uint64_t pad = (alignment - pos % alignment) % alignment;
    write(std::span(zeros).first(pad));
  }
  json plane(std::span<const std::byte> bytes) {
    if (bytes.empty()) return plane_json(0, 0);
    pad_to(kPlaneAlignment);
    const uint64_t offset = pos;
    write(bytes);
    return plane_json(offset, bytes.size());
  }
};

Writer::Writer(fs::path dir, Info info) : impl_(std::make_unique<Impl>()) {
  Impl& w = *impl_;
  w.dir = std::move(dir);
  w.info = std::move(info);
  w.final_path = w.dir / kTensorFile;
  w.partial = w.dir / (std::string(kTensorFile) + ".partial");
  w.out.open(w.partial, std::ios::binary | std::ios::trunc);
  if (!w.out) fail(ErrorCode::kIo, "cannot create '{}'", w.partial.string());
  const std::array<std::byte, kPreambleBytes> preamble{};  // filled in by finish()
  w.write(preamble);
}

Writer::~Writer() {
  if (impl_ && !impl_->finished) {
    impl_->out.close();
    std::error_code ec;
    fs::remove(impl_->partial, ec);
  }
}

void Writer::add(const Tensor& t) {
  Impl& w = *impl_;
  t.validate();
  if (t.name.empty() || t.name.size() > kMaxNameBytes) {
    fail(ErrorCode::kInvalidArgument, "container: tensor name '{}' is empty or longer than {} bytes", t.name, kMaxNameBytes);
  }
  if (!w.names.insert(t.name).second) fail(ErrorCode::kBadFormat, "container: tensor '{}' added twice", t.name);
  json e = {{"name", t.name},
            {"type", std::string(to_string(t.type))},
            {"shape", t.shape},
            {"group_size", t.group_size},
            {"scale_type", t.scale_type == StoredType::kF16 ? "f16" : "f32"}};
  e["data"] = w.plane(t.data);
  e["scales"] = w.plane(t.scales);
  e["zero_points"] = w.plane(t.zero_points);
  e["xxh3"] = checksum_text(tensor_checksum(t));
  w.tensors.push_back(std::move(e));
}

void Writer::add_file(std::string name) {
  if (!plain_file_name(name)) fail(ErrorCode::kInvalidArgument, "container: companion file name '{}' is not a plain file name", name);
  impl_->files.push_back(std::move(name));
}
void Writer::set_conversion(std::string json) { impl_->info.conversion = std::move(json); }

void Writer::finish() {
  Impl& w = *impl_;
  json files = json::array();
  for (const std::string& name : w.files) {
    const fs::path p = w.dir / name;
    std::error_code ec;
    const uint64_t size = fs::file_size(p, ec);
    if (ec) fail(ErrorCode::kNotFound, "container: companion file '{}' is missing", p.string());
    const uint64_t sum = size == 0 ? xxh3({}) : xxh3(MappedFile::open(p)->bytes());
    files.push_back({{"name", name}, {"bytes", size}, {"xxh3", checksum_text(sum)}});
  }
  json conversion;
  try {
    conversion = json::parse(w.info.conversion);
  } catch (const json::exception& e) {
    fail(ErrorCode::kInvalidArgument, "container: conversion settings are not JSON: {}", e.what());
  }
  const json index = {{"format", "llmrt"},          {"version", kFormatVersion}, {"source_format", w.info.source_format},
                      {"source", w.info.source},    {"writer", w.info.writer},   {"conversion", conversion},
                      {"files", std::move(files)},  {"tensors", std::move(w.tensors)}};
  const std::string text = index.dump(1);
  w.pad_to(kPlaneAlignment);
  const uint64_t index_offset = w.pos;
  w.write(std::as_bytes(std::span(text)));
  std::array<std::byte, kPreambleBytes> preamble{};
  auto put = [&](size_t at, auto v) { std::memcpy(preamble.data() + at, &v, sizeof v); };
  std::memcpy(preamble.data(), kMagic, sizeof kMagic);
  put(8, kFormatVersion);
  put(12, uint32_t{0});
  put(16, index_offset);
  put(24, uint64_t{text.size()});
  put(32, uint64_t{XXH3_64bits(text.data(), text.size())});
  w.out.seekp(0);
  w.out.write(reinterpret_cast<const char*>(preamble.data()), preamble.size());
  w.out.close();
  if (!w.out) fail(ErrorCode::kIo, "cannot write '{}' (disk full?)", w.partial.string());
  std::error_code ec;
  fs::rename(w.partial, w.final_path, ec);
  if (ec) fail(ErrorCode::kIo, "cannot rename '{}' to '{}': {}", w.partial.string(), w.final_path.string(), ec.message());
  w.finished = true;
}

}  // namespace llmrt::container
