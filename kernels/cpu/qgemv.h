// Integer GEMV/GEMM for block-quantized weights: the decode path of the CPU plugin.
//
// Activations are quantized on the fly per block of 32 (Q8 style): for block b,
//   d_b = max|x| / 127,  q_i = nearbyint(x_i * (127 / max|x|))  in [-127, 127],
// with the integer sums of q per 16 and per 32 kept for the weight offsets below. Weights are
// repacked once (at load) into 8-row panels: the codes of 8 output rows interleaved 4 bytes at
// a time, so that one 256-bit multiply-add (vpmaddubsw: unsigned codes x signed activations)
// yields 8 rows' partial sums side by side and a panel is read once, front to back.
//
// Kinds and their maths (w = a weight, x = an activation, per 32-column group g of a row):
//   kQ4   int4 symmetric:  w = s_g (c - 8), c in 0..15            (GGUF Q4_0, int4_sym)
//         sum_g w x = s_g d_g (sum c q - 8 sum q)
//   kQ8   int8 symmetric:  w = s_g c, c in -127..127              (GGUF Q8_0, int8_sym)
//         sum_g w x = s_g d_g sum c q        (AVX2: |c| x sign(q, c) so operands fit vpmaddubsw)
//   kQ4K  GGUF Q4_K: w = D sc_g c - Dmin m_g, c in 0..15, sc/m 6-bit per 32, D/Dmin per 256
//         sum_g w x = D d_g sc_g sum c q - Dmin d_g m_g sum q
//   kQ6K  GGUF Q6_K: w = D sc_h (c - 32), c in 0..63, sc int8 per 16 (h), D per 256
//         sum_g w x = D d_g (sc_h0 (sum_h0 c q - 32 sum_h0 q) + sc_h1 (sum_h1 c q - 32 sum_h1 q))
// The integer parts are exact (int16 pair sums of vpmaddubsw cannot saturate for these code
// ranges with |q| <= 127); each group adds its term to an f32 accumulator with one fused
// multiply-add, in group order. The scalar and AVX2 variants therefore give identical results;
// the difference from f32 maths is the activation rounding, at most d_g / 2 per element.
//
// Panel layout (8 rows; a last partial panel is padded with zero rows):
//   [per-group/per-superblock parameters, 64-byte padded][codes]; every panel is a multiple of
//   64 bytes. Codes of one 32-column group of 8 rows:
//     kQ4/kQ4K: 4 chunks of 32 bytes; chunk c, bytes 4r..4r+3 (row r): low nibble = column
//               4c+p, high nibble = column 16+4c+p (p = 0..3).
//     kQ8:      8 chunks; chunk c, bytes 4r+p = column 4c+p.
//     kQ6K:     the low 4 bits as kQ4, then 2 chunks of high bits: chunk h, byte 4r+p, bits
//               2u..2u+1 = column (h ? 16 : 0) + 4u + p (u = 0..3).
// Parameters: kQ4/kQ8 scales s per group as 8 f16 or f32 (one per row); kQ4K per 256 columns
// D[8] f32, Dmin[8] f32, sc[8 groups][8 rows] u8, m[8][8] u8; kQ6K per 256: D[8] f32,
// sc[16][8] i8.
//
// AVX-512 VNNI (vpdpbusd) would do the multiply-add in one instruction; the machines this was
// written on have AVX2 only, so that variant is not built yet and AVX-512 CPUs run the AVX2 one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "util/cpu_features.h"
#include "util/threads.h"

namespace llmrt::kernels {

inline constexpr int64_t kPanelRows = 8;
inline constexpr int64_t kQGroup = 32;

enum class PackedKind : uint8_t { kQ4, kQ8, kQ4K, kQ6K };
const char* to_string(PackedKind k);

// One activation row quantized per 32 (see above). Buffers grow as needed and are kept, so a
// decode loop that reuses one allocates nothing after the first step.
struct QuantizedRows {
  int64_t cols = 0, rows = 0;
  std::unique_ptr<int8_t[]> q;      // [rows, cols]
  std::unique_ptr<float[]> d;       // [rows, cols / 32]
  std::unique_ptr<int32_t[]> s16;   // [rows, cols / 16]
  std::unique_ptr<int32_t[]> s32;   // [rows, cols / 32]
  int64_t capacity = 0;             // elements of q allocated
  // Sizes the buffers for rows x cols (cols a multiple of 32).
  void resize(int64_t rows, int64_t cols);
};

// Quantizes rows [first, first+count) of x ([rows, cols], row stride cols) into `out`
// (already resized). Identical results on every ISA.
void quantize_rows(const float* x, int64_t first, int64_t count, QuantizedRows& out);

class PackedMatrix {
 public:
  PackedKind kind() const { return kind_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t panels() const { return (rows_ + kPanelRows - 1) / kPanelRows; }
  bool f16_scales() const { return f16_scales_; }
  size_t panel_bytes() const { return panel_bytes_; }
  size_t params_bytes() const { return params_bytes_; }  // parameter region at a panel's start
  size_t bytes() const { return panel_bytes_ * static_cast<size_t>(panels()); }
  const std::byte* panel(int64_t p) const { return data_.get() + static_cast<size_t>(p) * panel_bytes_; }
  std::byte* panel(int64_t p) { return data_.get() + static_cast<size_t>(p) * panel_bytes_; }

  // An all-zero matrix of this kind; the pack_* functions fill it. INVALID_ARGUMENT when cols
  // is not a multiple of 32 (256 for the K kinds) or a dimension is not positive.
  PackedMatrix(PackedKind kind, int64_t rows, int64_t cols, bool f16_scales);

 private:
  struct Free { void operator()(std::byte* p) const; };
  PackedKind kind_;
  int64_t rows_, cols_;
  bool f16_scales_;
  size_t params_bytes_ = 0, panel_bytes_ = 0;
  std::unique_ptr<std::byte[], Free> data_;
};

// Packers: each asks `row` for one weight row's codes and parameters (buffers sized for one
// row, given zeroed) and runs in parallel over panels. f16_scales keeps kQ4/kQ8 scales as f16
// (exact when the source stored f16, as GGUF and our f16-scale codecs do).
//   Q4:  pairs[cols/2], scale[cols/32] (f16 bits when f16_scales, else f32)
//   Q8:  codes[cols] -127..127 (-128 accepted), scale[cols/32] (likewise)
//   Q4K: pairs[cols/2], sc[cols/32], m[cols/32] (0..63), d[cols/256], dmin[cols/256]
//   Q6K: codes[cols] 0..63, sc[cols/16] int8, d[cols/256]
// 4-bit codes come as nibble pairs in GGUF Q4_0's order: byte 16g + j (j < 16) holds code
// 32g + j in its low nibble and code 32g + 16 + j in its high nibble, so Q4_0 blocks are copied
// as they are.
using Q4RowFn = FunctionRef<void(int64_t row, uint8_t* pairs, void* scale)>;
using Q8RowFn = FunctionRef<void(int64_t row, int8_t* codes, void* scale)>;
using Q4KRowFn = FunctionRef<void(int64_t row, uint8_t* pairs, uint8_t* sc, uint8_t* m, float* d, float* dmin)>;
using Q6KRowFn = FunctionRef<void(int64_t row, uint8_t* codes, int8_t* sc, float* d)>;
std::unique_ptr<PackedMatrix> pack_q4(int64_t rows, int64_t cols, bool f16_scales, Q4RowFn row);
std::unique_ptr<PackedMatrix> pack_q8(int64_t rows, int64_t cols, bool f16_scales, Q8RowFn row);
std::unique_ptr<PackedMatrix> pack_q4k(int64_t rows, int64_t cols, Q4KRowFn row);
std::unique_ptr<PackedMatrix> pack_q6k(int64_t rows, int64_t cols, Q6KRowFn row);

// y[t * y_stride + r] = sum_c W[r, c] x_t[c] for panels [panel_begin, panel_end) and every
// quantized row t of x (x.cols == w.cols()). Rows past w.rows() in the last panel are not
// written. Tokens run inside the panel loop, so a panel is read from memory once per call.
void qgemm(const PackedMatrix& w, const QuantizedRows& x, float* y, int64_t y_stride, int64_t panel_begin,
           int64_t panel_end);

using QgemmFn = void (*)(const PackedMatrix&, const QuantizedRows&, float*, int64_t, int64_t, int64_t);
QgemmFn qgemm_kernel(CpuIsa isa);
namespace scalar {
void qgemm(const PackedMatrix& w, const QuantizedRows& x, float* y, int64_t y_stride, int64_t panel_begin, int64_t panel_end);
void quantize_rows(const float* x, int64_t first, int64_t count, QuantizedRows& out);
}  // namespace scalar
namespace avx2 {
void qgemm(const PackedMatrix& w, const QuantizedRows& x, float* y, int64_t y_stride, int64_t panel_begin, int64_t panel_end);
void quantize_rows(const float* x, int64_t first, int64_t count, QuantizedRows& out);
}  // namespace avx2

// f16 / bf16 weight rows (unpacked, as stored) against f32 activations, accumulated in f32:
// y[t * y_stride + r] = sum_c W[r, c] x[t * cols + c] for rows [row_begin, row_end).
void gemm_f16(const uint16_t* w, bool bf16, int64_t cols, const float* x, int64_t tokens, float* y, int64_t y_stride,
              int64_t row_begin, int64_t row_end);
using GemmF16Fn = void (*)(const uint16_t*, bool, int64_t, const float*, int64_t, float*, int64_t, int64_t, int64_t);
GemmF16Fn gemm_f16_kernel(CpuIsa isa);
namespace scalar {
void gemm_f16(const uint16_t* w, bool bf16, int64_t cols, const float* x, int64_t tokens, float* y, int64_t y_stride,
              int64_t row_begin, int64_t row_end);
}
namespace avx2 {
void gemm_f16(const uint16_t* w, bool bf16, int64_t cols, const float* x, int64_t tokens, float* y, int64_t y_stride,
              int64_t row_begin, int64_t row_end);
}

}  // namespace llmrt::kernels
