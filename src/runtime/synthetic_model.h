// Writes small (or real-sized) decoder models with random weights in genuine file layouts, so
// tests and benchmarks need no download:
//   - a Hugging Face folder: config.json + model.safetensors (or shards + index) +
//     tokenizer.json + tokenizer_config.json (runtime/synthetic_tokenizer.h),
//   - a GGUF file following llama.cpp's conventions for the same weights.
// Both forms of one spec and seed hold the same weights; a correct runtime computes the same
// logits from either.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "store/stored_type.h"

namespace llmrt {

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
};

// The weights are a pure function of (spec, seed): the same every call, on every machine.
void write_synthetic_hf(const SyntheticModelSpec& spec, const std::filesystem::path& dir);
void write_synthetic_gguf(const SyntheticModelSpec& spec, const std::filesystem::path& file);

}  // namespace llmrt
