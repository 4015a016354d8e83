// ggml block types: geometry, decoders against hand-built blocks (bytes and expected floats
// worked out by hand from the published layouts) and against a per-element statement of each
// layout, quantizer round trips with a measured error bound, and the error paths.
#include "store/ggml_quants.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "llmrt/error.hpp"
#include "util/half.h"

namespace llmrt::ggml {
namespace {

using Bytes = std::vector<uint8_t>;

// f16 bit patterns used in hand-built blocks.
constexpr uint16_t kHalfQuarter = 0x3400, kHalfHalf = 0x3800, kHalfOne = 0x3C00, kHalfTwo = 0x4000,
                   kHalfMinusTwo = 0xC000;

void put16(Bytes& b, size_t offset, uint16_t v) { std::memcpy(b.data() + offset, &v, 2); }

std::string name_of(Type t) { return std::string(type_traits(static_cast<uint32_t>(t))->name); }

std::vector<float> decode(Type type, const Bytes& src, int64_t n) {
  std::vector<float> dst(static_cast<size_t>(n), -12345.0f);
  dequantize_row(type, src.data(), dst.data(), n);
  return dst;
}

Bytes encode(Type type, const std::vector<float>& src) {
  Bytes dst(row_bytes(type, static_cast<int64_t>(src.size())), 0xAB);
  quantize_row(type, src.data(), dst.data(), static_cast<int64_t>(src.size()));
  return dst;
}

// Runs fn, expects llmrt::Error with `code` and every one of `parts` in its message.
void expect_error(const std::function<void()>& fn, ErrorCode code, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected " << to_string(code);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << " lacks " << p;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Geometry

TEST(GgmlQuants, TraitsMatchGgml) {
  struct Row {
    uint32_t id;
    const char* name;
    int64_t elements, bytes;
    bool quantized;
  };
  const Row rows[] = {
      {0, "F32", 1, 4, false},      {1, "F16", 1, 2, false},       {2, "Q4_0", 32, 18, true},
      {3, "Q4_1", 32, 20, true},    {6, "Q5_0", 32, 22, true},     {7, "Q5_1", 32, 24, true},
      {8, "Q8_0", 32, 34, true},    {9, "Q8_1", 32, 36, true},     {10, "Q2_K", 256, 84, true},
      {11, "Q3_K", 256, 110, true}, {12, "Q4_K", 256, 144, true},  {13, "Q5_K", 256, 176, true},
      {14, "Q6_K", 256, 210, true}, {15, "Q8_K", 256, 292, true},  {24, "I8", 1, 1, false},
      {25, "I16", 1, 2, false},     {26, "I32", 1, 4, false},      {27, "I64", 1, 8, false},
      {28, "F64", 1, 8, false},     {30, "BF16", 1, 2, false},     {39, "MXFP4", 32, 17, true},
  };
  for (const Row& r : rows) {
    const TypeTraits* t = type_traits(r.id);
    ASSERT_NE(t, nullptr) << r.id;
    EXPECT_EQ(t->name, r.name) << r.id;
    EXPECT_EQ(t->block_elements, r.elements) << r.name;
    EXPECT_EQ(t->block_bytes, r.bytes) << r.name;
    EXPECT_EQ(t->quantized, r.quantized) << r.name;
  }
}

TEST(GgmlQuants, UnknownTypeNumbersHaveNoTraits) {
  for (uint32_t id : {4u, 5u, 16u, 20u, 23u, 29u, 31u, 38u, 40u, 1000u, 0xFFFFFFFFu}) {
    EXPECT_EQ(type_traits(id), nullptr) << id;
  }
}

TEST(GgmlQuants, RowBytes) {
  EXPECT_EQ(row_bytes(Type::kQ4_K, 512), 288u);
  EXPECT_EQ(row_bytes(Type::kQ8_0, 96), 102u);
  EXPECT_EQ(row_bytes(Type::kMXFP4, 64), 34u);
  EXPECT_EQ(row_bytes(Type::kF32, 3), 12u);
  EXPECT_EQ(row_bytes(Type::kBF16, 0), 0u);
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(row_bytes(Type::kF64, kMax / 8), static_cast<uint64_t>(kMax / 8 * 8));  // the largest that fits
}

TEST(GgmlQuants, RowBytesErrors) {
  expect_error([] { row_bytes(Type::kQ4_K, 100); }, ErrorCode::kInvalidArgument, {"Q4_K", "100", "256"});
  expect_error([] { row_bytes(Type::kQ8_0, -32); }, ErrorCode::kInvalidArgument, {"Q8_0", "-32"});
  expect_error([] { row_bytes(static_cast<Type>(4), 32); }, ErrorCode::kInvalidArgument, {"4", "32"});
  const int64_t big = std::numeric_limits<int64_t>::max() / 32 * 32;
  expect_error([&] { row_bytes(Type::kQ8_0, big); }, ErrorCode::kOutOfRange, {"Q8_0", std::to_string(big)});
  // Sizes are capped at INT64_MAX bytes.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  expect_error([] { row_bytes(Type::kF64, kMax / 8 + 1); }, ErrorCode::kOutOfRange,
               {"F64", std::to_string(kMax / 8 + 1)});
  expect_error([] { row_bytes(Type::kI64, kMax); }, ErrorCode::kOutOfRange, {"I64"});
}

// ---------------------------------------------------------------------------------------------
// Hand-built blocks

TEST(GgmlQuants, DecodesQ4_0) {
  Bytes b(18, 0x88);  // every q = 8 -> 0
  put16(b, 0, kHalfHalf);
  b[2 + 0] = 0x1F;   // element 0: 15, element 16: 1
  b[2 + 15] = 0x80;  // element 15: 0, element 31: 8
  auto y = decode(Type::kQ4_0, b, 32);
  EXPECT_EQ(y[0], 3.5f);    // (15 - 8) * 0.5
  EXPECT_EQ(y[16], -3.5f);  // (1 - 8) * 0.5
  EXPECT_EQ(y[15], -4.0f);
  EXPECT_EQ(y[31], 0.0f);
  EXPECT_EQ(y[7], 0.0f);
}

TEST(GgmlQuants, DecodesQ4_1) {
  Bytes b(20, 0x00);
  put16(b, 0, kHalfOne);
  put16(b, 2, kHalfMinusTwo);
  b[4 + 3] = 0xA5;
  auto y = decode(Type::kQ4_1, b, 32);
  EXPECT_EQ(y[3], 3.0f);   // 5 * 1 - 2
  EXPECT_EQ(y[19], 8.0f);  // 10 * 1 - 2
  EXPECT_EQ(y[0], -2.0f);
  EXPECT_EQ(y[31], -2.0f);
}

TEST(GgmlQuants, DecodesQ5_0) {
  Bytes b(22, 0x00);
  put16(b, 0, kHalfOne);
  // qh = 0x80100004: 5th bit of elements 2, 20 and 31.
  b[2] = 0x04, b[3] = 0x00, b[4] = 0x10, b[5] = 0x80;
  b[6 + 2] = 0x03;   // element 2: 3 (+16), element 18: 0
  b[6 + 4] = 0x70;   // element 4: 0, element 20: 7 (+16)
  b[6 + 0] = 0xF0;   // element 16: 15, no 5th bit
  b[6 + 15] = 0xF0;  // element 31: 15 (+16)
  auto y = decode(Type::kQ5_0, b, 32);
  EXPECT_EQ(y[2], 3.0f);  // 19 - 16
  EXPECT_EQ(y[18], -16.0f);
  EXPECT_EQ(y[4], -16.0f);
  EXPECT_EQ(y[20], 7.0f);
  EXPECT_EQ(y[16], -1.0f);
  EXPECT_EQ(y[31], 15.0f);
}

TEST(GgmlQuants, DecodesQ5_1) {
  Bytes b(24, 0x00);
  put16(b, 0, kHalfHalf);
  put16(b, 2, kHalfOne);
  b[4] = 0x01, b[7] = 0x80;  // qh bits 0 and 31
  b[8 + 0] = 0x01;           // element 0: 1 (+16), element 16: 0
  b[8 + 15] = 0xF0;          // element 31: 15 (+16)
  auto y = decode(Type::kQ5_1, b, 32);
  EXPECT_EQ(y[0], 9.5f);    // 17 * 0.5 + 1
  EXPECT_EQ(y[16], 1.0f);   // 0 * 0.5 + 1
  EXPECT_EQ(y[31], 16.5f);  // 31 * 0.5 + 1
  EXPECT_EQ(y[15], 1.0f);
}

TEST(GgmlQuants, DecodesQ8Family) {
  Bytes q80(34, 0x00);
  put16(q80, 0, kHalfQuarter);
  q80[2] = 0x80, q80[2 + 31] = 127, q80[2 + 5] = 4;
  auto y = decode(Type::kQ8_0, q80, 32);
  EXPECT_EQ(y[0], -32.0f);
  EXPECT_EQ(y[31], 31.75f);
  EXPECT_EQ(y[5], 1.0f);

  Bytes q81(36, 0x00);
  put16(q81, 0, kHalfTwo);
  put16(q81, 2, 0x7C00);  // s = inf: not used by decoding
  q81[4 + 31] = static_cast<uint8_t>(-3);
  y = decode(Type::kQ8_1, q81, 32);
  EXPECT_EQ(y[31], -6.0f);
  EXPECT_EQ(y[0], 0.0f);

  Bytes q8k(292, 0x00);
  const float half = 0.5f;
  std::memcpy(q8k.data(), &half, 4);
  q8k[4 + 255] = 100, q8k[4] = static_cast<uint8_t>(-1);
  y = decode(Type::kQ8_K, q8k, 256);
  EXPECT_EQ(y[255], 50.0f);
  EXPECT_EQ(y[0], -0.5f);
}

TEST(GgmlQuants, DecodesQ2_K) {
  // scales[16] @0 | qs[64] @16 | d @80 | dmin @82; element e = 128h + 32j + l is bits 2j of
  // qs[32h + l]; sub-block e/16: scale = low nibble, min = high nibble.
  Bytes b(84, 0x00);
  put16(b, 80, kHalfOne);
  put16(b, 82, kHalfHalf);
  b[0] = 0x21, b[16 + 0] = 0x03;         // e=0: 1*3 - 0.5*2 = 2
  b[3] = 0x35, b[16 + 18] = 2 << 2;      // e=50 (j=1, l=18, sub 3): 5*2 - 0.5*3 = 8.5
  b[12] = 0x0A, b[16 + 40] = 3 << 4;     // e=200 (h=1, j=2, l=8, sub 12): 10*3 = 30
  b[15] = 0xF7, b[16 + 63] = 1 << 6;     // e=255 (h=1, j=3, l=31, sub 15): 7*1 - 7.5 = -0.5
  auto y = decode(Type::kQ2_K, b, 256);
  EXPECT_EQ(y[0], 2.0f);
  EXPECT_EQ(y[50], 8.5f);
  EXPECT_EQ(y[200], 30.0f);
  EXPECT_EQ(y[255], -0.5f);
  EXPECT_EQ(y[32], 0.0f);    // sub 2: scales[2] = 0
  EXPECT_EQ(y[241], -7.5f);  // sub 15, q = 0: -min
}

TEST(GgmlQuants, DecodesQ3_K) {
  // hmask[32] @0 | qs[64] @32 | scales[12] @96 | d @108.
  Bytes b(110, 0x00);
  put16(b, 108, kHalfHalf);
  uint8_t* s = b.data() + 96;
  // Six-bit scale i (stored sc + 32): low nibble from s[i] (i < 8) or s[i-8] >> 4, top two
  // bits from s[8 + i%4] >> 2*(i/4).
  s[0] = 0x01, s[8] = 0x02 | 0xC0;  // sub 0: 0x21 = 33 -> 1;   sub 12: 0xF | 3<<4 = 63 -> 31
  s[4] = 0xF0;                      // sub 12 low nibble 15 (sub 4 low nibble 0)
  s[6] = 0x05, s[10] = 0x04;        // sub 6: 5 | 1<<4 = 21 -> -11
  s[7] = 0x40, s[11] = 0x80;        // sub 15: 4 | 2<<4 = 36 -> 4
  b[32 + 0] = 0x03, b[0] = 0x01;    // e=0: low 3, hbit (hmask[0] bit 0) set -> q=3;  0.5*1*3
  b[32 + 17] = 0x01;                // e=17 (sub 1, scale -32): low 1, no hbit -> -3; 0.5*-32*-3
  b[32 + 40] = 0x20, b[8] = 0x40;   // e=200 (h1 j2 l8): low 2, hmask[8] bit 6 -> q=2; 0.5*31*2
  b[32 + 4] = 0xC0;                 // e=100 (h0 j3 l4, sub 6): low 3, no hbit -> -1; 0.5*-11*-1
  auto y = decode(Type::kQ3_K, b, 256);
  EXPECT_EQ(y[0], 1.5f);
  EXPECT_EQ(y[17], 48.0f);
  EXPECT_EQ(y[200], 31.0f);
  EXPECT_EQ(y[100], 5.5f);
  EXPECT_EQ(y[255], -8.0f);  // sub 15 (scale 4), low 0, no hbit -> -4: 0.5*4*-4
}

TEST(GgmlQuants, DecodesQ4_K) {
  // d @0 | dmin @2 | scales[12] @4 | qs[128] @16; element e = 64c + 32hi + l is nibble hi of
  // qs[32c + l]; sub-block e/32.
  Bytes b(144, 0x00);
  put16(b, 0, kHalfOne);
  put16(b, 2, kHalfHalf);
  uint8_t* s = b.data() + 4;
  s[0] = 2, s[4] = 4;                // sub 0: scale 2, min 4
  s[1] = 3;                          // sub 1: scale 3, min 0
  s[10] = 0x31, s[2] = 0x80, s[6] = 0x40;  // sub 6: scale 1 | 2<<4 = 33, min 3 | 1<<4 = 19
  s[11] = 0xA4, s[3] = 0xC0;               // sub 7: scale 4 | 3<<4 = 52, min 10
  b[16 + 0] = 0x05;      // e=0: q 5
  b[16 + 8] = 0x70;      // e=40 (c0 hi1 l8): q 7
  b[16 + 104] = 0x02;    // e=200 (c3 hi0 l8): q 2
  b[16 + 127] = 0xF0;    // e=255 (c3 hi1 l31): q 15
  auto y = decode(Type::kQ4_K, b, 256);
  EXPECT_EQ(y[0], 8.0f);      // 2*5 - 0.5*4
  EXPECT_EQ(y[40], 21.0f);    // 3*7
  EXPECT_EQ(y[200], 56.5f);   // 33*2 - 0.5*19
  EXPECT_EQ(y[255], 775.0f);  // 52*15 - 0.5*10
  EXPECT_EQ(y[1], -2.0f);     // q 0 in sub 0
}

TEST(GgmlQuants, DecodesQ5_K) {
  // d @0 | dmin @2 | scales[12] @4 | qh[32] @16 | qs[128] @48; 5th bit of e = 64c + 32hi + l
  // is bit 2c + hi of qh[l].
  Bytes b(176, 0x00);
  put16(b, 0, kHalfHalf);
  put16(b, 2, kHalfOne);
  uint8_t* s = b.data() + 4;
  uint8_t* qh = b.data() + 16;
  uint8_t* qs = b.data() + 48;
  s[0] = 0x01 | 0x40, s[4] = 3;    // sub 0: scale 1, min 3; top bits of sub 4's scale: 1
  s[3] = 0x04, s[7] = 0x02 | 0x40;  // sub 3: scale 4, min 2; top bits of sub 7's min: 1
  s[8] = 0x25;                      // sub 4: scale 5 | 1<<4 = 21, min 2
  s[11] = 0x02;                     // sub 7: scale 2, min 0 | 1<<4 = 16
  qs[0] = 0x0F, qh[0] = 0x01;       // e=0: 15 + 16
  qs[127] = 0x10, qh[31] = 0x80;    // e=255 (c3 hi1 l31): 1 + 16
  qs[36] = 0x60, qh[4] = 0x08;      // e=100 (c1 hi1 l4): 6 + 16
  qs[66] = 0x09;                    // e=130 (c2 hi0 l2): 9, qh[2] bit 4 clear
  auto y = decode(Type::kQ5_K, b, 256);
  EXPECT_EQ(y[0], 12.5f);   // 0.5*1*31 - 3
  EXPECT_EQ(y[255], 1.0f);  // 0.5*2*17 - 16
  EXPECT_EQ(y[100], 42.0f); // 0.5*4*22 - 2
  EXPECT_EQ(y[130], 92.5f); // 0.5*21*9 - 2
}

TEST(GgmlQuants, DecodesQ6_K) {
  // ql[128] @0 | qh[64] @128 | i8 scales[16] @192 | d @208; e = 128h + 32k + l: low nibble k/2
  // of ql[64h + 32(k%2) + l], high bits 2k of qh[32h + l], q - 32; scale e/16.
  Bytes b(210, 0x00);
  put16(b, 208, kHalfQuarter);
  auto sc = [&](int i, int v) { b[192 + i] = static_cast<uint8_t>(static_cast<int8_t>(v)); };
  b[0] = 0x05, b[128] = 0x03, sc(0, 2);               // e=0: 5 | 3<<4 = 53 -> 21; 0.25*2*21
  b[36] = 0xA0, b[128 + 4] = 0x40, sc(6, -4);         // e=100 (h0 k3 l4): 10 | 1<<4 = 26 -> -6
  b[127] = 0xF0, b[128 + 63] = 0xC0, sc(15, 127);     // e=255 (h1 k3 l31): 63 -> 31
  sc(10, -128);                                       // e=161 (h1 k1 l1): 0 -> -32
  auto y = decode(Type::kQ6_K, b, 256);
  EXPECT_EQ(y[0], 10.5f);
  EXPECT_EQ(y[100], 6.0f);
  EXPECT_EQ(y[255], 984.25f);
  EXPECT_EQ(y[161], 1024.0f);
}

TEST(GgmlQuants, DecodesMxfp4) {
  Bytes b(17, 0x00);
  b[0] = 128;     // scale 2
  b[1] = 0x97;    // element 0: code 7 (6), element 16: code 9 (-0.5)
  b[16] = 0xF1;   // element 15: code 1 (0.5), element 31: code 15 (-6)
  b[5] = 0x0B;    // element 4: code 11 (-1.5)
  auto y = decode(Type::kMXFP4, b, 32);
  EXPECT_EQ(y[0], 12.0f);
  EXPECT_EQ(y[16], -1.0f);
  EXPECT_EQ(y[15], 1.0f);
  EXPECT_EQ(y[31], -12.0f);
  EXPECT_EQ(y[4], -3.0f);
  EXPECT_EQ(y[20], 0.0f);

  // Extreme exponents: e = 0 is 2^-127 (0.5 * that is a subnormal); e = 255 is 2^128, where
  // ggml's doubled form gives 0 (not NaN) for code 0 and inf for 6 * 2^128.
  b[0] = 0;
  y = decode(Type::kMXFP4, b, 32);
  EXPECT_EQ(y[15], std::ldexp(1.0f, -128));
  EXPECT_EQ(y[0], std::ldexp(6.0f, -127));
  b[0] = 255;
  y = decode(Type::kMXFP4, b, 32);
  EXPECT_EQ(y[20], 0.0f);
  EXPECT_EQ(y[15], std::ldexp(1.0f, 127));
  EXPECT_EQ(y[0], std::numeric_limits<float>::infinity());
}

TEST(GgmlQuants, DecodesPlainTypes) {
  Bytes b(8);
  auto one = [&](Type t, const void* v, size_t size) {
    std::memcpy(b.data(), v, size);
    return decode(t, b, 1)[0];
  };
  const float f = -1.25f;
  const uint16_t h = 0xC500, bf = 0x3F80;  // f16 -5, bf16 1
  const double g = 0.1;
  const int8_t i8 = -5;
  const int16_t i16 = -300;
  const int32_t i32 = 123456;
  const int64_t i64 = -(int64_t{1} << 40);
  EXPECT_EQ(one(Type::kF32, &f, 4), -1.25f);
  EXPECT_EQ(one(Type::kF16, &h, 2), -5.0f);
  EXPECT_EQ(one(Type::kBF16, &bf, 2), 1.0f);
  EXPECT_EQ(one(Type::kF64, &g, 8), 0.1f);
  EXPECT_EQ(one(Type::kI8, &i8, 1), -5.0f);
  EXPECT_EQ(one(Type::kI16, &i16, 2), -300.0f);
  EXPECT_EQ(one(Type::kI32, &i32, 4), 123456.0f);
  EXPECT_EQ(one(Type::kI64, &i64, 8), -1099511627776.0f);
}

// ---------------------------------------------------------------------------------------------
// Random blocks against a per-element statement of each layout (every element, every bit
// position), with ggml's operation order. f16 fields are set to random finite values.

float h16(const uint8_t* p) { return f16_to_f32(static_cast<uint16_t>(p[0] | (p[1] << 8))); }

int k4_scale(const uint8_t* s, int j) { return j < 4 ? s[j] & 63 : (s[j + 4] & 15) + 16 * (s[j - 4] >> 6); }
int k4_min(const uint8_t* s, int j) { return j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) + 16 * (s[j] >> 6); }

float oracle(Type t, const uint8_t* b, int e) {
  auto nibble = [](const uint8_t* qs, int i) { return i < 16 ? qs[i] & 15 : qs[i - 16] >> 4; };
  switch (t) {
    case Type::kQ4_0: return static_cast<float>(nibble(b + 2, e) - 8) * h16(b);
    case Type::kQ4_1: return static_cast<float>(nibble(b + 4, e)) * h16(b) + h16(b + 2);
    case Type::kQ5_0: {
      int q = nibble(b + 6, e) + 16 * ((b[2 + e / 8] >> (e % 8)) & 1);
      return static_cast<float>(q - 16) * h16(b);
    }
    case Type::kQ5_1: {
      int q = nibble(b + 8, e) + 16 * ((b[4 + e / 8] >> (e % 8)) & 1);
      return static_cast<float>(q) * h16(b) + h16(b + 2);
    }
    case Type::kQ8_0: return static_cast<float>(static_cast<int8_t>(b[2 + e])) * h16(b);
    case Type::kQ2_K: {
      int h = e / 128, j = e % 128 / 32, l = e % 32, sc = b[e / 16];
      int q = (b[16 + 32 * h + l] >> (2 * j)) & 3;
      return h16(b + 80) * static_cast<float>(sc & 15) * static_cast<float>(q) -
             h16(b + 82) * static_cast<float>(sc >> 4);
    }
    case Type::kQ3_K: {
      int h = e / 128, j = e % 128 / 32, l = e % 32, i = e / 16;
      const uint8_t* s = b + 96;
      int six = (i < 8 ? s[i] & 15 : s[i - 8] >> 4) + 16 * ((s[8 + i % 4] >> (2 * (i / 4))) & 3);
      int q = ((b[32 + 32 * h + l] >> (2 * j)) & 3) + 4 * ((b[l] >> (4 * h + j)) & 1) - 4;
      return h16(b + 108) * static_cast<float>(six - 32) * static_cast<float>(q);
    }
    case Type::kQ4_K:
    case Type::kQ5_K: {
      bool five = t == Type::kQ5_K;
      int c = e / 64, hi = e % 64 / 32, l = e % 32, sub = e / 32;
      int q = (b[(five ? 48 : 16) + 32 * c + l] >> (4 * hi)) & 15;
      if (five) q += 16 * ((b[16 + l] >> (2 * c + hi)) & 1);
      return h16(b) * static_cast<float>(k4_scale(b + 4, sub)) * static_cast<float>(q) -
             h16(b + 2) * static_cast<float>(k4_min(b + 4, sub));
    }
    case Type::kQ6_K: {
      int h = e / 128, k = e % 128 / 32, l = e % 32;
      int low = (b[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 15;
      int high = (b[128 + 32 * h + l] >> (2 * k)) & 3;
      return h16(b + 208) * static_cast<float>(static_cast<int8_t>(b[192 + e / 16])) *
             static_cast<float>(low + 16 * high - 32);
    }
    case Type::kMXFP4: {
      static const float kE2M1[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
      int code = nibble(b + 1, e);
      float v = kE2M1[code & 7] * std::ldexp(1.0f, b[0] - 127);
      return code & 8 && v != 0 ? -v : v;  // ggml's integer table has no -0: code 8 is +0
    }
    default: ADD_FAILURE() << "no oracle"; return 0;
  }
}

TEST(GgmlQuants, DecodesRandomBlocksLikeTheLayoutOracle) {
  struct F16Field {
    Type type;
    std::vector<int> offsets;
  };
  const F16Field types[] = {
      {Type::kQ4_0, {0}},   {Type::kQ4_1, {0, 2}},  {Type::kQ5_0, {0}},      {Type::kQ5_1, {0, 2}},
      {Type::kQ8_0, {0}},   {Type::kQ2_K, {80, 82}}, {Type::kQ3_K, {108}},   {Type::kQ4_K, {0, 2}},
      {Type::kQ5_K, {0, 2}}, {Type::kQ6_K, {208}},   {Type::kMXFP4, {}},
  };
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-2.0f, 2.0f);
  for (const auto& t : types) {
    const TypeTraits* tr = type_traits(static_cast<uint32_t>(t.type));
    const int blocks = 3;
    Bytes b(static_cast<size_t>(tr->block_bytes * blocks));
    for (int rep = 0; rep < 20; ++rep) {
      for (auto& v : b) v = static_cast<uint8_t>(byte(rng));
      for (int k = 0; k < blocks; ++k) {
        const auto base = static_cast<size_t>(k * tr->block_bytes);
        for (int off : t.offsets) put16(b, base + static_cast<size_t>(off), f32_to_f16(scale(rng)));
        if (t.type == Type::kMXFP4) b[base] = static_cast<uint8_t>(byte(rng) % 200 + 27);  // e 27..226
      }
      auto y = decode(t.type, b, tr->block_elements * blocks);
      for (int k = 0; k < blocks; ++k) {
        for (int e = 0; e < tr->block_elements; ++e) {
          const float want = oracle(t.type, b.data() + k * tr->block_bytes, e);
          ASSERT_EQ(std::bit_cast<uint32_t>(y[static_cast<size_t>(k * tr->block_elements + e)]),
                    std::bit_cast<uint32_t>(want))
              << tr->name << " block " << k << " element " << e;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Quantizers

std::vector<float> normal_data(int64_t n, unsigned seed, bool varying_scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> log_scale(-3.0f, 3.0f);
  std::vector<float> x(static_cast<size_t>(n));
  float s = 1.0f;
  for (size_t i = 0; i < x.size(); ++i) {
    if (varying_scale && i % 16 == 0) s = std::exp(log_scale(rng));  // each 16-group its own scale
    x[i] = normal(rng) * s;
  }
  return x;
}

double snr_db(const std::vector<float>& x, const std::vector<float>& y) {
  double signal = 0, noise = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    signal += double(x[i]) * x[i];
    noise += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
  }
  return 10.0 * std::log10(signal / noise);
}

// Types with an encoder, and the SNR (dB) each must reach on 8192 N(0,1) values ("normal") and
// on values whose scale changes every 16 elements by up to e^+-3 ("varying": a wrong sub-block
// scale layout shows up there). Bounds sit about 0.5 dB under what this seed measured
// (normal / varying): Q4_0 21.18/20.64, Q4_1 22.09/20.64, Q5_0 27.36/26.10, Q5_1 28.46/26.77,
// Q8_0 45.28/43.41, Q2_K 9.66/9.46, Q3_K 16.08/16.03, Q4_K 22.05/20.60, Q5_K 28.32/26.72,
// Q6_K 34.52/34.19, MXFP4 18.75/18.18, F16 73.72/73.30, BF16 55.58/55.29.
struct SnrBound {
  Type type;
  double normal_db, varying_db;
};
const SnrBound kSnrBounds[] = {
    {Type::kQ4_0, 20.7, 20.2}, {Type::kQ4_1, 21.6, 20.2}, {Type::kQ5_0, 26.9, 25.6},
    {Type::kQ5_1, 28.0, 26.3}, {Type::kQ8_0, 44.8, 42.9}, {Type::kQ2_K, 9.2, 9.0},
    {Type::kQ3_K, 15.6, 15.5}, {Type::kQ4_K, 21.5, 20.1}, {Type::kQ5_K, 27.8, 26.2},
    {Type::kQ6_K, 34.0, 33.7}, {Type::kMXFP4, 18.3, 17.7}, {Type::kF16, 73.2, 72.8},
    {Type::kBF16, 55.1, 54.8},
};

TEST(GgmlQuants, RoundTripSnr) {
  for (bool varying : {false, true}) {
    const auto x = normal_data(8192, 1234, varying);
    for (const auto& b : kSnrBounds) {
      const auto y = decode(b.type, encode(b.type, x), 8192);
      const double snr = snr_db(x, y);
      const double bound = varying ? b.varying_db : b.normal_db;
      EXPECT_GE(snr, bound) << name_of(b.type) << (varying ? " varying" : " normal");
      if (std::getenv("GGML_QUANTS_PRINT_SNR")) {
        std::printf("%s %s %.2f dB\n", name_of(b.type).c_str(), varying ? "varying" : "normal", snr);
      }
    }
  }
}

// Re-quantizing a decoded row must give back the same bytes where the scale is recovered
// exactly: Q8_0 (amax = 127 d), Q4_0/Q5_0 (the extreme value is -8 d / -16 d), MXFP4 (the
// largest magnitude decodes to 4 or 6 times the scale, which gives the same exponent).
TEST(GgmlQuants, RequantizingDecodedBlocksIsIdentity) {
  const auto x = normal_data(4096, 99, true);
  for (Type t : {Type::kQ8_0, Type::kQ4_0, Type::kQ5_0, Type::kMXFP4, Type::kF16, Type::kBF16}) {
    const Bytes q = encode(t, x);
    const Bytes again = encode(t, decode(t, q, 4096));
    EXPECT_EQ(again, q) << name_of(t);
  }
}

TEST(GgmlQuants, LegacyQuantizersFollowGgmlArithmetic) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);  // -16 .. 15
  // Q4_0: max = -16, d = -16 / -8 = 2, q = min(15, trunc(x/2 + 8.5)).
  Bytes q = encode(Type::kQ4_0, x);
  EXPECT_EQ(q[0] | (q[1] << 8), kHalfTwo);
  EXPECT_EQ(q[2 + 0], 0x80);   // x=-16 -> 0, x=0 -> 8
  EXPECT_EQ(q[2 + 15], 0xF8);  // x=-1 -> trunc(8) = 8, x=15 -> min(15, 16) = 15
  EXPECT_EQ(q[2 + 1], 0x91);   // x=-15 -> trunc(1) = 1, x=1 -> trunc(9) = 9
  // Q8_0: d = 16/127, q = round(x * 127/16).
  q = encode(Type::kQ8_0, x);
  EXPECT_EQ(q[0] | (q[1] << 8), f32_to_f16(16.0f / 127.0f));
  EXPECT_EQ(static_cast<int8_t>(q[2 + 0]), -127);
  EXPECT_EQ(static_cast<int8_t>(q[2 + 17]), 8);     // 7.9375
  EXPECT_EQ(static_cast<int8_t>(q[2 + 31]), 119);   // 119.0625
  EXPECT_EQ(static_cast<int8_t>(q[2 + 14]), -16);   // -15.875
}

TEST(GgmlQuants, ZerosDecodeToZeros) {
  const std::vector<float> zeros(512, 0.0f);
  for (const auto& b : kSnrBounds) {
    const Bytes q = encode(b.type, zeros);
    for (float v : decode(b.type, q, 512)) ASSERT_EQ(v, 0.0f) << name_of(b.type);
  }
  EXPECT_NE(encode(Type::kMXFP4, std::vector<float>(32, 0.0f))[0], 255);  // E8M0 255 is NaN
}

TEST(GgmlQuants, RejectsNonFiniteInputNamingTheElement) {
  const float bad[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                       -std::numeric_limits<float>::infinity()};
  for (const auto& b : kSnrBounds) {
    for (float v : bad) {
      auto x = normal_data(512, 5, false);
      x[300] = v;
      expect_error([&] { encode(b.type, x); }, ErrorCode::kInvalidArgument, {name_of(b.type), "300"});
    }
  }
}

TEST(GgmlQuants, RejectsValuesWhoseScaleOverflowsF16) {
  std::vector<float> x(256, 1.0f);
  x[40] = 1e10f;
  for (Type t : {Type::kQ4_0, Type::kQ4_1, Type::kQ8_0, Type::kQ4_K, Type::kQ6_K}) {
    expect_error([&] { encode(t, x); }, ErrorCode::kInvalidArgument, {name_of(t)});
  }
  expect_error([&] { encode(Type::kF16, x); }, ErrorCode::kInvalidArgument, {"F16", "40"});
  // MXFP4's power-of-two scale covers the whole float range.
  // 1e10 = 1.16 * 2^33: exponent 31, 1e10 / 2^31 = 4.66 rounds to 4.
  EXPECT_EQ(decode(Type::kMXFP4, encode(Type::kMXFP4, x), 256)[40], std::ldexp(1.0f, 33));
}

TEST(GgmlQuants, RowArgumentErrors) {
  std::vector<float> x(256, 1.0f);
  Bytes buf(4096);
  const auto kInvalid = ErrorCode::kInvalidArgument, kUnsupported = ErrorCode::kUnsupported;
  expect_error([&] { quantize_row(Type::kQ8_K, x.data(), buf.data(), 256); }, kUnsupported, {"Q8_K"});
  expect_error([&] { quantize_row(Type::kI32, x.data(), buf.data(), 4); }, kUnsupported, {"I32"});
  expect_error([&] { quantize_row(Type::kQ4_0, x.data(), buf.data(), 40); }, kInvalid, {"Q4_0", "40"});
  expect_error([&] { dequantize_row(Type::kQ6_K, buf.data(), x.data(), 64); }, kInvalid, {"Q6_K", "64"});
  expect_error([&] { dequantize_row(static_cast<Type>(5), buf.data(), x.data(), 32); }, kInvalid, {"5"});
  expect_error([&] { dequantize_row(Type::kQ8_0, nullptr, x.data(), 32); }, kInvalid, {"Q8_0"});
  dequantize_row(Type::kQ8_0, nullptr, nullptr, 0);  // an empty row is fine
}

// ---------------------------------------------------------------------------------------------
// MXFP4 quantizer

TEST(GgmlQuants, Mxfp4RepresentableValuesRoundTripExactly) {
  const float grid[] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (int k : {-127, -20, -1, 0, 3, 100}) {
    std::vector<float> x(32);
    for (int j = 0; j < 32; ++j) x[j] = std::ldexp((j % 2 ? -1.0f : 1.0f) * grid[j % 8], k);
    x[5] = std::ldexp(6.0f, k);  // the block maximum is 6 * 2^k, so the exponent is k
    const Bytes q = encode(Type::kMXFP4, x);
    EXPECT_EQ(q[0], k + 127) << k;
    const auto y = decode(Type::kMXFP4, q, 32);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], x[j]) << "k " << k << " element " << j;
  }
}

TEST(GgmlQuants, Mxfp4RoundsTiesToEvenAndSaturates) {
  // The largest magnitude is 7.5 (in [4, 8)), so the exponent is 0 (scale 1) and 7.5 saturates.
  struct Case {
    float x, want;
  } cases[] = {{7.5f, 6}, {0.25f, 0}, {0.75f, 1}, {1.25f, 1}, {1.75f, 2}, {2.5f, 2}, {3.5f, 4},
               {5.0f, 4}, {-0.25f, 0}, {-2.5f, -2}, {-5.0f, -4}, {-7.0f, -6}, {0.26f, 0.5f},
               {4.9f, 4}, {5.1f, 6}, {2.9f, 3}, {-1.3f, -1.5f}, {0.1f, 0}};
  std::vector<float> x(32, 0.0f);
  for (size_t i = 0; i < std::size(cases); ++i) x[i] = cases[i].x;
  const Bytes q = encode(Type::kMXFP4, x);
  EXPECT_EQ(q[0], 127);
  const auto y = decode(Type::kMXFP4, q, 32);
  for (size_t i = 0; i < std::size(cases); ++i) EXPECT_EQ(y[i], cases[i].want) << cases[i].x;

  // Scaled by 2^-10 the same decisions hold (exponent 117).
  for (float& v : x) v = std::ldexp(v, -10);
  const Bytes q2 = encode(Type::kMXFP4, x);
  EXPECT_EQ(q2[0], 117);
  const auto y2 = decode(Type::kMXFP4, q2, 32);
  for (size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(y2[i], std::ldexp(cases[i].want, -10)) << cases[i].x;
  }
}

}  // namespace
}  // namespace llmrt::ggml
