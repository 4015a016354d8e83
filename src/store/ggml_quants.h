// GGUF/ggml tensor types: their block geometry, and scalar reference dequantizers (and
// quantizers, used to write test files and converted models) for the block-quantized ones.
// These follow the published ggml block layouts bit for bit, so that a GGUF file made by
// llama.cpp decodes here to exactly the floats llama.cpp decodes it to.
//
// Thread-safety: all functions are pure.
#pragma once

#include <cstdint>
#include <string_view>

namespace llmrt::ggml {

// Values are the on-disk ggml_type numbers.
enum class Type : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
  kMXFP4 = 39,
};

struct TypeTraits {
  std::string_view name;   // "Q4_K", "F16", ...
  int64_t block_elements;  // elements per block (1 for plain types)
  int64_t block_bytes;     // bytes per block
  bool quantized;          // a block type with a dequantizer here
};

// Traits of a type number read from a file; nullptr when this build does not know it.
const TypeTraits* type_traits(uint32_t type);

// Bytes that `n` elements of `type` occupy; INVALID_ARGUMENT (llmrt::Error) when n is not a
// multiple of the block size or the type is unknown; OUT_OF_RANGE on overflow (the result is
// kept within INT64_MAX, so that it also fits int64_t / ptrdiff_t / off_t).
uint64_t row_bytes(Type type, int64_t n);

// Decodes n elements (a multiple of the block size) to f32. Plain types (F32, F16, BF16, F64,
// I8..I64) are converted too. Throws llmrt::Error (UNSUPPORTED) for types without a decoder.
// Every type of the enum has one here (Q8_1 and Q8_K included); an unknown type number, a bad
// n or a null pointer with n > 0 is INVALID_ARGUMENT.
void dequantize_row(Type type, const void* src, float* dst, int64_t n);

// Q4_K / Q5_K: the 6-bit (scale, min) pair of sub-block j (0..7) from a block's 12 packed
// scale bytes (the layout is spelled out in ggml_quants.cpp).
void k4_scale_min(const uint8_t* scales12, int j, int* scale, int* min);

// Encodes n floats (a multiple of the block size) into `type`'s blocks with a plain
// round-to-nearest reference quantizer (not an importance-weighted one). Throws llmrt::Error:
// INVALID_ARGUMENT for NaN/inf input, UNSUPPORTED for types without an encoder.
// Encoders: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, MXFP4.
// Finite input that cannot be stored (an F16/BF16 value or a block's f16 scale that would
// overflow to inf) is INVALID_ARGUMENT too; messages name the element (or block's first element).
void quantize_row(Type type, const float* src, void* dst, int64_t n);

}  // namespace llmrt::ggml
