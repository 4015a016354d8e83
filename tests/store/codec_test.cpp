// Our compressed codecs (int8, int4, mxfp4): measured error on random and awkward data with a
// stated bound per codec, exact round trips for representable values, a hand-decoded check of
// each bit layout, and rejection of NaN/inf.
//
// Bounds (asserted below; measured on this data, 64 x 4096 standard normal, seed 42, with
// libstdc++'s mt19937 + normal_distribution, so the measurement is the same on every run):
//   int8 sym per-channel (f32)   SNR >= 40 dB     (measured 41.08)
//   int8 sym group 32 (f16)      SNR >= 45 dB     (measured 45.42)
//   int8 asym per-channel (f32)  SNR >= 41 dB     (measured 41.57)
//   int4 sym group 32 (f16)      SNR >= 20.5 dB   (measured 21.30)
//   int4 sym group 64 (f32)      SNR >= 19.5 dB   (measured 20.42)
//   int4 sym group 128 (f16)     SNR >= 19 dB     (measured 19.70)
//   int4 asym group 32 (f32)     SNR >= 21 dB     (measured 21.82)
//   int4 asym group 128 (f16)    SNR >= 19 dB     (measured 19.93)
//   mxfp4                        SNR >= 18 dB     (measured 18.77)
// Every element, whatever the data: |x - x'| <= scale / 2 (+1 ulp) unless clamped.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "llmrt/error.hpp"
#include "store/codecs.h"
#include "util/half.h"

namespace llmrt {
namespace {

using codec::QuantizeOptions;

std::vector<float> normal_data(size_t n, uint32_t seed = 42, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

double snr_db(const std::vector<float>& ref, const std::vector<float>& got) {
  double signal = 0, noise = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    signal += static_cast<double>(ref[i]) * ref[i];
    double d = static_cast<double>(ref[i]) - got[i];
    noise += d * d;
  }
  return 10.0 * std::log10(signal / noise);
}

struct Case {
  const char* label;
  QuantizeOptions options;
  double min_snr_db;
};

class CodecSnr : public ::testing::TestWithParam<Case> {};

TEST_P(CodecSnr, MeetsItsStatedBoundOnNormalData) {
  const Case& c = GetParam();
  const Shape shape = {64, 4096};
  auto src = normal_data(64 * 4096);
  Tensor q = codec::quantize("w", shape, src, c.options);
  auto back = q.to_f32();
  double snr = snr_db(src, back);
  RecordProperty("snr_db", std::to_string(snr));
  EXPECT_GE(snr, c.min_snr_db) << c.label;
  // And not absurdly high: a codec that stored f32 would pass any lower bound.
  EXPECT_LT(snr, c.min_snr_db + 8) << c.label;
  EXPECT_LT(q.storage_bytes(), src.size() * sizeof(float) / 3) << "not compressed";
}

INSTANTIATE_TEST_SUITE_P(
    Codecs, CodecSnr,
    ::testing::Values(Case{"int8_sym_channel", {StoredType::kInt8Sym, -1, StoredType::kF32}, 40},
                      Case{"int8_sym_g32", {StoredType::kInt8Sym, 32, StoredType::kF16}, 45},
                      Case{"int8_asym_channel", {StoredType::kInt8Asym, -1, StoredType::kF32}, 41},
                      Case{"int4_sym_g32", {StoredType::kInt4Sym, 32, StoredType::kF16}, 20.5},
                      Case{"int4_sym_g64", {StoredType::kInt4Sym, 64, StoredType::kF32}, 19.5},
                      Case{"int4_sym_g128", {StoredType::kInt4Sym, 128, StoredType::kF16}, 19},
                      Case{"int4_asym_g32", {StoredType::kInt4Asym, 32, StoredType::kF32}, 21},
                      Case{"int4_asym_g128", {StoredType::kInt4Asym, 128, StoredType::kF16}, 19},
                      Case{"mxfp4", {StoredType::kMxfp4, 32, StoredType::kF32}, 18}),
    [](const auto& p) { return std::string(p.param.label); });

// The per-element bound, with the scale recomputed here from the definition.
TEST(CodecError, OneOutlierPerGroupKeepsEveryElementWithinHalfAStep) {
  auto src = normal_data(8 * 256, 3, 0.02f);
  for (int g = 0; g < 8 * 256 / 32; ++g) {
    src[static_cast<size_t>(g * 32 + (g * 7) % 32)] = (g % 2 ? -1.0f : 1.0f) * static_cast<float>(3 + g % 5);  // one outlier per group
  }
  for (auto type : {StoredType::kInt8Sym, StoredType::kInt8Asym, StoredType::kInt4Sym, StoredType::kInt4Asym}) {
    Tensor q = codec::quantize("w", {8, 256}, src, {type, 32, StoredType::kF32});
    auto back = q.to_f32();
    for (int64_t g = 0; g < 8 * 256 / 32; ++g) {
      double lo = 0, hi = 0;
      for (int i = 0; i < 32; ++i) {
        lo = std::min<double>(lo, src[g * 32 + i]);
        hi = std::max<double>(hi, src[g * 32 + i]);
      }
      double step = type == StoredType::kInt8Sym    ? std::max(hi, -lo) / 127
                    : type == StoredType::kInt8Asym ? (hi - lo) / 255
                    : type == StoredType::kInt4Sym  ? std::max(hi, -lo) / 8
                                                    : (hi - lo) / 15;
      // int4 sym puts the largest magnitude at -8 steps, so +8 steps clamps to +7: one step.
      double allowed = (type == StoredType::kInt4Sym ? 1.0 : 0.5) * step * (1 + 1e-6) + 1e-30;
      // Asym zero points are rounded, shifting the grid by up to half a step at the ends.
      if (type == StoredType::kInt8Asym || type == StoredType::kInt4Asym) allowed = step * (1 + 1e-6);
      for (int i = 0; i < 32; ++i) {
        ASSERT_LE(std::fabs(src[g * 32 + i] - back[g * 32 + i]), allowed)
            << to_string(type) << " group " << g << " element " << i;
      }
    }
  }
}

TEST(CodecError, AllZerosDecodeToZeros) {
  std::vector<float> zeros(4 * 64, 0.0f);
  for (auto type : {StoredType::kInt8Sym, StoredType::kInt8Asym, StoredType::kInt4Sym, StoredType::kInt4Asym,
                    StoredType::kMxfp4}) {
    for (auto scale_type : {StoredType::kF32, StoredType::kF16}) {
      auto back = codec::quantize("z", {4, 64}, zeros, {type, 32, scale_type}).to_f32();
      for (float v : back) ASSERT_EQ(v, 0.0f) << to_string(type);
    }
  }
}

TEST(CodecError, NanAndInfAreRejectedNamingTheElement) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    std::vector<float> src(2 * 64, 1.0f);
    src[64 + 5] = bad;
    for (auto type : {StoredType::kInt8Sym, StoredType::kInt8Asym, StoredType::kInt4Sym, StoredType::kInt4Asym,
                      StoredType::kMxfp4}) {
      try {
        codec::quantize("blk.3.ffn_up.weight", {2, 64}, src, {type, 32, StoredType::kF32});
        ADD_FAILURE() << to_string(type) << " accepted " << bad;
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
        std::string msg = e.what();
        EXPECT_NE(msg.find("blk.3.ffn_up.weight"), std::string::npos) << msg;
        EXPECT_NE(msg.find("[1, 5]"), std::string::npos) << msg;
      }
    }
  }
}

TEST(CodecError, DenormalInputsStayFiniteAndBounded) {
  std::vector<float> src(64);
  for (int i = 0; i < 64; ++i) src[i] = std::ldexp(static_cast<float>(i - 32), -140);  // f32 subnormals
  for (auto type : {StoredType::kInt8Sym, StoredType::kInt8Asym, StoredType::kInt4Sym, StoredType::kInt4Asym,
                    StoredType::kMxfp4}) {
    auto back = codec::quantize("d", {1, 64}, src, {type, 32, StoredType::kF32}).to_f32();
    double amax = std::ldexp(32.0, -140);
    for (int i = 0; i < 64; ++i) {
      ASSERT_TRUE(std::isfinite(back[i])) << to_string(type);
      if (type == StoredType::kMxfp4) {
        // E8M0 cannot go below 2^-127, so magnitudes under 0.25 * 2^-127 flush to zero
        // (by the spec); these inputs are at most 2^-135.
        ASSERT_EQ(back[i], 0.0f) << "element " << i;
      } else {
        ASSERT_LE(std::fabs(back[i] - src[i]), amax * 0.5) << to_string(type) << " element " << i;
      }
    }
  }
}

TEST(CodecError, F16ScaleOverflowIsAClearError) {
  std::vector<float> src(32, 1e9f);
  try {
    codec::quantize("big", {1, 32}, src, {StoredType::kInt8Sym, 32, StoredType::kF16});
    FAIL() << "accepted a scale f16 cannot hold";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("f16"), std::string::npos);
  }
}

TEST(CodecError, GroupMustDivideColumns) {
  std::vector<float> src(2 * 48, 1.0f);
  EXPECT_THROW(codec::quantize("w", {2, 48}, src, {StoredType::kInt4Sym, 32, StoredType::kF32}), Error);
  EXPECT_THROW(codec::quantize("w", {2, 48}, src, {StoredType::kMxfp4, 32, StoredType::kF32}), Error);
  EXPECT_THROW(codec::quantize("w", {2, 48}, std::span<const float>(src).first(10), {StoredType::kInt8Sym, -1}), Error);
}

// Values on the codec's grid come back exactly.
TEST(CodecExact, RepresentableValuesRoundTrip) {
  // int8 sym: k * s with the largest |k| = 127.
  std::vector<float> v(64);
  const float s = 0.015625f;  // 2^-6: exact in f16 and f32
  for (int i = 0; i < 64; ++i) v[i] = static_cast<float>((i * 37) % 255 - 127) * s;
  v[0] = 127 * s;
  v[32] = -127 * s;
  EXPECT_EQ(codec::quantize("a", {1, 64}, v, {StoredType::kInt8Sym, 32, StoredType::kF16}).to_f32(), v);
  // int4 sym: (q - 8) * d where the group's largest magnitude is -8 * d.
  for (int i = 0; i < 64; ++i) v[i] = static_cast<float>(i % 16 - 8) * 0.25f;
  EXPECT_EQ(codec::quantize("b", {1, 64}, v, {StoredType::kInt4Sym, 32, StoredType::kF16}).to_f32(), v);
  // int4 asym: grid from lo to hi in 15 steps with 0 on it.
  for (int i = 0; i < 64; ++i) v[i] = static_cast<float>(i % 16 - 5) * 0.5f;
  EXPECT_EQ(codec::quantize("c", {1, 64}, v, {StoredType::kInt4Asym, 32, StoredType::kF32}).to_f32(), v);
  // mxfp4: every E2M1 value times 2^k, with ±6 * 2^k present in each block.
  static constexpr float kGrid[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
  for (int k : {-10, 0, 7}) {
    for (int i = 0; i < 64; ++i) v[i] = std::ldexp((i & 8 ? -1.0f : 1.0f) * kGrid[i % 8], k);
    EXPECT_EQ(codec::quantize("d", {1, 64}, v, {StoredType::kMxfp4}).to_f32(), v) << "k=" << k;
  }
}

// The bit layouts, decoded by hand from docs/formats.md, not by the codec.
TEST(CodecLayout, Int4NibblesScalesAndZeroPoints) {
  std::vector<float> v(64);
  for (int i = 0; i < 64; ++i) v[i] = static_cast<float>(i % 16 - 3);
  Tensor q = codec::quantize("w", {1, 64}, v, {StoredType::kInt4Asym, 32, StoredType::kF32});
  ASSERT_EQ(q.data.size(), 32u);
  ASSERT_EQ(q.scales.size(), 2u * 4);
  ASSERT_EQ(q.zero_points.size(), 2u);
  float scale;
  std::memcpy(&scale, q.scales.data(), 4);
  EXPECT_EQ(scale, 1.0f);  // (12 - (-3)) / 15
  EXPECT_EQ(std::to_integer<int>(q.zero_points[0]), 3);
  // element 2j in the low nibble, 2j+1 in the high nibble: elements 4, 5 are 1 and 2 -> q 4, 5
  EXPECT_EQ(std::to_integer<int>(q.data[2]), 4 | (5 << 4));
}

TEST(CodecLayout, Mxfp4ScaleByteAndNibbles) {
  std::vector<float> v(32, 0.0f);
  v[0] = 12.0f;   // max: floor(log2 12) - 2 = 1 -> E8M0 byte 128, 12 / 2 = 6 -> code 7
  v[1] = -1.0f;   // -1 / 2 = -0.5 -> code 0b1001
  v[2] = 2.5f;    // 1.25 -> tie between 1 (code 2) and 1.5 (code 3): even -> 2 -> decodes 2.0
  v[3] = 5.0f;    // 2.5 -> tie between 2 (code 4) and 3 (code 5): even -> 4
  Tensor q = codec::quantize("m", {1, 32}, v, {StoredType::kMxfp4});
  EXPECT_EQ(std::to_integer<int>(q.scales[0]), 128);
  EXPECT_EQ(std::to_integer<int>(q.data[0]), 0x7 | (0x9 << 4));
  EXPECT_EQ(std::to_integer<int>(q.data[1]), 0x2 | (0x4 << 4));
  auto back = q.to_f32();
  EXPECT_EQ(back[2], 2.0f);
  EXPECT_EQ(back[3], 4.0f);
}

TEST(CodecLayout, Mxfp4SaturatesAndNaNScaleDecodesToNaN) {
  EXPECT_EQ(codec::e2m1_encode(7.5), 7);
  EXPECT_EQ(codec::e2m1_encode(-1000.0), 15);
  EXPECT_EQ(codec::e2m1_encode(0.25), 0);  // tie -> even (0)
  EXPECT_EQ(codec::e2m1_encode(0.75), 2);  // tie -> even (1.0)
  EXPECT_EQ(codec::e2m1_encode(1.75), 4);  // tie -> even (2.0)
  EXPECT_TRUE(std::isnan(codec::e8m0_value(0xFF)));
  EXPECT_EQ(codec::e8m0_value(127), 1.0);
  EXPECT_EQ(codec::e8m0_value(0), std::ldexp(1.0, -127));
  // A hand-made tensor whose scale byte is NaN decodes to NaN, not a number.
  std::vector<std::byte> data(16, std::byte{0x22}), scales(1, std::byte{0xFF});
  Tensor t = make_owned_tensor("nan", StoredType::kMxfp4, {1, 32}, data, scales, {}, 32);
  EXPECT_TRUE(std::isnan(t.to_f32()[0]));
}

TEST(CodecLayout, Int8AsymZeroPointAndScalePlanes) {
  std::vector<float> v = {-1.0f, 0.0f, 0.5f, 3.0f};
  Tensor q = codec::quantize("w", {1, 4}, v, {StoredType::kInt8Asym, -1, StoredType::kF16});
  EXPECT_EQ(q.group_size, 4);
  uint16_t h;
  std::memcpy(&h, q.scales.data(), 2);
  EXPECT_EQ(h, f32_to_f16(4.0f / 255.0f));
  double scale = f16_to_f32(h);
  EXPECT_EQ(std::to_integer<int>(q.zero_points[0]), static_cast<int>(std::nearbyint(1.0 / scale)));
  EXPECT_EQ(q.to_f32()[1], 0.0f) << "zero must be exact";
}

}  // namespace
}  // namespace llmrt
