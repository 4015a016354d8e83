// llmrt-run: generate text from a prompt, or chat, streaming to the terminal.
//
//   llmrt-run -m MODEL [-d DEVICE] -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P] [--seed S]
//             [--context N] [--json]
//   llmrt-run -m MODEL --chat [--system TEXT]
//
// Greedy unless a sampling option is given (--temp 0 is greedy too). --json prints one JSON
// object (prompt_token_ids, generated_token_ids, text, finish_reason, perf) instead of streaming.
// Exit codes: 0 ok, 1 error (the message names what is wrong), 2 usage.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "llmrt/genai.hpp"

namespace {

int usage(const char* why = nullptr) {
  if (why) std::fprintf(stderr, "llmrt-run: %s\n", why);
  std::fprintf(stderr,
               "usage: llmrt-run -m MODEL [-d DEVICE] -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]\n"
               "                 [--repeat-penalty R] [--seed S] [--stop TEXT]... [--context N] [--json]\n"
               "       llmrt-run -m MODEL [-d DEVICE] --chat [--system TEXT] [-n N] [sampling options]\n"
               "  MODEL: a Hugging Face folder or a .gguf file. DEVICE: CPU (default), GPU, ...\n");
  return 2;
}

struct Args {
  std::string model, device = "CPU", prompt, system;
  bool chat = false, json = false, have_prompt = false;
  int64_t context = 0;
  llmrt::GenerationConfig config;
};

bool parse(int argc, char** argv, Args* a, std::string* why) {
  a->config.max_new_tokens = 128;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        *why = k + " needs a value";
        return nullptr;
      }
      return argv[++i];
    };
    auto number = [&](double* out) {
      const char* v = value();
      if (!v) return false;
      char* end = nullptr;
      *out = std::strtod(v, &end);
      if (!end || *end) {
        *why = fmt::format("{} expects a number, got '{}'", k, v);
        return false;
      }
      return true;
    };
    // Sets the reason unless number() already did, and fails the parse.
    auto bad = [&](const char* reason) {
      if (why->empty()) *why = reason;
      return false;
    };
    double x = 0;
    if (k == "-m" || k == "--model") {
      const char* v = value();
      if (!v) return false;
      a->model = v;
    } else if (k == "-d" || k == "--device") {
      const char* v = value();
      if (!v) return false;
      a->device = v;
    } else if (k == "-p" || k == "--prompt") {
      const char* v = value();
      if (!v) return false;
      a->prompt = v;
      a->have_prompt = true;
    } else if (k == "--system") {
      const char* v = value();
      if (!v) return false;
      a->system = v;
    } else if (k == "--stop") {
      const char* v = value();
      if (!v) return false;
      a->config.stop_strings.insert(v);
    } else if (k == "--chat") {
      a->chat = true;
    } else if (k == "--json") {
      a->json = true;
    } else if (k == "-n" || k == "--max-new-tokens") {
      if (!number(&x) || x < 1) return bad("-n must be at least 1");
      a->config.max_new_tokens = static_cast<size_t>(x);
    } else if (k == "--context") {
      if (!number(&x) || x < 1) return bad("--context must be at least 1");
      a->context = static_cast<int64_t>(x);
    } else if (k == "--temp") {
      if (!number(&x)) return false;
      a->config.temperature = static_cast<float>(x);
      a->config.do_sample = x > 0;
    } else if (k == "--top-k") {
      if (!number(&x) || x < 0) return bad("--top-k must not be negative");
      a->config.top_k = static_cast<size_t>(x);
      a->config.do_sample = true;
    } else if (k == "--top-p") {
      if (!number(&x)) return false;
      a->config.top_p = static_cast<float>(x);
      a->config.do_sample = true;
    } else if (k == "--min-p") {
      if (!number(&x)) return false;
      a->config.min_p = static_cast<float>(x);
      a->config.do_sample = true;
    } else if (k == "--repeat-penalty") {
      if (!number(&x)) return false;
      a->config.repetition_penalty = static_cast<float>(x);
    } else if (k == "--seed") {
      if (!number(&x) || x < 0) return bad("--seed must not be negative");
      a->config.rng_seed = static_cast<uint64_t>(x);
      a->config.do_sample = true;
    } else if (k == "-h" || k == "--help") {
      return false;
    } else {
      *why = "unknown option " + k;
      return false;
    }
  }
  if (a->model.empty()) *why = "-m MODEL is required";
  else if (!a->chat && !a->have_prompt) *why = "-p PROMPT (or --chat) is required";
  return why->empty();
}

nlohmann::json perf_json(const llmrt::PerfMetrics& p) {
  return {{"load_ms", p.load_time_ms},       {"ttft_ms", p.ttft_ms},         {"tpot_ms", p.tpot_ms},
          {"throughput_tps", p.throughput_tps}, {"prefill_tps", p.prefill_tps}, {"generate_ms", p.generate_time_ms},
          {"input_tokens", p.num_input_tokens}, {"output_tokens", p.num_generated_tokens}};
}

void print_summary(const llmrt::GenerationResult& r) {
  const auto& p = r.perf;
  std::fprintf(stderr,
               "\n[%zu prompt tokens, %zu generated (%s); load %.0f ms, TTFT %.1f ms, TPOT %.2f ms/token (%.1f tokens/s), "
               "prefill %.1f tokens/s]\n",
               p.num_input_tokens, p.num_generated_tokens, std::string(llmrt::to_string(r.finish_reason)).c_str(),
               p.load_time_ms, p.ttft_ms, p.tpot_ms, p.throughput_tps, p.prefill_tps);
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  std::string why;
  if (!parse(argc, argv, &args, &why)) return usage(why.empty() ? nullptr : why.c_str());
  try {
    llmrt::Pipeline pipe(args.model, args.device, {.max_context = args.context});
    auto stream = [](std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return false;
    };
    if (args.chat) {
      pipe.start_chat(args.system);
      std::string line;
      while (true) {
        std::fprintf(stderr, "\n> ");
        if (!std::getline(std::cin, line) || line == "/exit") break;
        if (line == "/reset") {
          pipe.start_chat(args.system);
          continue;
        }
        if (line.empty()) continue;
        try {
          print_summary(pipe.generate(line, args.config, stream));
        } catch (const llmrt::Error& e) {
          std::fprintf(stderr, "llmrt-run: %s\n", e.what());
          if (e.code() == llmrt::ErrorCode::kOutOfRange) std::fprintf(stderr, "(the chat no longer fits the context: /reset starts over)\n");
        }
      }
      return 0;
    }
    llmrt::GenerationResult r = pipe.generate(args.prompt, args.config, args.json ? llmrt::Streamer{} : llmrt::Streamer(stream));
    if (args.json) {
      nlohmann::json out = {{"prompt_token_ids", r.prompt_token_ids},
                            {"generated_token_ids", r.generated_token_ids},
                            {"text", r.text},
                            {"finish_reason", std::string(llmrt::to_string(r.finish_reason))},
                            {"device", pipe.device()},
                            {"perf", perf_json(r.perf)}};
      std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      print_summary(r);
    }
  } catch (const llmrt::Error& e) {
    std::fprintf(stderr, "llmrt-run: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmrt-run: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
