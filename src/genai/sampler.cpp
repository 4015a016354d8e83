#include "genai/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/error.h"

namespace llmrt {

void GenerationConfig::validate() const {
  auto bad = [](const char* field, auto value, const char* why) {
    fail(ErrorCode::kInvalidArgument, "GenerationConfig.{} = {}: {}", field, value, why);
  };
  if (max_new_tokens == 0) bad("max_new_tokens", max_new_tokens, "must be at least 1");
  if (min_new_tokens > max_new_tokens) bad("min_new_tokens", min_new_tokens, "exceeds max_new_tokens");
  if (!(repetition_penalty > 0) || !std::isfinite(repetition_penalty)) bad("repetition_penalty", repetition_penalty, "must be positive");
  if (!std::isfinite(presence_penalty)) bad("presence_penalty", presence_penalty, "must be finite");
  if (!std::isfinite(frequency_penalty)) bad("frequency_penalty", frequency_penalty, "must be finite");
  if (do_sample) {
    if (!(temperature > 0) || !std::isfinite(temperature)) bad("temperature", temperature, "must be positive when sampling");
    if (!(top_p > 0 && top_p <= 1)) bad("top_p", top_p, "must be in (0, 1]");
    if (!(min_p >= 0 && min_p < 1)) bad("min_p", min_p, "must be in [0, 1)");
  }
  if (num_return_sequences == 0 || num_return_sequences > 128) bad("num_return_sequences", num_return_sequences, "must be in [1, 128]");
  for (const std::string& s : stop_strings) {
    if (s.empty()) fail(ErrorCode::kInvalidArgument, "GenerationConfig.stop_strings holds an empty string");
  }
}

std::string_view to_string(FinishReason r) {
  switch (r) {
    case FinishReason::kNone: return "none";
    case FinishReason::kLength: return "length";
    case FinishReason::kStop: return "stop";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "?";
}

namespace genai {

Sampler::Sampler(const GenerationConfig& config, std::vector<int32_t> end_ids)
    : config_(config), end_ids_(std::move(end_ids)), rng_(config.rng_seed) {
  config_.validate();
}

void Sampler::observe_prompt(std::span<const int32_t> ids) {
  for (int32_t id : ids) ++seen_[id];
}

int32_t Sampler::next(std::span<float> logits, float* logprob) {
  const auto vocab = static_cast<int32_t>(logits.size());
  if (vocab == 0) fail(ErrorCode::kInvalidArgument, "sampler: empty logits");
  if (config_.repetition_penalty != 1.0f) {
    for (const auto& [id, count] : seen_) {
      if (id < 0 || id >= vocab) continue;
      float& l = logits[static_cast<size_t>(id)];
      l = l > 0 ? l / config_.repetition_penalty : l * config_.repetition_penalty;
    }
  }
  if (config_.presence_penalty != 0.0f || config_.frequency_penalty != 0.0f) {
    for (const auto& [id, count] : generated_counts_) {
      if (id < 0 || id >= vocab) continue;
      logits[static_cast<size_t>(id)] -= config_.presence_penalty + config_.frequency_penalty * static_cast<float>(count);
    }
  }
  if (generated_ < config_.min_new_tokens) {
    for (int32_t id : end_ids_) {
      if (id >= 0 && id < vocab) logits[static_cast<size_t>(id)] = -std::numeric_limits<float>::infinity();
    }
  }
  const float temperature = config_.do_sample ? config_.temperature : 1.0f;
  // log_softmax of the penalised, tempered logits (for logprobs).
  auto log_prob_of = [&](int32_t id) {
    double mx = -std::numeric_limits<double>::infinity();
    for (float l : logits) mx = std::max(mx, static_cast<double>(l) / temperature);
    double sum = 0;
    for (float l : logits) sum += std::exp(static_cast<double>(l) / temperature - mx);
    return static_cast<float>(static_cast<double>(logits[static_cast<size_t>(id)]) / temperature - mx - std::log(sum));
  };

  int32_t chosen = 0;
  if (!config_.do_sample) {
    for (int32_t i = 1; i < vocab; ++i) {
      if (logits[static_cast<size_t>(i)] > logits[static_cast<size_t>(chosen)]) chosen = i;
    }
  } else {
    // Candidates by descending logit (stable: lower id first on ties).
    scratch_.clear();
    for (int32_t i = 0; i < vocab; ++i) {
      const float l = logits[static_cast<size_t>(i)];
      if (l != -std::numeric_limits<float>::infinity()) scratch_.emplace_back(l / temperature, i);
    }
    if (scratch_.empty()) fail(ErrorCode::kInternal, "sampler: every token is suppressed");
    std::stable_sort(scratch_.begin(), scratch_.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    if (config_.top_k > 0 && scratch_.size() > config_.top_k) scratch_.resize(config_.top_k);
    std::vector<double> p(scratch_.size());
    const double mx = scratch_.front().first;
    double sum = 0;
    for (size_t i = 0; i < p.size(); ++i) sum += (p[i] = std::exp(static_cast<double>(scratch_[i].first) - mx));
    for (double& x : p) x /= sum;
    size_t keep = p.size();
    if (config_.top_p < 1.0f) {
      double cumulative = 0;
      for (size_t i = 0; i < p.size(); ++i) {
        cumulative += p[i];
        if (cumulative >= config_.top_p) {
          keep = i + 1;
          break;
        }
      }
    }
    if (config_.min_p > 0.0f) {
      const double threshold = static_cast<double>(config_.min_p) * p[0];
      size_t k = 1;
      while (k < keep && p[k] >= threshold) ++k;
      keep = k;
    }
    std::discrete_distribution<size_t> pick(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(keep));
    chosen = scratch_[pick(rng_)].second;
  }
  if (logprob) *logprob = log_prob_of(chosen);
  ++seen_[chosen];
  ++generated_counts_[chosen];
  ++generated_;
  return chosen;
}

}  // namespace genai
}  // namespace llmrt
