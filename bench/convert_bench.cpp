// f16/bf16 <-> f32 row conversion per ISA variant. Bytes processed = bytes read + written.
//   build/bin/bench_convert --benchmark_filter=f16_to_f32
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "kernels/cpu/convert.h"

namespace {

using llmrt::CpuIsa;

template <class Src, class Dst>
void run(benchmark::State& state, void (*fn)(const Src*, Dst*, size_t)) {
  auto isa = static_cast<CpuIsa>(state.range(0));
  if (isa > llmrt::cpu_features().best) {
    state.SkipWithError("this CPU cannot run the variant");
    return;
  }
  size_t n = static_cast<size_t>(state.range(1));
  std::vector<Src> src(n, Src{});
  std::vector<Dst> dst(n);
  for (auto _ : state) {
    fn(src.data(), dst.data(), n);
    benchmark::DoNotOptimize(dst.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n * (sizeof(Src) + sizeof(Dst))));
  state.SetLabel(std::string(llmrt::to_string(isa)));
}

void f16_to_f32(benchmark::State& s) { run(s, llmrt::kernels::convert_kernels(static_cast<CpuIsa>(s.range(0))).f16_to_f32); }
void f32_to_f16(benchmark::State& s) { run(s, llmrt::kernels::convert_kernels(static_cast<CpuIsa>(s.range(0))).f32_to_f16); }
void bf16_to_f32(benchmark::State& s) { run(s, llmrt::kernels::convert_kernels(static_cast<CpuIsa>(s.range(0))).bf16_to_f32); }

// n: 4096 (one row, in L1) and 16 Mi elements (streams from memory).
#define LLMRT_CONVERT_ARGS ArgsProduct({{0, 1, 2}, {4096, 16 << 20}})
BENCHMARK(f16_to_f32)->LLMRT_CONVERT_ARGS;
BENCHMARK(f32_to_f16)->LLMRT_CONVERT_ARGS;
BENCHMARK(bf16_to_f32)->LLMRT_CONVERT_ARGS;

}  // namespace

BENCHMARK_MAIN();
