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
  Tensor layout;
  layout.name = name;
  layout.type = o.type;
  layout.shape = shape;
  layout.scale_type = o.scale_type;
  const int64_t cols = layout.cols(), rows = layout.rows();
  layout.group_size = resolve_group(o.group_size, cols);
  const PlaneSizes sizes = plane_sizes(layout);
  check_finite(src, cols, name);

  std::vector<std::byte> data(sizes.data), scales(sizes.scales), zeros(sizes.zero_points);
  const int64_t group = layout.group_size, groups_per_row = cols / group;
  const int scale_bytes = plain_element_bytes(o.scale_type);
  std::vector<uint8_t> q(static_cast<size_t>(group));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups_per_row; ++g) {
      const int64_t gi = r * groups_per_row + g;
      const float* x = src.data() + r * cols + g * group;
      double scale, zp;
      if (sym) {
        double m = 0;
        for (int64_t i = 0; i < group; ++i) {
          if (std::fabs(x[i]) > std::fabs(m)) m = x[i];
        }
        scale = store_scale(m / -8.0, o.scale_type, scales.data() + gi * scale_bytes, name);
        zp = 8;
      } else {
        double lo = 0, hi = 0;
        for (int64_t i = 0; i < group; ++i) {
          lo = std::min(lo, static_cast<double>(x[i]));
          hi = std::max(hi, static_cast<double>(x[i]));
        }
        scale = store_scale((hi - lo) / 15.0, o.scale_type, scales.data() + gi * scale_bytes, name);
        zp = scale != 0 ? std::clamp(std::nearbyint(-lo / scale), 0.0, 15.0) : 0.0;
        zeros[static_cast<size_t>(gi)] = static_cast<std::byte>(static_cast<uint8_t>(zp));
      }
      const double inv = scale != 0 ? 1.0 / scale : 0.0;
      for (int64_t i = 0; i < group; ++i) {
        q[static_cast<size_t>(i)] = static_cast<uint8_t>(std::clamp(std::nearbyint(x[i] * inv) + zp, 0.0, 15.0));
      }
      std::byte* dst = data.data() + (r * cols + g * group) / 2;
      for (int64_t j = 0; j < group / 2; ++j) {
        dst[j] = static_cast<std::byte>(q[static_cast<size_t>(2 * j)] | (q[static_cast<size_t>(2 * j + 1)] << 4));
      }
    }
  }
  return make_owned_tensor(std::move(name), o.type, shape, std::move(data), std::move(scales), std::move(zeros),
                           layout.group_size, o.scale_type);
}

void dequantize_int4(const Tensor& t, float* dst) {
  t.validate();
  const bool sym = t.type == StoredType::kInt4Sym;
  const int64_t cols = t.cols(), rows = t.rows(), group = t.group_size, groups_per_row = cols / group;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups_per_row; ++g) {
      const int64_t gi = r * groups_per_row + g;
      const float scale = load_scale(t, gi);
      const int zp = sym ? 8 : std::to_integer<int>(t.zero_points[static_cast<size_t>(gi)]);
      const int64_t first = r * cols + g * group;
      for (int64_t i = 0; i < group; ++i) {
        uint8_t byte = std::to_integer<uint8_t>(t.data[static_cast<size_t>((first + i) / 2)]);
        int q = (i % 2 == 0) ? (byte & 0x0F) : (byte >> 4);
        dst[first + i] = static_cast<float>(q - zp) * scale;
      }
    }
  }
}

}  // namespace llmrt::codec
