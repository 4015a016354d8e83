// Q8_0 and Q4_0 (and GGUF MXFP4) map onto our int8/int4 group-32 sym (and mxfp4) without
// loss: the blocks ggml's quantizer makes, converted to planar form, decode to the same floats
// bit for bit, and converting back gives the original bytes.
#include "store/gguf_mapping.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <random>

#include "store/codecs.h"
#include "store/test_files.h"

namespace llmrt {
namespace {

Tensor ggml_quantized(ggml::Type type, StoredType stored, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  std::vector<float> src(static_cast<size_t>(rows * cols));
  for (auto& x : src) x = normal(rng);
  src[7] = 9.0f;  // an outlier
  uint64_t row_bytes = ggml::row_bytes(type, cols);
  std::vector<std::byte> data(row_bytes * static_cast<uint64_t>(rows));
  for (int64_t r = 0; r < rows; ++r) ggml::quantize_row(type, src.data() + r * cols, data.data() + r * row_bytes, cols);
  return make_owned_tensor("blk.0.ffn_down.weight", stored, {rows, cols}, std::move(data));
}

void expect_same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(a[i]), std::bit_cast<uint32_t>(b[i])) << "element " << i << ": " << a[i] << " vs " << b[i];
  }
}

struct MapCase {
  ggml::Type ggml_type;
  StoredType gguf_type, planar_type;
};

class LosslessMapping : public ::testing::TestWithParam<MapCase> {};

TEST_P(LosslessMapping, BitForBitBothWays) {
  const MapCase& c = GetParam();
  Tensor blocks = ggml_quantized(c.ggml_type, c.gguf_type, 6, 256, 11);
  Tensor planar = gguf_blocks_to_planar(blocks);
  EXPECT_EQ(planar.type, c.planar_type);
  EXPECT_EQ(planar.group_size, 32);
  expect_same_bits(planar.to_f32(), blocks.to_f32());
  Tensor back = planar_to_gguf_blocks(planar);
  ASSERT_EQ(back.data.size(), blocks.data.size());
  EXPECT_EQ(std::memcmp(back.data.data(), blocks.data.data(), blocks.data.size()), 0);
  EXPECT_EQ(back.type, c.gguf_type);
}

INSTANTIATE_TEST_SUITE_P(Types, LosslessMapping,
                         ::testing::Values(MapCase{ggml::Type::kQ8_0, StoredType::kQ8_0, StoredType::kInt8Sym},
                                           MapCase{ggml::Type::kQ4_0, StoredType::kQ4_0, StoredType::kInt4Sym},
                                           MapCase{ggml::Type::kMXFP4, StoredType::kGgufMxfp4, StoredType::kMxfp4}),
                         [](const auto& p) { return std::string(to_string(p.param.gguf_type)); });

TEST(LosslessMapping, OurQuantizerOutputAlsoMapsToGgufBlocks) {
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  std::vector<float> src(4 * 128);
  for (auto& x : src) x = normal(rng);
  for (auto type : {StoredType::kInt8Sym, StoredType::kInt4Sym, StoredType::kMxfp4}) {
    Tensor ours = codec::quantize("w", {4, 128}, src, {type, 32, StoredType::kF16});
    Tensor blocks = planar_to_gguf_blocks(ours);
    expect_same_bits(blocks.to_f32(), ours.to_f32());  // decoded by ggml's reference decoder
  }
}

TEST(LosslessMapping, RefusesWhatCannotMapExactly) {
  std::vector<float> src(2 * 64, 1.0f);
  using testing_util::fails_with;
  EXPECT_TRUE(fails_with([&] { planar_to_gguf_blocks(codec::quantize("a", {2, 64}, src, {StoredType::kInt4Sym, 64, StoredType::kF16})); },
                         ErrorCode::kInvalidArgument, {"'a'", "group size 32"}));
  EXPECT_TRUE(fails_with([&] { planar_to_gguf_blocks(codec::quantize("b", {2, 64}, src, {StoredType::kInt8Sym, 32, StoredType::kF32})); },
                         ErrorCode::kInvalidArgument, {"'b'", "f16 scales"}));
  EXPECT_TRUE(fails_with([&] { planar_to_gguf_blocks(codec::quantize("c", {2, 64}, src, {StoredType::kInt4Asym, 32, StoredType::kF16})); },
                         ErrorCode::kInvalidArgument, {"'c'"}));
  Tensor k = ggml_quantized(ggml::Type::kQ4_K, StoredType::kQ4_K, 1, 256, 1);
  EXPECT_TRUE(fails_with([&] { gguf_blocks_to_planar(k); }, ErrorCode::kInvalidArgument, {"q4_k"}));
}

}  // namespace
}  // namespace llmrt
