// llmrt-perplexity: perplexity of a model over a text, and optionally how far its next-token
// distributions are from a base model's (KL divergence, top-1 agreement).
//
//   llmrt-perplexity -m MODEL -f TEXT [--ctx N] [--kl-base MODEL2] [--max-windows K] [-d DEVICE]
//                    [-t THREADS] [--json]
//
// Method: the whole text is tokenized once with MODEL's tokenizer (no special tokens added or
// parsed) and cut into consecutive non-overlapping windows; a window is N tokens, [BOS] + N-1
// text tokens when the tokenizer config adds a BOS, else N text tokens. Each window runs from
// position 0 on an empty KV cache. Every token of a window is scored except its first (the row
// of token i predicts token i+1); the last, partial window is scored too when it has at least 2
// tokens. PPL = exp(mean NLL), log-probabilities in double with a max-subtracted log-softmax.
// --kl-base feeds MODEL2 the same ids and reports KL(base || model) = sum_v p_base(v) *
// (log p_base(v) - log p_model(v)) in nats per scored token (as llama.cpp's --kl-divergence,
// the base is the reference), and the fraction of scored positions whose argmaxes agree.
//
// Exit codes: 0 ok, 1 error (the message names what is wrong), 2 usage.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "genai/tokenizer.h"
#include "llmrt/runtime.hpp"
#include "util/error.h"
#include "util/mapped_file.h"
#include "util/threads.h"

namespace {

using Clock = std::chrono::steady_clock;

int usage(const std::string& why = {}) {
  if (!why.empty()) std::fprintf(stderr, "llmrt-perplexity: %s\n", why.c_str());
  std::fprintf(stderr,
               "usage: llmrt-perplexity -m MODEL -f TEXT [--ctx N] [--kl-base MODEL2] [--max-windows K] [-d DEVICE]\n"
               "                        [-t THREADS] [--json]\n"
               "  MODEL, MODEL2: a Hugging Face folder, a .gguf file or an .llmrt container (MODEL2: same vocabulary size)\n"
               "  defaults: --ctx 512 (tokens per window), -d CPU, every window; THREADS: one per core\n");
  return 2;
}

struct Args {
  std::string model, text_file, base_model, device = "CPU";
  int64_t ctx = 512, max_windows = 0, threads = 0;
  bool json = false;
};

bool parse(int argc, char** argv, Args* a, std::string* why) {
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) {
        *why = k + " needs a value";
        return false;
      }
      *out = argv[++i];
      return true;
    };
    auto integer = [&](int64_t min, int64_t* out) {
      std::string v;
      if (!value(&v)) return false;
      char* end = nullptr;
      const long long x = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end || x < min) {
        *why = fmt::format("{} expects a whole number of at least {}, got '{}'", k, min, v);
        return false;
      }
      *out = x;
      return true;
    };
    bool ok = true;
    if (k == "-m" || k == "--model") ok = value(&a->model);
    else if (k == "-f" || k == "--file") ok = value(&a->text_file);
    else if (k == "--kl-base") ok = value(&a->base_model);
    else if (k == "-d" || k == "--device") ok = value(&a->device);
    else if (k == "--ctx") ok = integer(2, &a->ctx);
    else if (k == "--max-windows") ok = integer(1, &a->max_windows);
    else if (k == "-t") ok = integer(1, &a->threads);
    else if (k == "--json") a->json = true;
    else if (k == "-h" || k == "--help") return false;
    else {
      *why = "unknown option " + k;
      return false;
    }
    if (!ok) return false;
  }
  if (a->model.empty()) *why = "-m MODEL is required";
  else if (a->text_file.empty()) *why = "-f TEXT is required";
  return why->empty();
}

// What the tokenizer config adds in front of a text, asked of the tokenizer itself.
bool adds_bos(const llmrt::genai::Tokenizer& tokenizer) {
  const std::vector<int32_t> ids = tokenizer.encode("", {.add_special_tokens = true, .parse_special = false});
  return tokenizer.bos_id() && !ids.empty() && ids.front() == *tokenizer.bos_id();
}

// log(sum_v exp(x_v)) in double, max-subtracted so no exp overflows.
double log_sum_exp(const float* x, int64_t n) {
  const double m = *std::max_element(x, x + n);
  double sum = 0;
  for (int64_t v = 0; v < n; ++v) sum += std::exp(static_cast<double>(x[v]) - m);
  return m + std::log(sum);
}

// The scores of one position: the row of logits that predicts `target`.
struct Scored {
  double nll = 0, base_nll = 0, kl = 0;
  bool top1_agrees = false;
};

// nll = -log p_model(target); with a base row also the base's nll, KL(base || model) and whether
// the argmaxes (lowest id on ties) agree.
Scored score_row(const float* model_row, const float* base_row, int64_t vocab, int32_t target, int64_t window, int64_t row) {
  const double model_lse = log_sum_exp(model_row, vocab);
  if (!std::isfinite(model_lse)) llmrt::fail(llmrt::ErrorCode::kInternal, "non-finite logits in window {} row {}", window, row);
  Scored s;
  s.nll = model_lse - static_cast<double>(model_row[target]);
  if (!base_row) return s;
  const double base_lse = log_sum_exp(base_row, vocab);
  if (!std::isfinite(base_lse)) llmrt::fail(llmrt::ErrorCode::kInternal, "non-finite base logits in window {} row {}", window, row);
  s.base_nll = base_lse - static_cast<double>(base_row[target]);
  double kl = 0;
  for (int64_t v = 0; v < vocab; ++v) {
    const double log_p_base = static_cast<double>(base_row[v]) - base_lse;
    const double p_base = std::exp(log_p_base);
    if (p_base == 0) continue;  // contributes nothing, and -inf - -inf would be NaN
    kl += p_base * (log_p_base - (static_cast<double>(model_row[v]) - model_lse));
  }
  s.kl = kl;
  s.top1_agrees = std::max_element(model_row, model_row + vocab) - model_row == std::max_element(base_row, base_row + vocab) - base_row;
  return s;
}

std::string method_line(bool bos, int64_t ctx, bool kl, int64_t max_windows) {
  std::string m = fmt::format(
      "the text is tokenized once with MODEL's tokenizer (no special tokens added or parsed) and cut into consecutive "
      "non-overlapping windows of {} tokens ({}), each evaluated from position 0 on an empty KV cache; every token is scored "
      "except each window's first, and a last partial window is scored when it has at least 2 tokens; ppl = exp(mean NLL)",
      ctx, bos ? fmt::format("BOS + {} text tokens: the tokenizer config adds a BOS", ctx - 1)
               : "text tokens only: the tokenizer config adds no BOS");
  if (max_windows > 0) m += fmt::format("; at most the first {} windows (--max-windows)", max_windows);
  if (kl) m += "; MODEL2 gets the same ids: KL(base || model) in nats per scored token, top-1 agreement of the argmaxes";
  return m;
}

struct Totals {
  double nll_sum = 0, base_nll_sum = 0;
  int64_t windows = 0, tokens_evaluated = 0, tokens_scored = 0, top1_agree = 0;
  std::vector<double> kls;  // one per scored position, with a base model
};

// Runs every window through `request` (and `base_request`) and scores it.
Totals evaluate(const std::vector<int32_t>& text_ids, std::optional<int32_t> bos, int64_t ctx, int64_t max_windows,
                int64_t vocab, llmrt::InferRequest& request, llmrt::InferRequest* base_request) {
  const size_t text_per_window = static_cast<size_t>(bos ? ctx - 1 : ctx);
  Totals t;
  std::vector<int32_t> ids;
  std::vector<Scored> scored;
  for (size_t at = 0; at < text_ids.size() && (max_windows == 0 || t.windows < max_windows); at += text_per_window) {
    const size_t end = std::min(text_ids.size(), at + text_per_window);
    ids.clear();
    if (bos) ids.push_back(*bos);
    ids.insert(ids.end(), text_ids.begin() + static_cast<std::ptrdiff_t>(at), text_ids.begin() + static_cast<std::ptrdiff_t>(end));
    if (ids.size() < 2) break;  // a last window of one token has nothing to score
    request.reset();
    const std::vector<float> logits = request.infer(ids);
    std::vector<float> base_logits;
    if (base_request) {
      base_request->reset();
      base_logits = base_request->infer(ids);
    }
    const int64_t rows = static_cast<int64_t>(ids.size()) - 1;
    if (logits.size() != ids.size() * static_cast<size_t>(vocab) || (base_request && base_logits.size() != logits.size())) {
      llmrt::fail(llmrt::ErrorCode::kInternal, "window {}: expected {} x {} logits, got {} (and {} from the base)", t.windows,
                  ids.size(), vocab, logits.size(), base_logits.size());
    }
    scored.assign(static_cast<size_t>(rows), Scored{});
    const int64_t window = t.windows;
    llmrt::parallel_for(rows, 1, [&](int64_t begin, int64_t stop) {
      for (int64_t r = begin; r < stop; ++r) {
        const size_t offset = static_cast<size_t>(r * vocab);
        scored[static_cast<size_t>(r)] = score_row(logits.data() + offset, base_request ? base_logits.data() + offset : nullptr,
                                                   vocab, ids[static_cast<size_t>(r + 1)], window, r);
      }
    });
    for (const Scored& s : scored) {  // summed in order: the result does not depend on the thread count
      t.nll_sum += s.nll;
      if (base_request) {
        t.base_nll_sum += s.base_nll;
        t.kls.push_back(s.kl);
        t.top1_agree += s.top1_agrees ? 1 : 0;
      }
    }
    ++t.windows;
    t.tokens_evaluated += static_cast<int64_t>(ids.size());
    t.tokens_scored += rows;
  }
  return t;
}

// Nearest-rank percentile (q in (0, 1]) of `values`, which it sorts.
double percentile(std::vector<double>& values, double q) {
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::max<size_t>(rank, 1) - 1];
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  std::string why;
  if (!parse(argc, argv, &args, &why)) return usage(why);
  if (args.threads > 0) {
    setenv("LLMRT_NUM_THREADS", std::to_string(args.threads).c_str(), 1);  // the plugins read it when they start
    llmrt::set_num_threads(static_cast<int>(args.threads));
  }
  const bool with_base = !args.base_model.empty();
  try {
    const auto load_start = Clock::now();
    const std::string text = llmrt::read_text_file(args.text_file);
    if (text.empty()) llmrt::fail(llmrt::ErrorCode::kInvalidArgument, "the text file '{}' is empty", args.text_file);

    llmrt::Core core;
    const llmrt::Model model = core.read_model(args.model);
    const std::unique_ptr<llmrt::genai::Tokenizer> tokenizer = llmrt::genai::Tokenizer::from_model(args.model);
    const int64_t vocab = model.info().vocab_size;
    tokenizer->check_fits(vocab, args.model);
    auto check_ctx = [&](const llmrt::Model& m, const std::string& path) {
      const int64_t max_pos = m.info().max_position_embeddings;
      if (max_pos > 0 && args.ctx > max_pos) {
        llmrt::fail(llmrt::ErrorCode::kOutOfRange, "--ctx {} is larger than the context of '{}' ({} positions)", args.ctx, path,
                    max_pos);
      }
    };
    check_ctx(model, args.model);
    std::optional<llmrt::Model> base;
    if (with_base) {
      base = core.read_model(args.base_model);
      if (base->info().vocab_size != vocab) {
        llmrt::fail(llmrt::ErrorCode::kInvalidArgument,
                    "--kl-base: the vocabulary sizes differ: '{}' has {} tokens, '{}' has {}; KL needs the same vocabulary",
                    args.model, vocab, args.base_model, base->info().vocab_size);
      }
      check_ctx(*base, args.base_model);
    }

    const std::vector<int32_t> text_ids = tokenizer->encode(text, {.add_special_tokens = false, .parse_special = false});
    if (text_ids.size() < 2) {
      llmrt::fail(llmrt::ErrorCode::kInvalidArgument, "the text of '{}' is {} token(s) long; at least 2 are needed to score one",
                  args.text_file, text_ids.size());
    }
    const bool bos = adds_bos(*tokenizer);

    const llmrt::CompileOptions options{.max_context = args.ctx, .last_token_logits = false};
    const llmrt::CompiledModel compiled = core.compile(model, args.device, options);
    llmrt::InferRequest request = compiled.create_request();
    std::optional<llmrt::CompiledModel> base_compiled;
    std::optional<llmrt::InferRequest> base_request;
    if (with_base) {
      base_compiled = core.compile(*base, args.device, options);
      base_request = base_compiled->create_request();
    }
    const double load_s = std::chrono::duration<double>(Clock::now() - load_start).count();

    const auto eval_start = Clock::now();
    Totals t = evaluate(text_ids, bos ? tokenizer->bos_id() : std::nullopt, args.ctx, args.max_windows, vocab, request,
                        base_request ? &*base_request : nullptr);
    const double seconds = std::chrono::duration<double>(Clock::now() - eval_start).count();
    const double nll_mean = t.nll_sum / static_cast<double>(t.tokens_scored);
    const double ppl = std::exp(nll_mean);
    const double tokens_per_s = seconds > 0 ? static_cast<double>(t.tokens_evaluated) / seconds : 0;
    const std::string method = method_line(bos, args.ctx, with_base, args.max_windows);

    nlohmann::json out = {{"model", args.model},
                          {"text", args.text_file},
                          {"device", compiled.device()},
                          {"method", method},
                          {"ctx", args.ctx},
                          {"bos_added", bos},
                          {"text_tokens", text_ids.size()},
                          {"windows", t.windows},
                          {"tokens_evaluated", t.tokens_evaluated},
                          {"tokens_scored", t.tokens_scored},
                          {"nll_mean", nll_mean},
                          {"ppl", ppl},
                          {"load_seconds", load_s},
                          {"seconds", seconds},
                          {"tokens_per_s", tokens_per_s}};
    if (with_base) {
      double kl_sum = 0;
      for (double kl : t.kls) kl_sum += kl;
      out["base_model"] = args.base_model;
      out["base_ppl"] = std::exp(t.base_nll_sum / static_cast<double>(t.tokens_scored));
      out["kl_mean"] = kl_sum / static_cast<double>(t.kls.size());
      out["kl_max"] = *std::max_element(t.kls.begin(), t.kls.end());
      out["kl_p99"] = percentile(t.kls, 0.99);
      out["top1_agreement"] = static_cast<double>(t.top1_agree) / static_cast<double>(t.tokens_scored);
    }
    if (args.json) {
      std::printf("%s\n", out.dump(2).c_str());
      return 0;
    }
    std::printf("method   %s\n", method.c_str());
    std::printf("model    %s on %s\n", args.model.c_str(), compiled.device().c_str());
    std::printf("tokens   %zu text tokens, %lld windows of %lld, %lld scored\n", text_ids.size(), static_cast<long long>(t.windows),
                static_cast<long long>(args.ctx), static_cast<long long>(t.tokens_scored));
    std::printf("ppl      %.4f (mean NLL %.6f nats/token)\n", ppl, nll_mean);
    if (with_base) {
      std::printf("base     %s: ppl %.4f\n", args.base_model.c_str(), out["base_ppl"].get<double>());
      std::printf("KL       mean %.6g, p99 %.6g, max %.6g nats/token (KL(base || model))\n", out["kl_mean"].get<double>(),
                  out["kl_p99"].get<double>(), out["kl_max"].get<double>());
      std::printf("top-1    %.4f of positions agree\n", out["top1_agreement"].get<double>());
    }
    std::printf("time     %.2f s, %.1f tokens/s%s (load %.2f s)\n", seconds, tokens_per_s, with_base ? ", both models" : "", load_s);
    return 0;
  } catch (const llmrt::Error& e) {
    std::fprintf(stderr, "llmrt-perplexity: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmrt-perplexity: internal error: %s\n", e.what());
    return 1;
  }
}
