// MXFP4 per the OCP Microscaling Formats (MX) specification v1.0: blocks of 32 values along
// a row; each value an E2M1 (FP4) nibble, each block one shared E8M0 scale byte. 4.25 bits
// per value. Nibbles are packed like int4 (element 2j low nibble of byte j, 2j+1 high).
//
//   E2M1 magnitudes: 0, 0.5, 1, 1.5, 2, 3, 4, 6 (bit 3 is the sign).
//   shared exponent e = floor(log2(max|x|)) - 2   (2 = emax of E2M1, the exponent of 4 and 6)
//   E8M0 byte = e + 127, clamped to [0, 254]; 0xFF is NaN and never written.
//   value = round_to_nearest_even_E2M1(x / 2^e), saturating at ±6;  x' = value * 2^e
// A block of zeros gets exponent -127 (byte 0). The exact binary exponent is taken with
// frexp, not a floating log2, so powers of two land in the right binade.
#include <algorithm>
#include <cmath>

#include "store/codecs.h"
#include "util/error.h"

namespace llmrt::codec {

namespace {
constexpr int64_t kBlock = 32;
}

Tensor quantize_mxfp4(std::string name, const Shape& shape, std::span<const float> src) {
  PlanarOutput out = begin_quantize(std::move(name), shape, src, StoredType::kMxfp4, kBlock, StoredType::kF32);
  for (int64_t r = 0; r < out.rows; ++r) {
    for (int64_t b = 0; b < out.groups_per_row; ++b) {
      const int64_t first = r * out.cols + b * kBlock;
      const float* x = src.data() + first;
      double amax = 0;
      for (int64_t i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(static_cast<double>(x[i])));
      int e = -127;
      if (amax > 0) {
        int exp2 = 0;
        std::frexp(amax, &exp2);  // amax = m * 2^exp2 with m in [0.5, 1): floor(log2(amax)) = exp2 - 1
        e = std::clamp(exp2 - 1 - 2, -127, 127);
      }
      out.scales[static_cast<size_t>(r * out.groups_per_row + b)] = static_cast<std::byte>(e + 127);
      std::byte* dst = out.data.data() + first / 2;
      for (int64_t j = 0; j < kBlock / 2; ++j) {
        uint8_t lo = e2m1_encode(std::ldexp(static_cast<double>(x[2 * j]), -e));
        uint8_t hi = e2m1_encode(std::ldexp(static_cast<double>(x[2 * j + 1]), -e));
        dst[j] = static_cast<std::byte>(lo | (hi << 4));
      }
    }
  }
  return std::move(out).finish();
}

void dequantize_mxfp4(const Tensor& t, int64_t first_row, int64_t n_rows, float* dst) {
  const int64_t cols = t.cols(), blocks_per_row = cols / kBlock;
  for (int64_t r = first_row; r < first_row + n_rows; ++r) {
    float* row_dst = dst + (r - first_row) * cols;
    for (int64_t b = 0; b < blocks_per_row; ++b) {
      const double scale = e8m0_value(std::to_integer<uint8_t>(t.scales[static_cast<size_t>(r * blocks_per_row + b)]));
      const int64_t first = r * cols + b * kBlock;
      for (int64_t i = 0; i < kBlock; ++i) {
        uint8_t byte = std::to_integer<uint8_t>(t.data[static_cast<size_t>((first + i) / 2)]);
        uint8_t nibble = (i % 2 == 0) ? (byte & 0x0F) : (byte >> 4);
        row_dst[b * kBlock + i] = static_cast<float>(e2m1_value(nibble) * scale);
      }
    }
  }
}

}  // namespace llmrt::codec
