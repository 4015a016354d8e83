#include "store/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <set>

#include "util/error.h"
#include "util/utf8.h"

namespace llmrt::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint64_t kMaxNameBytes = 4096;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS

// Fixed size of a numeric/bool element, 0 for string/array.
uint64_t element_size(ValueType t) {
  switch (t) {
    case ValueType::kU8: case ValueType::kI8: case ValueType::kBool: return 1;
    case ValueType::kU16: case ValueType::kI16: return 2;
    case ValueType::kU32: case ValueType::kI32: case ValueType::kF32: return 4;
    case ValueType::kU64: case ValueType::kI64: case ValueType::kF64: return 8;
    case ValueType::kString: case ValueType::kArray: return 0;
  }
  return 0;
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

class Reader {
 public:
  Reader(const MappedFile& map, const Limits& limits) : map_(map), limits_(limits), file_(map.path().string()) {}

  template <class T>
  T read(std::string_view what) {
    T v;
    std::memcpy(&v, map_.range(pos_, sizeof(T), what).data(), sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(std::string_view what, uint64_t max_bytes) {
    uint64_t len = read<uint64_t>(what);
    if (len > max_bytes) bad("{} is {} bytes long (limit {})", what, len, max_bytes);
    auto bytes = map_.range(pos_, len, what);
    pos_ += len;
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }

  std::string read_name(std::string_view what) {
    std::string s = read_string(what, kMaxNameBytes);
    if (!is_valid_utf8(s)) bad("{} '{}' is not valid UTF-8", what, printable(s));
    return s;
  }

  Value read_value(ValueType type, std::string_view key, int depth) {
    switch (type) {
      case ValueType::kU8: return {read<uint8_t>(key)};
      case ValueType::kI8: return {read<int8_t>(key)};
      case ValueType::kU16: return {read<uint16_t>(key)};
      case ValueType::kI16: return {read<int16_t>(key)};
      case ValueType::kU32: return {read<uint32_t>(key)};
      case ValueType::kI32: return {read<int32_t>(key)};
      case ValueType::kF32: return {read<float>(key)};
      case ValueType::kBool: {
        uint8_t b = read<uint8_t>(key);
        if (b > 1) bad("metadata '{}': bool value {} is neither 0 nor 1", key, b);
        return {b == 1};
      }
      case ValueType::kString: return {read_string(key, limits_.max_string_bytes)};
      case ValueType::kArray: return {std::make_shared<Array>(read_array(key, depth + 1))};
      case ValueType::kU64: return {read<uint64_t>(key)};
      case ValueType::kI64: return {read<int64_t>(key)};
      case ValueType::kF64: return {read<double>(key)};
    }
    bad("metadata '{}': unknown value type {}", key, static_cast<uint32_t>(type));
  }

  Array read_array(std::string_view key, int depth) {
    if (depth > limits_.max_array_depth) bad("metadata '{}': arrays nested deeper than {}", key, limits_.max_array_depth);
    Array a;
    a.element_type = read_type(key);
    a.count = read<uint64_t>(key);
    if (a.count > limits_.max_array_length) bad("metadata '{}': array of {} elements (limit {})", key, a.count, limits_.max_array_length);
    // Each element takes at least this many bytes, so the count is checked against what is
    // left in the file before anything is allocated.
    uint64_t min_bytes = a.element_type == ValueType::kString ? 8 : a.element_type == ValueType::kArray ? 12 : element_size(a.element_type);
    if (a.count > remaining() / min_bytes) {
      bad("metadata '{}': array of {} {} elements needs more bytes than the {} left in the file", key, a.count,
          to_string(a.element_type), remaining());
    }
    if (a.element_type == ValueType::kString) {
      a.strings.reserve(a.count);
      for (uint64_t i = 0; i < a.count; ++i) a.strings.push_back(read_string(key, limits_.max_string_bytes));
    } else if (a.element_type == ValueType::kArray) {
      for (uint64_t i = 0; i < a.count; ++i) a.arrays.push_back(read_array(key, depth + 1));
    } else {
      auto bytes = map_.range(pos_, a.count * min_bytes, key);
      a.packed.assign(bytes.begin(), bytes.end());
      pos_ += bytes.size();
      if (a.element_type == ValueType::kBool) {
        for (std::byte b : a.packed) {
          if (std::to_integer<uint8_t>(b) > 1) bad("metadata '{}': bool array element is neither 0 nor 1", key);
        }
      }
    }
    return a;
  }

  ValueType read_type(std::string_view key) {
    uint32_t t = read<uint32_t>(key);
    if (t > static_cast<uint32_t>(ValueType::kF64)) bad("metadata '{}': unknown value type {}", key, t);
    return static_cast<ValueType>(t);
  }

  template <class... A>
  [[noreturn]] void bad(fmt::format_string<A...> format, A&&... args) const {
    fail(ErrorCode::kBadFormat, "'{}': {}", file_, fmt::format(format, std::forward<A>(args)...));
  }

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return map_.size() - pos_; }

 private:
  const MappedFile& map_;
  const Limits& limits_;
  std::string file_;
  uint64_t pos_ = 0;
};

template <class T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

std::string_view to_string(ValueType t) {
  static constexpr std::string_view kNames[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                                "bool", "string", "array", "u64", "i64", "f64"};
  auto i = static_cast<uint32_t>(t);
  return i < std::size(kNames) ? kNames[i] : "?";
}

std::string Value::as_string(std::string_view key) const {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  fail(ErrorCode::kInvalidArgument, "metadata '{}' is a {}, expected a string", key, to_string(type()));
}

int64_t Value::as_int(std::string_view key) const {
  return std::visit(
      [&](const auto& x) -> int64_t {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T>) {
          if constexpr (std::is_same_v<T, uint64_t>) {
            if (x > static_cast<uint64_t>(INT64_MAX)) fail(ErrorCode::kInvalidArgument, "metadata '{}' = {} is too large", key, x);
          }
          return static_cast<int64_t>(x);
        } else {
          fail(ErrorCode::kInvalidArgument, "metadata '{}' is a {}, expected an integer", key, to_string(type()));
        }
      },
      v);
}

double Value::as_float(std::string_view key) const {
  return std::visit(
      [&](const auto& x) -> double {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_arithmetic_v<T>) {
          return static_cast<double>(x);
        } else {
          fail(ErrorCode::kInvalidArgument, "metadata '{}' is a {}, expected a number", key, to_string(type()));
        }
      },
      v);
}

const Array& Value::as_array(std::string_view key) const {
  if (auto* a = std::get_if<std::shared_ptr<Array>>(&v)) return **a;
  fail(ErrorCode::kInvalidArgument, "metadata '{}' is a {}, expected an array", key, to_string(type()));
}

namespace {
// Element i of a packed numeric array as R; floating elements only when R is floating.
template <class R>
R packed_element(const Array& a, uint64_t i) {
  const std::byte* p = a.packed.data() + i * element_size(a.element_type);
  switch (a.element_type) {
    case ValueType::kU8: case ValueType::kBool: return static_cast<R>(load<uint8_t>(p));
    case ValueType::kI8: return static_cast<R>(load<int8_t>(p));
    case ValueType::kU16: return static_cast<R>(load<uint16_t>(p));
    case ValueType::kI16: return static_cast<R>(load<int16_t>(p));
    case ValueType::kU32: return static_cast<R>(load<uint32_t>(p));
    case ValueType::kI32: return static_cast<R>(load<int32_t>(p));
    case ValueType::kU64: return static_cast<R>(load<uint64_t>(p));
    case ValueType::kI64: return static_cast<R>(load<int64_t>(p));
    case ValueType::kF32:
      if constexpr (std::is_floating_point_v<R>) return load<float>(p);
      break;
    case ValueType::kF64:
      if constexpr (std::is_floating_point_v<R>) return load<double>(p);
      break;
    default: break;
  }
  fail(ErrorCode::kInvalidArgument, "array of {} has no {} elements", to_string(a.element_type),
       std::is_floating_point_v<R> ? "numeric" : "integer");
}
}  // namespace

double Array::number(uint64_t i) const { return packed_element<double>(*this, i); }
int64_t Array::integer(uint64_t i) const { return packed_element<int64_t>(*this, i); }

File File::read(const std::filesystem::path& path, const Limits& limits) {
  File f;
  f.map_ = MappedFile::open(path);
  Reader r(*f.map_, limits);
  uint32_t magic = r.read<uint32_t>("the magic number");
  if (magic != kMagic) {
    std::string got(reinterpret_cast<const char*>(f.map_->data()), 4);
    r.bad("not a GGUF file (starts with '{}', expected 'GGUF')", printable(got));
  }
  f.version = r.read<uint32_t>("the version");
  if (f.version == 1) r.bad("GGUF version 1 is not supported (only 2 and 3); convert the file with a current llama.cpp");
  if (f.version != 2 && f.version != 3) r.bad("unknown GGUF version {} (2 and 3 are supported)", f.version);
  uint64_t n_tensors = r.read<uint64_t>("the tensor count");
  uint64_t n_kv = r.read<uint64_t>("the metadata count");
  if (n_tensors > limits.max_tensors) r.bad("{} tensors (limit {})", n_tensors, limits.max_tensors);
  if (n_kv > limits.max_metadata) r.bad("{} metadata entries (limit {})", n_kv, limits.max_metadata);
  // Smallest possible entries: a key of 0 bytes + type + 1 byte; a tensor info of 8+4+4+8.
  if (n_kv > r.remaining() / 13 || n_tensors > r.remaining() / 24) {
    r.bad("{} metadata entries and {} tensors cannot fit in {} bytes (truncated or corrupt)", n_kv, n_tensors, f.map_->size());
  }

  std::set<std::string, std::less<>> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.read_name(fmt::format("metadata key #{}", i));
    if (!keys.insert(key).second) r.bad("metadata key '{}' appears twice", key);
    ValueType type = r.read_type(key);
    f.metadata.emplace_back(key, r.read_value(type, key, 0));
  }
  if (const Value* a = f.find("general.alignment")) {
    if (a->type() != ValueType::kU32) r.bad("general.alignment is a {}, expected u32", to_string(a->type()));
    uint32_t v = std::get<uint32_t>(a->v);
    if (v == 0 || !std::has_single_bit(v) || v > (1u << 20)) r.bad("general.alignment {} is not a power of two up to 1 MiB", v);
    f.alignment = v;
  }

  std::set<std::string, std::less<>> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.name = r.read_name(fmt::format("tensor name #{}", i));
    if (!names.insert(t.name).second) r.bad("tensor '{}' appears twice", t.name);
    uint32_t n_dims = r.read<uint32_t>(t.name);
    if (n_dims > kMaxDims) r.bad("tensor '{}' has {} dimensions (at most {})", t.name, n_dims, kMaxDims);
    std::vector<uint64_t> dims(n_dims);
    for (auto& d : dims) {
      d = r.read<uint64_t>(t.name);
      if (d > (uint64_t{1} << 48)) r.bad("tensor '{}' has a dimension of {}", t.name, d);
    }
    t.shape.assign(dims.rbegin(), dims.rend());
    checked_numel(t.shape, fmt::format("'{}': tensor '{}'", path.string(), t.name));
    t.ggml_type = r.read<uint32_t>(t.name);
    t.offset = r.read<uint64_t>(t.name);
    if (t.offset % f.alignment != 0) r.bad("tensor '{}' offset {} is not a multiple of the alignment {}", t.name, t.offset, f.alignment);
    t.bytes = 0;
    if (const ggml::TypeTraits* traits = ggml::type_traits(t.ggml_type)) {
      int64_t ne0 = t.shape.empty() ? 1 : t.shape.back();
      if (ne0 % traits->block_elements != 0) {
        r.bad("tensor '{}' ({} {}): the row length {} is not a multiple of the {}-element block", t.name, traits->name,
              shape_to_string(t.shape), ne0, traits->block_elements);
      }
      int64_t rows = ne0 == 0 ? 0 : checked_numel(t.shape, t.name) / ne0;
      t.bytes = ggml::row_bytes(static_cast<ggml::Type>(t.ggml_type), ne0) * static_cast<uint64_t>(rows);
    }
    f.tensor_infos.push_back(std::move(t));
  }
  f.data_offset = align_up(r.pos(), f.alignment);
  uint64_t data_size = f.data_offset <= f.map_->size() ? f.map_->size() - f.data_offset : 0;
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : f.tensor_infos) {
    if (t.offset > data_size || t.bytes > data_size - t.offset) {
      r.bad("tensor '{}' at data offset {} with {} bytes lies past the end of the file (data section has {} bytes; "
            "truncated?)", t.name, t.offset, t.bytes, data_size);
    }
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& a = *by_offset[i - 1];
    const TensorInfo& b = *by_offset[i];
    if (b.offset < a.offset + a.bytes) r.bad("tensors '{}' and '{}' overlap in the data section", a.name, b.name);
  }
  return f;
}

const Value* File::find(std::string_view key) const {
  for (const auto& [k, v] : metadata) {
    if (k == key) return &v;
  }
  return nullptr;
}

const Value& File::at(std::string_view key) const {
  if (const Value* v = find(key)) return *v;
  fail(ErrorCode::kNotFound, "'{}': no metadata key '{}'", path().string(), key);
}

TensorSet File::tensors() const {
  TensorSet set(path().string());
  for (const TensorInfo& info : tensor_infos) {
    const ggml::TypeTraits* traits = ggml::type_traits(info.ggml_type);
    std::optional<StoredType> type = traits ? from_ggml(static_cast<ggml::Type>(info.ggml_type)) : std::nullopt;
    if (!type) {
      fail(ErrorCode::kUnsupported, "'{}': tensor '{}' has GGUF type {} ({}), which this build cannot load", path().string(),
           info.name, traits ? traits->name : "unknown", info.ggml_type);
    }
    Tensor t;
    t.name = info.name;
    t.type = *type;
    t.shape = info.shape;
    t.data = map_->range(data_offset + info.offset, info.bytes, info.name);
    t.owner = map_;
    t.file_mapped = true;
    t.validate();
    set.add(std::move(t));
  }
  return set;
}

// ---------------------------------------------------------------------------------------- writer

Writer::Writer(uint32_t version, uint64_t alignment) : version_(version), alignment_(alignment) {
  if (version != 2 && version != 3) fail(ErrorCode::kInvalidArgument, "GGUF version {} cannot be written (2 or 3)", version);
  if (alignment == 0 || !std::has_single_bit(alignment)) fail(ErrorCode::kInvalidArgument, "GGUF alignment {} is not a power of two", alignment);
  if (alignment != 32) add("general.alignment", Value{static_cast<uint32_t>(alignment)});
}

void Writer::add(std::string key, Value value) {
  for (const auto& [k, v] : metadata_) {
    if (k == key) fail(ErrorCode::kInvalidArgument, "GGUF metadata key '{}' added twice", key);
  }
  metadata_.emplace_back(std::move(key), std::move(value));
}

uint64_t Writer::checked_size(const std::string& name, ggml::Type type, const Shape& shape) const {
  const ggml::TypeTraits* traits = ggml::type_traits(static_cast<uint32_t>(type));
  if (!traits) fail(ErrorCode::kInvalidArgument, "tensor '{}': unknown GGUF type {}", name, static_cast<uint32_t>(type));
  if (shape.size() > kMaxDims) fail(ErrorCode::kInvalidArgument, "tensor '{}': GGUF allows at most 4 dimensions", name);
  for (const auto& t : tensors_) {
    if (t.name == name) fail(ErrorCode::kInvalidArgument, "GGUF tensor '{}' added twice", name);
  }
  int64_t ne0 = shape.empty() ? 1 : shape.back();
  int64_t n = checked_numel(shape, name);
  return ne0 == 0 ? 0 : ggml::row_bytes(type, ne0) * static_cast<uint64_t>(n / ne0);
}

void Writer::add_tensor(std::string name, ggml::Type type, Shape shape, std::span<const std::byte> bytes) {
  uint64_t want = checked_size(name, type, shape);
  if (bytes.size() != want) {
    fail(ErrorCode::kInvalidArgument, "tensor '{}': {} {} needs {} bytes, {} given", name,
         ggml::type_traits(static_cast<uint32_t>(type))->name, shape_to_string(shape), want, bytes.size());
  }
  tensors_.push_back({std::move(name), static_cast<uint32_t>(type), std::move(shape), want, {bytes.begin(), bytes.end()}, {}});
}

void Writer::add_deferred_tensor(std::string name, ggml::Type type, Shape shape, Producer produce) {
  uint64_t size = checked_size(name, type, shape);
  if (!produce) fail(ErrorCode::kInvalidArgument, "tensor '{}': no producer", name);
  tensors_.push_back({std::move(name), static_cast<uint32_t>(type), std::move(shape), size, {}, std::move(produce)});
}

void Writer::add_tensor(const Tensor& t) {
  std::optional<ggml::Type> g = to_ggml(t.type);
  if (!g) fail(ErrorCode::kInvalidArgument, "tensor '{}': {} has no GGUF type", t.name, to_string(t.type));
  add_tensor(t.name, *g, t.shape, t.data);
}

namespace {
class Out {
 public:
  std::vector<std::byte> buf;
  template <class T>
  void put(T v) {
    auto p = reinterpret_cast<const std::byte*>(&v);
    buf.insert(buf.end(), p, p + sizeof v);
  }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    auto p = reinterpret_cast<const std::byte*>(s.data());
    buf.insert(buf.end(), p, p + s.size());
  }
  void put_array(const Array& a) {
    put<uint32_t>(static_cast<uint32_t>(a.element_type));
    put<uint64_t>(a.count);
    if (a.element_type == ValueType::kString) {
      for (const auto& s : a.strings) put_string(s);
    } else if (a.element_type == ValueType::kArray) {
      for (const auto& sub : a.arrays) put_array(sub);
    } else {
      buf.insert(buf.end(), a.packed.begin(), a.packed.end());
    }
  }
  void put_value(const Value& v) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, std::string>) put_string(x);
          else if constexpr (std::is_same_v<T, std::shared_ptr<Array>>) put_array(*x);
          else if constexpr (std::is_same_v<T, bool>) put<uint8_t>(x ? 1 : 0);
          else put<T>(x);
        },
        v.v);
  }
  void pad_to(uint64_t alignment) { buf.resize(align_up(buf.size(), alignment), std::byte{0}); }
};
}  // namespace

std::vector<std::byte> Writer::header() const {
  Out out;
  out.put<uint32_t>(kMagic);
  out.put<uint32_t>(version_);
  out.put<uint64_t>(tensors_.size());
  out.put<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    out.put_string(key);
    out.put<uint32_t>(static_cast<uint32_t>(value.type()));
    out.put_value(value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    out.put_string(t.name);
    out.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) out.put<uint64_t>(static_cast<uint64_t>(*it));
    out.put<uint32_t>(t.type);
    out.put<uint64_t>(offset);
    offset = align_up(offset + t.size, alignment_);
  }
  out.pad_to(alignment_);
  return std::move(out.buf);
}

void Writer::emit_data(const std::function<void(std::span<const std::byte>)>& sink) const {
  const std::vector<std::byte> zeros(alignment_);
  for (const auto& t : tensors_) {
    if (t.produce) {
      std::vector<std::byte> produced = t.produce();
      if (produced.size() != t.size) {
        fail(ErrorCode::kInternal, "tensor '{}': producer gave {} bytes, expected {}", t.name, produced.size(), t.size);
      }
      sink(produced);
    } else {
      sink(t.bytes);
    }
    sink(std::span<const std::byte>(zeros).first(static_cast<size_t>(align_up(t.size, alignment_) - t.size)));
  }
}

std::vector<std::byte> Writer::bytes() const {
  std::vector<std::byte> out = header();
  emit_data([&](std::span<const std::byte> b) { out.insert(out.end(), b.begin(), b.end()); });
  return out;
}

void Writer::write(const std::filesystem::path& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(ErrorCode::kIo, "cannot create '{}'", path.string());
  auto sink = [&](std::span<const std::byte> b) { out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size())); };
  sink(header());
  emit_data(sink);
  if (!out.flush()) fail(ErrorCode::kIo, "cannot write '{}'", path.string());
}

Value string_value(std::string s) { return Value{std::move(s)}; }

Value string_array(const std::vector<std::string>& items) {
  auto a = std::make_shared<Array>();
  a->element_type = ValueType::kString;
  a->count = items.size();
  a->strings = items;
  return Value{a};
}

}  // namespace llmrt::gguf
