// The RoPE kernels against float64 arithmetic on the same f32 inputs, for every ISA this CPU
// runs, both pair layouts, partial rotary dims, in place and out of place.
// Bound per rotated element (a' = a c - b s, b' = b c + a s): 2 eps times the sum of the two
// products' magnitudes (an FMA form rounds twice, the plain form three times, each <= eps/2); dims past rotary_dim must come through bit for bit.
#include "kernels/cpu/rope.h"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace llmrt {
namespace {

using kernels::RopeStyle;

class Rope : public ::testing::TestWithParam<CpuIsa> {};

TEST_P(Rope, MatchesFloat64WithinTheStatedBound) {
  if (GetParam() > cpu_features().best) GTEST_SKIP() << "this CPU cannot run " << to_string(GetParam());
  const auto rope = kernels::rope_kernel(GetParam());
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<double> angle(-3.2, 3.2);
  struct Shape {
    int64_t head_dim, rotary_dim;
  };
  for (const Shape shape : {Shape{64, 64}, Shape{128, 128}, Shape{80, 80}, Shape{36, 36}, Shape{64, 32}, Shape{128, 20},
                            Shape{96, 48}, Shape{64, 2}}) {
    for (const RopeStyle style : {RopeStyle::kRotateHalf, RopeStyle::kAdjacentPairs}) {
      for (const bool in_place : {false, true}) {
        const int64_t heads = 5, hd = shape.head_dim, rot = shape.rotary_dim, half = rot / 2;
        SCOPED_TRACE("head_dim=" + std::to_string(hd) + " rotary_dim=" + std::to_string(rot) +
                     (style == RopeStyle::kAdjacentPairs ? " adjacent" : " rotate-half") + (in_place ? " in place" : ""));
        std::vector<float> src(static_cast<size_t>(heads * hd)), cs(static_cast<size_t>(half)), sn(cs.size());
        for (float& x : src) x = 10 * normal(rng);
        for (int64_t i = 0; i < half; ++i) {
          const double t = angle(rng);
          cs[i] = static_cast<float>(std::cos(t) * 1.1);  // a YaRN-style attention factor folded in
          sn[i] = static_cast<float>(std::sin(t) * 1.1);
        }
        std::vector<float> dst = in_place ? src : std::vector<float>(src.size(), -1.0f);
        rope({.src = in_place ? dst.data() : src.data(), .dst = dst.data(), .heads = heads, .head_dim = hd,
              .rotary_dim = rot, .cos = cs.data(), .sin = sn.data(), .style = style});
        for (int64_t h = 0; h < heads; ++h) {
          const float* x = &src[static_cast<size_t>(h * hd)];
          const float* y = &dst[static_cast<size_t>(h * hd)];
          for (int64_t i = 0; i < half; ++i) {
            const bool adjacent = style == RopeStyle::kAdjacentPairs;
            const int64_t ia = adjacent ? 2 * i : i, ib = adjacent ? 2 * i + 1 : i + half;
            const double a = x[ia], b = x[ib], c = cs[i], s = sn[i];
            const double bound_a = 2 * FLT_EPSILON * (std::fabs(a * c) + std::fabs(b * s)) + FLT_MIN;
            const double bound_b = 2 * FLT_EPSILON * (std::fabs(b * c) + std::fabs(a * s)) + FLT_MIN;
            ASSERT_NEAR(y[ia], a * c - b * s, bound_a) << "head " << h << " pair " << i;
            ASSERT_NEAR(y[ib], b * c + a * s, bound_b) << "head " << h << " pair " << i;
          }
          for (int64_t d = rot; d < hd; ++d) ASSERT_EQ(y[d], x[d]) << "head " << h << " dim " << d;
        }
      }
    }
  }
}

// Position 0 (cos 1, sin 0) is the identity, bit for bit.
TEST_P(Rope, PositionZeroIsTheIdentity) {
  if (GetParam() > cpu_features().best) GTEST_SKIP() << "this CPU cannot run " << to_string(GetParam());
  const auto rope = kernels::rope_kernel(GetParam());
  std::vector<float> src(3 * 64), dst(src.size()), cs(32, 1.0f), sn(32, 0.0f);
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  for (float& x : src) x = normal(rng);
  for (const RopeStyle style : {RopeStyle::kRotateHalf, RopeStyle::kAdjacentPairs}) {
    rope({.src = src.data(), .dst = dst.data(), .heads = 3, .head_dim = 64, .rotary_dim = 64, .cos = cs.data(),
          .sin = sn.data(), .style = style});
    EXPECT_EQ(dst, src);
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Rope, ::testing::Values(CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512),
                         [](const auto& p) { return std::string(to_string(p.param)); });

}  // namespace
}  // namespace llmrt
