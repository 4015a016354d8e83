// int8 weights, per output channel (one group per row) or per group of G columns.
//
//   sym:   scale = max|x| / 127;            q = clamp(round(x / scale), -127, 127)   (int8)
//          x' = q * scale
//   asym:  lo = min(min x, 0), hi = max(max x, 0); scale = (hi - lo) / 255;
//          zp = clamp(round(-lo / scale), 0, 255);  q = clamp(round(x / scale) + zp, 0, 255)   (uint8)
//          x' = (q - zp) * scale
// The range always contains 0, so zeros (padding, pruned weights) are exact. A group of all
// zeros gets scale 0 and decodes to zeros. The scale is rounded to its stored type (f32 or
// f16) before quantizing, so the decoder sees exactly the scale the encoder used.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "store/codecs.h"
#include "util/error.h"

namespace llmrt::codec {

Tensor quantize_int8(std::string name, const Shape& shape, std::span<const float> src, const QuantizeOptions& o) {
  const bool sym = o.type == StoredType::kInt8Sym;
  PlanarOutput out = begin_quantize(std::move(name), shape, src, o.type, o.group_size, o.scale_type);
  const int scale_bytes = plain_element_bytes(o.scale_type);
  for (int64_t r = 0; r < out.rows; ++r) {
    for (int64_t g = 0; g < out.groups_per_row; ++g) {
      const int64_t gi = r * out.groups_per_row + g;
      const int64_t first = r * out.cols + g * out.group;
      const float* x = src.data() + first;
      const Range range = range_with_zero(x, out.group);
      double scale = sym ? std::max(range.hi, -range.lo) / 127.0 : (range.hi - range.lo) / 255.0;
      scale = store_scale(scale, o.scale_type, out.scales.data() + gi * scale_bytes, out.layout.name);
      const double inv = scale > 0 ? 1.0 / scale : 0.0;
      std::byte* q = out.data.data() + first;
      if (sym) {
        for (int64_t i = 0; i < out.group; ++i) {
          double v = std::clamp(std::nearbyint(x[i] * inv), -127.0, 127.0);
          q[i] = static_cast<std::byte>(static_cast<int8_t>(v));
        }
      } else {
        double zp = scale > 0 ? std::clamp(std::nearbyint(-range.lo * inv), 0.0, 255.0) : 0.0;
        out.zero_points[static_cast<size_t>(gi)] = static_cast<std::byte>(static_cast<uint8_t>(zp));
        for (int64_t i = 0; i < out.group; ++i) {
          double v = std::clamp(std::nearbyint(x[i] * inv) + zp, 0.0, 255.0);
          q[i] = static_cast<std::byte>(static_cast<uint8_t>(v));
        }
      }
    }
  }
  return std::move(out).finish();
}

void dequantize_int8(const Tensor& t, int64_t first_row, int64_t n_rows, float* dst) {
  const bool sym = t.type == StoredType::kInt8Sym;
  const int64_t cols = t.cols(), group = t.group_size, groups_per_row = cols / group;
  for (int64_t r = first_row; r < first_row + n_rows; ++r) {
    float* row_dst = dst + (r - first_row) * cols;
    for (int64_t g = 0; g < groups_per_row; ++g) {
      const int64_t gi = r * groups_per_row + g;
      const float scale = load_scale(t, gi);
      const int zp = sym ? 0 : std::to_integer<int>(t.zero_points[static_cast<size_t>(gi)]);
      const std::byte* q = t.data.data() + r * cols + g * group;
      float* y = row_dst + g * group;
      for (int64_t i = 0; i < group; ++i) {
        int v = sym ? static_cast<int8_t>(std::to_integer<uint8_t>(q[i])) : std::to_integer<int>(q[i]) - zp;
        y[i] = static_cast<float>(v) * scale;
      }
    }
  }
}

}  // namespace llmrt::codec
