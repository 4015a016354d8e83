// llmrt-bench: first- and second-token latency of a model on a device.
//
//   llmrt-bench -m MODEL [-d DEVICE] [-p PROMPT_TOKENS,...] [-n GEN_TOKENS] [-r REPEATS] [-t THREADS]
//               [--json] [--no-bandwidth]
//
// For each prompt length: a warm-up run, then REPEATS runs on a fresh KV cache, each a prefill of
// PROMPT_TOKENS random ids (the first token) followed by GEN_TOKENS-1 greedy decode steps. Reports
// medians (and min..max) of: TTFT (prefill of the prompt + the first token), TPOT (mean latency of
// tokens 2..N), prefill and decode tokens/s, load time, peak RSS, and the effective weight
// bandwidth (decode weight bytes / TPOT) beside this machine's measured read bandwidth: the floor
// a memory-bound decode can reach is (decode weight bytes) / (read bandwidth).
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "llmrt/runtime.hpp"
#include "util/bandwidth.h"
#include "util/threads.h"

namespace {

using Clock = std::chrono::steady_clock;

int usage(const std::string& why = {}) {
  if (!why.empty()) std::fprintf(stderr, "llmrt-bench: %s\n", why.c_str());
  std::fprintf(stderr,
               "usage: llmrt-bench -m MODEL [-d DEVICE] [-p PROMPT_TOKENS,...] [-n GEN_TOKENS] [-r REPEATS] [-t THREADS]\n"
               "                   [--json] [--no-bandwidth]\n"
               "  defaults: -d CPU -p 128 -n 32 -r 3; THREADS: one per core\n");
  return 2;
}

struct Stats {
  double median = 0, min = 0, max = 0;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  Stats s;
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return s;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

int32_t argmax(const float* row, int64_t n) {
  return static_cast<int32_t>(std::max_element(row, row + n) - row);
}

struct Run {
  double ttft_ms = 0, tpot_ms = 0;
};

Run run_once(const llmrt::CompiledModel& compiled, int64_t prompt, int64_t gen, uint32_t seed) {
  llmrt::InferRequest req = compiled.create_request();
  const int64_t vocab = req.vocab_size();
  std::mt19937 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(prompt));
  // Random ids, avoiding the first three (usually <unk>, <s>, </s>) when the vocabulary allows.
  const int64_t first = vocab > 3 ? 3 : 0;
  for (auto& id : ids) id = static_cast<int32_t>(first + static_cast<int64_t>(rng() % static_cast<uint32_t>(vocab - first)));
  Run r;
  auto t0 = Clock::now();
  std::vector<float> logits = req.infer(ids);
  int32_t token = argmax(logits.data() + logits.size() - static_cast<size_t>(vocab), vocab);  // the last token's row
  r.ttft_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  double decode_ms = 0;
  for (int64_t i = 1; i < gen; ++i) {
    auto t = Clock::now();
    logits = req.infer(std::vector<int32_t>{token});
    token = argmax(logits.data(), vocab);
    decode_ms += std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  }
  r.tpot_ms = gen > 1 ? decode_ms / static_cast<double>(gen - 1) : 0;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, device = "CPU";
  std::vector<int64_t> prompts = {128};
  int64_t gen = 32, repeats = 3, threads = 0;
  bool json = false, bandwidth = true;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    auto positive = [&](const std::string& v, int64_t* out) {
      char* end = nullptr;
      long long x = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || !end || *end || x <= 0) return false;
      *out = x;
      return true;
    };
    if (k == "-m") {
      model_path = value();
    } else if (k == "-d") {
      device = value();
    } else if (k == "-p") {
      prompts.clear();
      std::string list = value(), item;
      for (size_t at = 0; at <= list.size(); ++at) {
        if (at == list.size() || list[at] == ',') {
          int64_t p = 0;
          if (!positive(item, &p)) return usage("-p expects positive numbers separated by commas, got '" + list + "'");
          prompts.push_back(p);
          item.clear();
        } else {
          item += list[at];
        }
      }
    } else if (k == "-n") {
      if (!positive(value(), &gen)) return usage("-n expects a positive number");
    } else if (k == "-r") {
      if (!positive(value(), &repeats)) return usage("-r expects a positive number");
    } else if (k == "-t") {
      if (!positive(value(), &threads)) return usage("-t expects a positive number");
    } else if (k == "--json") {
      json = true;
    } else if (k == "--no-bandwidth") {
      bandwidth = false;
    } else {
      return usage(k == "-h" || k == "--help" ? "" : "unknown option " + k);
    }
  }
  if (model_path.empty()) return usage("-m MODEL is required");
  if (threads > 0) {
    // The plugins read this when they start, and so does the bandwidth probe here.
    setenv("LLMRT_NUM_THREADS", std::to_string(threads).c_str(), 1);
    llmrt::set_num_threads(static_cast<int>(threads));
  }
  try {
    const auto load_start = Clock::now();
    llmrt::Core core;
    llmrt::Model model = core.read_model(model_path);
    const int64_t context = *std::max_element(prompts.begin(), prompts.end()) + gen + 1;
    llmrt::CompiledModel compiled = core.compile(model, device, {.max_context = context, .last_token_logits = true});
    const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - load_start).count();
    const llmrt::ModelInfo& info = model.info();
    const double weight_gb = static_cast<double>(info.decode_weight_bytes) / 1e9;

    run_once(compiled, std::min<int64_t>(8, prompts.front()), 2, 1);  // warm-up: first-use costs out of the numbers

    struct Measured {
      int64_t prompt;
      Stats ttft, tpot;
    };
    std::vector<Measured> measured;
    for (int64_t p : prompts) {
      std::vector<double> ttft, tpot;
      for (int64_t r = 0; r < repeats; ++r) {
        Run run = run_once(compiled, p, gen, static_cast<uint32_t>(100 + r));
        ttft.push_back(run.ttft_ms);
        tpot.push_back(run.tpot_ms);
      }
      measured.push_back({p, stats(ttft), stats(tpot)});
    }
    // The model's peak, before the bandwidth probe allocates its own buffer.
    const double rss_mb = peak_rss_mb();
    llmrt::BandwidthResult bw;
    if (bandwidth) bw = llmrt::measure_read_bandwidth();
    const double floor_ms = bw.gb_per_s > 0 ? weight_gb / bw.gb_per_s * 1e3 : 0;

    nlohmann::json results = nlohmann::json::array();
    std::vector<std::string> rows;
    for (const Measured& m : measured) {
      const int64_t p = m.prompt;
      const Stats &t1 = m.ttft, &t2 = m.tpot;
      const double prefill_tps = static_cast<double>(p) * 1000.0 / t1.median;
      const double decode_tps = t2.median > 0 ? 1000.0 / t2.median : 0;
      const double eff_gbs = t2.median > 0 ? weight_gb / (t2.median / 1e3) : 0;
      const double floor_pct = bw.gb_per_s > 0 && eff_gbs > 0 ? 100.0 * eff_gbs / bw.gb_per_s : 0;
      results.push_back({{"prompt_tokens", p},        {"gen_tokens", gen},
                         {"ttft_ms", t1.median},      {"ttft_ms_min", t1.min},
                         {"ttft_ms_max", t1.max},     {"tpot_ms", t2.median},
                         {"tpot_ms_min", t2.min},     {"tpot_ms_max", t2.max},
                         {"prefill_tps", prefill_tps}, {"decode_tps", decode_tps},
                         {"load_ms", load_ms},        {"peak_rss_mb", rss_mb},
                         {"effective_gbs", eff_gbs},  {"floor_pct", floor_pct}});
      rows.push_back(fmt::format("| {:>6} | {:>4} | {:>24} | {:>9.1f} | {:>24} | {:>8.1f} | {:>6.1f} | {:>5} |", p, gen,
                                 fmt::format("{:.1f} ({:.1f}..{:.1f})", t1.median, t1.min, t1.max), prefill_tps,
                                 fmt::format("{:.2f} ({:.2f}..{:.2f})", t2.median, t2.min, t2.max), decode_tps, eff_gbs,
                                 bandwidth ? fmt::format("{:.0f}%", floor_pct) : "-"));
    }
    if (json) {
      nlohmann::json out = {{"model", model_path},
                            {"architecture", info.architecture},
                            {"weights", info.weight_types},
                            {"weight_bytes", info.weight_bytes},
                            {"decode_weight_bytes", info.decode_weight_bytes},
                            {"device", compiled.device()},
                            {"threads", threads > 0 ? threads : llmrt::num_threads()},
                            {"repeats", repeats},
                            {"read_bandwidth_gbs", bw.gb_per_s},
                            {"floor_ms", floor_ms},
                            {"results", results}};
      std::printf("%s\n", out.dump(2).c_str());
      return 0;
    }
    std::printf("model    %s (%s, %s; %.2f GB of weights, %.2f GB read per decoded token)\n", model_path.c_str(),
                info.architecture.c_str(), info.weight_types.c_str(), static_cast<double>(info.weight_bytes) / 1e9, weight_gb);
    std::printf("device   %s, %lld threads; load %.0f ms; peak RSS %.0f MB\n", compiled.device().c_str(),
                static_cast<long long>(threads > 0 ? threads : llmrt::num_threads()), load_ms, rss_mb);
    if (bandwidth) {
      std::printf("memory   read bandwidth %.1f GB/s -> decode floor %.2f ms/token\n", bw.gb_per_s, floor_ms);
    }
    std::printf("\nmedians of %lld runs after a warm-up (min..max)\n\n", static_cast<long long>(repeats));
    std::printf("| prompt |  gen | %24s | %9s | %24s | %8s | %6s | %5s |\n", "TTFT ms (min..max)", "prefill/s",
                "TPOT ms (min..max)", "tokens/s", "GB/s", "floor");
    std::printf("|-------:|-----:|-------------------------:|----------:|-------------------------:|---------:|-------:|------:|\n");
    for (const auto& r : rows) std::printf("%s\n", r.c_str());
  } catch (const llmrt::Error& e) {
    std::fprintf(stderr, "llmrt-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
