// Writes small (or real-sized) decoder models with random weights in genuine file layouts, so
// tests and benchmarks need no download:
//   - a Hugging Face folder: config.json + model.safetensors (or shards + index) +
//     tokenizer.json + tokenizer_config.json (runtime/synthetic_tokenizer.h),
//   - a GGUF file following llama.cpp's conventions for the same weights, in F32 or, with
//     SyntheticModelSpec::gguf_weights, in F16/BF16 or quantized with a llama-quantize recipe.
// Both forms of one spec and seed hold the same weights; a correct runtime computes the same
// logits from either (up to the quantization error of a quantized GGUF).
//
// Thread-safety: the functions are pure apart from the files they write; they use the
// process's thread pool (util/threads.h) to generate and quantize each tensor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "store/stored_type.h"

namespace llmrt {

// The GGUF form's weight types, after llama.cpp's llama-quantize types of the same names:
// kF32/kF16/kBF16 store every matrix in that type; kQ8_0, kQ4_0 and kQ4_K_M follow
// llama-quantize's per-tensor choices (synthetic_model.cpp lists them). Vectors (norms, biases,
// RoPE tables) stay F32 in every recipe.
enum class GgufRecipe { kF32, kF16, kBF16, kQ8_0, kQ4_0, kQ4_K_M };

struct SyntheticModelSpec {
  // "llama" (Llama 2 style), "llama3" (llama with rope_scaling rope_type=llama3),
  // "mistral", "qwen2" (q/k/v biases), "phi3" (fused qkv_proj and gate_up_proj, longrope).
  std::string arch = "llama";
  int64_t vocab_size = 96;
  int64_t hidden_size = 64;
  int64_t num_layers = 2;
  int64_t num_heads = 4;
  int64_t num_kv_heads = 2;
  int64_t head_dim = 16;  // hidden_size need not equal num_heads * head_dim
  int64_t intermediate_size = 96;
  int64_t max_position_embeddings = 128;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-5;
  bool tie_word_embeddings = false;
  uint32_t seed = 1;
  float init_std = 0.08f;  // weights ~ N(0, init_std); norm weights ~ 1 + N(0, 0.1)
  // llama3 scaling (arch "llama3"): factor, low/high freq factors, original context.
  double rope_factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 32;  // llama3 and phi3 longrope
  int shards = 1;  // HF form: > 1 writes model-0000K-of-0000N.safetensors + index
  // Sliding-window attention (mistral, phi3): each query sees its last `sliding_window`
  // positions, itself included; 0 = none. Written as config.json "sliding_window" and, for
  // phi3, GGUF phi3.attention.sliding_window (llama.cpp ignores windows for the llama arch).
  int64_t sliding_window = 0;
  StoredType hf_dtype = StoredType::kF32;  // kF32, kF16 or kBF16 in the safetensors files
  // The GGUF form's weight types (write_synthetic_gguf). The HF form's dtype is hf_dtype; it
  // refuses quantized recipes.
  GgufRecipe gguf_recipe = GgufRecipe::kF32;
};

// "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m", and the aliases "int8" (q8_0) and "int4"
// (q4_0); nullopt for any other name.
std::optional<GgufRecipe> parse_gguf_recipe(std::string_view name);
std::string_view to_string(GgufRecipe recipe);  // the canonical name ("q4_k_m")
bool is_quantized(GgufRecipe recipe);          // q8_0, q4_0, q4_k_m

// The number of weights (matrix and vector elements; RoPE tables not counted) of the model a
// spec describes. INVALID_ARGUMENT for an inconsistent spec, as the writers.
int64_t synthetic_parameter_count(const SyntheticModelSpec& spec);

// The weights are a pure function of (spec, seed): the same every call, on every machine. A
// quantized GGUF holds those same float values encoded with ggml's block types.
// write_synthetic_hf: INVALID_ARGUMENT for a quantized gguf_recipe (safetensors holds plain types).
void write_synthetic_hf(const SyntheticModelSpec& spec, const std::filesystem::path& dir);
void write_synthetic_gguf(const SyntheticModelSpec& spec, const std::filesystem::path& file);

}  // namespace llmrt
