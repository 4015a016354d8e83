#include "serve/serve_metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace llmrt::serve {

namespace {

// vLLM's bucket bounds for the same histograms (vllm/engine/metrics.py).
const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
                                          1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kInterTokenBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                                0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> kE2eBuckets = {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,  15.0,  20.0,
                                         30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

constexpr std::array<std::string_view, 3> kFinishedReasons = {"stop", "length", "abort"};

// A label value as the text format needs it: backslash, double quote and newline escaped.
std::string escape_label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void header(std::string& dst, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(dst), "# HELP llmrt:{} {}\n# TYPE llmrt:{} {}\n", name, help, name, type);
}

template <class T>
void sample(std::string& dst, std::string_view name, std::string_view type, std::string_view help, std::string_view labels,
            T value) {
  header(dst, name, type, help);
  fmt::format_to(std::back_inserter(dst), "llmrt:{}{{{}}} {}\n", name, labels, value);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const size_t bucket = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard lock(mu_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& dst, std::string_view name, std::string_view labels) const {
  std::lock_guard lock(mu_);
  auto out = std::back_inserter(dst);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    fmt::format_to(out, "llmrt:{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, bounds_[i], cumulative);
  }
  cumulative += counts_.back();
  fmt::format_to(out, "llmrt:{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels, cumulative);
  fmt::format_to(out, "llmrt:{}_sum{{{}}} {}\nllmrt:{}_count{{{}}} {}\n", name, labels, sum_, name, labels, count_);
}

ServerMetrics::ServerMetrics() : ttft_(kTtftBuckets), inter_token_(kInterTokenBuckets), e2e_(kE2eBuckets) {}

void ServerMetrics::observe_time_to_first_token(double seconds) { ttft_.observe(seconds); }
void ServerMetrics::observe_inter_token_latency(double seconds) { inter_token_.observe(seconds); }
void ServerMetrics::observe_e2e_latency(double seconds) { e2e_.observe(seconds); }

void ServerMetrics::count_finished(FinishReason reason) {
  const size_t i = reason == FinishReason::kStop ? 0 : reason == FinishReason::kLength ? 1 : 2;
  std::lock_guard lock(mu_);
  ++finished_[i];
}

std::string ServerMetrics::render(const ServingMetrics& engine, std::string_view model_name) const {
  const std::string labels = fmt::format("model_name=\"{}\"", escape_label(model_name));
  std::string out;
  sample(out, "num_requests_running", "gauge", "Sequences in the engine's running batch.", labels, engine.requests_running);
  sample(out, "num_requests_waiting", "gauge", "Sequences waiting to be scheduled (new or preempted).", labels,
         engine.requests_waiting);
  sample(out, "kv_cache_usage_perc", "gauge", "Fraction of KV-cache blocks in use (0..1).", labels, engine.kv_cache_usage);
  sample(out, "prefix_cache_queries_total", "counter", "Prompt tokens looked up in the prefix cache.", labels,
         engine.prefix_queries);
  sample(out, "prefix_cache_hits_total", "counter", "Prompt tokens found in the prefix cache.", labels, engine.prefix_hits);
  sample(out, "prompt_tokens_total", "counter", "Prompt tokens computed (prefix-cache hits excluded, recomputation counted).",
         labels, engine.prompt_tokens);
  sample(out, "generation_tokens_total", "counter", "Tokens generated.", labels, engine.generated_tokens);
  sample(out, "num_preemptions_total", "counter", "Sequences preempted for lack of KV-cache blocks.", labels,
         engine.preemptions);

  header(out, "request_success_total", "counter",
         "Finished sequences by finish reason (abort: the client went away or the request failed).");
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < kFinishedReasons.size(); ++i) {
      fmt::format_to(std::back_inserter(out), "llmrt:request_success_total{{{},finished_reason=\"{}\"}} {}\n", labels,
                     kFinishedReasons[i], finished_[i]);
    }
  }
  header(out, "time_to_first_token_seconds", "histogram", "Time from a request's arrival to its first token.");
  ttft_.render(out, "time_to_first_token_seconds", labels);
  header(out, "inter_token_latency_seconds", "histogram", "Time between a sequence's successive tokens.");
  inter_token_.render(out, "inter_token_latency_seconds", labels);
  header(out, "e2e_request_latency_seconds", "histogram", "Time from a request's arrival to its last token.");
  e2e_.render(out, "e2e_request_latency_seconds", labels);
  return out;
}

}  // namespace llmrt::serve
