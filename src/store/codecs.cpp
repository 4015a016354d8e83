#include "store/codecs.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "util/error.h"
#include "util/half.h"

namespace llmrt::codec {

int32_t resolve_group(int32_t group_size, int64_t cols) {
  if (group_size == 0 || group_size == -1) return static_cast<int32_t>(cols);
  return group_size;
}

PlaneSizes plane_sizes(const Tensor& t) {
  int64_t cols = t.cols();
  int64_t rows = t.rows();
  int64_t group = t.type == StoredType::kMxfp4 ? 32 : t.group_size;
  if (group <= 0 || cols % group != 0) {
    fail(ErrorCode::kBadFormat, "tensor '{}' ({} {}): group size {} does not divide the {} columns", t.name,
         to_string(t.type), shape_to_string(t.shape), group, cols);
  }
  bool four_bit = t.type == StoredType::kInt4Sym || t.type == StoredType::kInt4Asym || t.type == StoredType::kMxfp4;
  if (four_bit && group % 2 != 0) {
    fail(ErrorCode::kBadFormat, "tensor '{}': 4-bit types need an even group size, not {}", t.name, group);
  }
  uint64_t groups = static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols / group);
  PlaneSizes s;
  s.data = static_cast<uint64_t>(rows) * static_cast<uint64_t>(four_bit ? cols / 2 : cols);
  if (t.type == StoredType::kMxfp4) {
    s.scales = groups;  // one E8M0 byte per block
    return s;
  }
  if (t.scale_type != StoredType::kF32 && t.scale_type != StoredType::kF16) {
    fail(ErrorCode::kBadFormat, "tensor '{}': scales must be f32 or f16, not {}", t.name, to_string(t.scale_type));
  }
  s.scales = groups * static_cast<uint64_t>(plain_element_bytes(t.scale_type));
  if (t.type == StoredType::kInt8Asym || t.type == StoredType::kInt4Asym) s.zero_points = groups;
  return s;
}

Tensor quantize(std::string name, const Shape& shape, std::span<const float> src, const QuantizeOptions& o) {
  int64_t n = checked_numel(shape, name);
  if (static_cast<uint64_t>(n) != src.size()) {
    fail(ErrorCode::kInvalidArgument, "quantize '{}': shape {} has {} elements but {} values were given", name,
         shape_to_string(shape), n, src.size());
  }
  switch (o.type) {
    case StoredType::kInt8Sym:
    case StoredType::kInt8Asym: return quantize_int8(std::move(name), shape, src, o);
    case StoredType::kInt4Sym:
    case StoredType::kInt4Asym: return quantize_int4(std::move(name), shape, src, o);
    case StoredType::kMxfp4: return quantize_mxfp4(std::move(name), shape, src);
    default:
      fail(ErrorCode::kInvalidArgument, "quantize '{}': {} is not a compressed type", name, to_string(o.type));
  }
}

void dequantize_rows(const Tensor& t, int64_t first, int64_t count, float* dst) {
  switch (t.type) {
    case StoredType::kInt8Sym:
    case StoredType::kInt8Asym: return dequantize_int8(t, first, count, dst);
    case StoredType::kInt4Sym:
    case StoredType::kInt4Asym: return dequantize_int4(t, first, count, dst);
    case StoredType::kMxfp4: return dequantize_mxfp4(t, first, count, dst);
    default:
      fail(ErrorCode::kInvalidArgument, "tensor '{}': {} is not a compressed type", t.name, to_string(t.type));
  }
}

PlanarOutput begin_quantize(std::string name, const Shape& shape, std::span<const float> src, StoredType type,
                            int32_t group_size, StoredType scale_type) {
  PlanarOutput out;
  out.layout.name = std::move(name);
  out.layout.type = type;
  out.layout.shape = shape;
  out.layout.scale_type = scale_type;
  out.cols = out.layout.cols();
  out.rows = out.layout.rows();
  out.layout.group_size = resolve_group(group_size, out.cols);
  const PlaneSizes sizes = plane_sizes(out.layout);
  check_finite(src, out.cols, out.layout.name);
  out.group = out.layout.group_size;
  out.groups_per_row = out.cols / out.group;
  out.data.resize(sizes.data);
  out.scales.resize(sizes.scales);
  out.zero_points.resize(sizes.zero_points);
  return out;
}

Tensor PlanarOutput::finish() && {
  return make_owned_tensor(std::move(layout.name), layout.type, std::move(layout.shape), std::move(data),
                           std::move(scales), std::move(zero_points), layout.group_size, layout.scale_type);
}

Range range_with_zero(const float* x, int64_t n) {
  Range r;
  for (int64_t i = 0; i < n; ++i) {
    r.lo = std::min(r.lo, static_cast<double>(x[i]));
    r.hi = std::max(r.hi, static_cast<double>(x[i]));
  }
  return r;
}

void check_finite(std::span<const float> src, int64_t cols, std::string_view tensor_name) {
  for (size_t i = 0; i < src.size(); ++i) {
    if (!std::isfinite(src[i])) {
      fail(ErrorCode::kInvalidArgument, "cannot quantize tensor '{}': element [{}, {}] is {}", tensor_name,
           static_cast<int64_t>(i) / cols, static_cast<int64_t>(i) % cols, src[i]);
    }
  }
}

double store_scale(double scale, StoredType scale_type, std::byte* dst, std::string_view tensor_name) {
  if (scale_type == StoredType::kF16) {
    uint16_t h = f32_to_f16(static_cast<float>(scale));
    if ((h & 0x7C00u) == 0x7C00u) {
      fail(ErrorCode::kInvalidArgument,
           "cannot quantize tensor '{}' with f16 scales: scale {} exceeds the f16 range (use f32 scales)",
           tensor_name, scale);
    }
    std::memcpy(dst, &h, 2);
    return f16_to_f32(h);
  }
  auto f = static_cast<float>(scale);
  std::memcpy(dst, &f, 4);
  return f;
}

float load_scale(const Tensor& t, int64_t group_index) {
  if (t.scale_type == StoredType::kF16) {
    uint16_t h;
    std::memcpy(&h, t.scales.data() + group_index * 2, 2);
    return f16_to_f32(h);
  }
  float f;
  std::memcpy(&f, t.scales.data() + group_index * 4, 4);
  return f;
}

float e2m1_value(uint8_t nibble) {
  static constexpr float kMagnitude[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  float m = kMagnitude[nibble & 7];
  return (nibble & 8) ? -m : m;
}

uint8_t e2m1_encode(double x) {
  uint8_t sign = std::signbit(x) ? 8 : 0;
  double a = std::fabs(x);
  // Nearest of the 8 magnitudes; on a tie the even code (mantissa bit 0).
  uint8_t best = 0;
  double best_err = a;
  for (uint8_t code = 1; code < 8; ++code) {
    double err = std::fabs(a - e2m1_value(code));
    if (err < best_err || (err == best_err && (code & 1) == 0)) {
      best = code;
      best_err = err;
    }
  }
  // A value that rounds to zero gets code 0, not the -0 code 8, as ggml's encoder does, so
  // both decoders (OCP's -0, ggml's +0 for code 8) agree on what we write.
  return best == 0 ? 0 : static_cast<uint8_t>(sign | best);
}

double e8m0_value(uint8_t e) { return e == 0xFF ? std::nan("") : std::ldexp(1.0, static_cast<int>(e) - 127); }

}  // namespace llmrt::codec
