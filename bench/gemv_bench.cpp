// Quantized GEMV/GEMM (kernels/cpu/qgemv.h) and the f16/bf16 GEMV, one thread, per ISA variant.
// Bytes processed = packed weight bytes read per call, so bytes/s is the weight stream rate:
// compare the cache-resident shapes (compute rate) with the DRAM-sized ones (memory rate).
//   build/bin/bench_gemv --benchmark_filter=q4
// Arguments: isa (0 scalar, 1 avx2, 2 avx512), rows, cols, tokens.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/qgemv.h"


namespace {

using llmrt::CpuIsa;
namespace k = llmrt::kernels;

std::unique_ptr<k::PackedMatrix> random_matrix(k::PackedKind kind, int64_t rows, int64_t cols) {
  switch (kind) {
    case k::PackedKind::kQ4:
      return k::pack_q4(rows, cols, true, [&](int64_t, uint8_t* q, void* scale) {
        auto* s = static_cast<uint16_t*>(scale);
        for (int64_t c = 0; c < cols / 2; ++c) q[c] = static_cast<uint8_t>(c * 37 % 256);
        for (int64_t g = 0; g < cols / 32; ++g) s[g] = 0x2000;  // f16 ~0.0078
      });
    case k::PackedKind::kQ8:
      return k::pack_q8(rows, cols, true, [&](int64_t, int8_t* q, void* scale) {
        auto* s = static_cast<uint16_t*>(scale);
        for (int64_t c = 0; c < cols; ++c) q[c] = static_cast<int8_t>(c * 37 % 255 - 127);
        for (int64_t g = 0; g < cols / 32; ++g) s[g] = 0x2000;  // f16 ~0.0078
      });
    case k::PackedKind::kQ4K:
      return k::pack_q4k(rows, cols, [&](int64_t, uint8_t* q, uint8_t* sc, uint8_t* m, float* d, float* dmin) {
        for (int64_t c = 0; c < cols / 2; ++c) q[c] = static_cast<uint8_t>(c * 37 % 256);
        for (int64_t g = 0; g < cols / 32; ++g) sc[g] = m[g] = static_cast<uint8_t>(g % 64);
        for (int64_t b = 0; b < cols / 256; ++b) d[b] = dmin[b] = 0.001f;
      });
    case k::PackedKind::kQ6K:
      return k::pack_q6k(rows, cols, [&](int64_t, uint8_t* q, int8_t* sc, float* d) {
        for (int64_t c = 0; c < cols; ++c) q[c] = static_cast<uint8_t>(c * 7 % 64);
        for (int64_t h = 0; h < cols / 16; ++h) sc[h] = static_cast<int8_t>(h % 200 - 100);
        for (int64_t b = 0; b < cols / 256; ++b) d[b] = 0.001f;
      });
  }
  return nullptr;
}

void qgemm(benchmark::State& state, k::PackedKind kind) {
  const auto isa = static_cast<CpuIsa>(state.range(0));
  if (isa > llmrt::cpu_features().best) {
    state.SkipWithError("this CPU cannot run the variant");
    return;
  }
  const int64_t rows = state.range(1), cols = state.range(2), tokens = state.range(3);
  auto w = random_matrix(kind, rows, cols);
  std::vector<float> x(static_cast<size_t>(tokens * cols));
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  for (auto& v : x) v = normal(rng);
  k::QuantizedRows xq;
  xq.resize(tokens, cols);
  std::vector<float> y(static_cast<size_t>(tokens * rows));
  const auto fn = k::qgemm_kernel(isa);
  for (auto _ : state) {
    if (isa == CpuIsa::kScalar) k::scalar::quantize_rows(x.data(), 0, tokens, xq);
    else k::avx2::quantize_rows(x.data(), 0, tokens, xq);
    fn(*w, xq, y.data(), rows, 0, w->panels());
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * w->bytes()));
  state.counters["MAC/s"] = benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(rows * cols * tokens),
                                               benchmark::Counter::kIsRate);
  state.SetLabel(std::string(llmrt::to_string(isa)) + " " + k::to_string(kind));
}

void q4(benchmark::State& s) { qgemm(s, k::PackedKind::kQ4); }
void q8(benchmark::State& s) { qgemm(s, k::PackedKind::kQ8); }
void q4k(benchmark::State& s) { qgemm(s, k::PackedKind::kQ4K); }
void q6k(benchmark::State& s) { qgemm(s, k::PackedKind::kQ6K); }

void f16(benchmark::State& state, bool bf16) {
  const auto isa = static_cast<CpuIsa>(state.range(0));
  if (isa > llmrt::cpu_features().best) {
    state.SkipWithError("this CPU cannot run the variant");
    return;
  }
  const int64_t rows = state.range(1), cols = state.range(2), tokens = state.range(3);
  std::vector<uint16_t> w(static_cast<size_t>(rows * cols), 0x3c00);
  std::vector<float> x(static_cast<size_t>(tokens * cols), 0.5f), y(static_cast<size_t>(tokens * rows));
  const auto fn = k::gemm_f16_kernel(isa);
  for (auto _ : state) {
    fn(w.data(), bf16, cols, x.data(), tokens, y.data(), rows, 0, rows);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * rows * cols * 2));
  state.SetLabel(std::string(llmrt::to_string(isa)) + (bf16 ? " bf16" : " f16"));
}
void gemv_f16(benchmark::State& s) { f16(s, false); }
void gemv_bf16(benchmark::State& s) { f16(s, true); }

// 256 x 2048 stays in L2 (compute rate); 8192 x 2048 (a Llama-3.2-1B gate/up projection)
// streams from memory. Tokens 1 = decode, 16 = a short prefill.
#define LLMRT_GEMV_ARGS ArgsProduct({{0, 1}, {256, 8192}, {2048}, {1}})->Args({1, 8192, 2048, 16})
BENCHMARK(q4)->LLMRT_GEMV_ARGS;
BENCHMARK(q8)->LLMRT_GEMV_ARGS;
BENCHMARK(q4k)->LLMRT_GEMV_ARGS;
BENCHMARK(q6k)->LLMRT_GEMV_ARGS;
BENCHMARK(gemv_f16)->ArgsProduct({{0, 1}, {256, 8192}, {2048}, {1}});
BENCHMARK(gemv_bf16)->ArgsProduct({{1}, {256, 8192}, {2048}, {1}});

}  // namespace

BENCHMARK_MAIN();
