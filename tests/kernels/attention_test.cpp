// The fused attention kernel against a float64 softmax written here, for every ISA this CPU
// runs, and its vector exp against std::exp.
//
// Attention bound, per output element:
//   |got - exact| <= max|v| * (1e-6 + 0.25 sqrt(head_dim) eps S),  S = max_j scale * sum_d |q_d k_jd|
// The first term covers the exp approximation (1e-7 relative), the f32 sums over up to 1000 keys
// and the final division; measured worst on ordinary data: 2.7e-7 * max|v|. The second covers
// the f32 rounding of the scores, which shifts each softmax weight by a relative amount of about
// the score error; that error grows like sqrt(head_dim) eps S (a random walk of roundings), and
// the measured worst is 0.05 sqrt(head_dim) eps S. With ordinary data S is ~5 and the bound is
// ~2e-6 * max|v|; with scores of +-80 (S ~ 500) it widens to what f32 scores can deliver.
// Each test records worst_error_over_bound (~0.1 today) as a property in --gtest_output=xml.
//
// Every key row outside the union of the rows' windows, every float between a K/V row's
// head_dim and its stride, the scratch and the output are NaN-filled beforehand, so a read
// outside what a row may see, or an output element left unwritten, fails the comparison.
// K/V rows are strided (as in the plugin's cache) unless a case says otherwise, so with groups
// of several rows the AVX2 variant's packing runs: packed by the row that sees the whole block,
// or copied up front when no row does (sliding-window prefill).
#include "kernels/cpu/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace llmrt {
namespace {

using kernels::AttentionArgs;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct Case {
  int64_t head_dim = 64;
  int64_t group = 1;         // query heads per KV head
  int64_t tokens = 1;
  int64_t n_past = 0;        // token t sees keys up to n_past + t
  int64_t window = 0;        // > 0: token t sees keys [last - window + 1, last]
  float scale = 0;           // 0: 1 / sqrt(head_dim)
  float magnitude = 1;       // q and k are N(0, magnitude^2)
  int64_t block = kernels::kAttentionBlock;
  bool heads_major = false;  // rows laid out [heads, tokens, head_dim] instead of [tokens, heads, head_dim]
  bool contiguous_kv = false;  // K/V rows head_dim apart instead of strided
  std::vector<int64_t> masked_tokens;  // tokens given first > last
};

std::string describe(const Case& c) {
  return "head_dim=" + std::to_string(c.head_dim) + " group=" + std::to_string(c.group) + " tokens=" +
         std::to_string(c.tokens) + " n_past=" + std::to_string(c.n_past) + " window=" + std::to_string(c.window) +
         " block=" + std::to_string(c.block) + (c.heads_major ? " heads-major" : "") +
         (c.contiguous_kv ? " contiguous-kv" : "");
}

// Runs `attn` on a random problem shaped by `c` and checks it against float64; raises `worst`
// to the largest error / bound seen.
void check(kernels::AttentionFn attn, const Case& c, double& worst) {
  SCOPED_TRACE(describe(c));
  const int64_t hd = c.head_dim, n_keys = c.n_past + c.tokens;
  // Rows, K/V rows and output rows all have gaps after head_dim (another head's data, padding).
  const int64_t q_row = hd + 3, out_row = hd + 5, kv_stride = c.contiguous_kv ? hd : 2 * hd + 7;
  const int64_t q_ts = c.heads_major ? q_row : c.group * q_row + 2;
  const int64_t q_hs = c.heads_major ? c.tokens * q_row + 2 : q_row;
  const int64_t out_ts = c.heads_major ? out_row : c.group * out_row + 1;
  const int64_t out_hs = c.heads_major ? c.tokens * out_row + 1 : out_row;
  const float scale = c.scale != 0 ? c.scale : 1.0f / std::sqrt(static_cast<float>(hd));
  std::vector<int64_t> first(static_cast<size_t>(c.tokens)), last(first.size());
  for (int64_t t = 0; t < c.tokens; ++t) {
    last[t] = c.n_past + t;
    first[t] = c.window > 0 ? std::max<int64_t>(0, last[t] - c.window + 1) : 0;
  }
  for (int64_t t : c.masked_tokens) first[t] = last[t] + 1;
  int64_t seen_lo = n_keys, seen_hi = -1;
  for (int64_t t = 0; t < c.tokens; ++t) {
    if (first[t] > last[t]) continue;
    seen_lo = std::min(seen_lo, first[t]);
    seen_hi = std::max(seen_hi, last[t]);
  }

  std::mt19937 rng(static_cast<uint32_t>(hd * 131 + c.group * 17 + c.tokens * 7 + n_keys));
  std::normal_distribution<float> normal;
  std::vector<float> q(static_cast<size_t>((c.tokens - 1) * q_ts + (c.group - 1) * q_hs + q_row), kNaN);
  std::vector<float> k(static_cast<size_t>(n_keys * kv_stride), kNaN), v(k.size(), kNaN);
  for (int64_t t = 0; t < c.tokens; ++t) {
    for (int64_t g = 0; g < c.group; ++g) {
      for (int64_t d = 0; d < hd; ++d) q[t * q_ts + g * q_hs + d] = c.magnitude * normal(rng);
    }
  }
  float v_max = 0;
  for (int64_t j = seen_lo; j <= seen_hi; ++j) {
    for (int64_t d = 0; d < hd; ++d) {
      k[j * kv_stride + d] = c.magnitude * normal(rng);
      v[j * kv_stride + d] = normal(rng);
      v_max = std::max(v_max, std::fabs(v[j * kv_stride + d]));
    }
  }

  std::vector<float> out(static_cast<size_t>((c.tokens - 1) * out_ts + (c.group - 1) * out_hs + out_row), kNaN);
  std::vector<char> is_output(out.size(), 0);
  std::vector<float> scratch(kernels::attention_scratch_floats(c.tokens * c.group, hd, c.block), kNaN);
  AttentionArgs args{.q = q.data(), .q_token_stride = q_ts, .q_head_stride = q_hs, .n_tokens = c.tokens,
                     .n_heads = c.group, .last = last.data(), .first = first.data(), .k = k.data(), .v = v.data(),
                     .kv_stride = kv_stride, .head_dim = hd, .scale = scale, .out = out.data(),
                     .out_token_stride = out_ts, .out_head_stride = out_hs, .scratch = scratch.data(),
                     .block = c.block};
  attn(args);

  for (int64_t t = 0; t < c.tokens; ++t) {
    for (int64_t g = 0; g < c.group; ++g) {
      const float* qr = &q[static_cast<size_t>(t * q_ts + g * q_hs)];
      const float* got = &out[static_cast<size_t>(t * out_ts + g * out_hs)];
      std::fill_n(&is_output[static_cast<size_t>(t * out_ts + g * out_hs)], hd, 1);
      std::vector<double> ref(static_cast<size_t>(hd), 0.0);
      double s_max = 0;
      if (first[t] <= last[t]) {
        std::vector<double> w;
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = first[t]; j <= last[t]; ++j) {
          double dot = 0, mag = 0;
          for (int64_t d = 0; d < hd; ++d) {
            dot += static_cast<double>(qr[d]) * k[j * kv_stride + d];
            mag += std::fabs(static_cast<double>(qr[d]) * k[j * kv_stride + d]);
          }
          w.push_back(dot * scale);
          mx = std::max(mx, w.back());
          s_max = std::max(s_max, mag * scale);
        }
        double sum = 0;
        for (double& x : w) sum += (x = std::exp(x - mx));
        for (int64_t j = first[t]; j <= last[t]; ++j) {
          for (int64_t d = 0; d < hd; ++d) ref[d] += w[j - first[t]] / sum * v[j * kv_stride + d];
        }
      }
      const double bound = v_max * (1e-6 + 0.25 * std::sqrt(static_cast<double>(hd)) * FLT_EPSILON * s_max) + 1e-30;
      for (int64_t d = 0; d < hd; ++d) {
        const double err = std::fabs(got[d] - ref[d]);
        ASSERT_LE(err, bound) << "token " << t << " head " << g << " dim " << d << " got " << got[d] << " want "
                              << ref[d];
        worst = std::max(worst, err / bound);
      }
      if (first[t] > last[t]) {
        for (int64_t d = 0; d < hd; ++d) ASSERT_EQ(got[d], 0.0f) << "masked token " << t << " head " << g;
      }
    }
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (!is_output[i]) {
      ASSERT_TRUE(std::isnan(out[i])) << "wrote outside the output rows at " << i;
    }
  }
}

std::string scientific(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", x);
  return buf;
}

class Attention : public ::testing::TestWithParam<CpuIsa> {
 protected:
  void SetUp() override {
    if (GetParam() > cpu_features().best) GTEST_SKIP() << "this CPU cannot run " << to_string(GetParam());
    attn_ = kernels::attention_kernel(GetParam());
  }
  void TearDown() override {
    if (attn_) RecordProperty("worst_error_over_bound", scientific(worst_));
  }
  void check(const Case& c) { llmrt::check(attn_, c, worst_); }
  kernels::AttentionFn attn_ = nullptr;
  double worst_ = 0;
};

TEST_P(Attention, PrefillCausal) {
  for (int64_t hd : {64, 128, 80, 40, 36}) {
    for (int64_t group : {1, 4}) {
      for (int64_t n_past : {0, 37}) check({.head_dim = hd, .group = group, .tokens = 19, .n_past = n_past});
    }
  }
}

// sdpa's "heads" layout: [heads, tokens, head_dim].
TEST_P(Attention, HeadsMajorRows) {
  check({.head_dim = 64, .group = 4, .tokens = 19, .n_past = 0, .heads_major = true});
  check({.head_dim = 40, .group = 2, .tokens = 33, .n_past = 5, .window = 20, .heads_major = true});
}

TEST_P(Attention, ContiguousKeysAndValues) {
  check({.head_dim = 64, .group = 4, .tokens = 19, .n_past = 70, .contiguous_kv = true});
  check({.head_dim = 80, .group = 4, .tokens = 1, .n_past = 300, .contiguous_kv = true});
  check({.head_dim = 36, .group = 2, .tokens = 12, .n_past = 3, .window = 9, .contiguous_kv = true});
}

TEST_P(Attention, DecodeOverManyContextLengths) {
  for (int64_t hd : {64, 128, 80}) {
    for (int64_t group : {1, 4}) {
      for (int64_t keys : {1, 2, 7, 8, 9, 63, 64, 65, 127, 129, 200, 1000}) {
        check({.head_dim = hd, .group = group, .tokens = 1, .n_past = keys - 1});
      }
    }
  }
}

TEST_P(Attention, SlidingWindow) {
  check({.head_dim = 64, .group = 4, .tokens = 30, .n_past = 100, .window = 50});
  check({.head_dim = 128, .group = 1, .tokens = 1, .n_past = 999, .window = 5});
  check({.head_dim = 40, .group = 2, .tokens = 70, .n_past = 0, .window = 64});
}

TEST_P(Attention, FullyMaskedTokensAreZeroAndLeaveTheOthersAlone) {
  check({.head_dim = 64, .group = 4, .tokens = 7, .n_past = 90, .masked_tokens = {0, 3, 4}});
  check({.head_dim = 80, .group = 1, .tokens = 3, .n_past = 10, .masked_tokens = {0, 1, 2}});  // all of them
}

TEST_P(Attention, LargeScoresDoNotOverflow) {
  // scale 1 and q, k ~ N(0, 3.2^2): q.k has a standard deviation of ~80 at head_dim 64, far
  // past where exp overflows f32 (88.7) without the running max.
  for (int64_t keys : {1, 100, 1000}) {
    check({.head_dim = 64, .group = 4, .tokens = 1, .n_past = keys - 1, .scale = 1, .magnitude = 3.2f});
  }
  check({.head_dim = 128, .group = 2, .tokens = 16, .n_past = 50, .scale = 1, .magnitude = 2.3f});
}

TEST_P(Attention, AnyBlockSize) {
  for (int64_t block : {1, 5, 8, 13, 64, 100, 4096}) {
    check({.head_dim = 64, .group = 4, .tokens = 9, .n_past = 130, .block = block});
    check({.head_dim = 36, .group = 1, .tokens = 1, .n_past = 300, .window = 77, .block = block});
  }
}

TEST_P(Attention, TokensWithoutFirstStartAtKeyZero) {
  const int64_t hd = 64, n_q = 3;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<float> q(n_q * hd), k(40 * hd), v(k.size());
  for (auto* x : {&q, &k, &v}) {
    for (float& f : *x) f = normal(rng);
  }
  const std::vector<int64_t> last{39, 0, 17}, zeros(n_q, 0);
  std::vector<float> with(n_q * hd), without(with.size());
  std::vector<float> scratch(kernels::attention_scratch_floats(n_q, hd));
  AttentionArgs args{.q = q.data(), .q_token_stride = hd, .q_head_stride = 0, .n_tokens = n_q, .n_heads = 1,
                     .last = last.data(), .first = zeros.data(), .k = k.data(), .v = v.data(), .kv_stride = hd,
                     .head_dim = hd, .scale = 0.125f, .out = with.data(), .out_token_stride = hd,
                     .out_head_stride = 0, .scratch = scratch.data()};
  attn_(args);
  args.first = nullptr;
  args.out = without.data();
  attn_(args);
  EXPECT_EQ(with, without);
  // Row 1 sees key 0 alone: its output is v_0 up to the final division.
  for (int64_t d = 0; d < hd; ++d) EXPECT_NEAR(with[hd + d], v[d], 1e-6f * std::fabs(v[d]) + 1e-7f);
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Attention, ::testing::Values(CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512),
                         [](const auto& p) { return std::string(to_string(p.param)); });

class Exp : public ::testing::TestWithParam<CpuIsa> {
 protected:
  void SetUp() override {
    if (GetParam() > cpu_features().best) GTEST_SKIP() << "this CPU cannot run " << to_string(GetParam());
    exp_ = kernels::exp_kernel(GetParam());
  }
  // The worst relative error over xs where exp(x) >= FLT_MIN; below that the absolute error
  // must be <= FLT_MIN.
  double worst(const std::vector<float>& xs) const {
    std::vector<float> ys(xs.size());
    exp_(xs.data(), ys.data(), xs.size());
    double w = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const double exact = std::exp(static_cast<double>(xs[i]));
      const double err = std::fabs(ys[i] - exact);
      if (exact < FLT_MIN) {
        EXPECT_LE(err, FLT_MIN) << "x=" << xs[i] << " got " << ys[i] << " want " << exact;
        if (err > FLT_MIN) return err;
        continue;
      }
      EXPECT_LE(err / exact, kernels::kExpMaxRelError) << "x=" << xs[i] << " got " << ys[i] << " want " << exact;
      if (err / exact > kernels::kExpMaxRelError) return err / exact;
      w = std::max(w, err / exact);
    }
    return w;
  }
  kernels::ExpFn exp_ = nullptr;
};

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}
uint32_t to_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// Every 127th f32 in [lo, hi] of one sign (about 9 million values over [-88, 0]: all exponents,
// every residue class of the mantissa's low bits), plus every f32 within 2^16 ulps of `edges`.
std::vector<float> samples(float lo, float hi, std::initializer_list<float> edges) {
  std::vector<float> xs;
  const uint32_t a = std::min(to_bits(lo), to_bits(hi)), b = std::max(to_bits(lo), to_bits(hi));
  for (uint64_t bits = a; bits <= b; bits += 127) xs.push_back(from_bits(static_cast<uint32_t>(bits)));
  for (float e : edges) {
    for (int64_t i = -(1 << 16); i <= (1 << 16); ++i) {
      const float x = from_bits(static_cast<uint32_t>(static_cast<int64_t>(to_bits(e)) + i));
      if (x >= lo && x <= hi) xs.push_back(x);
    }
  }
  return xs;
}

TEST_P(Exp, WithinTheStatedBoundOnSoftmaxInputs) {
  // -87.3365 = ln(FLT_MIN), where the clamp starts; -0 and 0 have different bit patterns.
  std::vector<float> xs = samples(-88.0f, -0.0f, {-88.0f, -87.3365447505531f, -0.0f});
  xs.push_back(-std::numeric_limits<float>::infinity());
  RecordProperty("worst_relative_error", scientific(worst(xs)));
}

TEST_P(Exp, WithinTheStatedBoundOnPositiveInputs) {
  RecordProperty("worst_relative_error", scientific(worst(samples(0.0f, 88.3762626647949f, {0.0f, 88.3762626647949f}))));
}

TEST_P(Exp, ExactAtZeroAndNaNStaysNaN) {
  const std::vector<float> xs{0.0f, -0.0f, kNaN};
  std::vector<float> ys(xs.size());
  exp_(xs.data(), ys.data(), xs.size());
  EXPECT_EQ(ys[0], 1.0f);
  EXPECT_EQ(ys[1], 1.0f);
  EXPECT_TRUE(std::isnan(ys[2]));
}

INSTANTIATE_TEST_SUITE_P(AllIsas, Exp, ::testing::Values(CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512),
                         [](const auto& p) { return std::string(to_string(p.param)); });

}  // namespace
}  // namespace llmrt
