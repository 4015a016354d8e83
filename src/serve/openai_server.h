// The OpenAI-compatible HTTP server over a ServingEngine (docs/serving.md):
//   POST /v1/chat/completions, POST /v1/completions (both streamed as server-sent events on
//   request), GET /v1/models, GET /health, GET /metrics (Prometheus text).
//
//   llmrt::ServingEngine engine(model, "CPU", sched);
//   llmrt::serve::OpenAiServer server(engine, model, {.port = 8080});
//   const int port = server.bind();
//   std::thread t([&] { server.run(); });   // ... later, from any thread:
//   server.stop();                           // drains: running requests finish first
//   t.join();
//
// Plain HTTP only (put a TLS proxy in front for anything but loopback). Each connection is
// served by one thread of a pool of max_concurrent_requests plus a few spare threads (health
// checks and refusals still get through when generation requests fill the pool); a request
// beyond max_concurrent_requests in flight gets 429.
//
// Ownership: the server borrows the engine, which must outlive it. Thread-safety: stop() may be
// called from any thread; bind() and run() from one.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "llmrt/serving.hpp"

namespace llmrt::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0: any free port (bind() says which)
  std::string api_key;                   // "": no authentication; else /v1/* needs "Authorization: Bearer KEY"
  size_t max_body_bytes = 1 << 20;       // larger request bodies get 413
  size_t max_concurrent_requests = 256;  // generation requests in flight; more get 429
  size_t max_n = 16;                     // the largest `n` accepted
  bool log_prompts = false;              // log prompts and generated text (never otherwise)
  std::string model_name;                // the id in /v1/models; "": the model folder or file name
};

class OpenAiServer {
 public:
  // `model` is the path the engine was loaded from: its tokenizer counts prompt tokens (the
  // engine gives no token count for a chat) and its name is the default model id.
  // INVALID_ARGUMENT for options that cannot work (port out of range, zero limits).
  OpenAiServer(ServingEngine& engine, const std::filesystem::path& model, ServerOptions options);
  ~OpenAiServer();  // stops the server if it is still running
  OpenAiServer(const OpenAiServer&) = delete;
  OpenAiServer& operator=(const OpenAiServer&) = delete;

  // Binds the listening socket and returns its port. IO error naming host and port on failure.
  int bind();
  // Serves until stop(); returns once the last connection has closed.
  void run();
  // Stops taking requests (new ones get 503, /health says "draining"), waits until every
  // request in flight (streams included) has finished, then closes the listening socket.
  void stop();

  const std::string& model_name() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmrt::serve
