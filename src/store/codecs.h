// Our compressed weight codecs — scalar reference quantize/dequantize, one file each:
//   int8_codec.cpp   int8 sym/asym, per output channel or per group
//   int4_codec.cpp   int4 sym/asym, per group (32/64/128 or any even divisor of cols)
//   mxfp4_codec.cpp  OCP Microscaling MXFP4 (E2M1 values, E8M0 scale per 32)
// Bit layouts and maths: docs/formats.md. These are the oracles the fast kernels are tested
// against; they favour clarity over speed.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "store/tensor.h"

namespace llmrt::codec {

struct QuantizeOptions {
  StoredType type = StoredType::kInt8Sym;  // one of the compressed types
  int32_t group_size = 0;                  // 0 or -1: one group per row (per channel)
  StoredType scale_type = StoredType::kF32;  // kF32 or kF16 (ignored for mxfp4)
};

// Quantizes `src` (row-major, shape[-1] = cols) into a new owned tensor. Errors
// (llmrt::Error): INVALID_ARGUMENT for NaN/inf input (naming the element), a group size that
// does not divide cols, or a scale that overflows f16.
Tensor quantize(std::string name, const Shape& shape, std::span<const float> src, const QuantizeOptions& options);
// Rows [first, first + count) of a compressed tensor (the caller checked the range); whole
// tensors decode through Tensor::dequantize.
void dequantize_rows(const Tensor& t, int64_t first, int64_t count, float* dst);
// Plane sizes of a compressed tensor; BAD_FORMAT naming the tensor for a bad grouping.
PlaneSizes plane_sizes(const Tensor& t);

// Per codec (called through the functions above).
Tensor quantize_int8(std::string name, const Shape& shape, std::span<const float> src, const QuantizeOptions& o);
void dequantize_int8(const Tensor& t, int64_t first_row, int64_t rows, float* dst);
Tensor quantize_int4(std::string name, const Shape& shape, std::span<const float> src, const QuantizeOptions& o);
void dequantize_int4(const Tensor& t, int64_t first_row, int64_t rows, float* dst);
Tensor quantize_mxfp4(std::string name, const Shape& shape, std::span<const float> src);
void dequantize_mxfp4(const Tensor& t, int64_t first_row, int64_t rows, float* dst);

// Shared by the codecs.

// A quantizer's output before it is filled in: the layout (group resolved, plane sizes
// checked, input checked finite) and zeroed planes of the right sizes.
struct PlanarOutput {
  Tensor layout;
  int64_t rows = 0, cols = 0, group = 0, groups_per_row = 0;
  std::vector<std::byte> data, scales, zero_points;
  Tensor finish() &&;  // the owned tensor
};
PlanarOutput begin_quantize(std::string name, const Shape& shape, std::span<const float> src, StoredType type,
                            int32_t group_size, StoredType scale_type);

// min and max of a group, widened to include 0 (so zeros stay exact in asym codecs).
struct Range {
  double lo = 0, hi = 0;
};
Range range_with_zero(const float* x, int64_t n);

void check_finite(std::span<const float> src, int64_t cols, std::string_view tensor_name);
// Rounds a scale to its stored type and returns the value the decoder will see; errors
// when it overflows f16.
double store_scale(double scale, StoredType scale_type, std::byte* dst, std::string_view tensor_name);
float load_scale(const Tensor& t, int64_t group_index);
int32_t resolve_group(int32_t group_size, int64_t cols);

// E2M1 (FP4) helpers, exposed for tests and for the GGUF MXFP4 mapping.
float e2m1_value(uint8_t nibble);        // nibble -> value in {±0, ±0.5, ..., ±6}
uint8_t e2m1_encode(double x);           // nearest E2M1 to x, ties to even, saturating at ±6; never -0
double e8m0_value(uint8_t e);            // 2^(e-127); NaN for 0xFF

}  // namespace llmrt::codec
