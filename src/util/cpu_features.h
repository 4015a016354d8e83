// What this x86-64 CPU (and its OS) can run, read once from CPUID/XGETBV. SIMD kernels are
// compiled per ISA level into separate files and chosen with cpu_isa() at run time, never
// with -march=native, so one binary runs on every x86-64 machine.
//
// LLMRT_CPU_ISA=scalar|avx2|avx512 caps the level (to test or compare the slower paths);
// asking for more than the CPU has logs a warning and uses what it has.
#pragma once

#include <string>
#include <string_view>

namespace llmrt {

// Levels, each implying the one below:
//   kAvx2:   AVX2 + FMA + F16C (Haswell, Zen 1 and later)
//   kAvx512: AVX-512 F/BW/DQ/VL + VNNI (Cascade Lake, Ice Lake, Zen 4 and later)
enum class CpuIsa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

struct CpuFeatures {
  std::string vendor;
  std::string brand;
  bool avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512_vnni = false, avx512_bf16 = false, avx512_fp16 = false, avx_vnni = false;
  bool amx_tile = false, amx_int8 = false, amx_bf16 = false;
  bool os_saves_avx = false, os_saves_avx512 = false;  // XCR0 says the OS saves the registers
  CpuIsa best = CpuIsa::kScalar;                       // best level this machine supports
};

const CpuFeatures& cpu_features();
// The level kernels should use: cpu_features().best, capped by LLMRT_CPU_ISA.
CpuIsa cpu_isa();
// For tests and benchmarks: cap the level (never above cpu_features().best).
void set_cpu_isa_cap(CpuIsa cap);

std::string_view to_string(CpuIsa isa);
bool parse_cpu_isa(std::string_view text, CpuIsa* out);

}  // namespace llmrt
