// GGUF/ggml block layouts and scalar reference codecs.
//
// Every block type below is described by a comment giving its byte layout and the decode
// formula. Decoders reproduce ggml's float arithmetic operation for operation (same operand
// order, each product and sum rounded to f32), so they return the floats ggml's C reference
// dequantizers return. That needs the compiler not to fuse a*b + c into an FMA: true for this
// target (baseline x86-64, no -mfma, no -ffast-math); a build that adds FMA flags here should
// add -ffp-contract=off too. (A llama.cpp built with -march=native may itself fuse, and then
// differs from both in the last bit for the "q * d + m" types: Q4_1, Q5_1, Q2_K, Q4_K, Q5_K.)
// All multi-byte fields are little-endian, as in GGUF files; blocks may sit at any address
// (fields are read with memcpy).
//
// Quantizers: the legacy types (Q4_0 ... Q8_0) follow ggml's reference arithmetic; the
// K-quants use a plain min/max scheme per sub-block (ggml searches for better scales, so its
// files have a little less error than ours, but ours are valid blocks in the same layout).
#include "store/ggml_quants.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "util/error.h"
#include "util/half.h"

namespace llmrt::ggml {
namespace {

static_assert(std::endian::native == std::endian::little, "GGUF fields are read as little-endian");

constexpr int kQK = 32;    // elements per legacy block and per MXFP4 block
constexpr int kQKK = 256;  // elements per K-quant super-block

// ---------------------------------------------------------------------------------------------
// Byte access

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
float load_f16(const uint8_t* p) { return f16_to_f32(load_u16(p)); }
void store_u16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, sizeof v); }
void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, sizeof v); }
template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Quantizer helpers

// A block scale as f16; fails when the input is so large that the scale overflows f16 (the
// block would decode to inf/NaN). `first` is the index of the block's first element.
uint16_t f16_scale(float v, const char* type, int64_t first) {
  uint16_t h = f32_to_f16(v);
  if ((h & 0x7C00u) == 0x7C00u) {
    fail(ErrorCode::kInvalidArgument,
         "quantize {}: block at element {} needs scale {} which overflows f16 (input too large)",
         type, first, v);
  }
  return h;
}

// 1/d, or 0 where d is 0 or so small that 1/d overflows (such a d is 0 once stored as f16).
float inverse_or_zero(float d) {
  if (d == 0.0f) return 0.0f;
  float id = 1.0f / d;
  return std::isfinite(id) ? id : 0.0f;
}

// Nearest integer (halves away from zero), clamped to [lo, hi]; clamps before converting so
// that an infinite quotient cannot reach the integer conversion.
int round_clamp(float v, int lo, int hi) {
  v = std::clamp(v, static_cast<float>(lo), static_cast<float>(hi));
  return static_cast<int>(std::lround(v));
}

// The value of largest magnitude, with its sign (the first one on ties).
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  return max;
}

// ---------------------------------------------------------------------------------------------
// Q4_0: 18 bytes = f16 d | u8 qs[16].
// Element j < 16 is the low nibble of qs[j], element j + 16 the high nibble.
// y = (q - 8) * d.
// Quantize (ggml): d = max / -8 with max the signed value of largest magnitude, so that max
// maps to q = 0; q = min(15, trunc(x / d + 8.5)).

void decode_q4_0(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = static_cast<float>((qs[j] & 0xF) - 8) * d;
    y[j + kQK / 2] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

void encode_q4_0(const float* x, uint8_t* b, int64_t first) {
  const float d = signed_absmax(x, kQK) / -8.0f;
  const float id = inverse_or_zero(d);
  store_u16(b, f16_scale(d, "Q4_0", first));
  for (int j = 0; j < kQK / 2; ++j) {
    int lo = std::min(15, static_cast<int>(x[j] * id + 8.5f));
    int hi = std::min(15, static_cast<int>(x[j + kQK / 2] * id + 8.5f));
    b[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

// Q4_1: 20 bytes = f16 d | f16 m | u8 qs[16]; nibbles as Q4_0.
// y = q * d + m.
// Quantize (ggml): m = min, d = (max - min) / 15, q = min(15, trunc((x - min) / d + 0.5)).

void decode_q4_1(const uint8_t* b, float* y) {
  const float d = load_f16(b), m = load_f16(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = static_cast<float>(qs[j] & 0xF) * d + m;
    y[j + kQK / 2] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

void encode_q4_1(const float* x, uint8_t* b, int64_t first) {
  const auto [lo, hi] = std::minmax_element(x, x + kQK);
  const float min = *lo, d = (*hi - min) / 15.0f;
  const float id = inverse_or_zero(d);
  store_u16(b, f16_scale(d, "Q4_1", first));
  store_u16(b + 2, f16_scale(min, "Q4_1", first));
  for (int j = 0; j < kQK / 2; ++j) {
    int q0 = std::min(15, static_cast<int>((x[j] - min) * id + 0.5f));
    int q1 = std::min(15, static_cast<int>((x[j + kQK / 2] - min) * id + 0.5f));
    b[4 + j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

// Q5_0: 22 bytes = f16 d | u8 qh[4] | u8 qs[16].
// qh read as a little-endian u32: bit j is the 5th (value 16) bit of element j, for all 32
// elements; the low 4 bits are nibbles as in Q4_0.
// y = (q - 16) * d.
// Quantize (ggml): d = max / -16, q = min(31, trunc(x / d + 16.5)).

void decode_q5_0(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  const uint32_t qh = load_u32(b + 2);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < kQK / 2; ++j) {
    int q0 = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1u) << 4);
    int q1 = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = static_cast<float>(q0 - 16) * d;
    y[j + kQK / 2] = static_cast<float>(q1 - 16) * d;
  }
}

void encode_q5_0(const float* x, uint8_t* b, int64_t first) {
  const float d = signed_absmax(x, kQK) / -16.0f;
  const float id = inverse_or_zero(d);
  store_u16(b, f16_scale(d, "Q5_0", first));
  uint32_t qh = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    int q0 = std::min(31, static_cast<int>(x[j] * id + 16.5f));
    int q1 = std::min(31, static_cast<int>(x[j + kQK / 2] * id + 16.5f));
    b[6 + j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
    qh |= static_cast<uint32_t>(q0 >> 4) << j;
    qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
  }
  store_u32(b + 2, qh);
}

// Q5_1: 24 bytes = f16 d | f16 m | u8 qh[4] | u8 qs[16]; bits as Q5_0.
// y = q * d + m.
// Quantize (ggml): m = min, d = (max - min) / 31, q = trunc((x - min) / d + 0.5) (<= 31).

void decode_q5_1(const uint8_t* b, float* y) {
  const float d = load_f16(b), m = load_f16(b + 2);
  const uint32_t qh = load_u32(b + 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < kQK / 2; ++j) {
    int q0 = (qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1u) << 4);
    int q1 = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = static_cast<float>(q0) * d + m;
    y[j + kQK / 2] = static_cast<float>(q1) * d + m;
  }
}

void encode_q5_1(const float* x, uint8_t* b, int64_t first) {
  const auto [lo, hi] = std::minmax_element(x, x + kQK);
  const float min = *lo, d = (*hi - min) / 31.0f;
  const float id = inverse_or_zero(d);
  store_u16(b, f16_scale(d, "Q5_1", first));
  store_u16(b + 2, f16_scale(min, "Q5_1", first));
  uint32_t qh = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    int q0 = std::min(31, static_cast<int>((x[j] - min) * id + 0.5f));
    int q1 = std::min(31, static_cast<int>((x[j + kQK / 2] - min) * id + 0.5f));
    b[8 + j] = static_cast<uint8_t>((q0 & 0xF) | ((q1 & 0xF) << 4));
    qh |= static_cast<uint32_t>(q0 >> 4) << j;
    qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
  }
  store_u32(b + 4, qh);
}

// Q8_0: 34 bytes = f16 d | i8 qs[32]. y = q * d.
// Quantize (ggml): d = amax / 127, q = round(x / d) (halves away from zero).
// Q8_1: 36 bytes = f16 d | f16 s | i8 qs[32]; s = d * sum(q) is a dot-product helper and
// plays no part in decoding: y = q * d.
// Q8_K: 292 bytes = f32 d | i8 qs[256] | i16 bsums[16] (sums of 16 q each, again a helper).
// y = d * q.

void decode_q8_0(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

void encode_q8_0(const float* x, uint8_t* b, int64_t first) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = inverse_or_zero(d);
  store_u16(b, f16_scale(d, "Q8_0", first));
  for (int j = 0; j < kQK; ++j) b[2 + j] = static_cast<uint8_t>(round_clamp(x[j] * id, -127, 127));
}

void decode_q8_1(const uint8_t* b, float* y) {
  const float d = load_f16(b);
  for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[4 + j])) * d;
}

void decode_q8_k(const uint8_t* b, float* y) {
  const float d = load<float>(b);
  for (int j = 0; j < kQKK; ++j) y[j] = d * static_cast<float>(static_cast<int8_t>(b[4 + j]));
}

// ---------------------------------------------------------------------------------------------
// K-quants: 256-element super-blocks made of 16 sub-blocks of 16 (Q2_K, Q3_K, Q6_K) or 8 of 32
// (Q4_K, Q5_K). Sub-block scales are small integers multiplied by the super-block's f16 d.
//
// The 2-bit types (Q2_K, Q3_K) share a quant packing: each half of the block (128 elements)
// owns 32 bytes of qs; element e = 128*h + 32*j + l (j < 4, l < 32) is bits 2j..2j+1 of
// qs[32*h + l]. Its sub-block is e / 16.

int q2_packed(const uint8_t* qs, int e) {
  const int h = e / 128, j = (e % 128) / 32, l = e % 32;
  return (qs[32 * h + l] >> (2 * j)) & 3;
}

void put_q2_packed(uint8_t* qs, int e, int q) {
  const int h = e / 128, j = (e % 128) / 32, l = e % 32;
  qs[32 * h + l] = static_cast<uint8_t>(qs[32 * h + l] | (q << (2 * j)));
}

// Asymmetric sub-blocks (Q2_K, Q4_K, Q5_K): per sub-block scale and min with x ~ scale*q - min.
// The range is [min(0, lo), hi]: the stored min is unsigned, so only a non-positive offset can
// be represented (as in ggml).
struct ScaleMin {
  float scale;  // (hi - lo) / levels
  float min;    // -lo >= 0
};

ScaleMin range_scale_min(const float* x, int n, int levels) {
  float lo = std::min(0.0f, *std::min_element(x, x + n));
  float hi = std::max(lo, *std::max_element(x, x + n));
  return {(hi - lo) / static_cast<float>(levels), -lo};
}

// Q2_K: 84 bytes = u8 scales[16] | u8 qs[64] | f16 d | f16 dmin.
// scales[i] (sub-block i of 16): low nibble = scale, high nibble = min.
// y = (d * scale) * q - (dmin * min), q in 0..3 packed as described above.

void decode_q2_k(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* qs = b + 16;
  const float d = load_f16(b + 80), dmin = load_f16(b + 82);
  for (int s = 0; s < 16; ++s) {
    const float dl = d * static_cast<float>(scales[s] & 0xF);
    const float ml = dmin * static_cast<float>(scales[s] >> 4);
    for (int e = 16 * s; e < 16 * s + 16; ++e) y[e] = dl * static_cast<float>(q2_packed(qs, e)) - ml;
  }
}

void encode_q2_k(const float* x, uint8_t* b, int64_t first) {
  std::array<ScaleMin, 16> sm{};
  float max_scale = 0.0f, max_min = 0.0f;
  for (int s = 0; s < 16; ++s) {
    sm[s] = range_scale_min(x + 16 * s, 16, 3);
    max_scale = std::max(max_scale, sm[s].scale);
    max_min = std::max(max_min, sm[s].min);
  }
  std::memset(b, 0, 84);
  const uint16_t d16 = f16_scale(max_scale / 15.0f, "Q2_K", first);
  const uint16_t dmin16 = f16_scale(max_min / 15.0f, "Q2_K", first);
  store_u16(b + 80, d16);
  store_u16(b + 82, dmin16);
  const float d = f16_to_f32(d16), dmin = f16_to_f32(dmin16);
  for (int s = 0; s < 16; ++s) {
    int ls = round_clamp(sm[s].scale * inverse_or_zero(max_scale) * 15.0f, 0, 15);
    int lm = round_clamp(sm[s].min * inverse_or_zero(max_min) * 15.0f, 0, 15);
    b[s] = static_cast<uint8_t>(ls | (lm << 4));
    const float dl = d * static_cast<float>(ls), ml = dmin * static_cast<float>(lm);
    for (int e = 16 * s; e < 16 * s + 16; ++e) {
      int q = dl > 0.0f ? round_clamp((x[e] + ml) / dl, 0, 3) : 0;
      put_q2_packed(b + 16, e, q);
    }
  }
}

// Q3_K: 110 bytes = u8 hmask[32] | u8 qs[64] | u8 scales[12] | f16 d.
// Element e = 128*h + 32*j + l: low 2 bits from qs (packing above); its 3rd bit is bit 4h+j of
// hmask[l]; q = low2 + 4*bit - 4, in -4..3.
// 16 six-bit scales, stored as sc + 32: sub-block i's low 4 bits are the low nibble of
// scales[i] for i < 8 and the high nibble of scales[i - 8] for i >= 8; its high 2 bits are
// bits 2*(i/4)..+1 of scales[8 + i%4].
// y = (d * sc) * q.

int q3_scale(const uint8_t* scales, int i) {
  int low = i < 8 ? scales[i] & 0xF : scales[i - 8] >> 4;
  int high = (scales[8 + i % 4] >> (2 * (i / 4))) & 3;
  return (low | (high << 4)) - 32;
}

void decode_q3_k(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* scales = b + 96;
  const float d = load_f16(b + 108);
  for (int s = 0; s < 16; ++s) {
    const float dl = d * static_cast<float>(q3_scale(scales, s));
    for (int e = 16 * s; e < 16 * s + 16; ++e) {
      const int h = e / 128, j = (e % 128) / 32, l = e % 32;
      const bool high_bit = (hmask[l] >> (4 * h + j)) & 1;
      y[e] = dl * static_cast<float>(q2_packed(qs, e) - (high_bit ? 0 : 4));
    }
  }
}

void encode_q3_k(const float* x, uint8_t* b, int64_t first) {
  // Symmetric: each sub-block's value of largest magnitude maps to q = -4; the sub-block scale
  // of largest magnitude maps to sc = -32.
  std::array<float, 16> scale{};
  float max_scale = 0.0f;
  for (int s = 0; s < 16; ++s) {
    scale[s] = signed_absmax(x + 16 * s, 16) / -4.0f;
    if (std::fabs(scale[s]) > std::fabs(max_scale)) max_scale = scale[s];
  }
  std::memset(b, 0, 110);
  const float iscale = max_scale != 0.0f ? -32.0f / max_scale : 0.0f;
  const uint16_t d16 = f16_scale(max_scale / -32.0f, "Q3_K", first);
  store_u16(b + 108, d16);
  const float d = f16_to_f32(d16);
  uint8_t* scales = b + 96;
  for (int s = 0; s < 16; ++s) {
    const int sc = round_clamp(scale[s] * iscale, -32, 31);
    const int u = sc + 32;
    scales[s % 8] = static_cast<uint8_t>(scales[s % 8] | ((u & 0xF) << (s < 8 ? 0 : 4)));
    scales[8 + s % 4] = static_cast<uint8_t>(scales[8 + s % 4] | ((u >> 4) << (2 * (s / 4))));
    const float dl = d * static_cast<float>(sc);
    for (int e = 16 * s; e < 16 * s + 16; ++e) {
      const int q = (dl != 0.0f ? round_clamp(x[e] / dl, -4, 3) : 0) + 4;  // 0..7
      put_q2_packed(b + 32, e, q & 3);
      const int h = e / 128, j = (e % 128) / 32, l = e % 32;
      b[l] = static_cast<uint8_t>(b[l] | ((q >> 2) << (4 * h + j)));
    }
  }
}

// Q4_K and Q5_K share 12 bytes of 8 six-bit (scale, min) pairs, one per 32-element sub-block:
//   j < 4:  scale = scales[j] & 63,   min = scales[j + 4] & 63
//   j >= 4: scale = (scales[j + 4] & 15) | (scales[j - 4] >> 6) << 4
//           min   = (scales[j + 4] >> 4) | (scales[j] >> 6) << 4
// so bytes 0..3 hold scales 0..3 plus the top bits of scales 4..7, bytes 4..7 mins 0..3 plus
// the top bits of mins 4..7, bytes 8..11 the low nibbles of scales (low) and mins (high) 4..7.

}  // namespace

void k4_scale_min(const uint8_t* s, int j, int* scale, int* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

namespace {

void put_k4_scale_min(uint8_t* s, int j, int scale, int min) {
  if (j < 4) {
    s[j] = static_cast<uint8_t>(s[j] | scale);
    s[j + 4] = static_cast<uint8_t>(s[j + 4] | min);
  } else {
    s[j + 4] = static_cast<uint8_t>((scale & 0xF) | ((min & 0xF) << 4));
    s[j - 4] = static_cast<uint8_t>(s[j - 4] | ((scale >> 4) << 6));
    s[j] = static_cast<uint8_t>(s[j] | ((min >> 4) << 6));
  }
}

// Q4_K: 144 bytes = f16 d | f16 dmin | u8 scales[12] | u8 qs[128].
// Element e = 64*c + 32*hi + l: nibble `hi` (0 low, 1 high) of qs[32*c + l]; sub-block e / 32.
// y = (d * scale) * q - (dmin * min).
// Q5_K: 176 bytes = f16 d | f16 dmin | u8 scales[12] | u8 qh[32] | u8 qs[128].
// As Q4_K, plus a 5th bit (value 16): bit 2*c + hi of qh[l].

template <bool kFiveBit>
void decode_q45_k(const uint8_t* b, float* y) {
  const float d = load_f16(b), dmin = load_f16(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + (kFiveBit ? 48 : 16);
  for (int s = 0; s < 8; ++s) {
    int sc, m;
    k4_scale_min(scales, s, &sc, &m);
    const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
    const int c = s / 2, hi = s % 2;
    for (int l = 0; l < 32; ++l) {
      int q = (qs[32 * c + l] >> (4 * hi)) & 0xF;
      if (kFiveBit) q += ((qh[l] >> (2 * c + hi)) & 1) << 4;
      y[32 * s + l] = dl * static_cast<float>(q) - ml;
    }
  }
}

template <bool kFiveBit>
void encode_q45_k(const float* x, uint8_t* b, int64_t first) {
  const char* name = kFiveBit ? "Q5_K" : "Q4_K";
  const int levels = kFiveBit ? 31 : 15;
  std::array<ScaleMin, 8> sm{};
  float max_scale = 0.0f, max_min = 0.0f;
  for (int s = 0; s < 8; ++s) {
    sm[s] = range_scale_min(x + 32 * s, 32, levels);
    max_scale = std::max(max_scale, sm[s].scale);
    max_min = std::max(max_min, sm[s].min);
  }
  std::memset(b, 0, kFiveBit ? 176 : 144);
  const uint16_t d16 = f16_scale(max_scale / 63.0f, name, first);
  const uint16_t dmin16 = f16_scale(max_min / 63.0f, name, first);
  store_u16(b, d16);
  store_u16(b + 2, dmin16);
  const float d = f16_to_f32(d16), dmin = f16_to_f32(dmin16);
  uint8_t* qh = b + 16;
  uint8_t* qs = b + (kFiveBit ? 48 : 16);
  for (int s = 0; s < 8; ++s) {
    const int ls = round_clamp(sm[s].scale * inverse_or_zero(max_scale) * 63.0f, 0, 63);
    const int lm = round_clamp(sm[s].min * inverse_or_zero(max_min) * 63.0f, 0, 63);
    put_k4_scale_min(b + 4, s, ls, lm);
    const float dl = d * static_cast<float>(ls), ml = dmin * static_cast<float>(lm);
    const int c = s / 2, hi = s % 2;
    for (int l = 0; l < 32; ++l) {
      const int q = dl > 0.0f ? round_clamp((x[32 * s + l] + ml) / dl, 0, levels) : 0;
      qs[32 * c + l] = static_cast<uint8_t>(qs[32 * c + l] | ((q & 0xF) << (4 * hi)));
      if (kFiveBit) qh[l] = static_cast<uint8_t>(qh[l] | ((q >> 4) << (2 * c + hi)));
    }
  }
}

// Q6_K: 210 bytes = u8 ql[128] | u8 qh[64] | i8 scales[16] | f16 d.
// Element e = 128*h + 32*k + l (k < 4, l < 32): low 4 bits are nibble k/2 (0 low, 1 high) of
// ql[64*h + 32*(k%2) + l]; high 2 bits are bits 2k..2k+1 of qh[32*h + l]; q = that - 32, in
// -32..31. Sub-block (of 16) e / 16 has the signed scale scales[e / 16].
// y = (d * scale) * q.

void decode_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = load_f16(b + 208);
  for (int e = 0; e < kQKK; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const int low = (ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0xF;
    const int high = (qh[32 * h + l] >> (2 * k)) & 3;
    y[e] = d * static_cast<float>(scales[e / 16]) * static_cast<float>((low | (high << 4)) - 32);
  }
}

void encode_q6_k(const float* x, uint8_t* b, int64_t first) {
  // Symmetric: each sub-block's value of largest magnitude maps to q = -32; the sub-block scale
  // of largest magnitude maps to -128.
  std::array<float, 16> scale{};
  float max_scale = 0.0f;
  for (int s = 0; s < 16; ++s) {
    scale[s] = signed_absmax(x + 16 * s, 16) / -32.0f;
    if (std::fabs(scale[s]) > std::fabs(max_scale)) max_scale = scale[s];
  }
  std::memset(b, 0, 210);
  const float iscale = max_scale != 0.0f ? -128.0f / max_scale : 0.0f;
  const uint16_t d16 = f16_scale(max_scale / -128.0f, "Q6_K", first);
  store_u16(b + 208, d16);
  const float d = f16_to_f32(d16);
  for (int s = 0; s < 16; ++s) {
    const int sc = round_clamp(scale[s] * iscale, -128, 127);
    b[192 + s] = static_cast<uint8_t>(static_cast<int8_t>(sc));
    const float dl = d * static_cast<float>(sc);
    for (int e = 16 * s; e < 16 * s + 16; ++e) {
      const int q = (dl != 0.0f ? round_clamp(x[e] / dl, -32, 31) : 0) + 32;  // 0..63
      const int h = e / 128, k = (e % 128) / 32, l = e % 32;
      uint8_t& low = b[64 * h + 32 * (k % 2) + l];
      low = static_cast<uint8_t>(low | ((q & 0xF) << (4 * (k / 2))));
      b[128 + 32 * h + l] = static_cast<uint8_t>(b[128 + 32 * h + l] | ((q >> 4) << (2 * k)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// MXFP4 (OCP Microscaling v1.0, as ggml stores it): 17 bytes = u8 e | u8 qs[16].
// e is an E8M0 exponent: scale = 2^(e - 127). Each nibble is an E2M1 code: bit 3 the sign,
// bits 0..2 index {0, 0.5, 1, 1.5, 2, 3, 4, 6}. Nibble order as Q4_0 (element j low nibble of
// qs[j], element j + 16 the high nibble).
// y = value(code) * 2^(e - 127).
// ggml computes this as (2 * value) * 2^(e - 128), the doubled values being integers and the
// halved scale built from bits (e < 2 gives the subnormals 2^-128, 2^-127). Every product is
// exact either way except at e = 255, where 2^(e - 127) is not a float; the doubled form keeps
// code 0 at 0 there (not 0 * inf = NaN), so we use the same form.
//
// Quantize (OCP): shared exponent floor(log2(amax)) - 2 (the largest E2M1 power is 2^2), e =
// that + 127 clamped to [0, 254]; x / 2^(e - 127) goes to the nearest E2M1 value, ties to the
// even code, saturating at 6. An all-zero block gets e = 0.

constexpr std::array<int, 16> kMxfp4Doubled = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

float e8m0_half(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
  return std::bit_cast<float>(bits);
}

void decode_mxfp4(const uint8_t* b, float* y) {
  const float d = e8m0_half(b[0]);
  const uint8_t* qs = b + 1;
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = static_cast<float>(kMxfp4Doubled[qs[j] & 0xF]) * d;
    y[j + kQK / 2] = static_cast<float>(kMxfp4Doubled[qs[j] >> 4]) * d;
  }
}

// The E2M1 code (sign in bit 3) nearest to v, ties to the even code, saturating at +-6.
uint8_t e2m1_code(float v) {
  constexpr std::array<float, 8> kMagnitude = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};
  const float a = std::fabs(v);
  int best = 0;
  for (int c = 1; c < 8; ++c) {
    const float err = std::fabs(a - kMagnitude[c]), best_err = std::fabs(a - kMagnitude[best]);
    if (err < best_err || (err == best_err && c % 2 == 0)) best = c;
  }
  return static_cast<uint8_t>(best == 0 || !std::signbit(v) ? best : best | 8);
}

void encode_mxfp4(const float* x, uint8_t* b, int64_t) {
  float amax = 0.0f;
  for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
  // ilogb is floor(log2) exactly, for subnormals too (log2f can round up just below 2^k).
  const int shared = amax > 0.0f ? std::ilogb(amax) - 2 : -127;
  const int e = std::clamp(shared + 127, 0, 254);
  b[0] = static_cast<uint8_t>(e);
  for (int j = 0; j < kQK / 2; ++j) {
    const uint8_t lo = e2m1_code(std::ldexp(x[j], 127 - e));
    const uint8_t hi = e2m1_code(std::ldexp(x[j + kQK / 2], 127 - e));
    b[1 + j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

// ---------------------------------------------------------------------------------------------
// Plain types: one element per "block".

void decode_f32(const uint8_t* b, float* y) { *y = load<float>(b); }
void decode_f16(const uint8_t* b, float* y) { *y = load_f16(b); }
void decode_bf16(const uint8_t* b, float* y) { *y = bf16_to_f32(load_u16(b)); }
template <class T>
void decode_cast(const uint8_t* b, float* y) {
  *y = static_cast<float>(load<T>(b));
}

void encode_f32(const float* x, uint8_t* b, int64_t) { std::memcpy(b, x, sizeof(float)); }
void encode_f16(const float* x, uint8_t* b, int64_t i) {
  const uint16_t h = f32_to_f16(*x);
  if ((h & 0x7C00u) == 0x7C00u) {
    fail(ErrorCode::kInvalidArgument, "quantize F16: element {} ({}) overflows f16", i, *x);
  }
  store_u16(b, h);
}
void encode_bf16(const float* x, uint8_t* b, int64_t i) {
  const uint16_t h = f32_to_bf16(*x);
  if ((h & 0x7F80u) == 0x7F80u) {
    fail(ErrorCode::kInvalidArgument, "quantize BF16: element {} ({}) overflows bf16", i, *x);
  }
  store_u16(b, h);
}

// ---------------------------------------------------------------------------------------------
// The table

using DecodeFn = void (*)(const uint8_t* src, float* dst);                 // one block
using EncodeFn = void (*)(const float* src, uint8_t* dst, int64_t first);  // one block

struct Codec {
  Type type;
  TypeTraits traits;
  DecodeFn decode;
  EncodeFn encode;  // nullptr: no quantizer
};

constexpr Codec kCodecs[] = {
    {Type::kF32, {"F32", 1, 4, false}, decode_f32, encode_f32},
    {Type::kF16, {"F16", 1, 2, false}, decode_f16, encode_f16},
    {Type::kQ4_0, {"Q4_0", 32, 18, true}, decode_q4_0, encode_q4_0},
    {Type::kQ4_1, {"Q4_1", 32, 20, true}, decode_q4_1, encode_q4_1},
    {Type::kQ5_0, {"Q5_0", 32, 22, true}, decode_q5_0, encode_q5_0},
    {Type::kQ5_1, {"Q5_1", 32, 24, true}, decode_q5_1, encode_q5_1},
    {Type::kQ8_0, {"Q8_0", 32, 34, true}, decode_q8_0, encode_q8_0},
    {Type::kQ8_1, {"Q8_1", 32, 36, true}, decode_q8_1, nullptr},
    {Type::kQ2_K, {"Q2_K", 256, 84, true}, decode_q2_k, encode_q2_k},
    {Type::kQ3_K, {"Q3_K", 256, 110, true}, decode_q3_k, encode_q3_k},
    {Type::kQ4_K, {"Q4_K", 256, 144, true}, decode_q45_k<false>, encode_q45_k<false>},
    {Type::kQ5_K, {"Q5_K", 256, 176, true}, decode_q45_k<true>, encode_q45_k<true>},
    {Type::kQ6_K, {"Q6_K", 256, 210, true}, decode_q6_k, encode_q6_k},
    {Type::kQ8_K, {"Q8_K", 256, 292, true}, decode_q8_k, nullptr},
    {Type::kI8, {"I8", 1, 1, false}, decode_cast<int8_t>, nullptr},
    {Type::kI16, {"I16", 1, 2, false}, decode_cast<int16_t>, nullptr},
    {Type::kI32, {"I32", 1, 4, false}, decode_cast<int32_t>, nullptr},
    {Type::kI64, {"I64", 1, 8, false}, decode_cast<int64_t>, nullptr},
    {Type::kF64, {"F64", 1, 8, false}, decode_cast<double>, nullptr},
    {Type::kBF16, {"BF16", 1, 2, false}, decode_bf16, encode_bf16},
    {Type::kMXFP4, {"MXFP4", 32, 17, true}, decode_mxfp4, encode_mxfp4},
};

const Codec* find_codec(uint32_t type) {
  for (const Codec& c : kCodecs) {
    if (static_cast<uint32_t>(c.type) == type) return &c;
  }
  return nullptr;
}

// Validates a row and returns its codec.
const Codec& checked_row(const char* what, Type type, const void* src, const void* dst, int64_t n) {
  row_bytes(type, n);  // validates the type and n
  if (n > 0 && (src == nullptr || dst == nullptr)) {
    fail(ErrorCode::kInvalidArgument, "{} {}: null {} pointer for {} elements", what,
         find_codec(static_cast<uint32_t>(type))->traits.name, src ? "dst" : "src", n);
  }
  return *find_codec(static_cast<uint32_t>(type));
}

}  // namespace

const TypeTraits* type_traits(uint32_t type) {
  const Codec* c = find_codec(type);
  return c ? &c->traits : nullptr;
}

uint64_t row_bytes(Type type, int64_t n) {
  const TypeTraits* t = type_traits(static_cast<uint32_t>(type));
  if (!t) {
    fail(ErrorCode::kInvalidArgument, "unknown ggml type {} (row of {} elements)",
         static_cast<uint32_t>(type), n);
  }
  if (n < 0) fail(ErrorCode::kInvalidArgument, "negative element count {} for type {}", n, t->name);
  if (n % t->block_elements != 0) {
    fail(ErrorCode::kInvalidArgument, "{} elements of type {} is not a multiple of its block size {}", n,
         t->name, t->block_elements);
  }
  // Capped at INT64_MAX so that callers may hold the size in int64_t / ptrdiff_t / off_t.
  const int64_t blocks = n / t->block_elements;
  if (blocks > std::numeric_limits<int64_t>::max() / t->block_bytes) {
    fail(ErrorCode::kOutOfRange, "{} elements of type {} take more than INT64_MAX bytes", n, t->name);
  }
  return static_cast<uint64_t>(blocks * t->block_bytes);
}

void dequantize_row(Type type, const void* src, float* dst, int64_t n) {
  const Codec& c = checked_row("dequantize", type, src, dst, n);
  const auto* s = static_cast<const uint8_t*>(src);
  const int64_t be = c.traits.block_elements, bb = c.traits.block_bytes;
  for (int64_t i = 0; i < n / be; ++i) c.decode(s + i * bb, dst + i * be);
}

void quantize_row(Type type, const float* src, void* dst, int64_t n) {
  const Codec& c = checked_row("quantize", type, src, dst, n);
  if (!c.encode) fail(ErrorCode::kUnsupported, "quantize: no encoder for type {}", c.traits.name);
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(src[i])) {
      fail(ErrorCode::kInvalidArgument, "quantize {}: element {} is {} (only finite values can be encoded)",
           c.traits.name, i, src[i]);
    }
  }
  auto* d = static_cast<uint8_t*>(dst);
  const int64_t be = c.traits.block_elements, bb = c.traits.block_bytes;
  for (int64_t i = 0; i < n / be; ++i) c.encode(src + i * be, d + i * bb, i * be);
}

}  // namespace llmrt::ggml
