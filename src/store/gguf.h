// GGUF v2/v3 (the llama.cpp model file): reader and writer.
//
// Layout (little-endian): "GGUF", u32 version, u64 tensor count, u64 metadata count; the
// metadata (key string, u32 value type, value); the tensor infos (name, u32 n_dims, u64 dims
// innermost first, u32 ggml type, u64 offset into the data section); padding to
// general.alignment (default 32); the data section. Strings are a u64 length then bytes.
//
// Reading maps the file (tensors are views, no copy). Every count, length and offset is
// checked against the bytes that remain before anything is allocated, so a hostile file gets
// a BAD_FORMAT error naming the file and the field, never a crash or a huge allocation.
// Shapes: GGUF lists dims innermost first; Tensor::shape is outermost first (reversed).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <cstring>
#include <type_traits>
#include <vector>

#include "store/tensor_set.h"
#include "util/mapped_file.h"

namespace llmrt::gguf {

enum class ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
std::string_view to_string(ValueType t);

struct Array;
// The variant's index equals the ValueType number.
using Scalar = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string,
                            std::shared_ptr<Array>, uint64_t, int64_t, double>;

struct Value {
  Scalar v;
  ValueType type() const { return static_cast<ValueType>(v.index()); }
  // Conversions that check the type (INVALID_ARGUMENT naming `key` otherwise).
  std::string as_string(std::string_view key) const;
  int64_t as_int(std::string_view key) const;    // any integer type (and bool)
  double as_float(std::string_view key) const;   // any number
  const Array& as_array(std::string_view key) const;
};

// Arrays keep numbers packed (a vocabulary's 128k scores are 512 KiB, not 128k Values).
struct Array {
  ValueType element_type = ValueType::kU8;
  uint64_t count = 0;
  std::vector<std::byte> packed;      // numeric and bool elements, little-endian
  std::vector<std::string> strings;   // kString elements
  std::vector<Array> arrays;          // kArray elements
  double number(uint64_t i) const;    // numeric element i as double
  int64_t integer(uint64_t i) const;  // integer element i
};

struct TensorInfo {
  std::string name;
  Shape shape;         // outermost first
  uint32_t ggml_type;  // may be a type this build cannot decode
  uint64_t offset;     // within the data section
  uint64_t bytes;      // 0 when the type is unknown
};

struct Limits {
  uint64_t max_tensors = 1u << 20;
  uint64_t max_metadata = 1u << 20;
  uint64_t max_array_length = 1u << 27;
  uint64_t max_string_bytes = 1u << 26;
  int max_array_depth = 4;
};

class File {
 public:
  static File read(const std::filesystem::path& path, const Limits& limits = {});

  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;  // where the data section starts in the file
  std::vector<std::pair<std::string, Value>> metadata;  // file order
  std::vector<TensorInfo> tensor_infos;                 // file order

  const Value* find(std::string_view key) const;
  const Value& at(std::string_view key) const;  // NOT_FOUND naming the key and file
  // Tensors as views; UNSUPPORTED naming the tensor and type for a type this build cannot hold.
  TensorSet tensors() const;
  const std::filesystem::path& path() const { return map_->path(); }

 private:
  std::shared_ptr<const MappedFile> map_;
};

// Builds a GGUF file and writes it. Tensors are either copied in (add_tensor) or produced on
// demand while writing (add_deferred_tensor), so a multi-gigabyte model can be written with one
// tensor in memory at a time: write() streams the header, then each tensor and its padding.
class Writer {
 public:
  explicit Writer(uint32_t version = 3, uint64_t alignment = 32);
  void add(std::string key, Value value);  // replaces nothing: duplicate keys are an error
  // `shape` outermost first; bytes must match the type and shape.
  void add_tensor(std::string name, ggml::Type type, Shape shape, std::span<const std::byte> bytes);
  void add_tensor(const Tensor& t);  // plain or GGUF-block tensors
  // `produce` is called once, during write()/bytes(), and must return exactly the bytes the
  // type and shape need (INTERNAL error otherwise).
  using Producer = std::function<std::vector<std::byte>()>;
  void add_deferred_tensor(std::string name, ggml::Type type, Shape shape, Producer produce);
  void write(const std::filesystem::path& path) const;
  std::vector<std::byte> bytes() const;  // the whole file, in memory

 private:
  struct PendingTensor {
    std::string name;
    uint32_t type;
    Shape shape;
    uint64_t size;
    std::vector<std::byte> bytes;  // when copied in
    Producer produce;              // when deferred
  };
  uint64_t checked_size(const std::string& name, ggml::Type type, const Shape& shape) const;
  std::vector<std::byte> header() const;  // everything before the data section, padded
  // Calls sink(bytes) for each tensor's bytes and then its padding, in file order.
  void emit_data(const std::function<void(std::span<const std::byte>)>& sink) const;
  uint32_t version_;
  uint64_t alignment_;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<PendingTensor> tensors_;
};

// Helpers to build values.
Value string_value(std::string s);
Value string_array(const std::vector<std::string>& items);
template <class T> Value number_array(ValueType type, const std::vector<T>& items);

}  // namespace llmrt::gguf

namespace llmrt::gguf {
template <class T>
Value number_array(ValueType type, const std::vector<T>& items) {
  static_assert(std::is_arithmetic_v<T>);
  auto a = std::make_shared<Array>();
  a->element_type = type;
  a->count = items.size();
  a->packed.resize(items.size() * sizeof(T));
  if (!items.empty()) std::memcpy(a->packed.data(), items.data(), a->packed.size());
  return Value{a};
}
}  // namespace llmrt::gguf
