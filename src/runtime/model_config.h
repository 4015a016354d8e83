// What a model is, independent of the file it came from: the decoder's dimensions, RoPE
// scaling and per-architecture quirks, read from a Hugging Face config.json or from GGUF
// metadata, plus the file's tensor names for each role.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "store/gguf.h"
#include "store/tensor_set.h"

namespace llmrt {

enum class Architecture { kLlama, kMistral, kQwen2, kPhi3 };
std::string_view to_string(Architecture a);

enum class ModelFormat { kHuggingFace, kGguf };

struct RopeConfig {
  double theta = 10000.0;
  int64_t rotary_dim = 0;
  bool adjacent_pairs = false;         // GGUF llama: Q/K rows are permuted for adjacent pairs
  std::string scaling = "none";        // none, linear, llama3, longrope
  std::vector<float> freq_factors;     // divisors of inv_freq (linear, llama3, longrope short)
  std::vector<float> long_factors;     // longrope, used beyond original_max_positions
  int64_t original_max_positions = 0;  // longrope
  double attention_factor = 1.0;       // longrope: multiplies cos and sin
  // GGUF phi3 follows llama.cpp: long factors when the context exceeds the original one,
  // chosen once at compile time rather than per step.
  bool long_by_context = false;
};

struct ModelConfig {
  Architecture arch = Architecture::kLlama;
  ModelFormat format = ModelFormat::kHuggingFace;
  std::string source;  // file or folder, for messages
  bool container = false;  // read from an .llmrt container (format: the converted source's)
  int64_t vocab_size = 0, hidden_size = 0, num_layers = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0;
  int64_t intermediate_size = 0, max_position_embeddings = 0;
  double rms_norm_eps = 1e-5;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;       // Qwen2
  bool fused_qkv = false;      // Phi-3
  bool fused_gate_up = false;  // Phi-3
  RopeConfig rope;
  // Sliding-window attention: each query sees its last `sliding_window` positions (itself
  // included); 0 = full causal attention.
  int64_t sliding_window = 0;
  int64_t bos_token_id = -1, eos_token_id = -1;
};

// Errors name the file and the field: NOT_FOUND for a missing required field, UNSUPPORTED for
// an unknown architecture or RoPE scaling, BAD_FORMAT for values that cannot be right.
ModelConfig config_from_hf(const std::filesystem::path& dir);
ModelConfig config_from_gguf(const gguf::File& file, const TensorSet& tensors);

// The file's tensor name for each role ("model.layers.3.self_attn.q_proj.weight" or
// "blk.3.attn_q.weight").
struct TensorNames {
  std::string embed, final_norm, lm_head;
  std::string attn_norm(int64_t layer) const;
  std::string ffn_norm(int64_t layer) const;
  std::string q(int64_t layer, bool bias = false) const;
  std::string k(int64_t layer, bool bias = false) const;
  std::string v(int64_t layer, bool bias = false) const;
  std::string qkv(int64_t layer) const;
  std::string o(int64_t layer) const;
  std::string gate(int64_t layer) const;
  std::string up(int64_t layer) const;
  std::string gate_up(int64_t layer) const;
  std::string down(int64_t layer) const;
  ModelFormat format = ModelFormat::kHuggingFace;
};
TensorNames tensor_names(ModelFormat format);

}  // namespace llmrt
