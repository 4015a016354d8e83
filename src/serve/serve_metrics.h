// The server's /metrics page: Prometheus text format with vLLM's metric names under the
// `llmrt:` prefix. Gauges and counters come from ServingEngine::metrics(); latency histograms
// are measured here, from when a request arrived and when each of its outputs was read.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "llmrt/genai.hpp"
#include "llmrt/serving.hpp"

namespace llmrt::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // ascending; the +Inf bucket is implicit
  void observe(double value);
  // Appends NAME_bucket{LABELS,le="..."} (cumulative), NAME_sum{LABELS} and NAME_count{LABELS}.
  void render(std::string& dst, std::string_view name, std::string_view labels) const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();

  void observe_time_to_first_token(double seconds);
  void observe_inter_token_latency(double seconds);
  void observe_e2e_latency(double seconds);
  // One finished sequence: finished_reason "stop", "length" or "abort" (cancelled or failed).
  void count_finished(FinishReason reason);

  // The whole page. model_name labels every sample, as vLLM does.
  std::string render(const ServingMetrics& engine, std::string_view model_name) const;

 private:
  Histogram ttft_, inter_token_, e2e_;
  mutable std::mutex mu_;
  std::array<uint64_t, 3> finished_{};  // stop, length, abort
};

}  // namespace llmrt::serve
