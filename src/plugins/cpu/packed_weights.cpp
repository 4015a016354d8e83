#include "plugins/cpu/packed_weights.h"

#include <cstring>
#include <memory>

#include "store/ggml_quants.h"
#include "util/half.h"

namespace llmrt::cpu {
namespace {

uint16_t u16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Row r's scales of a planar codec, one per 32 columns (a group of G >= 32 repeats its scale),
// as stored: f16 bits or f32.
void planar_scales(const Tensor& w, int64_t r, void* out) {
  const int64_t per_row = w.cols() / w.group_size;
  const size_t bytes = w.scale_type == StoredType::kF16 ? 2 : 4;
  for (int64_t g = 0; g < w.cols() / kernels::kQGroup; ++g) {
    const int64_t i = r * per_row + g * kernels::kQGroup / w.group_size;
    std::memcpy(static_cast<std::byte*>(out) + static_cast<size_t>(g) * bytes, w.scales.data() + static_cast<size_t>(i) * bytes, bytes);
  }
}

std::shared_ptr<const void> build(const Tensor& w) {
  const int64_t rows = w.shape[0], cols = w.shape[1];
  const auto* bytes = reinterpret_cast<const uint8_t*>(w.data.data());
  switch (w.type) {
    case StoredType::kQ4_0:
      return kernels::pack_q4(rows, cols, true, [&](int64_t r, uint8_t* q, void* scale) {
        auto* s = static_cast<uint16_t*>(scale);
        for (int64_t b = 0; b < cols / 32; ++b) {
          const uint8_t* blk = bytes + (r * (cols / 32) + b) * 18;
          s[b] = u16(reinterpret_cast<const std::byte*>(blk));
          std::memcpy(q + b * 16, blk + 2, 16);  // already in the packer's nibble-pair order
        }
      });
    case StoredType::kInt4Sym:
      return kernels::pack_q4(rows, cols, w.scale_type == StoredType::kF16, [&](int64_t r, uint8_t* q, void* s) {
        // Planar: element 2j is the low nibble of byte j; the packer wants (j, j + 16) pairs.
        const uint8_t* row = bytes + r * cols / 2;
        auto code = [row](int64_t c) { return (row[c / 2] >> (c % 2 ? 4 : 0)) & 0xF; };
        for (int64_t g = 0; g < cols / 32; ++g) {
          for (int64_t j = 0; j < 16; ++j) q[16 * g + j] = static_cast<uint8_t>(code(32 * g + j) | code(32 * g + 16 + j) << 4);
        }
        planar_scales(w, r, s);
      });
    case StoredType::kQ8_0:
      return kernels::pack_q8(rows, cols, true, [&](int64_t r, int8_t* q, void* scale) {
        auto* s = static_cast<uint16_t*>(scale);
        for (int64_t b = 0; b < cols / 32; ++b) {
          const uint8_t* blk = bytes + (r * (cols / 32) + b) * 34;
          s[b] = u16(reinterpret_cast<const std::byte*>(blk));
          std::memcpy(q + b * 32, blk + 2, 32);
        }
      });
    case StoredType::kInt8Sym:
      return kernels::pack_q8(rows, cols, w.scale_type == StoredType::kF16, [&](int64_t r, int8_t* q, void* s) {
        std::memcpy(q, bytes + r * cols, static_cast<size_t>(cols));
        planar_scales(w, r, s);
      });
    case StoredType::kQ4_K:
      return kernels::pack_q4k(rows, cols, [&](int64_t r, uint8_t* q, uint8_t* sc, uint8_t* m, float* d, float* dmin) {
        for (int64_t b = 0; b < cols / 256; ++b) {
          const uint8_t* blk = bytes + (r * (cols / 256) + b) * 144;
          d[b] = f16_to_f32(u16(reinterpret_cast<const std::byte*>(blk)));
          dmin[b] = f16_to_f32(u16(reinterpret_cast<const std::byte*>(blk + 2)));
          for (int j = 0; j < 8; ++j) {
            int scale = 0, min = 0;
            ggml::k4_scale_min(blk + 4, j, &scale, &min);
            sc[b * 8 + j] = static_cast<uint8_t>(scale);
            m[b * 8 + j] = static_cast<uint8_t>(min);
          }
          // Element 64c + 32hi + l is nibble hi of qs[32c + l]; the packer wants, per group
          // (sub-block 2c + hi), the pairs (l, l + 16).
          for (int s8 = 0; s8 < 8; ++s8) {
            const uint8_t* qs = blk + 16 + 32 * (s8 / 2);
            const int shift = 4 * (s8 % 2);
            uint8_t* out = q + b * 128 + 16 * s8;
            for (int j = 0; j < 16; ++j) out[j] = static_cast<uint8_t>(((qs[j] >> shift) & 0xF) | ((qs[j + 16] >> shift) & 0xF) << 4);
          }
        }
      });
    case StoredType::kQ6_K:
      return kernels::pack_q6k(rows, cols, [&](int64_t r, uint8_t* q, int8_t* sc, float* d) {
        for (int64_t b = 0; b < cols / 256; ++b) {
          const uint8_t* blk = bytes + (r * (cols / 256) + b) * 210;
          const uint8_t *ql = blk, *qh = blk + 128;
          d[b] = f16_to_f32(u16(reinterpret_cast<const std::byte*>(blk + 208)));
          std::memcpy(sc + b * 16, blk + 192, 16);
          // Element 128h + 32k + l: low 4 bits nibble k/2 of ql[64h + 32(k%2) + l], high 2 bits
          // bits 2k..2k+1 of qh[32h + l].
          for (int h = 0; h < 2; ++h) {
            for (int k = 0; k < 4; ++k) {
              const uint8_t* lo = ql + 64 * h + 32 * (k % 2);
              const uint8_t* hi = qh + 32 * h;
              uint8_t* out = q + b * 256 + 128 * h + 32 * k;
              const int ls = 4 * (k / 2), hs = 2 * k;
              for (int l = 0; l < 32; ++l) out[l] = static_cast<uint8_t>(((lo[l] >> ls) & 0xF) | ((hi[l] >> hs) & 3) << 4);
            }
          }
        }
      });
    default: return nullptr;
  }
}

}  // namespace

bool packable(const Tensor& w) {
  if (w.shape.size() != 2 || w.shape[0] <= 0 || w.shape[1] <= 0) return false;
  const int64_t cols = w.shape[1];
  switch (w.type) {
    case StoredType::kQ4_0:
    case StoredType::kQ8_0: return cols % 32 == 0;
    case StoredType::kQ4_K:
    case StoredType::kQ6_K: return cols % 256 == 0;
    case StoredType::kInt4Sym:
    case StoredType::kInt8Sym: return cols % 32 == 0 && w.group_size > 0 && w.group_size % 32 == 0;
    default: return false;
  }
}

const kernels::PackedMatrix* packed_weights(const Tensor& w) {
  if (!packable(w)) return nullptr;
  auto p = w.repacked("cpu.panel8", [&] { return build(w); });
  return static_cast<const kernels::PackedMatrix*>(p.get());
}

}  // namespace llmrt::cpu
