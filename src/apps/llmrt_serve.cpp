// llmrt-serve: an OpenAI-compatible HTTP server (docs/serving.md).
//
//   llmrt-serve -m MODEL [-d DEVICE] [--host 127.0.0.1] [--port 8080] [--api-key KEY]
//               [--cache-size GB] [--max-num-seqs N] [--max-num-batched-tokens N] [--block-size N]
//               [--kv-cache-precision f32|f16|bf16|u8] [--no-prefix-caching] [--ctx N]
//               [--served-model-name NAME] [--log-prompts] [--max-body-bytes N]
//
// Prints "listening on http://HOST:PORT" once bound. SIGINT or SIGTERM: stop taking requests,
// let those in flight finish, exit 0. The API key may also come from LLMRT_API_KEY.
// Exit codes: 0 ok, 1 error (the message names what is wrong), 2 usage.
#include <fmt/format.h>
#include <pthread.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <type_traits>

#include "llmrt/log.h"
#include "llmrt/serving.hpp"
#include "serve/openai_server.h"

namespace {

int usage(const char* why = nullptr) {
  if (why) std::fprintf(stderr, "llmrt-serve: %s\n", why);
  std::fprintf(stderr,
               "usage: llmrt-serve -m MODEL [-d DEVICE] [--host 127.0.0.1] [--port 8080] [--api-key KEY]\n"
               "                   [--cache-size GB] [--max-num-seqs N] [--max-num-batched-tokens N] [--block-size N]\n"
               "                   [--kv-cache-precision f32|f16|bf16|u8] [--no-prefix-caching] [--ctx N]\n"
               "                   [--served-model-name NAME] [--log-prompts] [--max-body-bytes N]\n"
               "  MODEL: a Hugging Face folder, a .gguf file or an .llmrt container. DEVICE: CPU (default), GPU, ...\n"
               "  The API key may also come from the environment variable LLMRT_API_KEY.\n");
  return 2;
}

struct Args {
  std::string model, device = "CPU";
  llmrt::SchedulerConfig scheduler;
  llmrt::serve::ServerOptions server;
};

bool parse(int argc, char** argv, Args* a, std::string* why) {
  if (const char* key = std::getenv("LLMRT_API_KEY")) a->server.api_key = key;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        *why = k + " needs a value";
        return nullptr;
      }
      return argv[++i];
    };
    // A whole number in [lo, hi].
    auto integer = [&](double lo, double hi, auto* out) {
      const char* v = value();
      if (!v) return false;
      char* end = nullptr;
      const double x = std::strtod(v, &end);
      if (!end || *end || x != std::floor(x) || x < lo || x > hi) {
        *why = fmt::format("{} expects a whole number in [{}, {}], got '{}'", k, lo, hi, v);
        return false;
      }
      *out = static_cast<std::remove_pointer_t<decltype(out)>>(x);
      return true;
    };
    auto text = [&](std::string* out) {
      const char* v = value();
      if (v) *out = v;
      return v != nullptr;
    };
    constexpr double kMaxCount = 1e12;
    bool ok = true;
    if (k == "-m" || k == "--model") {
      ok = text(&a->model);
    } else if (k == "-d" || k == "--device") {
      ok = text(&a->device);
    } else if (k == "--host") {
      ok = text(&a->server.host);
    } else if (k == "--port") {
      ok = integer(0, 65535, &a->server.port);
    } else if (k == "--api-key") {
      ok = text(&a->server.api_key);
    } else if (k == "--cache-size") {
      const char* v = value();
      char* end = nullptr;
      a->scheduler.cache_size = v ? std::strtod(v, &end) : 0;
      if (v && (!end || *end)) *why = fmt::format("--cache-size expects a number of GB, got '{}'", v);
      ok = v && why->empty();
    } else if (k == "--max-num-seqs") {
      ok = integer(1, kMaxCount, &a->scheduler.max_num_seqs);
    } else if (k == "--max-num-batched-tokens") {
      ok = integer(1, kMaxCount, &a->scheduler.max_num_batched_tokens);
    } else if (k == "--block-size") {
      ok = integer(1, kMaxCount, &a->scheduler.block_size);
    } else if (k == "--kv-cache-precision") {
      std::string name;
      ok = text(&name);
      bool known = false;
      for (auto p : {llmrt::KvPrecision::kF32, llmrt::KvPrecision::kF16, llmrt::KvPrecision::kBF16, llmrt::KvPrecision::kU8}) {
        if (name == llmrt::to_string(p)) {
          a->scheduler.kv_cache_precision = p;
          known = true;
        }
      }
      if (ok && !known) {
        *why = fmt::format("unknown --kv-cache-precision '{}' (valid: f32, f16, bf16, u8)", name);
        ok = false;
      }
    } else if (k == "--no-prefix-caching") {
      a->scheduler.enable_prefix_caching = false;
    } else if (k == "--ctx") {
      ok = integer(1, kMaxCount, &a->scheduler.max_context);
    } else if (k == "--served-model-name") {
      ok = text(&a->server.model_name);
    } else if (k == "--log-prompts") {
      a->server.log_prompts = true;
    } else if (k == "--max-body-bytes") {
      ok = integer(1, kMaxCount, &a->server.max_body_bytes);
    } else if (k == "-h" || k == "--help") {
      return false;
    } else {
      *why = "unknown option " + k;
      return false;
    }
    if (!ok) return false;
  }
  if (a->model.empty()) *why = "-m MODEL is required";
  return why->empty();
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  std::string why;
  if (!parse(argc, argv, &args, &why)) return usage(why.empty() ? nullptr : why.c_str());
  // A server's log is its request lines: info unless the environment says otherwise.
  if (!std::getenv("LLMRT_LOG_LEVEL")) llmrt_log_set_level(LLMRT_LOG_INFO);

  // SIGINT and SIGTERM are blocked in every thread (set before any thread starts, so they all
  // inherit it) and taken by sigtimedwait on one watcher thread: no signal handler runs at all.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client gone mid-write is an error return, not a kill

  try {
    llmrt::ServingEngine engine(args.model, args.device, args.scheduler);
    llmrt::serve::OpenAiServer server(engine, args.model, args.server);
    const int port = server.bind();
    const std::string& host = args.server.host;
    const std::string url_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;  // IPv6 in brackets
    std::printf("listening on http://%s:%d\n", url_host.c_str(), port);
    std::fflush(stdout);

    std::atomic<bool> done{false}, signalled{false};
    std::thread watcher([&] {
      const timespec poll = {0, 200'000'000};
      while (!done) {
        const int sig = sigtimedwait(&stop_signals, nullptr, &poll);
        if (sig <= 0) continue;
        std::fprintf(stderr, "llmrt-serve: %s: finishing the requests in flight, then exiting\n",
                     sig == SIGINT ? "SIGINT" : "SIGTERM");
        signalled = true;
        server.stop();
        return;
      }
    });
    server.run();
    done = true;
    watcher.join();
    if (!signalled) {
      std::fprintf(stderr, "llmrt-serve: the server stopped listening on %s:%d\n", host.c_str(), port);
      return 1;
    }
  } catch (const llmrt::Error& e) {
    std::fprintf(stderr, "llmrt-serve: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmrt-serve: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
