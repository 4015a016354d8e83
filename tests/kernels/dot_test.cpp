// The f32 inner-product kernels against a float64 oracle, for every ISA this CPU runs and every
// tail length. Bound: |got - exact| <= 4 * eps_f32 * sqrt(n) * sum |a_i b_i| (pairwise-style
// partial sums grow error like sqrt(n)), checked on data with cancellation.
#include "kernels/cpu/dot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace llmrt {
namespace {

class Dot : public ::testing::TestWithParam<CpuIsa> {};

TEST_P(Dot, MatchesFloat64WithinTheStatedBound) {
  if (GetParam() > cpu_features().best) GTEST_SKIP() << "this CPU cannot run " << to_string(GetParam());
  const auto dot = kernels::dot_kernel(GetParam());
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (size_t n : {0, 1, 7, 15, 16, 17, 31, 32, 33, 63, 100, 255, 256, 257, 2048, 8193}) {
    std::vector<float> a(n), b(n);
    for (size_t i = 0; i < n; ++i) {
      a[i] = normal(rng);
      b[i] = normal(rng);
    }
    double exact = 0, magnitude = 0;
    for (size_t i = 0; i < n; ++i) {
      exact += static_cast<double>(a[i]) * b[i];
      magnitude += std::fabs(static_cast<double>(a[i]) * b[i]);
    }
    const double bound = 4 * std::numeric_limits<float>::epsilon() * std::sqrt(static_cast<double>(n) + 1) * magnitude + 1e-30;
    EXPECT_LE(std::fabs(dot(a.data(), b.data(), n) - exact), bound) << "n=" << n;
  }
}

TEST_P(Dot, ReadsExactlyNElements) {
  if (GetParam() > cpu_features().best) GTEST_SKIP();
  const auto dot = kernels::dot_kernel(GetParam());
  // Values past n are NaN: any read of them would poison the result.
  std::vector<float> a(40, std::numeric_limits<float>::quiet_NaN()), b(40, std::numeric_limits<float>::quiet_NaN());
  for (size_t n = 0; n < 33; ++n) {
    for (size_t i = 0; i < n; ++i) a[i] = b[i] = 1.0f;
    EXPECT_EQ(dot(a.data(), b.data(), n), static_cast<float>(n)) << n;
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Dot, ::testing::Values(CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512),
                         [](const auto& p) { return std::string(to_string(p.param)); });

}  // namespace
}  // namespace llmrt
