// Picks the next token from a row of logits under a GenerationConfig.
//
// Order (as Hugging Face and OpenVINO GenAI apply them):
//   1. repetition_penalty on every token seen so far (prompt and generated): a positive logit
//      is divided by it, a negative one multiplied;
//   2. presence and frequency penalties on generated tokens (OpenAI's definition);
//   3. while fewer than min_new_tokens are generated, end tokens get -inf;
//   greedy (do_sample false): the argmax (lowest id on ties);
//   sampling: 4. divide by temperature, 5. keep the top_k, 6. keep the smallest set whose
//   probability reaches top_p, 7. drop tokens below min_p * p_max, 8. draw from the rest with
//   a std::mt19937_64 seeded with rng_seed.
// The log-probability reported is that of the chosen token under steps 1-4 (the distribution
// before the truncations), i.e. log_softmax(penalised logits / temperature).
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "llmrt/genai.hpp"

namespace llmrt::genai {

class Sampler {
 public:
  // end_ids: tokens that end generation (suppressed before min_new_tokens).
  Sampler(const GenerationConfig& config, std::vector<int32_t> end_ids);

  // Records a token of the prompt (for the repetition penalty).
  void observe_prompt(std::span<const int32_t> ids);
  // Chooses the next token from `logits` (modified in place) and records it as generated.
  int32_t next(std::span<float> logits, float* logprob = nullptr);
  size_t generated() const { return generated_; }

 private:
  GenerationConfig config_;
  std::vector<int32_t> end_ids_;
  std::unordered_map<int32_t, int> seen_;       // prompt + generated
  std::unordered_map<int32_t, int> generated_counts_;
  size_t generated_ = 0;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> scratch_;
};

}  // namespace llmrt::genai
