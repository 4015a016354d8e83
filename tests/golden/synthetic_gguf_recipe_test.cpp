// The synthetic writer's GGUF weight recipes (SyntheticModelSpec::gguf_recipe): every tensor has
// the type llama.cpp's llama-quantize gives it for that file type (the rules are written out
// again here from llama.cpp's llama_tensor_get_type, not taken from the writer), and decodes to
// the f32 file's weights of the same spec and seed within the type's error.
//
// Error bounds, relative RMSE ||dequantized - f32|| / ||f32|| per tensor, for N(0, 0.08)
// weights and our round-to-nearest encoders (the largest value measured in brackets):
//   F16 < 0.1% [0.021%], BF16 < 0.5% [0.17%], Q8_0 < 1% [0.55%], Q6_K < 3% [1.9%],
//   Q5_K < 6% [3.8%], Q5_0 < 8% [4.4%], Q4_K < 12% [7.9%], Q4_0 < 15% [8.8%].
// F32 tensors (norms, biases) must be exact, and every other tensor must differ from the f32
// weights (rounded, not copied).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/synthetic_model.h"
#include "store/gguf.h"
#include "store/test_files.h"

namespace llmrt {
namespace {

namespace fs = std::filesystem;
using testing_util::fails_with;
using testing_util::TempDir;

// Wide enough for the K-quants (rows of 256 and 512); 8 layers show Q4_K_M's layer rule.
SyntheticModelSpec k_quant_spec(const std::string& arch = "llama", int64_t layers = 8, bool tied = false) {
  SyntheticModelSpec s;
  s.arch = arch;
  s.hidden_size = 256;
  s.intermediate_size = 512;
  s.num_heads = 4;
  s.num_kv_heads = 2;
  s.head_dim = 64;
  s.num_layers = layers;
  s.tie_word_embeddings = tied;
  return s;
}

// llama.cpp, llama_tensor_get_type: use_more_bits(i_layer, n_layers).
bool use_more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

int64_t block_of(StoredType t) {
  switch (t) {
    case StoredType::kQ4_0: case StoredType::kQ5_0: case StoredType::kQ5_1: case StoredType::kQ8_0: return 32;
    case StoredType::kQ4_K: case StoredType::kQ5_K: case StoredType::kQ6_K: return 256;
    default: return 1;
  }
}

int64_t layer_of(const std::string& name) {
  return name.starts_with("blk.") ? std::stoll(name.substr(4, name.find('.', 4) - 4)) : -1;
}

// The type llama-quantize (no imatrix, no overrides) gives a tensor, and our fallback for rows
// that do not fit the block: llama.cpp's Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, then F16.
StoredType expected_type(GgufRecipe recipe, const std::string& name, const Shape& shape, int64_t n_layers, bool tied) {
  if (shape.size() < 2) return StoredType::kF32;
  if (recipe == GgufRecipe::kF32) return StoredType::kF32;
  if (recipe == GgufRecipe::kF16) return StoredType::kF16;
  if (recipe == GgufRecipe::kBF16) return StoredType::kBF16;
  const StoredType base = recipe == GgufRecipe::kQ8_0 ? StoredType::kQ8_0
                          : recipe == GgufRecipe::kQ4_0 ? StoredType::kQ4_0
                                                        : StoredType::kQ4_K;
  StoredType t = base;
  const bool is_head = name == "output.weight" || (tied && name == "token_embd.weight");
  if (is_head) {
    t = base == StoredType::kQ8_0 ? StoredType::kQ8_0 : StoredType::kQ6_K;
  } else if (recipe == GgufRecipe::kQ4_K_M) {
    const bool v_or_down = name.ends_with("attn_v.weight") || name.ends_with("ffn_down.weight");
    if (v_or_down && use_more_bits(layer_of(name), n_layers)) t = StoredType::kQ6_K;
    if (name.ends_with("attn_qkv.weight")) t = StoredType::kQ5_K;
  }
  if (shape.back() % block_of(t) != 0) {
    if (t == StoredType::kQ4_K) t = StoredType::kQ5_0;
    if (t == StoredType::kQ5_K) t = StoredType::kQ5_1;
    if (t == StoredType::kQ6_K) t = StoredType::kQ8_0;
    if (shape.back() % block_of(t) != 0) t = StoredType::kF16;
  }
  return t;
}

double max_relative_rmse(StoredType t) {
  switch (t) {
    case StoredType::kF16: return 0.001;
    case StoredType::kBF16: return 0.005;
    case StoredType::kQ8_0: return 0.01;
    case StoredType::kQ6_K: return 0.03;
    case StoredType::kQ5_K: return 0.06;
    case StoredType::kQ5_0: case StoredType::kQ5_1: return 0.08;
    case StoredType::kQ4_K: return 0.12;
    case StoredType::kQ4_0: return 0.15;
    default: return 0.0;  // F32: exact
  }
}

double relative_rmse(const std::vector<float>& got, const std::vector<float>& want) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    err += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    norm += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(err / norm);
}

// Writes `spec` as f32 and as `recipe`, and checks every tensor's type and error.
// Returns the types found, by tensor name.
std::map<std::string, StoredType> check_recipe(SyntheticModelSpec spec, GgufRecipe recipe, const TempDir& dir) {
  spec.gguf_recipe = GgufRecipe::kF32;
  write_synthetic_gguf(spec, dir / "f32.gguf");
  spec.gguf_recipe = recipe;
  write_synthetic_gguf(spec, dir / "q.gguf");
  const gguf::File f32_file = gguf::File::read(dir / "f32.gguf");
  const gguf::File q_file = gguf::File::read(dir / "q.gguf");
  const TensorSet want = f32_file.tensors();
  const TensorSet got = q_file.tensors();
  std::map<std::string, StoredType> types;
  EXPECT_EQ(got.tensors().size(), want.tensors().size());
  for (const Tensor& w : want.tensors()) {
    const Tensor* g = got.find(w.name);
    if (!g) {
      ADD_FAILURE() << w.name << " missing";
      continue;
    }
    EXPECT_EQ(w.type, StoredType::kF32) << w.name;
    EXPECT_EQ(g->shape, w.shape) << w.name;
    const StoredType expected = expected_type(recipe, w.name, w.shape, spec.num_layers, spec.tie_word_embeddings);
    EXPECT_EQ(g->type, expected) << w.name << ": " << to_string(g->type) << " instead of " << to_string(expected);
    types[w.name] = g->type;
    const double rmse = relative_rmse(g->to_f32(), w.to_f32());
    if (g->type == StoredType::kF32) {
      EXPECT_EQ(rmse, 0.0) << w.name;
    } else {
      EXPECT_LT(rmse, max_relative_rmse(g->type)) << w.name << " (" << to_string(g->type) << ")";
      EXPECT_GT(rmse, 0.0) << w.name << " (" << to_string(g->type) << ") should be rounded";
    }
  }
  const int64_t file_types[] = {0, 1, 32, 7, 2, 15};  // llama_ftype: ALL_F32, F16, BF16, Q8_0, Q4_0, Q4_K_M
  EXPECT_EQ(q_file.at("general.file_type").as_int("file_type"), file_types[static_cast<int>(recipe)]);
  EXPECT_EQ(q_file.find("general.quantization_version") != nullptr, is_quantized(recipe));
  return types;
}

class SyntheticGgufRecipe : public ::testing::TestWithParam<GgufRecipe> {};

TEST_P(SyntheticGgufRecipe, TypesFollowLlamaQuantizeAndWeightsMatchF32) {
  TempDir dir;
  const auto types = check_recipe(k_quant_spec(), GetParam(), dir);
  // The rule, spelled out for this spec, so that a wrong expected_type cannot hide a wrong writer.
  const std::set<int64_t> more_bits_layers{0, 3, 6, 7};  // n = 8: i < 1, i >= 7, (i - 1) % 3 == 2
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(use_more_bits(i, 8), more_bits_layers.count(i) == 1) << i;
  const std::string l1 = "blk.1.", l3 = "blk.3.";
  switch (GetParam()) {
    case GgufRecipe::kQ4_K_M:
      EXPECT_EQ(types.at("token_embd.weight"), StoredType::kQ4_K);
      EXPECT_EQ(types.at("output.weight"), StoredType::kQ6_K);
      EXPECT_EQ(types.at(l3 + "attn_v.weight"), StoredType::kQ6_K);
      EXPECT_EQ(types.at(l3 + "ffn_down.weight"), StoredType::kQ6_K);
      EXPECT_EQ(types.at(l1 + "attn_v.weight"), StoredType::kQ4_K);
      EXPECT_EQ(types.at(l1 + "ffn_down.weight"), StoredType::kQ4_K);
      EXPECT_EQ(types.at(l3 + "attn_q.weight"), StoredType::kQ4_K);
      break;
    case GgufRecipe::kQ4_0:
      EXPECT_EQ(types.at("token_embd.weight"), StoredType::kQ4_0);
      EXPECT_EQ(types.at("output.weight"), StoredType::kQ6_K);
      EXPECT_EQ(types.at(l3 + "ffn_down.weight"), StoredType::kQ4_0);
      break;
    case GgufRecipe::kQ8_0:
      EXPECT_EQ(types.at("token_embd.weight"), StoredType::kQ8_0);
      EXPECT_EQ(types.at("output.weight"), StoredType::kQ8_0);
      break;
    default:
      break;
  }
  EXPECT_EQ(types.at(l1 + "attn_norm.weight"), StoredType::kF32);
}

INSTANTIATE_TEST_SUITE_P(Recipes, SyntheticGgufRecipe,
                         ::testing::Values(GgufRecipe::kF16, GgufRecipe::kBF16, GgufRecipe::kQ8_0, GgufRecipe::kQ4_0,
                                           GgufRecipe::kQ4_K_M),
                         [](const auto& p) { return std::string(to_string(p.param)); });

// Tied embeddings: token_embd.weight is also the output head and gets the head's type.
TEST(SyntheticGgufRecipes, TiedEmbeddingTakesTheOutputType) {
  for (GgufRecipe r : {GgufRecipe::kQ8_0, GgufRecipe::kQ4_0, GgufRecipe::kQ4_K_M}) {
    SCOPED_TRACE(std::string(to_string(r)));
    TempDir dir;
    const auto types = check_recipe(k_quant_spec("qwen2", 2, /*tied=*/true), r, dir);
    EXPECT_EQ(types.count("output.weight"), 0u);
    EXPECT_EQ(types.at("token_embd.weight"), r == GgufRecipe::kQ8_0 ? StoredType::kQ8_0 : StoredType::kQ6_K);
    EXPECT_EQ(types.at("blk.0.attn_q.bias"), StoredType::kF32);
  }
}

// Phi-3's fused attn_qkv is Q5_K in Q4_K_M; n = 16 layers: Q6_K in layers 0 1 4 7 10 13 14 15.
TEST(SyntheticGgufRecipes, Q4KMFusedQkvAndSixteenLayers) {
  SyntheticModelSpec s = k_quant_spec("phi3", 16);
  s.intermediate_size = 256;
  TempDir dir;
  const auto types = check_recipe(s, GgufRecipe::kQ4_K_M, dir);
  const std::set<int64_t> more_bits{0, 1, 4, 7, 10, 13, 14, 15};
  for (int64_t i = 0; i < 16; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    EXPECT_EQ(types.at(p + "attn_qkv.weight"), StoredType::kQ5_K) << i;
    EXPECT_EQ(types.at(p + "ffn_down.weight"), more_bits.count(i) ? StoredType::kQ6_K : StoredType::kQ4_K) << i;
  }
}

// Rows that do not fit a type's block fall back: Q4_K -> Q5_0 and Q6_K -> Q8_0 for rows of
// 64 and 96; rows of 48 go to F16 in every quantized recipe.
TEST(SyntheticGgufRecipes, RowsThatDoNotFitTheBlockFallBack) {
  SyntheticModelSpec s;  // hidden 64, ffn 96, head_dim 16
  s.num_layers = 3;
  for (GgufRecipe r : {GgufRecipe::kQ8_0, GgufRecipe::kQ4_0, GgufRecipe::kQ4_K_M}) {
    SCOPED_TRACE(std::string(to_string(r)));
    TempDir dir;
    const auto types = check_recipe(s, r, dir);
    if (r == GgufRecipe::kQ4_K_M) {
      EXPECT_EQ(types.at("blk.1.attn_q.weight"), StoredType::kQ5_0);
      EXPECT_EQ(types.at("blk.0.ffn_down.weight"), StoredType::kQ5_0);  // Q4_K, row of 96
      EXPECT_EQ(types.at("blk.2.ffn_down.weight"), StoredType::kQ8_0);  // Q6_K (n = 3: layer 2 only)
      EXPECT_EQ(types.at("output.weight"), StoredType::kQ8_0);
    }
  }
  SyntheticModelSpec narrow;
  narrow.hidden_size = 48;
  narrow.intermediate_size = 80;
  for (GgufRecipe r : {GgufRecipe::kQ8_0, GgufRecipe::kQ4_0, GgufRecipe::kQ4_K_M}) {
    SCOPED_TRACE(std::string(to_string(r)) + " narrow");
    TempDir dir;
    const auto types = check_recipe(narrow, r, dir);
    EXPECT_EQ(types.at("token_embd.weight"), StoredType::kF16);
    EXPECT_EQ(types.at("blk.0.ffn_gate.weight"), StoredType::kF16);
    EXPECT_EQ(types.at("blk.0.ffn_down.weight"), StoredType::kF16);  // row of 80
    // attn_output's rows are num_heads * head_dim = 64 long and fit blocks of 32.
    const StoredType attn_output = r == GgufRecipe::kQ8_0 ? StoredType::kQ8_0 : r == GgufRecipe::kQ4_0 ? StoredType::kQ4_0 : StoredType::kQ5_0;
    EXPECT_EQ(types.at("blk.0.attn_output.weight"), attn_output);
  }
}

TEST(SyntheticGgufRecipes, SameSpecGivesSameBytes) {
  SyntheticModelSpec s = k_quant_spec("llama", 2);
  s.gguf_recipe = GgufRecipe::kQ4_K_M;
  TempDir dir;
  write_synthetic_gguf(s, dir / "a.gguf");
  write_synthetic_gguf(s, dir / "b.gguf");
  EXPECT_EQ(testing_util::read_bytes(dir / "a.gguf"), testing_util::read_bytes(dir / "b.gguf"));
}

TEST(SyntheticGgufRecipes, NamesAndTheHfFormRefusesQuantizedRecipes) {
  EXPECT_EQ(parse_gguf_recipe("q4_k_m"), GgufRecipe::kQ4_K_M);
  EXPECT_EQ(parse_gguf_recipe("int4"), GgufRecipe::kQ4_0);
  EXPECT_EQ(parse_gguf_recipe("int8"), GgufRecipe::kQ8_0);
  EXPECT_EQ(parse_gguf_recipe("bf16"), GgufRecipe::kBF16);
  EXPECT_EQ(parse_gguf_recipe("q4_k"), std::nullopt);
  EXPECT_EQ(parse_gguf_recipe("Q4_0"), std::nullopt);
  for (GgufRecipe r : {GgufRecipe::kF32, GgufRecipe::kF16, GgufRecipe::kBF16, GgufRecipe::kQ8_0, GgufRecipe::kQ4_0,
                       GgufRecipe::kQ4_K_M}) {
    EXPECT_EQ(parse_gguf_recipe(to_string(r)), r);
  }
  SyntheticModelSpec s;
  s.gguf_recipe = GgufRecipe::kQ4_0;
  TempDir dir;
  EXPECT_TRUE(fails_with([&] { write_synthetic_hf(s, dir / "hf"); }, ErrorCode::kInvalidArgument, {"q4_0", "f32/f16/bf16"}));
}

}  // namespace
}  // namespace llmrt
