#include "util/cpu_features.h"

#include <cpuid.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "util/log.h"

namespace llmrt {
namespace {

struct Regs {
  uint32_t a = 0, b = 0, c = 0, d = 0;
};

Regs cpuid(uint32_t leaf, uint32_t subleaf = 0) {
  Regs r;
  __cpuid_count(leaf, subleaf, r.a, r.b, r.c, r.d);
  return r;
}

bool bit(uint32_t v, int n) { return (v >> n) & 1u; }

uint64_t xgetbv0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f;
  Regs r0 = cpuid(0);
  uint32_t max_leaf = r0.a;
  char vendor[13] = {};
  std::memcpy(vendor + 0, &r0.b, 4);
  std::memcpy(vendor + 4, &r0.d, 4);
  std::memcpy(vendor + 8, &r0.c, 4);
  f.vendor = vendor;

  if (cpuid(0x80000000).a >= 0x80000004) {
    char brand[49] = {};
    for (uint32_t i = 0; i < 3; ++i) {
      Regs r = cpuid(0x80000002 + i);
      std::memcpy(brand + 16 * i + 0, &r.a, 4);
      std::memcpy(brand + 16 * i + 4, &r.b, 4);
      std::memcpy(brand + 16 * i + 8, &r.c, 4);
      std::memcpy(brand + 16 * i + 12, &r.d, 4);
    }
    f.brand = brand;
    while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
  }
  if (max_leaf < 1) return f;

  Regs r1 = cpuid(1);
  f.fma = bit(r1.c, 12);
  f.avx = bit(r1.c, 28);
  f.f16c = bit(r1.c, 29);
  bool osxsave = bit(r1.c, 27);
  if (osxsave) {
    uint64_t xcr0 = xgetbv0();
    f.os_saves_avx = (xcr0 & 0x6) == 0x6;             // XMM and YMM state
    f.os_saves_avx512 = (xcr0 & 0xE6) == 0xE6;        // plus opmask, ZMM_Hi256, Hi16_ZMM
  }
  if (max_leaf >= 7) {
    Regs r7 = cpuid(7, 0);
    f.avx2 = bit(r7.b, 5);
    f.avx512f = bit(r7.b, 16);
    f.avx512dq = bit(r7.b, 17);
    f.avx512bw = bit(r7.b, 30);
    f.avx512vl = bit(r7.b, 31);
    f.avx512_vnni = bit(r7.c, 11);
    f.avx512_fp16 = bit(r7.d, 23);
    f.amx_bf16 = bit(r7.d, 22);
    f.amx_tile = bit(r7.d, 24);
    f.amx_int8 = bit(r7.d, 25);
    if (r7.a >= 1) {
      Regs r71 = cpuid(7, 1);
      f.avx_vnni = bit(r71.a, 4);
      f.avx512_bf16 = bit(r71.a, 5);
    }
  }
  if (f.os_saves_avx && f.avx && f.avx2 && f.fma && f.f16c) f.best = CpuIsa::kAvx2;
  if (f.best == CpuIsa::kAvx2 && f.os_saves_avx512 && f.avx512f && f.avx512bw && f.avx512dq &&
      f.avx512vl && f.avx512_vnni) {
    f.best = CpuIsa::kAvx512;
  }
  return f;
}

std::atomic<int>& isa_cap() {
  static std::atomic<int> cap = [] {
    int best = static_cast<int>(cpu_features().best);
    const char* env = std::getenv("LLMRT_CPU_ISA");
    if (!env || !*env) return best;
    CpuIsa wanted;
    if (!parse_cpu_isa(env, &wanted)) {
      log::warn("LLMRT_CPU_ISA='{}' is not one of scalar, avx2, avx512; using {}", env,
                to_string(cpu_features().best));
      return best;
    }
    if (static_cast<int>(wanted) > best) {
      log::warn("LLMRT_CPU_ISA={} asked for, but this CPU supports only {}; using {}", env,
                to_string(cpu_features().best), to_string(cpu_features().best));
      return best;
    }
    return static_cast<int>(wanted);
  }();
  return cap;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

CpuIsa cpu_isa() { return static_cast<CpuIsa>(isa_cap().load(std::memory_order_relaxed)); }

void set_cpu_isa_cap(CpuIsa cap) {
  int best = static_cast<int>(cpu_features().best);
  isa_cap() = std::min(static_cast<int>(cap), best);
}

std::string_view to_string(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kScalar: return "scalar";
    case CpuIsa::kAvx2: return "avx2";
    case CpuIsa::kAvx512: return "avx512";
  }
  return "?";
}

bool parse_cpu_isa(std::string_view text, CpuIsa* out) {
  if (text == "scalar") *out = CpuIsa::kScalar;
  else if (text == "avx2") *out = CpuIsa::kAvx2;
  else if (text == "avx512") *out = CpuIsa::kAvx512;
  else return false;
  return true;
}

}  // namespace llmrt
