// The f16/bf16 converters: the scalar reference (util/half.h) against an independent float64
// model of the formats, then every SIMD variant this CPU can run against the scalar one, bit
// for bit.
#include "kernels/cpu/convert.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "util/half.h"

namespace llmrt {
namespace {

// binary16 decoded by the textbook formula, in double.
double f16_value(uint16_t h) {
  int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
  double v;
  if (exp == 0) v = std::ldexp(mant, -24);
  else if (exp == 31) v = mant ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else v = std::ldexp(1024 + mant, exp - 25);
  return sign ? -v : v;
}

// The nearest binary16 to x (ties to the even encoding), found by searching all finite
// positive encodings in double: slow, obviously right.
uint16_t f16_nearest(float x) {
  double ax = std::fabs(static_cast<double>(x));
  uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  if (ax >= 65520.0) return sign | 0x7C00;
  uint16_t lo = 0, hi = 0x7BFF;  // binary search on the monotone positive encodings
  while (hi - lo > 1) {
    auto mid = static_cast<uint16_t>((lo + hi) / 2);
    (f16_value(mid) <= ax ? lo : hi) = mid;
  }
  if (f16_value(hi) <= ax) lo = hi;
  uint16_t up = lo == 0x7BFF ? 0x7C00 : static_cast<uint16_t>(lo + 1);
  double up_v = up == 0x7C00 ? 65536.0 : f16_value(up);
  double d_lo = ax - f16_value(lo), d_up = up_v - ax;
  uint16_t pick = d_lo < d_up ? lo : d_up < d_lo ? up : ((lo & 1) ? up : lo);
  return sign | pick;
}

bool same_bits(float a, float b) { return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b); }

TEST(HalfReference, DecodesEveryF16LikeTheFormula) {
  for (uint32_t i = 0; i < 65536; ++i) {
    auto h = static_cast<uint16_t>(i);
    double want = f16_value(h);
    float got = f16_to_f32(h);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << i;
    } else {
      ASSERT_EQ(static_cast<double>(got), want) << std::hex << i;
      ASSERT_EQ(std::signbit(got), std::signbit(want)) << std::hex << i;
    }
  }
}

TEST(HalfReference, KnownEncodings) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // halfway to 65536 rounds to even = inf
  EXPECT_EQ(f32_to_f16(0x1p-24f), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(0x1p-25f), 0x0000);  // exactly half of it: ties to even (zero)
  EXPECT_EQ(f32_to_f16(0x1.8p-25f), 0x0001);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7C00);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::quiet_NaN()) & 0x7E00, 0x7E00);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F808000u)), 0x3F80);  // tie -> even
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3F818000u)), 0x3F82);  // tie -> even (up)
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST(HalfReference, EncodesToTheNearestF16) {
  std::mt19937 rng(1);
  std::uniform_int_distribution<uint32_t> bits;
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    // Exponents concentrated on f16's range (normal, subnormal, overflow edges).
    uint32_t exp = 100 + bits(rng) % 50;
    float x = std::bit_cast<float>((bits(rng) & 0x807FFFFFu) | (exp << 23));
    ASSERT_EQ(f32_to_f16(x), f16_nearest(x)) << x;
    ++checked;
  }
  for (uint32_t h = 0; h < 0x7C00; ++h) ASSERT_EQ(f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))), h);
  EXPECT_EQ(checked, 200000);
}

std::vector<CpuIsa> runnable_isas() {
  std::vector<CpuIsa> out;
  for (int l = 0; l <= static_cast<int>(cpu_features().best); ++l) out.push_back(static_cast<CpuIsa>(l));
  return out;
}

class ConvertVariant : public ::testing::TestWithParam<CpuIsa> {};

TEST_P(ConvertVariant, MatchesScalarOnEveryHalfPattern) {
  if (GetParam() > cpu_features().best) GTEST_SKIP() << "this CPU cannot run " << to_string(GetParam());
  const auto& k = kernels::convert_kernels(GetParam());
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  std::vector<float> out(all.size());
  k.f16_to_f32(all.data(), out.data(), all.size());
  for (uint32_t i = 0; i < all.size(); ++i) ASSERT_TRUE(same_bits(out[i], f16_to_f32(all[i]))) << std::hex << i;
  k.bf16_to_f32(all.data(), out.data(), all.size());
  for (uint32_t i = 0; i < all.size(); ++i) ASSERT_TRUE(same_bits(out[i], bf16_to_f32(all[i]))) << std::hex << i;
}

TEST_P(ConvertVariant, EncodesLikeScalarForEveryTailLength) {
  if (GetParam() > cpu_features().best) GTEST_SKIP() << "this CPU cannot run " << to_string(GetParam());
  const auto& k = kernels::convert_kernels(GetParam());
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 3000.0f);
  for (size_t n = 0; n <= 67; ++n) {
    std::vector<float> src(n);
    for (auto& x : src) x = normal(rng);
    if (n > 3) {
      src[1] = std::numeric_limits<float>::infinity();
      src[2] = 1e-7f;
      src[3] = 70000.0f;
    }
    std::vector<uint16_t> got(n + 1, 0xABCD);
    k.f32_to_f16(src.data(), got.data(), n);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], f32_to_f16(src[i])) << "n=" << n << " i=" << i;
    EXPECT_EQ(got[n], 0xABCD) << "wrote past the end, n=" << n;
    std::vector<float> back(n + 1, -1.0f);
    k.f16_to_f32(got.data(), back.data(), n);
    EXPECT_EQ(back[n], -1.0f) << "wrote past the end, n=" << n;
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, ConvertVariant,
                         ::testing::Values(CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512),
                         [](const auto& p) { return std::string(to_string(p.param)); });

TEST(ConvertDispatch, FollowsTheIsaCap) {
  CpuIsa before = cpu_isa();
  std::vector<uint16_t> src = {0x3C00, 0xC000, 0x0001};
  for (CpuIsa isa : runnable_isas()) {
    set_cpu_isa_cap(isa);
    std::vector<float> dst(3);
    kernels::f16_to_f32(src.data(), dst.data(), 3);
    EXPECT_EQ(dst[0], 1.0f);
    EXPECT_EQ(dst[1], -2.0f);
    EXPECT_EQ(dst[2], 0x1p-24f);
  }
  set_cpu_isa_cap(before);
}

}  // namespace
}  // namespace llmrt
