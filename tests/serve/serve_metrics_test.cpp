// The /metrics page's histograms are cumulative with Prometheus' le semantics (a value equal to
// a bound falls in that bucket), sum and count add up, labels are escaped, and every metric has
// its HELP and TYPE lines.
#include "serve/serve_metrics.h"

#include <gtest/gtest.h>

namespace llmrt::serve {
namespace {

bool has_line(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(ServeMetrics, HistogramIsCumulativeWithLeSemantics) {
  Histogram h({0.1, 1.0});
  for (double v : {0.05, 0.1, 0.5, 3.0}) h.observe(v);
  std::string out;
  h.render(out, "x_seconds", "a=\"b\"");
  EXPECT_TRUE(has_line(out, "llmrt:x_seconds_bucket{a=\"b\",le=\"0.1\"} 2")) << out;
  EXPECT_TRUE(has_line(out, "llmrt:x_seconds_bucket{a=\"b\",le=\"1\"} 3")) << out;
  EXPECT_TRUE(has_line(out, "llmrt:x_seconds_bucket{a=\"b\",le=\"+Inf\"} 4")) << out;
  EXPECT_TRUE(has_line(out, "llmrt:x_seconds_sum{a=\"b\"} 3.65")) << out;
  EXPECT_TRUE(has_line(out, "llmrt:x_seconds_count{a=\"b\"} 4")) << out;
}

TEST(ServeMetrics, PageCarriesEngineCountersAndFinishReasons) {
  ServerMetrics m;
  m.count_finished(FinishReason::kStop);
  m.count_finished(FinishReason::kStop);
  m.count_finished(FinishReason::kLength);
  m.count_finished(FinishReason::kCancelled);
  m.observe_e2e_latency(0.2);
  ServingMetrics engine;
  engine.requests_running = 3;
  engine.kv_cache_usage = 0.25;
  engine.prefix_hits = 17;
  const std::string page = m.render(engine, "my\"model");
  const std::string labels = "{model_name=\"my\\\"model\"";
  EXPECT_TRUE(has_line(page, "llmrt:num_requests_running" + labels + "} 3")) << page;
  EXPECT_TRUE(has_line(page, "llmrt:kv_cache_usage_perc" + labels + "} 0.25")) << page;
  EXPECT_TRUE(has_line(page, "llmrt:prefix_cache_hits_total" + labels + "} 17")) << page;
  EXPECT_TRUE(has_line(page, "llmrt:request_success_total" + labels + ",finished_reason=\"stop\"} 2")) << page;
  EXPECT_TRUE(has_line(page, "llmrt:request_success_total" + labels + ",finished_reason=\"length\"} 1")) << page;
  EXPECT_TRUE(has_line(page, "llmrt:request_success_total" + labels + ",finished_reason=\"abort\"} 1")) << page;
  EXPECT_TRUE(has_line(page, "llmrt:e2e_request_latency_seconds_bucket" + labels + ",le=\"0.3\"} 1")) << page;
  for (const char* name : {"num_requests_running", "num_requests_waiting", "kv_cache_usage_perc", "prefix_cache_queries_total",
                           "prefix_cache_hits_total", "prompt_tokens_total", "generation_tokens_total",
                           "num_preemptions_total", "request_success_total", "time_to_first_token_seconds",
                           "inter_token_latency_seconds", "e2e_request_latency_seconds"}) {
    EXPECT_NE(page.find(std::string("# HELP llmrt:") + name + " "), std::string::npos) << name;
    EXPECT_NE(page.find(std::string("# TYPE llmrt:") + name + " "), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace llmrt::serve
