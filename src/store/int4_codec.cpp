// int4 weights per group of G columns (G even; 32/64/128 in practice), two values per byte:
// within a row, element 2j is the low nibble of byte j and element 2j+1 the high nibble.
//
//   sym:   m = the element of largest magnitude (with its sign); scale = m / -8;
//          q = clamp(round(x / scale) + 8, 0, 15);   x' = (q - 8) * scale
//          (so m itself is exactly -8 * scale; this uses all 16 levels, as GGUF Q4_0 does,
//          and makes Q4_0 blocks map onto int4 sym group 32 without loss)
//   asym:  lo = min(min x, 0), hi = max(max x, 0); scale = (hi - lo) / 15;
//          zp = clamp(round(-lo / scale), 0, 15) stored as one uint8 per group;
//          q = clamp(round(x / scale) + zp, 0, 15);  x' = (q - zp) * scale
// Scales are rounded to their stored type (f32 or f16) before quantizing.
#include <algorithm>
#include <cmath>

#include "store/codecs.h"
#include "util/error.h"

namespace llmrt::codec {

Tensor quantize_int4(std::string name, const Shape& shape, std::span<const float> src, const QuantizeOptions& o) {
  const bool sym = o.type == StoredType::kInt4Sym;
  PlanarOutput out = begin_quantize(std::move(name), shape, src, o.type, o.group_size, o.scale_type);
  const int scale_bytes = plain_element_bytes(o.scale_type);
  std::vector<uint8_t> q(static_cast<size_t>(out.group));
  for (int64_t r = 0; r < out.rows; ++r) {
    for (int64_t g = 0; g < out.groups_per_row; ++g) {
      const int64_t gi = r * out.groups_per_row + g;
      const int64_t first = r * out.cols + g * out.group;
      const float* x = src.data() + first;
      std::byte* scale_dst = out.scales.data() + gi * scale_bytes;
      double scale, zp;
      if (sym) {
        double m = 0;
        for (int64_t i = 0; i < out.group; ++i) {
          if (std::fabs(x[i]) > std::fabs(m)) m = x[i];
        }
        scale = store_scale(m / -8.0, o.scale_type, scale_dst, out.layout.name);
        zp = 8;
      } else {
        const Range range = range_with_zero(x, out.group);
        scale = store_scale((range.hi - range.lo) / 15.0, o.scale_type, scale_dst, out.layout.name);
        zp = scale != 0 ? std::clamp(std::nearbyint(-range.lo / scale), 0.0, 15.0) : 0.0;
        out.zero_points[static_cast<size_t>(gi)] = static_cast<std::byte>(static_cast<uint8_t>(zp));
      }
      const double inv = scale != 0 ? 1.0 / scale : 0.0;
      for (int64_t i = 0; i < out.group; ++i) {
        q[static_cast<size_t>(i)] = static_cast<uint8_t>(std::clamp(std::nearbyint(x[i] * inv) + zp, 0.0, 15.0));
      }
      std::byte* dst = out.data.data() + first / 2;
      for (int64_t j = 0; j < out.group / 2; ++j) {
        dst[j] = static_cast<std::byte>(q[static_cast<size_t>(2 * j)] | (q[static_cast<size_t>(2 * j + 1)] << 4));
      }
    }
  }
  return std::move(out).finish();
}

void dequantize_int4(const Tensor& t, int64_t first_row, int64_t n_rows, float* dst) {
  const bool sym = t.type == StoredType::kInt4Sym;
  const int64_t cols = t.cols(), group = t.group_size, groups_per_row = cols / group;
  for (int64_t r = first_row; r < first_row + n_rows; ++r) {
    float* row_dst = dst + (r - first_row) * cols;
    for (int64_t g = 0; g < groups_per_row; ++g) {
      const int64_t gi = r * groups_per_row + g;
      const float scale = load_scale(t, gi);
      const int zp = sym ? 8 : std::to_integer<int>(t.zero_points[static_cast<size_t>(gi)]);
      const int64_t first = r * cols + g * group;
      for (int64_t i = 0; i < group; ++i) {
        uint8_t byte = std::to_integer<uint8_t>(t.data[static_cast<size_t>((first + i) / 2)]);
        int q = (i % 2 == 0) ? (byte & 0x0F) : (byte >> 4);
        row_dst[g * group + i] = static_cast<float>(q - zp) * scale;
      }
    }
  }
}

}  // namespace llmrt::codec
