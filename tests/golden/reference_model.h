// The golden oracle: a float64 forward pass of a decoder-only model with Hugging Face
// transformers semantics, written top to bottom for reading (as llm.c does), reading a
// Hugging Face folder (config.json + safetensors). It uses no kernel of the runtime under test:
// only the store's file readers and Tensor::to_f32, and plain loops in double.
//
// Supported: model_type "llama" (rope_scaling null or rope_type "llama3"), "mistral", "qwen2"
// (q/k/v biases), "phi3" (fused qkv_proj / gate_up_proj, longrope).
//
// Semantics per forward call (as transformers with a KV cache):
//   x = embed_tokens[token]
//   per layer: x += o_proj(attention(rmsnorm(x, input_layernorm)))
//              h = rmsnorm(x, post_attention_layernorm); x += down(silu(gate(h)) * up(h))
//   logits = lm_head(rmsnorm(x, norm))   (lm_head = embed_tokens when tied)
//   rmsnorm(x, w) = x / sqrt(mean(x^2) + eps) * w
//   attention: rotate-half RoPE on q and k per head; head h reads kv head h / (nh / nkv);
//              causal over the cache and the new tokens; scores scaled by 1/sqrt(head_dim).
//   RoPE frequencies: see src/runtime/synthetic_model.cpp (default, llama3, longrope). For
//   longrope the factor set is chosen per call from (n_past + T) > original_max, and keys are
//   cached after rotation, so cached keys keep the factors of the call that computed them.
//
// Not thread-safe (the KV cache is mutable state).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace llmrt::golden {

class ReferenceModel {
 public:
  static ReferenceModel load_hf(const std::filesystem::path& dir);

  // Appends `tokens` at positions [n_past, n_past + T) using and extending the KV cache;
  // returns logits [T][vocab].
  std::vector<std::vector<double>> forward(const std::vector<int32_t>& tokens);
  void reset();  // empties the KV cache
  int64_t n_past() const { return n_past_; }
  int64_t vocab_size() const { return vocab_; }

 private:
  enum class Rope { kDefault, kLlama3, kLongrope };

  struct Layer {
    std::vector<double> attn_norm, wq, wk, wv, wo, bq, bk, bv;  // biases empty when absent
    std::vector<double> mlp_norm, w_gate, w_up, w_down;
    std::vector<double> k_cache, v_cache;  // [n_past][n_kv_heads * head_dim], keys after RoPE
  };

  std::vector<double> inv_freq_for_call(int64_t total_len) const;

  int64_t vocab_ = 0, hidden_ = 0, n_heads_ = 0, n_kv_heads_ = 0, head_dim_ = 0, ffn_ = 0;
  double eps_ = 0, theta_ = 0;
  Rope rope_ = Rope::kDefault;
  double llama3_factor_ = 1, low_freq_factor_ = 1, high_freq_factor_ = 4;
  int64_t original_max_ = 0;
  std::vector<double> long_factor_, short_factor_;
  double attention_factor_ = 1.0;
  int64_t sliding_window_ = 0;  // mistral/phi3 "sliding_window": keys within the last W positions; 0 = none

  std::vector<double> embed_, final_norm_, lm_head_;  // lm_head_ empty when tied
  std::vector<Layer> layers_;
  int64_t n_past_ = 0;
};

}  // namespace llmrt::golden
