// IEEE 754 binary16 (f16) and bfloat16 conversions, scalar and bit-exact. These are the
// reference for the SIMD row converters in kernels/cpu/convert*.cpp.
//
// f32 -> f16 and f32 -> bf16 round to nearest, ties to even; overflow gives ±inf; NaN stays
// NaN with the quiet bit set (as x86 F16C does). f16 subnormals are produced and read.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace llmrt {

inline float f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  if (exp == 0) {
    // zero or subnormal: mant * 2^-24, exact in f32
    float v = static_cast<float>(mant) * 0x1p-24f;
    return std::bit_cast<float>(std::bit_cast<uint32_t>(v) | sign);
  }
  if (exp == 31) {
    uint32_t nan_bits = mant ? (0x00400000u | (mant << 13)) : 0u;
    return std::bit_cast<float>(sign | 0x7F800000u | nan_bits);
  }
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

inline uint16_t f32_to_f16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  uint32_t a = x & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));  // NaN
  if (a >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520 rounds to inf
  if (a < 0x38800000u) {
    // below 2^-14: f16 subnormal (or zero). Scaling by 2^24 is exact; rint rounds ties to even.
    float scaled = std::bit_cast<float>(a) * 0x1p24f;
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(scaled)));
  }
  uint32_t r = a - 0x38000000u;            // rebias exponent 127 -> 15
  r += 0x0FFFu + ((r >> 13) & 1u);         // round to nearest even on the 13 dropped bits
  return static_cast<uint16_t>(sign | (r >> 13));
}

inline float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);  // quiet NaN
  x += 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

}  // namespace llmrt
