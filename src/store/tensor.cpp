#include "store/tensor.h"

#include <cstring>

#include "kernels/cpu/convert.h"
#include "store/codecs.h"
#include "util/error.h"

namespace llmrt {

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += fmt::format("{}{}", i ? ", " : "", shape[i]);
  return s + "]";
}

int64_t checked_numel(const Shape& shape, std::string_view what) {
  constexpr int64_t kMaxElements = int64_t{1} << 48;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(ErrorCode::kBadFormat, "{}: negative dimension in shape {}", what, shape_to_string(shape));
    if (d != 0 && n > kMaxElements / d) {
      fail(ErrorCode::kBadFormat, "{}: shape {} has more than 2^48 elements", what, shape_to_string(shape));
    }
    n *= d;
  }
  return n;
}

int64_t Tensor::numel() const { return checked_numel(shape, name); }
int64_t Tensor::cols() const { return shape.empty() ? 1 : shape.back(); }
int64_t Tensor::rows() const {
  int64_t c = cols();
  return c == 0 ? 0 : numel() / c;
}

PlaneSizes Tensor::expected_sizes() const {
  int64_t n = numel();
  switch (family(type)) {
    case TypeFamily::kPlain:
      return {static_cast<uint64_t>(n) * static_cast<uint64_t>(plain_element_bytes(type)), 0, 0};
    case TypeFamily::kGgufBlock: {
      if (n == 0) return {};
      ggml::Type g = *to_ggml(type);
      if (cols() % ggml::type_traits(static_cast<uint32_t>(g))->block_elements != 0) {
        fail(ErrorCode::kBadFormat, "tensor '{}': {} rows need a multiple of {} elements, but shape {} has {}", name,
             to_string(type), ggml::type_traits(static_cast<uint32_t>(g))->block_elements, shape_to_string(shape), cols());
      }
      return {ggml::row_bytes(g, cols()) * static_cast<uint64_t>(rows()), 0, 0};
    }
    case TypeFamily::kCompressed:
      return codec::plane_sizes(*this);
  }
  return {};
}

void Tensor::validate() const {
  PlaneSizes want = expected_sizes();
  auto check = [&](std::span<const std::byte> plane, uint64_t expected, std::string_view plane_name) {
    if (plane.size() != expected) {
      fail(ErrorCode::kBadFormat, "tensor '{}' ({} {}): {} has {} bytes, expected {}", name, to_string(type),
           shape_to_string(shape), plane_name, plane.size(), expected);
    }
  };
  check(data, want.data, "data");
  check(scales, want.scales, "scales");
  check(zero_points, want.zero_points, "zero points");
}

void Tensor::dequantize(float* dst) const {
  validate();
  dequantize_rows(0, rows(), dst);
}

void Tensor::dequantize_rows(int64_t first, int64_t count, float* dst) const {
  const int64_t n_rows = rows(), c = cols();
  if (first < 0 || count < 0 || first > n_rows || count > n_rows - first) {
    fail(ErrorCode::kOutOfRange, "tensor '{}': rows [{}, {}) outside its {} rows", name, first, first + count, n_rows);
  }
  if (count == 0 || c == 0) return;
  const size_t n = static_cast<size_t>(count * c);
  const size_t offset = static_cast<size_t>(first * c);
  switch (type) {
    case StoredType::kF32:
      std::memcpy(dst, data.data() + offset * 4, n * 4);
      return;
    case StoredType::kF16:
      kernels::f16_to_f32(reinterpret_cast<const uint16_t*>(data.data()) + offset, dst, n);
      return;
    case StoredType::kBF16:
      kernels::bf16_to_f32(reinterpret_cast<const uint16_t*>(data.data()) + offset, dst, n);
      return;
    case StoredType::kU8:
      for (size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(std::to_integer<uint8_t>(data[offset + i]));
      return;
    default:
      break;
  }
  if (family(type) == TypeFamily::kCompressed) {
    codec::dequantize_rows(*this, first, count, dst);
    return;
  }
  // Remaining plain types and GGUF blocks: ggml's reference decoders, a row at a time.
  ggml::Type g = *to_ggml(type);
  uint64_t row_bytes = ggml::row_bytes(g, c);
  for (int64_t r = 0; r < count; ++r) {
    ggml::dequantize_row(g, data.data() + static_cast<uint64_t>(first + r) * row_bytes, dst + r * c, c);
  }
}

std::vector<float> Tensor::to_f32() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  dequantize(out.data());
  return out;
}

std::shared_ptr<const void> Tensor::repacked(std::string_view key,
                                             FunctionRef<std::shared_ptr<const void>()> make) const {
  std::lock_guard lock(repack_cache_->mutex);
  auto it = repack_cache_->entries.find(key);
  if (it != repack_cache_->entries.end()) return it->second;
  std::shared_ptr<const void> built = make();
  if (!built) fail(ErrorCode::kInternal, "tensor '{}': repack '{}' produced nothing", name, key);
  repack_cache_->entries.emplace(std::string(key), built);
  return built;
}

namespace {
struct OwnedPlanes {
  std::vector<std::byte> data, scales, zero_points;
};
}  // namespace

Tensor make_owned_tensor(std::string name, StoredType type, Shape shape, std::vector<std::byte> data,
                         std::vector<std::byte> scales, std::vector<std::byte> zero_points, int32_t group_size,
                         StoredType scale_type) {
  auto planes = std::make_shared<OwnedPlanes>(OwnedPlanes{std::move(data), std::move(scales), std::move(zero_points)});
  Tensor t;
  t.name = std::move(name);
  t.type = type;
  t.shape = std::move(shape);
  t.group_size = group_size;
  t.scale_type = scale_type;
  t.data = planes->data;
  t.scales = planes->scales;
  t.zero_points = planes->zero_points;
  t.owner = planes;
  t.validate();
  return t;
}

Tensor make_f32_tensor(std::string name, Shape shape, std::span<const float> values) {
  std::vector<std::byte> bytes(values.size_bytes());
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return make_owned_tensor(std::move(name), StoredType::kF32, std::move(shape), std::move(bytes));
}

}  // namespace llmrt
