#include "store/gguf_mapping.h"

#include <cstring>

#include "util/error.h"

namespace llmrt {
namespace {

constexpr int64_t kBlock = 32;

// Per block: the bytes of its scale in the GGUF block and in the planar scales plane.
int scale_bytes(StoredType gguf_type) { return gguf_type == StoredType::kGgufMxfp4 ? 1 : 2; }
int block_bytes(StoredType gguf_type) {
  switch (gguf_type) {
    case StoredType::kQ8_0: return 34;
    case StoredType::kQ4_0: return 18;
    default: return 17;  // MXFP4
  }
}

// Q4_0/MXFP4 keep element j in the low nibble and j+16 in the high nibble of byte j; the
// planar codecs keep elements 2j and 2j+1 in byte j. Both unpack to 32 codes the same way.
void unpack_block_order(const std::byte* src, uint8_t* codes) {
  for (int j = 0; j < 16; ++j) {
    auto b = std::to_integer<uint8_t>(src[j]);
    codes[j] = b & 0x0F;
    codes[j + 16] = b >> 4;
  }
}
void pack_block_order(const uint8_t* codes, std::byte* dst) {
  for (int j = 0; j < 16; ++j) dst[j] = static_cast<std::byte>(codes[j] | (codes[j + 16] << 4));
}
void unpack_pair_order(const std::byte* src, uint8_t* codes) {
  for (int j = 0; j < 16; ++j) {
    auto b = std::to_integer<uint8_t>(src[j]);
    codes[2 * j] = b & 0x0F;
    codes[2 * j + 1] = b >> 4;
  }
}
void pack_pair_order(const uint8_t* codes, std::byte* dst) {
  for (int j = 0; j < 16; ++j) dst[j] = static_cast<std::byte>(codes[2 * j] | (codes[2 * j + 1] << 4));
}

}  // namespace

std::optional<StoredType> lossless_planar_type(StoredType gguf_type) {
  switch (gguf_type) {
    case StoredType::kQ8_0: return StoredType::kInt8Sym;
    case StoredType::kQ4_0: return StoredType::kInt4Sym;
    case StoredType::kGgufMxfp4: return StoredType::kMxfp4;
    default: return std::nullopt;
  }
}

Tensor gguf_blocks_to_planar(const Tensor& src) {
  std::optional<StoredType> planar = lossless_planar_type(src.type);
  if (!planar) {
    fail(ErrorCode::kInvalidArgument, "tensor '{}': {} has no lossless planar form (only q8_0, q4_0, gguf_mxfp4)",
         src.name, to_string(src.type));
  }
  src.validate();
  const int64_t blocks = src.numel() / kBlock;
  const int sb = scale_bytes(src.type), bb = block_bytes(src.type);
  const bool eight_bit = src.type == StoredType::kQ8_0;
  std::vector<std::byte> data(static_cast<size_t>(blocks * (eight_bit ? 32 : 16)));
  std::vector<std::byte> scales(static_cast<size_t>(blocks * sb));
  uint8_t codes[kBlock];
  for (int64_t b = 0; b < blocks; ++b) {
    const std::byte* block = src.data.data() + b * bb;
    std::memcpy(scales.data() + b * sb, block, static_cast<size_t>(sb));
    if (eight_bit) {
      std::memcpy(data.data() + b * 32, block + sb, 32);
    } else {
      unpack_block_order(block + sb, codes);
      pack_pair_order(codes, data.data() + b * 16);
    }
  }
  return make_owned_tensor(src.name, *planar, src.shape, std::move(data), std::move(scales), {}, kBlock,
                           src.type == StoredType::kGgufMxfp4 ? StoredType::kF32 : StoredType::kF16);
}

Tensor planar_to_gguf_blocks(const Tensor& src) {
  StoredType gguf;
  switch (src.type) {
    case StoredType::kInt8Sym: gguf = StoredType::kQ8_0; break;
    case StoredType::kInt4Sym: gguf = StoredType::kQ4_0; break;
    case StoredType::kMxfp4: gguf = StoredType::kGgufMxfp4; break;
    default:
      fail(ErrorCode::kInvalidArgument, "tensor '{}': {} has no GGUF block form (only int8_sym, int4_sym, mxfp4)",
           src.name, to_string(src.type));
  }
  if (src.group_size != kBlock) {
    fail(ErrorCode::kInvalidArgument, "tensor '{}': GGUF {} needs group size 32, not {}", src.name,
         to_string(gguf), src.group_size);
  }
  if (gguf != StoredType::kGgufMxfp4 && src.scale_type != StoredType::kF16) {
    fail(ErrorCode::kInvalidArgument, "tensor '{}': GGUF {} needs f16 scales, not {}", src.name, to_string(gguf),
         to_string(src.scale_type));
  }
  src.validate();
  const int64_t blocks = src.numel() / kBlock;
  const int sb = scale_bytes(gguf), bb = block_bytes(gguf);
  const bool eight_bit = gguf == StoredType::kQ8_0;
  std::vector<std::byte> data(static_cast<size_t>(blocks * bb));
  uint8_t codes[kBlock];
  for (int64_t b = 0; b < blocks; ++b) {
    std::byte* block = data.data() + b * bb;
    std::memcpy(block, src.scales.data() + b * sb, static_cast<size_t>(sb));
    if (eight_bit) {
      std::memcpy(block + sb, src.data.data() + b * 32, 32);
    } else {
      unpack_pair_order(src.data.data() + b * 16, codes);
      pack_block_order(codes, block + sb);
    }
  }
  return make_owned_tensor(src.name, gguf, src.shape, std::move(data));
}

}  // namespace llmrt
