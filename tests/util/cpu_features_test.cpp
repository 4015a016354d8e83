#include "util/cpu_features.h"

#include <gtest/gtest.h>

namespace llmrt {
namespace {

TEST(CpuFeatures, BestLevelImpliesItsFeatures) {
  const CpuFeatures& f = cpu_features();
  if (f.best >= CpuIsa::kAvx2) {
    EXPECT_TRUE(f.avx2 && f.fma && f.f16c && f.os_saves_avx);
  }
  if (f.best >= CpuIsa::kAvx512) {
    EXPECT_TRUE(f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.avx512_vnni && f.os_saves_avx512);
  }
  // And the converse: the features of a level promote the CPU to at least that level.
  if (f.os_saves_avx && f.avx && f.avx2 && f.fma && f.f16c) {
    EXPECT_GE(f.best, CpuIsa::kAvx2);
  }
  EXPECT_FALSE(f.vendor.empty());
}

TEST(CpuFeatures, CapLowersButNeverRaisesTheLevel) {
  CpuIsa before = cpu_isa();
  set_cpu_isa_cap(CpuIsa::kScalar);
  EXPECT_EQ(cpu_isa(), CpuIsa::kScalar);
  set_cpu_isa_cap(CpuIsa::kAvx512);
  EXPECT_EQ(cpu_isa(), cpu_features().best);
  set_cpu_isa_cap(before);
}

TEST(CpuFeatures, ParsesIsaNames) {
  CpuIsa isa{};
  EXPECT_TRUE(parse_cpu_isa("avx2", &isa));
  EXPECT_EQ(isa, CpuIsa::kAvx2);
  EXPECT_EQ(to_string(CpuIsa::kAvx512), "avx512");
  EXPECT_FALSE(parse_cpu_isa("sse4", &isa));
}

}  // namespace
}  // namespace llmrt
