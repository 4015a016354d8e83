// The HTTP layer: routes, admission (API key, in-flight limit, draining), one request's trip
// through the engine (prompt tokens, context check, add_request, reading its outputs), server-
// sent events, errors as OpenAI's JSON, one log line per request.
#include "serve/openai_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>

#include "genai/tokenizer.h"
#include "serve/openai_request.h"
#include "serve/openai_response.h"
#include "serve/serve_metrics.h"
#include "util/error.h"
#include "util/log.h"

namespace llmrt::serve {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

// Threads beyond max_concurrent_requests, so health checks, metrics and refusals (429, 503)
// are answered while generation requests hold every other thread.
constexpr size_t kSpareThreads = 8;

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// Thrown inside a handler: the guard sends it as the response.
struct ApiFailure {
  ApiError error;
};

ApiError api_error(int status, std::string type, std::string code, std::string message) {
  ApiError e;
  e.status = status;
  e.type = std::move(type);
  e.code = std::move(code);
  e.message = std::move(message);
  return e;
}

ApiError server_error(std::string message) { return api_error(500, "server_error", "internal_error", std::move(message)); }

std::string prompt_param(Endpoint endpoint) { return endpoint == Endpoint::kChatCompletions ? "messages" : "prompt"; }

// An llmrt::Error raised by add_request or while generating, as the API reports it.
ApiError engine_error(const Error& e, Endpoint endpoint) {
  switch (e.code()) {
    case ErrorCode::kOutOfRange: return bad_request("context_length_exceeded", prompt_param(endpoint), e.what());
    case ErrorCode::kInvalidArgument: return bad_request("invalid_value", prompt_param(endpoint), e.what());
    case ErrorCode::kCancelled: return api_error(503, "server_error", "service_unavailable", e.what());
    default: return server_error(e.what());
  }
}

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  res.set_content(e.to_json(), "application/json");
}

std::string sse(std::string_view data) { return fmt::format("data: {}\n\n", data); }

// What the request's log line says beyond method, path and status. The handler, the stream
// and the logger of one request all run on the connection's thread, one request at a time.
struct RequestLog {
  std::optional<Clock::time_point> start;
  std::optional<size_t> prompt_tokens, completion_tokens;
};
thread_local RequestLog t_request_log;

// Where a default model id comes from: "models/Llama-3.2-1B/" -> "Llama-3.2-1B".
std::string default_model_name(const std::filesystem::path& model) {
  std::filesystem::path p = model.lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

// The methods each path takes; a known path with another method gets 405.
struct Route {
  const char* path;
  const char* method;
};
constexpr Route kRoutes[] = {{"/v1/chat/completions", "POST"}, {"/v1/completions", "POST"}, {"/v1/models", "GET"},
                             {"/health", "GET"},               {"/metrics", "GET"}};

// Latency histograms of one request, from the arrival and the time each output was read.
class LatencyTracker {
 public:
  LatencyTracker(ServerMetrics& metrics, Clock::time_point arrival, size_t num_choices)
      : metrics_(metrics), arrival_(arrival), last_(num_choices), finished_(num_choices, false) {}

  void on_output(const GenerationOutput& out) {
    const auto now = Clock::now();
    if (!out.token_ids.empty()) {
      if (!first_token_seen_) metrics_.observe_time_to_first_token(seconds_between(arrival_, now));
      else if (last_.at(out.index)) metrics_.observe_inter_token_latency(seconds_between(*last_[out.index], now));
      first_token_seen_ = true;
      last_[out.index] = now;
    }
    if (out.finish_reason != FinishReason::kNone && !finished_.at(out.index)) {
      finished_[out.index] = true;
      metrics_.count_finished(out.finish_reason);
    }
  }
  void on_end() { metrics_.observe_e2e_latency(seconds_between(arrival_, Clock::now())); }
  // The client went away: what had not finished counts as aborted.
  void on_abort() {
    for (size_t i = 0; i < finished_.size(); ++i) {
      if (!finished_[i]) metrics_.count_finished(FinishReason::kCancelled);
    }
  }

 private:
  ServerMetrics& metrics_;
  Clock::time_point arrival_;
  bool first_token_seen_ = false;
  std::vector<std::optional<Clock::time_point>> last_;  // per choice: when its last token came
  std::vector<bool> finished_;
};

// httplib 0.11 listens with a backlog of 5: 32 clients connecting at once overflow it and some
// get reset. Listening again on the bound socket raises the backlog (Linux, POSIX allow it).
class HttpServer : public httplib::Server {
 public:
  bool raise_listen_backlog() { return ::listen(svr_sock_, SOMAXCONN) == 0; }
};

}  // namespace

struct OpenAiServer::Impl {
  ServingEngine& engine;
  ServerOptions options;
  std::unique_ptr<genai::Tokenizer> tokenizer;
  const int64_t created = std::time(nullptr);
  ServerMetrics metrics;
  HttpServer http;

  std::mutex mu;
  std::condition_variable cv;
  size_t in_flight = 0;  // generation requests admitted and not yet finished
  bool draining = false, stopping = false, stopped = false, bound = false, run_active = false;

  std::mutex rng_mu;
  std::mt19937_64 rng{std::random_device{}()};

  // A place among max_concurrent_requests; given back when destroyed.
  class Seat {
   public:
    explicit Seat(Impl* impl) : impl_(impl) {}
    Seat(Seat&& other) noexcept : impl_(std::exchange(other.impl_, nullptr)) {}
    Seat& operator=(Seat&&) = delete;
    ~Seat() {
      if (!impl_) return;
      std::lock_guard lock(impl_->mu);  // notified under the lock: stop() may return, and the server go, right after
      --impl_->in_flight;
      impl_->cv.notify_all();
    }

   private:
    Impl* impl_;
  };

  // One admitted request on its way through the engine. Destroyed before it ended (the client
  // went away mid-stream, or the engine failed it): cancels the engine's sequences so their KV
  // blocks are freed, and counts them as aborted.
  struct Generation {
    Generation(Impl& s, Seat st, GenerationHandle h, const ResponseHeader& header, size_t n, Clock::time_point arrival,
               bool usage)
        : server(s),
          seat(std::move(st)),
          handle(std::move(h)),
          builder(header, n, *s.tokenizer),
          latency(s.metrics, arrival, n),
          endpoint(header.endpoint),
          include_usage(usage) {}
    Generation(const Generation&) = delete;
    Generation& operator=(const Generation&) = delete;
    ~Generation() {
      if (ended) return;
      handle.cancel();
      latency.on_abort();
    }

    // Takes one output; returns its stream chunk ("" for none).
    std::string take(const GenerationOutput& out, bool streaming) {
      latency.on_output(out);
      return builder.add(out, streaming);
    }
    // Every choice has finished.
    void end() {
      ended = true;
      latency.on_end();
      t_request_log.completion_tokens = builder.completion_tokens();
      if (!server.options.log_prompts) return;
      for (size_t i = 0; i < builder.num_choices(); ++i) {
        log::info("{} completion[{}]: {}", builder.id(), i,
                  json(builder.text(i)).dump(-1, ' ', false, json::error_handler_t::replace));
      }
    }

    Impl& server;
    Seat seat;  // declared first of the owned members, so given back last
    GenerationHandle handle;
    CompletionBuilder builder;
    LatencyTracker latency;
    const Endpoint endpoint;
    const bool include_usage;
    bool ended = false;
  };

  Impl(ServingEngine& e, const std::filesystem::path& model, ServerOptions o)
      : engine(e), options(std::move(o)), tokenizer(genai::Tokenizer::from_model(model)) {
    auto bad = [](const char* field, auto value, const char* why) {
      fail(ErrorCode::kInvalidArgument, "ServerOptions.{} = {}: {}", field, value, why);
    };
    if (options.host.empty()) bad("host", "\"\"", "must name an address to listen on");
    if (options.port < 0 || options.port > 65535) bad("port", options.port, "must be in [0, 65535]");
    if (options.max_body_bytes == 0) bad("max_body_bytes", options.max_body_bytes, "must be at least 1");
    if (options.max_concurrent_requests == 0) {
      bad("max_concurrent_requests", options.max_concurrent_requests, "must be at least 1");
    }
    if (options.max_n == 0 || options.max_n > 128) bad("max_n", options.max_n, "must be in [1, 128] (the engine's limit)");
    if (options.model_name.empty()) options.model_name = default_model_name(model);
    routes();
  }

  void routes() {
    const size_t threads = options.max_concurrent_requests + kSpareThreads;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_payload_max_length(options.max_body_bytes);
    http.set_tcp_nodelay(true);
    // httplib's default sets SO_REUSEPORT, which lets a second server (anyone's) bind the same
    // port and take a share of the connections: SO_REUSEADDR alone still allows a quick restart.
    http.set_socket_options([](socket_t sock) {
      const int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    http.Post("/v1/chat/completions", guard([this](const httplib::Request& req, httplib::Response& res) {
      completion(req, res, Endpoint::kChatCompletions);
    }));
    http.Post("/v1/completions", guard([this](const httplib::Request& req, httplib::Response& res) {
      completion(req, res, Endpoint::kCompletions);
    }));
    http.Get("/v1/models", guard([this](const httplib::Request& req, httplib::Response& res) { models(req, res); }));
    http.Get("/health", guard([this](const httplib::Request&, httplib::Response& res) { health(res); }));
    http.Get("/metrics", guard([this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.render(engine.metrics(), options.model_name), "text/plain; version=0.0.4");
    }));
    http.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
      t_request_log = {.start = Clock::now()};
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) { return fill_error(req, res); }));
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) { log_request(req, res); });
  }

  // Runs a handler; whatever it throws becomes an OpenAI error response.
  template <class F>
  static httplib::Server::Handler guard(F handler) {
    return [handler](const httplib::Request& req, httplib::Response& res) {
      try {
        handler(req, res);
      } catch (const ApiFailure& f) {
        send_error(res, f.error);
      } catch (const std::exception& e) {
        send_error(res, server_error(e.what()));
      }
    };
  }

  // Errors httplib answers itself (unknown path, wrong method, body too large, unreadable
  // request) get the API's JSON body too.
  httplib::Server::HandlerResponse fill_error(const httplib::Request& req, httplib::Response& res) const {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;  // a handler's own error
    ApiError e;
    if (res.status == 413 && req.get_header_value("Content-Type").starts_with("application/x-www-form-urlencoded")) {
      // httplib parses such bodies as forms, with a limit of its own (what curl -d sends by default).
      e = api_error(413, "invalid_request_error", "request_too_large",
                    fmt::format("A body sent as application/x-www-form-urlencoded may hold at most {} bytes; send the JSON "
                                "as application/json.",
                                std::min<size_t>(CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH, options.max_body_bytes)));
    } else if (res.status == 413) {
      e = api_error(413, "invalid_request_error", "request_too_large",
                    fmt::format("The request body is larger than this server's limit of {} bytes.", options.max_body_bytes));
    } else if (res.status == 404) {
      std::string allowed;
      for (const Route& r : kRoutes) {
        if (req.path == r.path) allowed = r.method;
      }
      if (!allowed.empty()) {
        e = api_error(405, "invalid_request_error", "method_not_allowed",
                      fmt::format("{} {} is not supported; use {}.", req.method, req.path, allowed));
        res.set_header("Allow", allowed);
      } else {
        e = api_error(404, "invalid_request_error", "unknown_url", fmt::format("Unknown URL: {} {}.", req.method, req.path));
      }
    } else {
      e = api_error(res.status, res.status >= 500 ? "server_error" : "invalid_request_error", "",
                    fmt::format("The request could not be served (HTTP {}).", res.status));
    }
    send_error(res, e);
    return httplib::Server::HandlerResponse::Handled;
  }

  static void log_request(const httplib::Request& req, const httplib::Response& res) {
    const RequestLog entry = std::exchange(t_request_log, {});
    std::string tokens;
    if (entry.prompt_tokens) tokens += fmt::format(" prompt_tokens={}", *entry.prompt_tokens);
    if (entry.completion_tokens) tokens += fmt::format(" completion_tokens={}", *entry.completion_tokens);
    const double ms = entry.start ? seconds_between(*entry.start, Clock::now()) * 1e3 : 0;
    log::info("{} {} {}{} {:.1f} ms", req.method, req.path, res.status, tokens, ms);
  }

  void authorize(const httplib::Request& req) const {
    if (options.api_key.empty()) return;
    if (!bearer_token_matches(req.get_header_value("Authorization"), options.api_key)) {
      throw ApiFailure{api_error(401, "invalid_request_error", "invalid_api_key",
                                 "Missing or incorrect API key: send 'Authorization: Bearer <key>'.")};
    }
  }

  Seat enter() {
    std::lock_guard lock(mu);
    if (draining) {
      throw ApiFailure{api_error(503, "server_error", "service_unavailable", "The server is shutting down.")};
    }
    if (in_flight >= options.max_concurrent_requests) {
      throw ApiFailure{api_error(429, "rate_limit_error", "too_many_requests",
                                 fmt::format("This server is busy with {} requests (its limit); retry later.",
                                             options.max_concurrent_requests))};
    }
    ++in_flight;
    return Seat(this);
  }

  uint64_t random_u64() {
    std::lock_guard lock(rng_mu);
    return rng();
  }

  void health(httplib::Response& res) {
    bool is_draining;
    {
      std::lock_guard lock(mu);
      is_draining = draining;
    }
    res.status = is_draining ? 503 : 200;
    res.set_content(json({{"status", is_draining ? "draining" : "ok"}}).dump(), "application/json");
  }

  void models(const httplib::Request& req, httplib::Response& res) {
    authorize(req);
    const json model = {{"id", options.model_name},
                        {"object", "model"},
                        {"created", created},
                        {"owned_by", "llmrt"},
                        {"max_model_len", engine.max_context()}};
    const json list = {{"object", "list"}, {"data", json::array({model})}};
    res.set_content(list.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  }

  // The prompt as the engine will run it.
  std::vector<int32_t> prompt_ids(const ParsedRequest& r) const {
    if (r.prompt_is_ids) return r.prompt_ids;
    if (r.endpoint == Endpoint::kCompletions) {
      return tokenizer->encode(r.prompt, {.add_special_tokens = true, .parse_special = false});
    }
    std::string chat;
    try {
      chat = engine.apply_chat_template(r.messages, true);
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kInternal) throw;
      throw ApiFailure{bad_request("invalid_value", "messages",
                                   fmt::format("The chat template cannot render these messages: {}", e.what()))};
    }
    // As ServingEngine::add_request(messages) tokenises a rendered chat.
    return tokenizer->encode(chat, {.add_special_tokens = false, .parse_special = true});
  }

  // max_new_tokens for a prompt of `prompt_tokens`: max_tokens when it fits, else the rest of
  // the context.
  size_t max_new_tokens(const ParsedRequest& r, size_t prompt_tokens) const {
    const auto context = static_cast<size_t>(engine.max_context());
    if (prompt_tokens >= context) {
      throw ApiFailure{bad_request("context_length_exceeded", prompt_param(r.endpoint),
                                   fmt::format("This model's maximum context length is {} tokens, but the prompt has {} tokens "
                                               "(at least one must be left to generate).", context, prompt_tokens))};
    }
    if (!r.max_tokens) return context - prompt_tokens;
    if (prompt_tokens + *r.max_tokens > context) {
      throw ApiFailure{bad_request("context_length_exceeded", "max_tokens",
                                   fmt::format("This model's maximum context length is {} tokens, but {} were requested ({} in "
                                               "the prompt, {} for the completion). Reduce the prompt or max_tokens.",
                                               context, prompt_tokens + *r.max_tokens, prompt_tokens, *r.max_tokens))};
    }
    return *r.max_tokens;
  }

  void completion(const httplib::Request& req, httplib::Response& res, Endpoint endpoint) {
    const auto arrival = Clock::now();
    authorize(req);
    Seat seat = enter();
    auto parsed = parse_completion_request(req.body, endpoint, {.max_n = options.max_n});
    if (auto* e = std::get_if<ApiError>(&parsed)) throw ApiFailure{std::move(*e)};
    const ParsedRequest& r = std::get<ParsedRequest>(parsed);
    if (!r.model.empty() && r.model != options.model_name) {
      throw ApiFailure{api_error(404, "invalid_request_error", "model_not_found",
                                 fmt::format("The model '{}' does not exist; this server serves '{}'.", r.model,
                                             options.model_name))};
    }
    const std::vector<int32_t> ids = prompt_ids(r);
    t_request_log.prompt_tokens = ids.size();
    GenerationConfig config = r.config;
    config.max_new_tokens = max_new_tokens(r, ids.size());
    config.rng_seed = r.seed ? *r.seed : random_u64();

    const std::string id = fmt::format("{}{:016x}{:08x}", endpoint == Endpoint::kChatCompletions ? "chatcmpl-" : "cmpl-",
                                       random_u64(), random_u64() & 0xffffffffu);
    if (options.log_prompts) {
      json prompt = r.prompt_is_ids ? json(ids) : json(r.prompt);
      if (endpoint == Endpoint::kChatCompletions) {
        prompt = json::array();
        for (const ChatMessage& m : r.messages) prompt.push_back({{"role", m.role}, {"content", m.content}});
      }
      log::info("{} prompt: {}", id, prompt.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    GenerationHandle handle;
    try {
      handle = engine.add_request(ids, config);
    } catch (const Error& e) {
      throw ApiFailure{engine_error(e, endpoint)};
    }
    const size_t n = config.num_return_sequences;
    ResponseHeader header{endpoint, id, std::time(nullptr), options.model_name, r.logprobs, ids.size()};
    auto g = std::make_shared<Generation>(*this, std::move(seat), std::move(handle), header, n, arrival, r.include_usage);
    if (r.stream) return stream(res, std::move(g));
    try {
      while (auto out = g->handle.read()) g->take(*out, /*streaming=*/false);
    } catch (const Error& e) {
      throw ApiFailure{engine_error(e, endpoint)};
    }
    g->end();
    res.set_content(g->builder.response(), "application/json");
  }

  // Sends the outputs as server-sent events while the engine produces them. The provider runs
  // on this connection's thread, blocking in read() until the next output; a failed write
  // means the client is gone, and dropping the Generation cancels its sequences.
  static void stream(httplib::Response& res, std::shared_ptr<Generation> g) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider("text/event-stream", [g](size_t, httplib::DataSink& sink) {
      std::string events;
      bool last = false;
      try {
        if (auto out = g->handle.read()) {
          if (std::string chunk = g->take(*out, /*streaming=*/true); !chunk.empty()) events = sse(chunk);
        } else {
          g->end();
          if (g->include_usage) events = sse(g->builder.usage_chunk());
          last = true;
        }
      } catch (const Error& e) {  // the engine failed the request: say so in the stream, then end it
        events = sse(engine_error(e, g->endpoint).to_json());
        last = true;
      } catch (const std::exception& e) {
        events = sse(server_error(e.what()).to_json());
        last = true;
      }
      if (last) events += "data: [DONE]\n\n";
      if (!events.empty() && !sink.write(events.data(), events.size())) return false;
      if (last) sink.done();
      return true;
    });
  }

  int bind() {
    errno = 0;
    const int port = options.port == 0 ? http.bind_to_any_port(options.host)
                                       : (http.bind_to_port(options.host, options.port) ? options.port : -1);
    if (port < 0) {
      fail(ErrorCode::kIo, "cannot listen on {}:{}{}", options.host, options.port,
           errno ? fmt::format(": {}", std::strerror(errno)) : std::string(" (not an address of this machine?)"));
    }
    if (!http.raise_listen_backlog()) {
      log::warn("serve: cannot raise the listen backlog ({}): bursts of connections may be reset", std::strerror(errno));
    }
    std::lock_guard lock(mu);
    bound = true;
    return port;
  }

  void run() {
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      if (!bound) fail(ErrorCode::kInvalidArgument, "OpenAiServer::run() before bind()");
      run_active = true;
    }
    http.listen_after_bind();
    std::lock_guard lock(mu);  // notified under the lock: the destructor may run right after
    run_active = false;
    cv.notify_all();
  }

  void stop() {
    std::unique_lock lock(mu);
    draining = true;
    cv.wait(lock, [&] { return in_flight == 0; });
    if (stopping) {  // another thread is closing the socket
      cv.wait(lock, [&] { return stopped; });
      return;
    }
    stopping = true;
    // run() may be on its way into httplib's accept loop, where alone httplib's stop() acts.
    while (run_active && !http.is_running()) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      lock.lock();
    }
    if (run_active) http.stop();
    stopped = true;
    cv.notify_all();
  }
};

OpenAiServer::OpenAiServer(ServingEngine& engine, const std::filesystem::path& model, ServerOptions options)
    : impl_(std::make_unique<Impl>(engine, model, std::move(options))) {}

OpenAiServer::~OpenAiServer() {
  impl_->stop();
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return !impl_->run_active; });
}

int OpenAiServer::bind() { return impl_->bind(); }
void OpenAiServer::run() { impl_->run(); }
void OpenAiServer::stop() { impl_->stop(); }
const std::string& OpenAiServer::model_name() const { return impl_->options.model_name; }

}  // namespace llmrt::serve
