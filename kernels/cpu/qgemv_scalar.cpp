// Packing, the scalar reference variants and the run-time dispatch of kernels/cpu/qgemv.h.
// The scalar kernels read the packed layout element by element with the same integer sums and
// the same f32 fused multiply-adds, in the same order, as the SIMD ones.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "qgemv.h"
#include "util/error.h"
#include "util/half.h"

namespace llmrt::kernels {
namespace {

constexpr int64_t kSuper = 256;

size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

size_t code_group_bytes(PackedKind k) {
  switch (k) {
    case PackedKind::kQ4:
    case PackedKind::kQ4K: return 128;
    case PackedKind::kQ8: return 256;
    case PackedKind::kQ6K: return 192;
  }
  return 0;
}

// Byte offset, within a group's codes, of row r's column j (0..31) for the nibble kinds, and
// whether it is the high nibble.
size_t nibble_at(int64_t r, int64_t j, bool* high) {
  *high = j >= 16;
  const int64_t jj = j % 16;
  return static_cast<size_t>(32 * (jj / 4) + 4 * r + jj % 4);
}
size_t byte_at(int64_t r, int64_t j) { return static_cast<size_t>(32 * (j / 4) + 4 * r + j % 4); }
// kQ6K high bits: byte offset (after the 128 nibble bytes) and bit shift of row r, column j.
size_t high_bits_at(int64_t r, int64_t j, int* shift) {
  const int64_t h = j / 16, u = (j % 16) / 4;
  *shift = static_cast<int>(2 * u);
  return static_cast<size_t>(128 + 32 * h + 4 * r + j % 4);
}

int get_nibble(const uint8_t* codes, int64_t r, int64_t j) {
  bool high = false;
  const size_t at = nibble_at(r, j, &high);
  return (codes[at] >> (high ? 4 : 0)) & 0xF;
}

template <class T>
T* at(std::byte* base, size_t offset) {
  return reinterpret_cast<T*>(base + offset);
}
template <class T>
const T* at(const std::byte* base, size_t offset) {
  return reinterpret_cast<const T*>(base + offset);
}

// Row r's `n` bytes of one group (16 nibble pairs, or 32 int8 codes) into the group's chunks,
// 4 bytes to each 32-byte chunk.
void scatter(uint8_t* codes, int64_t r, const uint8_t* src, int64_t n) {
  for (int64_t k = 0; k < n / 4; ++k) std::memcpy(codes + 32 * k + 4 * r, src + 4 * k, 4);
}

// Runs fill(panel, first_row, n_rows) over all panels in parallel.
template <class F>
void for_panels(PackedMatrix& m, F&& fill) {
  parallel_for(m.panels(), 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      fill(m.panel(p), p * kPanelRows, std::min(kPanelRows, m.rows() - p * kPanelRows));
    }
  });
}

}  // namespace

const char* to_string(PackedKind k) {
  switch (k) {
    case PackedKind::kQ4: return "q4";
    case PackedKind::kQ8: return "q8";
    case PackedKind::kQ4K: return "q4k";
    case PackedKind::kQ6K: return "q6k";
  }
  return "?";
}

void PackedMatrix::Free::operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t(64)); }

PackedMatrix::PackedMatrix(PackedKind kind, int64_t rows, int64_t cols, bool f16_scales)
    : kind_(kind), rows_(rows), cols_(cols), f16_scales_(f16_scales) {
  const bool k_kind = kind == PackedKind::kQ4K || kind == PackedKind::kQ6K;
  const int64_t unit = k_kind ? kSuper : kQGroup;
  if (rows <= 0 || cols <= 0 || cols % unit != 0) {
    fail(ErrorCode::kInvalidArgument, "packed {} matrix: {} x {} (columns must be a positive multiple of {})",
         to_string(kind), rows, cols, unit);
  }
  const auto groups = static_cast<size_t>(cols / kQGroup), supers = static_cast<size_t>(cols / kSuper);
  switch (kind) {
    case PackedKind::kQ4:
    case PackedKind::kQ8: params_bytes_ = groups * kPanelRows * (f16_scales ? 2 : 4); break;
    case PackedKind::kQ4K: params_bytes_ = supers * (2 * 32 + 2 * 64); break;
    case PackedKind::kQ6K: params_bytes_ = supers * (32 + 128); break;
  }
  params_bytes_ = round_up(params_bytes_, 64);
  panel_bytes_ = round_up(params_bytes_ + groups * code_group_bytes(kind), 64);
  const size_t total = panel_bytes_ * static_cast<size_t>(panels());
  data_.reset(static_cast<std::byte*>(::operator new[](total, std::align_val_t(64))));
  std::memset(data_.get(), 0, total);
}

namespace {

// kQ4 and kQ8: per group, one row's `group_bytes` bytes (16 nibble pairs or 32 codes) go into the
// group's chunks 4 bytes at a time, and its scale into the parameter region as given.
template <class Code, class RowFn>
std::unique_ptr<PackedMatrix> pack_scaled(PackedKind kind, int64_t rows, int64_t cols, bool f16_scales,
                                          int64_t group_bytes, RowFn row) {
  auto m = std::make_unique<PackedMatrix>(kind, rows, cols, f16_scales);
  const int64_t groups = cols / kQGroup;
  const size_t params = m->params_bytes();
  for_panels(*m, [&](std::byte* panel, int64_t first, int64_t n) {
    std::vector<Code> bytes(static_cast<size_t>(groups * group_bytes));
    std::vector<float> scale(static_cast<size_t>(groups));  // f32, or f16 bits in its first half
    const auto* scale16 = reinterpret_cast<const uint16_t*>(scale.data());
    for (int64_t r = 0; r < n; ++r) {
      std::fill(bytes.begin(), bytes.end(), Code{0});
      std::fill(scale.begin(), scale.end(), 0.0f);
      row(first + r, bytes.data(), scale.data());
      for (int64_t g = 0; g < groups; ++g) {
        if (f16_scales) at<uint16_t>(panel, 0)[g * kPanelRows + r] = scale16[g];
        else at<float>(panel, 0)[g * kPanelRows + r] = scale[static_cast<size_t>(g)];
        scatter(at<uint8_t>(panel, params + static_cast<size_t>(g) * code_group_bytes(kind)), r,
                reinterpret_cast<const uint8_t*>(bytes.data()) + group_bytes * g, group_bytes);
      }
    }
  });
  return m;
}

}  // namespace

std::unique_ptr<PackedMatrix> pack_q4(int64_t rows, int64_t cols, bool f16_scales, Q4RowFn row) {
  return pack_scaled<uint8_t>(PackedKind::kQ4, rows, cols, f16_scales, 16, row);
}

std::unique_ptr<PackedMatrix> pack_q8(int64_t rows, int64_t cols, bool f16_scales, Q8RowFn row) {
  return pack_scaled<int8_t>(PackedKind::kQ8, rows, cols, f16_scales, 32, row);
}

// kQ4K parameters of superblock s: D[8] f32 at 192 s, Dmin[8] at +32, sc[8][8] at +64, m at +128.
std::unique_ptr<PackedMatrix> pack_q4k(int64_t rows, int64_t cols, Q4KRowFn row) {
  auto m = std::make_unique<PackedMatrix>(PackedKind::kQ4K, rows, cols, false);
  const int64_t groups = cols / kQGroup, supers = cols / kSuper;
  const size_t params = m->params_bytes();
  for_panels(*m, [&](std::byte* panel, int64_t first, int64_t n) {
    std::vector<uint8_t> pairs(static_cast<size_t>(cols / 2)), sc(static_cast<size_t>(groups)), mn(sc.size());
    std::vector<float> d(static_cast<size_t>(supers)), dmin(d.size());
    for (int64_t r = 0; r < n; ++r) {
      std::fill(pairs.begin(), pairs.end(), 0);
      std::fill(sc.begin(), sc.end(), 0);
      std::fill(mn.begin(), mn.end(), 0);
      std::fill(d.begin(), d.end(), 0.0f);
      std::fill(dmin.begin(), dmin.end(), 0.0f);
      row(first + r, pairs.data(), sc.data(), mn.data(), d.data(), dmin.data());
      for (int64_t s = 0; s < supers; ++s) {
        std::byte* p = panel + 192 * s;
        at<float>(p, 0)[r] = d[static_cast<size_t>(s)];
        at<float>(p, 32)[r] = dmin[static_cast<size_t>(s)];
        for (int64_t j = 0; j < 8; ++j) {
          at<uint8_t>(p, 64)[j * 8 + r] = sc[static_cast<size_t>(s * 8 + j)];
          at<uint8_t>(p, 128)[j * 8 + r] = mn[static_cast<size_t>(s * 8 + j)];
        }
      }
      for (int64_t g = 0; g < groups; ++g) {
        scatter(at<uint8_t>(panel, params + static_cast<size_t>(g) * 128), r, pairs.data() + 16 * g, 16);
      }
    }
  });
  return m;
}

// kQ6K parameters of superblock s: D[8] f32 at 160 s, sc[16][8] i8 at +32.
std::unique_ptr<PackedMatrix> pack_q6k(int64_t rows, int64_t cols, Q6KRowFn row) {
  auto m = std::make_unique<PackedMatrix>(PackedKind::kQ6K, rows, cols, false);
  const int64_t groups = cols / kQGroup, supers = cols / kSuper;
  const size_t params = m->params_bytes();
  for_panels(*m, [&](std::byte* panel, int64_t first, int64_t n) {
    std::vector<uint8_t> codes(static_cast<size_t>(cols));
    std::vector<int8_t> sc(static_cast<size_t>(cols / 16));
    std::vector<float> d(static_cast<size_t>(supers));
    for (int64_t r = 0; r < n; ++r) {
      std::fill(codes.begin(), codes.end(), 0);
      std::fill(sc.begin(), sc.end(), 0);
      std::fill(d.begin(), d.end(), 0.0f);
      row(first + r, codes.data(), sc.data(), d.data());
      for (int64_t s = 0; s < supers; ++s) {
        std::byte* p = panel + 160 * s;
        at<float>(p, 0)[r] = d[static_cast<size_t>(s)];
        for (int64_t h = 0; h < 16; ++h) at<int8_t>(p, 32)[h * 8 + r] = sc[static_cast<size_t>(s * 16 + h)];
      }
      for (int64_t g = 0; g < groups; ++g) {
        auto* c = at<uint8_t>(panel, params + static_cast<size_t>(g) * 192);
        const uint8_t* v = codes.data() + g * kQGroup;
        uint8_t pairs[16];
        for (int j = 0; j < 16; ++j) pairs[j] = static_cast<uint8_t>((v[j] & 0xF) | (v[j + 16] & 0xF) << 4);
        scatter(c, r, pairs, 16);
        // High bits: chunk h, byte 4r + p, bits 2u..2u+1 = column 16h + 4u + p.
        for (int h = 0; h < 2; ++h) {
          for (int p = 0; p < 4; ++p) {
            uint8_t b = 0;
            for (int u = 0; u < 4; ++u) b = static_cast<uint8_t>(b | ((v[16 * h + 4 * u + p] >> 4) & 3) << (2 * u));
            c[128 + 32 * h + 4 * r + p] = b;
          }
        }
      }
    }
  });
  return m;
}

void QuantizedRows::resize(int64_t n_rows, int64_t n_cols) {
  if (n_cols % kQGroup != 0 || n_cols <= 0 || n_rows < 0) {
    fail(ErrorCode::kInvalidArgument, "quantized activations: {} x {} (columns must be a positive multiple of 32)",
         n_rows, n_cols);
  }
  const int64_t need = n_rows * n_cols;
  if (need > capacity) {
    const int64_t cap = std::max(need, capacity * 2);
    q.reset(new int8_t[static_cast<size_t>(cap)]);
    d.reset(new float[static_cast<size_t>(cap / kQGroup)]);
    s16.reset(new int32_t[static_cast<size_t>(cap / 16)]);
    s32.reset(new int32_t[static_cast<size_t>(cap / kQGroup)]);
    capacity = cap;
  }
  rows = n_rows;
  cols = n_cols;
}

namespace scalar {

void quantize_rows(const float* x, int64_t first, int64_t count, QuantizedRows& out) {
  const int64_t cols = out.cols, groups = cols / kQGroup;
  for (int64_t t = first; t < first + count; ++t) {
    for (int64_t g = 0; g < groups; ++g) {
      const float* v = x + t * cols + g * kQGroup;
      float amax = 0.0f;
      bool finite = true;
      for (int64_t i = 0; i < kQGroup; ++i) {
        const float a = std::fabs(v[i]);
        if (!(a < std::numeric_limits<float>::infinity())) finite = false;
        amax = std::max(amax, a);
      }
      int8_t* q = out.q.get() + t * cols + g * kQGroup;
      const size_t gi = static_cast<size_t>(t * groups + g);
      if (!finite) {
        std::memset(q, 0, kQGroup);
        out.d[gi] = std::numeric_limits<float>::quiet_NaN();
      } else {
        const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
        out.d[gi] = amax / 127.0f;
        for (int64_t i = 0; i < kQGroup; ++i) {
          const float r = std::nearbyint(v[i] * id);
          q[i] = static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, r)));
        }
      }
      int32_t s0 = 0, s1 = 0;
      for (int64_t i = 0; i < 16; ++i) {
        s0 += q[i];
        s1 += q[16 + i];
      }
      out.s16[2 * gi] = s0;
      out.s16[2 * gi + 1] = s1;
      out.s32[gi] = s0 + s1;
    }
  }
}

void qgemm(const PackedMatrix& w, const QuantizedRows& x, float* y, int64_t y_stride, int64_t panel_begin,
           int64_t panel_end) {
  const int64_t cols = w.cols(), groups = cols / kQGroup;
  const size_t params = w.params_bytes();
  for (int64_t p = panel_begin; p < panel_end; ++p) {
    const std::byte* panel = w.panel(p);
    const int64_t n_rows = std::min(kPanelRows, w.rows() - p * kPanelRows);
    for (int64_t t = 0; t < x.rows; ++t) {
      const int8_t* q = x.q.get() + t * cols;
      const float* d = x.d.get() + t * groups;
      const int32_t* s16 = x.s16.get() + t * groups * 2;
      const int32_t* s32 = x.s32.get() + t * groups;
      for (int64_t r = 0; r < n_rows; ++r) {
        float acc = 0.0f;
        for (int64_t g = 0; g < groups; ++g) {
          const auto* c = at<uint8_t>(panel, params + static_cast<size_t>(g) * code_group_bytes(w.kind()));
          const int8_t* qg = q + g * kQGroup;
          switch (w.kind()) {
            case PackedKind::kQ4:
            case PackedKind::kQ8: {
              int32_t raw = 0;
              if (w.kind() == PackedKind::kQ4) {
                for (int64_t j = 0; j < kQGroup; ++j) raw += get_nibble(c, r, j) * qg[j];
                raw -= 8 * s32[g];
              } else {
                for (int64_t j = 0; j < kQGroup; ++j) raw += static_cast<int8_t>(c[byte_at(r, j)]) * qg[j];
              }
              const float s = w.f16_scales() ? f16_to_f32(at<uint16_t>(panel, 0)[g * kPanelRows + r])
                                             : at<float>(panel, 0)[g * kPanelRows + r];
              acc = std::fma(static_cast<float>(raw), s * d[g], acc);
              break;
            }
            case PackedKind::kQ4K: {
              const std::byte* sp = panel + 192 * (g / 8);
              const int64_t j8 = g % 8;
              int32_t raw = 0;
              for (int64_t j = 0; j < kQGroup; ++j) raw += get_nibble(c, r, j) * qg[j];
              const int32_t t1 = at<uint8_t>(sp, 64)[j8 * 8 + r] * raw;
              const int32_t t2 = at<uint8_t>(sp, 128)[j8 * 8 + r] * s32[g];
              acc = std::fma(static_cast<float>(t1), at<float>(sp, 0)[r] * d[g], acc);
              acc = std::fma(-static_cast<float>(t2), at<float>(sp, 32)[r] * d[g], acc);
              break;
            }
            case PackedKind::kQ6K: {
              const std::byte* sp = panel + 160 * (g / 8);
              const int64_t h0 = 2 * (g % 8);
              int32_t raw[2] = {0, 0};
              for (int64_t j = 0; j < kQGroup; ++j) {
                int shift = 0;
                const size_t hb = high_bits_at(r, j, &shift);
                const int v = get_nibble(c, r, j) | (((c[hb] >> shift) & 3) << 4);
                raw[j / 16] += v * qg[j];
              }
              const int32_t dot = at<int8_t>(sp, 32)[h0 * 8 + r] * (raw[0] - 32 * s16[2 * g]) +
                                  at<int8_t>(sp, 32)[(h0 + 1) * 8 + r] * (raw[1] - 32 * s16[2 * g + 1]);
              acc = std::fma(static_cast<float>(dot), at<float>(sp, 0)[r] * d[g], acc);
              break;
            }
          }
        }
        y[t * y_stride + p * kPanelRows + r] = acc;
      }
    }
  }
}

void gemm_f16(const uint16_t* w, bool bf16, int64_t cols, const float* x, int64_t tokens, float* y, int64_t y_stride,
              int64_t row_begin, int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint16_t* wr = w + r * cols;
    for (int64_t t = 0; t < tokens; ++t) {
      const float* xt = x + t * cols;
      float acc = 0.0f;
      for (int64_t c = 0; c < cols; ++c) acc += (bf16 ? bf16_to_f32(wr[c]) : f16_to_f32(wr[c])) * xt[c];
      y[t * y_stride + r] = acc;
    }
  }
}

}  // namespace scalar

QgemmFn qgemm_kernel(CpuIsa isa) { return isa >= CpuIsa::kAvx2 ? avx2::qgemm : scalar::qgemm; }
GemmF16Fn gemm_f16_kernel(CpuIsa isa) { return isa >= CpuIsa::kAvx2 ? avx2::gemm_f16 : scalar::gemm_f16; }

void qgemm(const PackedMatrix& w, const QuantizedRows& x, float* y, int64_t y_stride, int64_t panel_begin,
           int64_t panel_end) {
  qgemm_kernel(cpu_isa())(w, x, y, y_stride, panel_begin, panel_end);
}

void quantize_rows(const float* x, int64_t first, int64_t count, QuantizedRows& out) {
  if (cpu_isa() >= CpuIsa::kAvx2) avx2::quantize_rows(x, first, count, out);
  else scalar::quantize_rows(x, first, count, out);
}

void gemm_f16(const uint16_t* w, bool bf16, int64_t cols, const float* x, int64_t tokens, float* y, int64_t y_stride,
              int64_t row_begin, int64_t row_end) {
  gemm_f16_kernel(cpu_isa())(w, bf16, cols, x, tokens, y, y_stride, row_begin, row_end);
}

}  // namespace llmrt::kernels
