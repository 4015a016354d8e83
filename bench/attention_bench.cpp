// SDPA and RoPE kernels per variant, against a naive float64 loop like the CPU plugin's
// reference `attend` (scores in double, max, exp, sum, then weighted V sums per query row).
// Llama-3.2-1B attention shape: 32 query heads, 8 KV heads, head_dim 64, K/V in the plugin's
// cache layout [context, kv_heads * head_dim]. One thread.
//   build/bin/bench_attention --benchmark_filter=decode --benchmark_repetitions=5
// Counters: items/s = query-key pairs (heads x keys each query sees); bytes/s = K and V bytes of
// the visible context (each KV row counted once per call, however often it is re-read).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/rope.h"

namespace {

using llmrt::CpuIsa;
namespace kernels = llmrt::kernels;

constexpr int64_t kHeads = 32, kKvHeads = 8, kHeadDim = 64, kGroup = kHeads / kKvHeads;
constexpr int64_t kWidth = kKvHeads * kHeadDim;  // floats per token in the K/V cache

// The implementations compared; the bench argument picks one.
enum Impl : int64_t { kNaiveF64 = 0, kScalar = 1, kAvx2 = 2 };

const char* impl_name(int64_t impl) {
  switch (impl) {
    case kNaiveF64: return "naive f64";
    case kScalar: return "scalar";
    default: return "avx2";
  }
}

bool runnable(benchmark::State& state, int64_t impl) {
  if (impl == kAvx2 && llmrt::cpu_features().best < CpuIsa::kAvx2) {
    state.SkipWithError("this CPU cannot run the variant");
    return false;
  }
  state.SetLabel(impl_name(impl));
  return true;
}

// The plugin's reference attend (src/plugins/cpu/ref_ops.cpp), copied as the baseline.
void attend_f64(const float* q, const float* k_base, const float* v_base, int64_t k_stride, int64_t first, int64_t keys,
                int64_t hd, double scale, float* out, std::vector<double>& scores) {
  scores.resize(static_cast<size_t>(keys));
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t j = first; j < keys; ++j) {
    const float* k = k_base + j * k_stride;
    double dot = 0;
    for (int64_t d = 0; d < hd; ++d) dot += static_cast<double>(q[d]) * k[d];
    scores[static_cast<size_t>(j)] = dot * scale;
    mx = std::max(mx, scores[static_cast<size_t>(j)]);
  }
  double sum = 0;
  for (int64_t j = first; j < keys; ++j) {
    double& s = scores[static_cast<size_t>(j)];
    s = std::exp(s - mx);
    sum += s;
  }
  for (int64_t d = 0; d < hd; ++d) {
    double acc = 0;
    for (int64_t j = first; j < keys; ++j) acc += scores[static_cast<size_t>(j)] * v_base[j * k_stride + d];
    out[d] = static_cast<float>(acc / sum);
  }
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(n);
  for (float& f : x) f = normal(rng);
  return x;
}

// `tokens` new tokens after `n_past` cached ones, causal: token t sees keys [0, n_past + t].
void sdpa(benchmark::State& state, int64_t tokens, int64_t n_past) {
  const int64_t impl = state.range(0);
  if (!runnable(state, impl)) return;
  const int64_t context = n_past + tokens;
  const std::vector<float> q = random_floats(static_cast<size_t>(tokens * kHeads * kHeadDim), 1);
  const std::vector<float> k = random_floats(static_cast<size_t>(context * kWidth), 2);
  const std::vector<float> v = random_floats(k.size(), 3);
  std::vector<float> out(q.size());
  std::vector<int64_t> last(static_cast<size_t>(tokens));
  for (int64_t t = 0; t < tokens; ++t) last[t] = n_past + t;
  std::vector<float> scratch(kernels::attention_scratch_floats(tokens * kGroup, kHeadDim));
  std::vector<double> scores;
  const float scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
  const auto attention = kernels::attention_kernel(impl == kScalar ? CpuIsa::kScalar : CpuIsa::kAvx2);
  for (auto _ : state) {
    if (impl == kNaiveF64) {
      for (int64_t t = 0; t < tokens; ++t) {
        for (int64_t h = 0; h < kHeads; ++h) {
          const int64_t kvh = h / kGroup, row = (t * kHeads + h) * kHeadDim;
          attend_f64(q.data() + row, k.data() + kvh * kHeadDim, v.data() + kvh * kHeadDim, kWidth, 0, n_past + t + 1,
                     kHeadDim, scale, out.data() + row, scores);
        }
      }
    } else {
      for (int64_t kvh = 0; kvh < kKvHeads; ++kvh) {
        attention({.q = q.data() + kvh * kGroup * kHeadDim, .q_token_stride = kHeads * kHeadDim,
                   .q_head_stride = kHeadDim, .n_tokens = tokens, .n_heads = kGroup, .last = last.data(),
                   .first = nullptr, .k = k.data() + kvh * kHeadDim, .v = v.data() + kvh * kHeadDim,
                   .kv_stride = kWidth, .head_dim = kHeadDim, .scale = scale,
                   .out = out.data() + kvh * kGroup * kHeadDim, .out_token_stride = kHeads * kHeadDim,
                   .out_head_stride = kHeadDim, .scratch = scratch.data()});
      }
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  int64_t pairs = 0;
  for (int64_t t = 0; t < tokens; ++t) pairs += kHeads * (n_past + t + 1);
  state.SetItemsProcessed(state.iterations() * pairs);
  state.SetBytesProcessed(state.iterations() * context * kWidth * 2 * static_cast<int64_t>(sizeof(float)));
}

// One decoded token against a context of range(1) keys.
void sdpa_decode(benchmark::State& state) { sdpa(state, 1, state.range(1) - 1); }
// A 128-token prompt from an empty cache.
void sdpa_prefill(benchmark::State& state) { sdpa(state, state.range(1), 0); }

BENCHMARK(sdpa_decode)->ArgsProduct({{kNaiveF64, kScalar, kAvx2}, {128, 512, 2048, 8192}})->ArgNames({"impl", "ctx"});
BENCHMARK(sdpa_prefill)->ArgsProduct({{kNaiveF64, kScalar, kAvx2}, {128}})->ArgNames({"impl", "tokens"});

// RoPE on one token's 32 x 64 query rows, in place; range(1): 0 rotate-half, 1 adjacent pairs.
void rope(benchmark::State& state) {
  const int64_t impl = state.range(0);
  if (!runnable(state, impl)) return;
  const auto style = state.range(1) == 0 ? kernels::RopeStyle::kRotateHalf : kernels::RopeStyle::kAdjacentPairs;
  const bool adjacent = style == kernels::RopeStyle::kAdjacentPairs;
  std::vector<float> x = random_floats(static_cast<size_t>(kHeads * kHeadDim), 4);
  std::vector<float> cs(kHeadDim / 2), sn(cs.size());
  for (size_t i = 0; i < cs.size(); ++i) {
    const double angle = 77.0 * std::pow(500000.0, -2.0 * static_cast<double>(i) / kHeadDim);
    cs[i] = static_cast<float>(std::cos(angle));
    sn[i] = static_cast<float>(std::sin(angle));
  }
  const auto kernel = kernels::rope_kernel(impl == kScalar ? CpuIsa::kScalar : CpuIsa::kAvx2);
  const int64_t half = kHeadDim / 2;
  for (auto _ : state) {
    if (impl == kNaiveF64) {  // the plugin's loop: double arithmetic on precomputed cos/sin
      for (int64_t h = 0; h < kHeads; ++h) {
        float* row = x.data() + h * kHeadDim;
        for (int64_t i = 0; i < half; ++i) {
          const int64_t ia = adjacent ? 2 * i : i, ib = adjacent ? 2 * i + 1 : i + half;
          const double a = row[ia], b = row[ib], c = cs[i], s = sn[i];
          row[ia] = static_cast<float>(a * c - b * s);
          row[ib] = static_cast<float>(b * c + a * s);
        }
      }
    } else {
      kernel({.src = x.data(), .dst = x.data(), .heads = kHeads, .head_dim = kHeadDim, .rotary_dim = kHeadDim,
              .cos = cs.data(), .sin = sn.data(), .style = style});
    }
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kHeads);  // head rows
  state.SetBytesProcessed(state.iterations() * kHeads * kHeadDim * 2 * static_cast<int64_t>(sizeof(float)));
}

BENCHMARK(rope)->ArgsProduct({{kNaiveF64, kScalar, kAvx2}, {0, 1}})->ArgNames({"impl", "adjacent"});

}  // namespace

BENCHMARK_MAIN();
