// Lossless conversions between GGUF's 32-element block types and our planar codecs:
//   Q8_0       <-> int8_sym, group 32, f16 scales   (same int8 values, same f16 scale)
//   Q4_0       <-> int4_sym, group 32, f16 scales   (same nibbles q, x = (q - 8) * d)
//   GGUF MXFP4 <-> mxfp4                            (same E2M1 codes, same E8M0 byte)
// Only the layout changes (interleaved blocks with Q4_0 nibble order <-> separate planes with
// element 2j/2j+1 nibble pairs), so every decoded value is identical. Both directions copy.
#pragma once

#include <optional>

#include "store/tensor.h"

namespace llmrt {

// The planar type a GGUF block type maps onto without loss; nullopt for the others.
std::optional<StoredType> lossless_planar_type(StoredType gguf_type);

// Q8_0 / Q4_0 / GGUF MXFP4 tensor -> planar; INVALID_ARGUMENT for any other type.
Tensor gguf_blocks_to_planar(const Tensor& src);
// int8_sym / int4_sym (group 32, f16 scales) or mxfp4 -> the GGUF block type;
// INVALID_ARGUMENT naming what does not fit otherwise.
Tensor planar_to_gguf_blocks(const Tensor& src);

}  // namespace llmrt
