// The quantized GEMV/GEMM kernels (kernels/cpu/qgemv.h) against a float64 oracle.
//
// Each case draws random codes and parameters for a kind, so the weight matrix is exactly
// W = decode(codes, parameters) by the kind's formula (written out here, independently of the
// packer). The kernels quantize activations to int8 per 32, so the stated bound is the
// activation rounding plus f32 accumulation:
//   |y - W x| <= sum_g (d_g / 2) sum_{c in g} |W[r, c]| + 1e-5 * sum_c |W[r, c] x_c| + 1e-6,
// with d_g = max_{c in g} |x_c| / 127. The scalar and SIMD variants must agree bit for bit.
#include "kernels/cpu/qgemv.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "util/error.h"
#include "util/half.h"

namespace llmrt {
namespace {

using kernels::PackedKind;

struct Case {
  PackedKind kind;
  bool f16_scales;
  int64_t rows, cols, tokens;
};

std::string name_of(const Case& c) {
  return std::string(kernels::to_string(c.kind)) + (c.f16_scales ? "_f16s" : "") + "_" + std::to_string(c.rows) + "x" +
         std::to_string(c.cols) + "_t" + std::to_string(c.tokens);
}

// Random codes and parameters for one matrix, the dense W they mean, and the packed form.
struct Problem {
  std::vector<double> w;  // [rows, cols]
  std::unique_ptr<kernels::PackedMatrix> packed;
};

float f16_exact(float v) { return f16_to_f32(f32_to_f16(v)); }

Problem make_problem(const Case& c, std::mt19937& rng) {
  const int64_t rows = c.rows, cols = c.cols, groups = cols / 32, supers = cols / 256;
  std::uniform_int_distribution<int> u4(0, 15), u6(0, 63), s8(-128, 127), m6(0, 63);
  std::uniform_real_distribution<float> pos(0.001f, 0.05f), sgn(-0.05f, 0.05f);
  // Per row: codes and parameters in the packers' row format.
  std::vector<std::vector<int>> codes(static_cast<size_t>(rows), std::vector<int>(static_cast<size_t>(cols)));
  std::vector<std::vector<float>> scale(static_cast<size_t>(rows)), dd(static_cast<size_t>(rows)), dm(static_cast<size_t>(rows));
  std::vector<std::vector<int>> sc(static_cast<size_t>(rows)), mn(static_cast<size_t>(rows));
  Problem p;
  p.w.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    auto& cr = codes[static_cast<size_t>(r)];
    const auto ri = static_cast<size_t>(r);
    switch (c.kind) {
      case PackedKind::kQ4:
      case PackedKind::kQ8:
        for (int64_t g = 0; g < groups; ++g) scale[ri].push_back(c.f16_scales ? f16_exact(sgn(rng)) : sgn(rng));
        for (int64_t j = 0; j < cols; ++j) {
          cr[static_cast<size_t>(j)] = c.kind == PackedKind::kQ4 ? u4(rng) : s8(rng);
          const double s = scale[ri][static_cast<size_t>(j / 32)];
          p.w[static_cast<size_t>(r * cols + j)] = c.kind == PackedKind::kQ4 ? s * (cr[static_cast<size_t>(j)] - 8) : s * cr[static_cast<size_t>(j)];
        }
        break;
      case PackedKind::kQ4K:
        for (int64_t s = 0; s < supers; ++s) {
          dd[ri].push_back(pos(rng) / 16);
          dm[ri].push_back(pos(rng) / 16);
        }
        for (int64_t g = 0; g < groups; ++g) {
          sc[ri].push_back(m6(rng));
          mn[ri].push_back(m6(rng));
        }
        for (int64_t j = 0; j < cols; ++j) {
          cr[static_cast<size_t>(j)] = u4(rng);
          const auto g = static_cast<size_t>(j / 32), s = static_cast<size_t>(j / 256);
          p.w[static_cast<size_t>(r * cols + j)] = static_cast<double>(dd[ri][s]) * sc[ri][g] * cr[static_cast<size_t>(j)] -
                                                   static_cast<double>(dm[ri][s]) * mn[ri][g];
        }
        break;
      case PackedKind::kQ6K:
        for (int64_t s = 0; s < supers; ++s) dd[ri].push_back(pos(rng) / 64);
        for (int64_t h = 0; h < cols / 16; ++h) sc[ri].push_back(s8(rng));
        for (int64_t j = 0; j < cols; ++j) {
          cr[static_cast<size_t>(j)] = u6(rng);
          p.w[static_cast<size_t>(r * cols + j)] = static_cast<double>(dd[ri][static_cast<size_t>(j / 256)]) *
                                                   sc[ri][static_cast<size_t>(j / 16)] * (cr[static_cast<size_t>(j)] - 32);
        }
        break;
    }
  }
  auto copy = [&](auto* dst, const auto& src) {
    for (size_t i = 0; i < src.size(); ++i) dst[i] = static_cast<std::remove_pointer_t<decltype(dst)>>(src[i]);
  };
  // kQ4/kQ8 scales as the packers take them: f16 bits or f32.
  auto put_scales = [&](void* dst, const std::vector<float>& src) {
    for (size_t i = 0; i < src.size(); ++i) {
      if (c.f16_scales) static_cast<uint16_t*>(dst)[i] = f32_to_f16(src[i]);
      else static_cast<float*>(dst)[i] = src[i];
    }
  };
  // 4-bit codes as the packers take them: byte 16g + j = code 32g + j | code 32g + 16 + j << 4.
  auto pairs = [&](uint8_t* dst, const std::vector<int>& src) {
    for (size_t g = 0; g < src.size() / 32; ++g) {
      for (size_t j = 0; j < 16; ++j) dst[16 * g + j] = static_cast<uint8_t>(src[32 * g + j] | src[32 * g + 16 + j] << 4);
    }
  };
  switch (c.kind) {
    case PackedKind::kQ4:
      p.packed = kernels::pack_q4(rows, cols, c.f16_scales, [&](int64_t r, uint8_t* q, void* s) {
        pairs(q, codes[static_cast<size_t>(r)]);
        put_scales(s, scale[static_cast<size_t>(r)]);
      });
      break;
    case PackedKind::kQ8:
      p.packed = kernels::pack_q8(rows, cols, c.f16_scales, [&](int64_t r, int8_t* q, void* s) {
        copy(q, codes[static_cast<size_t>(r)]);
        put_scales(s, scale[static_cast<size_t>(r)]);
      });
      break;
    case PackedKind::kQ4K:
      p.packed = kernels::pack_q4k(rows, cols, [&](int64_t r, uint8_t* q, uint8_t* s, uint8_t* m, float* d, float* dmin) {
        const auto ri = static_cast<size_t>(r);
        pairs(q, codes[ri]);
        copy(s, sc[ri]);
        copy(m, mn[ri]);
        copy(d, dd[ri]);
        copy(dmin, dm[ri]);
      });
      break;
    case PackedKind::kQ6K:
      p.packed = kernels::pack_q6k(rows, cols, [&](int64_t r, uint8_t* q, int8_t* s, float* d) {
        const auto ri = static_cast<size_t>(r);
        copy(q, codes[ri]);
        copy(s, sc[ri]);
        copy(d, dd[ri]);
      });
      break;
  }
  return p;
}

std::vector<float> activations(int64_t tokens, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(tokens * cols));
  for (auto& v : x) v = normal(rng);
  // An outlier, a group of zeros and a group with a single value: the edges of the quantizer.
  x[5] = 40.0f;
  if (cols >= 96) {
    std::fill(x.begin() + 32, x.begin() + 64, 0.0f);
    std::fill(x.begin() + 64, x.begin() + 96, 0.0f);
    x[70] = -3.0f;
  }
  return x;
}

void PrintTo(const Case& c, std::ostream* os) { *os << name_of(c); }

class Qgemv : public ::testing::TestWithParam<std::tuple<CpuIsa, Case>> {};

TEST_P(Qgemv, MatchesFloat64WithinTheActivationRoundingBound) {
  const auto [isa, c] = GetParam();
  if (isa > cpu_features().best) GTEST_SKIP() << "this CPU cannot run " << to_string(isa);
  std::mt19937 rng(11);
  const Problem p = make_problem(c, rng);
  const std::vector<float> x = activations(c.tokens, c.cols, rng);
  kernels::QuantizedRows xq;
  xq.resize(c.tokens, c.cols);
  if (isa == CpuIsa::kScalar) kernels::scalar::quantize_rows(x.data(), 0, c.tokens, xq);
  else kernels::avx2::quantize_rows(x.data(), 0, c.tokens, xq);
  const int64_t stride = c.rows + 3;  // an output stride wider than the rows: nothing else written
  std::vector<float> y(static_cast<size_t>(c.tokens * stride), -7.0f);
  kernels::qgemm_kernel(isa)(*p.packed, xq, y.data(), stride, 0, p.packed->panels());
  for (int64_t t = 0; t < c.tokens; ++t) {
    for (int64_t r = 0; r < c.rows; ++r) {
      double exact = 0, bound = 1e-6;
      for (int64_t g = 0; g < c.cols / 32; ++g) {
        double amax = 0, wsum = 0;
        for (int64_t j = g * 32; j < g * 32 + 32; ++j) {
          const double wv = p.w[static_cast<size_t>(r * c.cols + j)], xv = x[static_cast<size_t>(t * c.cols + j)];
          exact += wv * xv;
          amax = std::max(amax, std::fabs(xv));
          wsum += std::fabs(wv);
          bound += 1e-5 * std::fabs(wv * xv);
        }
        bound += amax / 127 / 2 * wsum;
      }
      ASSERT_LE(std::fabs(y[static_cast<size_t>(t * stride + r)] - exact), bound) << "token " << t << " row " << r;
    }
    for (int64_t r = c.rows; r < stride; ++r) ASSERT_EQ(y[static_cast<size_t>(t * stride + r)], -7.0f) << "wrote past the rows";
  }
}

TEST_P(Qgemv, SimdEqualsScalarBitForBit) {
  const auto [isa, c] = GetParam();
  if (isa == CpuIsa::kScalar) GTEST_SKIP() << "compares a SIMD variant with the scalar one";
  if (isa > cpu_features().best) GTEST_SKIP() << "this CPU cannot run " << to_string(isa);
  std::mt19937 rng(5);
  const Problem p = make_problem(c, rng);
  const std::vector<float> x = activations(c.tokens, c.cols, rng);
  kernels::QuantizedRows a, b;
  a.resize(c.tokens, c.cols);
  b.resize(c.tokens, c.cols);
  kernels::scalar::quantize_rows(x.data(), 0, c.tokens, a);
  kernels::avx2::quantize_rows(x.data(), 0, c.tokens, b);
  ASSERT_EQ(std::memcmp(a.q.get(), b.q.get(), static_cast<size_t>(c.tokens * c.cols)), 0);
  for (int64_t g = 0; g < c.tokens * c.cols / 32; ++g) {
    ASSERT_EQ(a.d[static_cast<size_t>(g)], b.d[static_cast<size_t>(g)]);
    ASSERT_EQ(a.s32[static_cast<size_t>(g)], b.s32[static_cast<size_t>(g)]);
  }
  std::vector<float> ya(static_cast<size_t>(c.tokens * c.rows)), yb(ya.size());
  kernels::scalar::qgemm(*p.packed, a, ya.data(), c.rows, 0, p.packed->panels());
  kernels::qgemm_kernel(isa)(*p.packed, a, yb.data(), c.rows, 0, p.packed->panels());
  for (size_t i = 0; i < ya.size(); ++i) ASSERT_EQ(ya[i], yb[i]) << "output " << i;
}

std::vector<Case> cases() {
  std::vector<Case> v;
  for (PackedKind k : {PackedKind::kQ4, PackedKind::kQ8}) {
    for (bool f16 : {false, true}) {
      v.push_back({k, f16, 8, 32, 1});
      v.push_back({k, f16, 13, 96, 3});
      v.push_back({k, f16, 64, 512, 2});
      v.push_back({k, f16, 16, 256, 9});  // two 4-token tiles and a remainder
    }
  }
  for (PackedKind k : {PackedKind::kQ4K, PackedKind::kQ6K}) {
    v.push_back({k, false, 5, 256, 1});
    v.push_back({k, false, 24, 768, 4});
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Qgemv,
                         ::testing::Combine(::testing::Values(CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512),
                                            ::testing::ValuesIn(cases())),
                         [](const auto& tp) {
                           return std::string(to_string(std::get<0>(tp.param))) + "_" + name_of(std::get<1>(tp.param));
                         });

TEST(QuantizeRows, NonFiniteActivationsMakeTheGroupNaN) {
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2}) {
    if (isa > cpu_features().best) continue;
    std::vector<float> x(64, 1.0f);
    x[3] = std::numeric_limits<float>::infinity();
    x[40] = std::numeric_limits<float>::quiet_NaN();
    kernels::QuantizedRows q;
    q.resize(1, 64);
    if (isa == CpuIsa::kScalar) kernels::scalar::quantize_rows(x.data(), 0, 1, q);
    else kernels::avx2::quantize_rows(x.data(), 0, 1, q);
    EXPECT_TRUE(std::isnan(q.d[0])) << to_string(isa);
    EXPECT_TRUE(std::isnan(q.d[1])) << to_string(isa);
  }
}

TEST(QuantizeRows, RoundsToNearestAndKeepsSums) {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i - 16) / 16.0f * 2.54f;
  kernels::QuantizedRows q;
  q.resize(1, 32);
  kernels::quantize_rows(x.data(), 0, 1, q);
  EXPECT_FLOAT_EQ(q.d[0], 2.54f / 127.0f);
  int32_t s0 = 0, s1 = 0;
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(q.q[static_cast<size_t>(i)], static_cast<int8_t>(std::nearbyint(static_cast<double>(i - 16) / 16.0 * 127.0))) << i;
    (i < 16 ? s0 : s1) += q.q[static_cast<size_t>(i)];
  }
  EXPECT_EQ(q.s16[0], s0);
  EXPECT_EQ(q.s16[1], s1);
  EXPECT_EQ(q.s32[0], s0 + s1);
}

TEST(PackedMatrix, RefusesColumnsOffTheBlockGrid) {
  EXPECT_THROW(kernels::PackedMatrix(PackedKind::kQ4, 8, 48, true), Error);
  EXPECT_THROW(kernels::PackedMatrix(PackedKind::kQ4K, 8, 288, false), Error);
  EXPECT_THROW(kernels::PackedMatrix(PackedKind::kQ8, 0, 32, false), Error);
  kernels::QuantizedRows q;
  EXPECT_THROW(q.resize(1, 33), Error);
}

class GemmF16 : public ::testing::TestWithParam<CpuIsa> {};

TEST_P(GemmF16, MatchesFloat64) {
  if (GetParam() > cpu_features().best) GTEST_SKIP() << "this CPU cannot run " << to_string(GetParam());
  std::mt19937 rng(9);
  std::normal_distribution<float> normal;
  for (bool bf16 : {false, true}) {
    for (int64_t cols : {1, 8, 37, 2048}) {
      const int64_t rows = 5, tokens = 2;
      std::vector<uint16_t> w(static_cast<size_t>(rows * cols));
      for (auto& v : w) v = bf16 ? f32_to_bf16(normal(rng)) : f32_to_f16(normal(rng));
      std::vector<float> x(static_cast<size_t>(tokens * cols));
      for (auto& v : x) v = normal(rng);
      std::vector<float> y(static_cast<size_t>(tokens * rows));
      kernels::gemm_f16_kernel(GetParam())(w.data(), bf16, cols, x.data(), tokens, y.data(), rows, 0, rows);
      for (int64_t t = 0; t < tokens; ++t) {
        for (int64_t r = 0; r < rows; ++r) {
          double exact = 0, mag = 0;
          for (int64_t c = 0; c < cols; ++c) {
            const uint16_t h = w[static_cast<size_t>(r * cols + c)];
            const double wv = bf16 ? bf16_to_f32(h) : f16_to_f32(h);
            exact += wv * x[static_cast<size_t>(t * cols + c)];
            mag += std::fabs(wv * x[static_cast<size_t>(t * cols + c)]);
          }
          // f32 accumulation: at most cols * eps of the magnitude for the scalar loop.
          EXPECT_LE(std::fabs(y[static_cast<size_t>(t * rows + r)] - exact),
                    static_cast<double>(cols) * std::numeric_limits<float>::epsilon() * mag + 1e-6)
              << "bf16=" << bf16 << " cols=" << cols;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, GemmF16, ::testing::Values(CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512),
                         [](const auto& p) { return std::string(to_string(p.param)); });

}  // namespace
}  // namespace llmrt
