// Tensor: a named, typed view of weight bytes that live elsewhere — normally in a
// memory-mapped model file, so loading a model copies nothing. `owner` keeps that memory
// alive; copies of a Tensor are cheap views sharing the same bytes and the same repack cache.
//
// Layout: row-major, the last dimension contiguous. For weight matrices [rows, cols] a row is
// one output channel and groups run along cols. Compressed types have up to three planes
// (docs/formats.md): `data` (quantized values), `scales` ([rows, cols/group] of f32 or f16, or
// E8M0 bytes for mxfp4) and `zero_points` ([rows, cols/group] uint8, asym types only).
//
// Thread-safety: a Tensor is immutable except for its repack cache, which is internally
// locked; any number of threads may use one Tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/stored_type.h"
#include "util/threads.h"

namespace llmrt {

using Shape = std::vector<int64_t>;

std::string shape_to_string(const Shape& shape);
// Product of dims; BAD_FORMAT naming `what` for a negative dim or a product above 2^48.
int64_t checked_numel(const Shape& shape, std::string_view what);

struct PlaneSizes {
  uint64_t data = 0, scales = 0, zero_points = 0;
};

class Tensor {
 public:
  std::string name;
  StoredType type = StoredType::kF32;
  Shape shape;
  int32_t group_size = 0;                 // compressed types: elements per group along cols
  StoredType scale_type = StoredType::kF32;  // int8/int4: kF32 or kF16 (mxfp4: E8M0, ignored)
  std::span<const std::byte> data, scales, zero_points;
  std::shared_ptr<const void> owner;      // keeps the bytes alive (a MappedFile, a heap buffer)
  bool file_mapped = false;               // the planes are pages of a read-only file mapping

  int64_t numel() const;
  int64_t cols() const;  // last dimension (1 for a scalar)
  int64_t rows() const;  // numel / cols
  uint64_t storage_bytes() const { return data.size() + scales.size() + zero_points.size(); }

  // The plane sizes this tensor's type, shape and grouping require.
  PlaneSizes expected_sizes() const;
  // Checks type/shape/grouping/plane sizes agree; BAD_FORMAT naming the tensor otherwise.
  void validate() const;

  // Reference decode of every element to f32 (row by row, in the tensor's order).
  void dequantize(float* dst) const;
  // Rows [first, first + count) only (a row is the last dimension); OUT_OF_RANGE naming the
  // tensor when the range is not inside it.
  void dequantize_rows(int64_t first, int64_t count, float* dst) const;
  std::vector<float> to_f32() const;

  // A plugin's own layout of this tensor, built once by `make` and kept for the tensor's
  // lifetime under `key` (e.g. "cpu.avx512.int4.n16"). Concurrent callers with the same key
  // wait for one build.
  std::shared_ptr<const void> repacked(std::string_view key, FunctionRef<std::shared_ptr<const void>()> make) const;

 private:
  struct RepackCache {
    std::mutex mutex;
    std::map<std::string, std::shared_ptr<const void>, std::less<>> entries;
  };
  std::shared_ptr<RepackCache> repack_cache_ = std::make_shared<RepackCache>();
};

// A tensor that owns its planes on the heap (codec output, converted tensors, tests).
Tensor make_owned_tensor(std::string name, StoredType type, Shape shape, std::vector<std::byte> data,
                         std::vector<std::byte> scales = {}, std::vector<std::byte> zero_points = {},
                         int32_t group_size = 0, StoredType scale_type = StoredType::kF32);

// f32 data as an owned f32 tensor (tests and converters).
Tensor make_f32_tensor(std::string name, Shape shape, std::span<const float> values);

}  // namespace llmrt
