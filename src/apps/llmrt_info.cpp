// llmrt-info: what this machine offers libllmrt, and a quick self-check of the run-time
// selected CPU kernels. Exits 0 when every check passes, 1 otherwise.
//
// Devices come from the plugins found at start (LLMRT_PLUGIN_PATH overrides where it looks);
// plugins that failed to load are listed with the reason.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/convert.h"
#include "llmrt/runtime.hpp"
#include "llmrt/version.h"
#include "util/cpu_features.h"
#include "util/half.h"
#include "util/threads.h"

namespace {

using llmrt::CpuIsa;

std::string feature_list(const llmrt::CpuFeatures& f) {
  std::string out;
  auto add = [&](bool on, const char* name) {
    if (on) out += fmt::format("{}{}", out.empty() ? "" : " ", name);
  };
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.f16c, "f16c");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512dq, "avx512dq");
  add(f.avx512vl, "avx512vl");
  add(f.avx512_vnni, "avx512_vnni");
  add(f.avx512_bf16, "avx512_bf16");
  add(f.avx512_fp16, "avx512_fp16");
  add(f.avx_vnni, "avx_vnni");
  add(f.amx_tile, "amx_tile");
  add(f.amx_int8, "amx_int8");
  add(f.amx_bf16, "amx_bf16");
  return out.empty() ? "(none of interest)" : out;
}

bool same_bits(float a, float b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Every one of the 65536 f16 and bf16 bit patterns through one ISA variant, compared bit for
// bit with the scalar reference; then the throughput of f16 -> f32 on a 4 MiB row.
bool check_variant(CpuIsa isa) {
  const auto& k = llmrt::kernels::convert_kernels(isa);
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  std::vector<float> out(all.size());
  int bad = 0;
  k.f16_to_f32(all.data(), out.data(), all.size());
  for (uint32_t i = 0; i < all.size(); ++i) bad += !same_bits(out[i], llmrt::f16_to_f32(all[i]));
  k.bf16_to_f32(all.data(), out.data(), all.size());
  for (uint32_t i = 0; i < all.size(); ++i) bad += !same_bits(out[i], llmrt::bf16_to_f32(all[i]));

  std::vector<uint16_t> big(2u << 20, 0x3C00);
  std::vector<float> wide(big.size());
  double best_s = 1e9;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    k.f16_to_f32(big.data(), wide.data(), big.size());
    best_s = std::min(best_s, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  double gbs = static_cast<double>(big.size() * 6) / best_s / 1e9;
  fmt::print("  convert {:<7} {:>6} mismatches of 131072   f16->f32 {:6.1f} GB/s   {}\n",
             llmrt::to_string(isa), bad, gbs, bad == 0 ? "ok" : "FAILED");
  return bad == 0;
}

}  // namespace

int main() {
  const auto& f = llmrt::cpu_features();
  fmt::print("libllmrt {}\n\n", llmrt_version());
  fmt::print("CPU      {} ({})\n", f.brand.empty() ? "unknown" : f.brand, f.vendor);
  fmt::print("features {}\n", feature_list(f));
  fmt::print("SIMD     best {}, in use {} (LLMRT_CPU_ISA caps it)\n", llmrt::to_string(f.best),
             llmrt::to_string(llmrt::cpu_isa()));
  fmt::print("threads  {} (OpenMP; LLMRT_NUM_THREADS sets it)\n\n", llmrt::num_threads());

  llmrt::Core core;
  fmt::print("devices\n");
  for (const llmrt::DeviceInfo& d : core.devices()) {
    fmt::print("  {:<8} {} ({}), {} compute units, {:.1f} GiB, plugin '{}' from {}\n           {}\n", d.name, d.full_name,
               d.vendor, d.compute_units, static_cast<double>(d.memory_bytes) / (1u << 30), d.plugin, d.plugin_path,
               d.properties_json);
  }
  if (core.devices().empty()) fmt::print("  none: no device plugin was found (set LLMRT_PLUGIN_PATH)\n");
  for (const std::string& s : core.skipped_plugins()) fmt::print("  skipped  {}\n", s);
  fmt::print("\n");

  fmt::print("self-check: run-time dispatched kernels against the scalar reference\n");
  bool ok = true;
  for (int level = 0; level <= static_cast<int>(f.best); ++level) ok &= check_variant(static_cast<CpuIsa>(level));
  fmt::print("\n{}\n", ok ? "self-check passed" : "self-check FAILED");
  return ok && !core.devices().empty() ? 0 : 1;
}
