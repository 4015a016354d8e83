// bench_serving: the ServingEngine under load, in-process (no HTTP).
//   build/bin/bench_serving -m MODEL [-d DEVICE] [--streams 1,4,16] [-p PROMPT] [-n GEN] [-r REPEATS]
//                           [--prefix TOKENS] [--json]
// 1. Throughput: for each S in --streams, S requests of PROMPT random-token prompts (distinct, so
//    no prefix is shared) generating GEN tokens each, submitted at once; reports generated
//    tokens/s over the wall time, mean TTFT and TPOT of the requests, and engine steps.
// 2. Time to first token with and without a shared prefix: a request of PREFIX tokens + 16 of
//    its own, alone, with a cold cache; then, after one request with the same prefix and other
//    16 tokens has run, the same again (its prefix comes from the prefix cache).
// Medians over REPEATS runs (each with fresh random tokens). Greedy, ignore_eos.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "llmrt/serving.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::vector<size_t> parse_list(const std::string& s) {
  std::vector<size_t> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    out.push_back(std::stoul(s.substr(start, comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

int usage() {
  std::fprintf(stderr,
               "usage: bench_serving -m MODEL [-d DEVICE] [--streams 1,4,16] [-p PROMPT] [-n GEN] [-r REPEATS]\n"
               "                     [--prefix TOKENS] [--json]\n"
               "  defaults: -d CPU --streams 1,4,16 -p 32 -n 32 -r 3 --prefix 1000\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, device = "CPU";
  std::vector<size_t> streams = {1, 4, 16};
  size_t prompt = 32, gen = 32, repeats = 3, prefix = 1000;
  bool json = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "-m") model = next();
      else if (a == "-d") device = next();
      else if (a == "--streams") streams = parse_list(next());
      else if (a == "-p") prompt = std::stoul(next());
      else if (a == "-n") gen = std::stoul(next());
      else if (a == "-r") repeats = std::stoul(next());
      else if (a == "--prefix") prefix = std::stoul(next());
      else if (a == "--json") json = true;
      else return usage();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_serving: %s\n", e.what());
    return usage();
  }
  if (model.empty() || streams.empty() || repeats == 0 || gen == 0 || prompt == 0) return usage();

  try {
    llmrt::SchedulerConfig sc;
    sc.max_num_seqs = std::max<size_t>(*std::max_element(streams.begin(), streams.end()), 1);
    sc.max_context = static_cast<int64_t>(std::max(prefix + 64, prompt + gen + 8));
    sc.num_kv_blocks = (sc.max_num_seqs * (prompt + gen) + 3 * (prefix + 64)) / sc.block_size + 64;
    llmrt::ServingEngine engine(model, device, sc);
    const int64_t vocab = engine.model_info().vocab_size;
    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> pick(3, static_cast<int32_t>(vocab - 1));
    auto random_ids = [&](size_t n) {
      std::vector<int32_t> ids(n);
      for (auto& t : ids) t = pick(rng);
      return ids;
    };
    llmrt::GenerationConfig cfg;
    cfg.max_new_tokens = gen;
    cfg.ignore_eos = true;

    nlohmann::ordered_json results = nlohmann::ordered_json::array();
    if (!json) {
      std::printf("model %s on %s, %s KV cache %.2f GB (%zu blocks of %zu)\n", model.c_str(), engine.device().c_str(),
                  std::string(llmrt::to_string(engine.config().kv_cache_precision)).c_str(), engine.config().cache_size,
                  engine.config().num_kv_blocks, engine.config().block_size);
      std::printf("%8s %8s %8s %14s %12s %12s %8s\n", "streams", "prompt", "gen", "tokens/s", "TTFT ms", "TPOT ms", "steps");
    }
    for (size_t s : streams) {
      std::vector<double> tps, ttft, tpot, steps;
      for (size_t r = 0; r <= repeats; ++r) {  // run 0 is the warm-up
        const uint64_t steps0 = engine.metrics().steps;
        const auto t0 = Clock::now();
        std::vector<llmrt::GenerationHandle> hs;
        for (size_t i = 0; i < s; ++i) hs.push_back(engine.add_request(random_ids(prompt), cfg));
        double sum_ttft = 0, sum_tpot = 0;
        size_t tokens = 0;
        for (auto& h : hs) {
          const auto res = h.wait();
          tokens += res[0].generated_token_ids.size();
          sum_ttft += res[0].perf.ttft_ms;
          sum_tpot += res[0].perf.tpot_ms;
        }
        const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
        engine.wait_idle();  // the steps counter covers this run's last step
        if (r == 0) continue;
        tps.push_back(static_cast<double>(tokens) / wall);
        ttft.push_back(sum_ttft / static_cast<double>(s));
        tpot.push_back(sum_tpot / static_cast<double>(s));
        steps.push_back(static_cast<double>(engine.metrics().steps - steps0));
      }
      results.push_back({{"streams", s}, {"prompt_tokens", prompt}, {"gen_tokens", gen}, {"tokens_per_s", median(tps)},
                         {"ttft_ms", median(ttft)}, {"tpot_ms", median(tpot)}, {"steps", median(steps)}});
      if (!json) {
        std::printf("%8zu %8zu %8zu %14.1f %12.1f %12.2f %8.0f\n", s, prompt, gen, median(tps), median(ttft), median(tpot),
                    median(steps));
      }
    }

    nlohmann::ordered_json prefix_result;
    if (prefix > 0) {
      llmrt::GenerationConfig one = cfg;
      one.max_new_tokens = 1;
      std::vector<double> cold, warm;
      size_t cached = 0;
      for (size_t r = 0; r < repeats; ++r) {
        const std::vector<int32_t> shared = random_ids(prefix);
        auto with_tail = [&](const std::vector<int32_t>& head) {
          std::vector<int32_t> ids = head;
          const auto tail = random_ids(16);
          ids.insert(ids.end(), tail.begin(), tail.end());
          return ids;
        };
        cold.push_back(engine.add_request(with_tail(shared), one).wait()[0].perf.ttft_ms);
        auto h = engine.add_request(with_tail(shared), one);
        warm.push_back(h.wait()[0].perf.ttft_ms);
        cached = h.cached_prompt_tokens();
      }
      prefix_result = {{"prefix_tokens", prefix}, {"own_tokens", 16}, {"ttft_ms_cold", median(cold)},
                       {"ttft_ms_prefix_cached", median(warm)}, {"cached_prompt_tokens", cached}};
      if (!json) {
        std::printf("\nTTFT of a %zu-token shared prefix + 16 own tokens: %.1f ms cold, %.1f ms with the prefix cached "
                    "(%zu prompt tokens from the cache)\n", prefix, median(cold), median(warm), cached);
      }
    }
    if (json) {
      nlohmann::ordered_json out = {{"model", model}, {"device", engine.device()}, {"results", results}};
      if (!prefix_result.is_null()) out["prefix"] = prefix_result;
      std::printf("%s\n", out.dump(2).c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_serving: %s\n", e.what());
    return 1;
  }
  return 0;
}
