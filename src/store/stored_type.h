// The one enum of stored tensor types, and what each needs in memory.
//
// Three families:
//  - plain:       f32, f16, bf16, f64 and integers, one contiguous plane;
//  - compressed:  our planar codecs (int8, int4, mxfp4): a plane of quantized values, a plane
//                 of per-group scales, and for asym types a plane of zero points
//                 (docs/formats.md gives each bit layout);
//  - GGUF blocks: ggml block types kept exactly as the file stores them (one plane of
//                 interleaved blocks), decoded by store/ggml_quants.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "store/ggml_quants.h"

namespace llmrt {

enum class StoredType : uint8_t {
  // plain
  kF32, kF16, kBF16, kF64, kI8, kU8, kI16, kI32, kI64,
  // compressed (planar)
  kInt8Sym,   // int8 q in [-127, 127];           x = q * scale
  kInt8Asym,  // uint8 q in [0, 255], uint8 zp;    x = (q - zp) * scale
  kInt4Sym,   // nibble q in [0, 15];              x = (q - 8) * scale
  kInt4Asym,  // nibble q in [0, 15], uint8 zp;    x = (q - zp) * scale
  kMxfp4,     // OCP MX v1.0: E2M1 nibbles, one E8M0 scale per 32 values
  // GGUF blocks (interleaved, as in the file)
  kQ4_0, kQ4_1, kQ5_0, kQ5_1, kQ8_0, kQ2_K, kQ3_K, kQ4_K, kQ5_K, kQ6_K, kGgufMxfp4,
};

enum class TypeFamily { kPlain, kCompressed, kGgufBlock };

TypeFamily family(StoredType t);
std::string_view to_string(StoredType t);
std::optional<StoredType> parse_stored_type(std::string_view name);

// Plain types: bytes per element. 0 for the others.
int plain_element_bytes(StoredType t);
bool is_float(StoredType t);  // plain float types (f32, f16, bf16, f64)

// The GGUF type behind a GGUF-block or plain type; nullopt for our compressed types and for
// plain types GGUF lacks (u8).
std::optional<ggml::Type> to_ggml(StoredType t);
// The stored type for a ggml type number; nullopt when this build cannot hold it.
std::optional<StoredType> from_ggml(ggml::Type t);

}  // namespace llmrt
