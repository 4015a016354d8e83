// llmrt-serve's server in-process on a synthetic model, over loopback HTTP: answers equal the
// Pipeline's for the same greedy config, streams equal non-streamed answers and end in [DONE],
// n, stop strings, logprobs and seeds behave as OpenAI's do, /v1/models, /health and /metrics
// say what happened, every error is the right status with OpenAI's JSON error, a client that
// hangs up mid-stream frees its sequence, draining lets streams finish, and 32 concurrent
// streaming clients each get their own complete answer.
#include "serve/openai_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <mutex>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "llmrt/genai.hpp"
#include "llmrt/log.h"
#include "runtime/synthetic_model.h"
#include "store/test_files.h"

namespace llmrt::serve {
namespace {

using json = nlohmann::json;
using testing_util::TempDir;

constexpr int64_t kContext = 512;  // the model's max_position_embeddings, so the engine's context
constexpr const char* kModelName = "tiny-model";

// Runs an OpenAiServer on a free loopback port on its own thread; stops it when destroyed.
class RunningServer {
 public:
  RunningServer(ServingEngine& engine, const std::filesystem::path& model, ServerOptions options = {})
      : server_(engine, model, with_test_defaults(std::move(options))) {
    port_ = server_.bind();
    thread_ = std::thread([this] { server_.run(); });
  }
  ~RunningServer() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  OpenAiServer& server() { return server_; }

 private:
  static ServerOptions with_test_defaults(ServerOptions o) {
    o.port = 0;
    o.max_concurrent_requests = std::min<size_t>(o.max_concurrent_requests, 64);  // fewer pool threads per test server
    return o;
  }
  OpenAiServer server_;
  std::thread thread_;
  int port_ = 0;
};

struct Reply {
  int status = 0;
  std::string content_type;
  std::string raw;
  json body;  // parsed when the reply is JSON
};

httplib::Client client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60);
  return c;
}

Reply reply_of(const httplib::Result& r) {
  Reply out;
  if (!r) {
    ADD_FAILURE() << "no HTTP response: " << httplib::to_string(r.error());
    return out;
  }
  out.status = r->status;
  out.content_type = r->get_header_value("Content-Type");
  out.raw = r->body;
  if (out.content_type == "application/json") out.body = json::parse(r->body, nullptr, false);
  return out;
}

Reply post(int port, const std::string& path, const std::string& body, const httplib::Headers& headers = {}) {
  return reply_of(client(port).Post(path.c_str(), headers, body, "application/json"));
}
Reply post(int port, const std::string& path, const json& body, const httplib::Headers& headers = {}) {
  return post(port, path, body.dump(), headers);
}
Reply get(int port, const std::string& path, const httplib::Headers& headers = {}) {
  return reply_of(client(port).Get(path.c_str(), headers));
}

// A server-sent-event stream: its JSON chunks and whether it ended with [DONE].
struct Stream {
  std::vector<json> chunks;
  bool done = false;

  // Concatenated text per choice (chat deltas or completion texts).
  std::vector<std::string> texts() const {
    std::vector<std::string> t;
    for (const json& c : chunks) {
      for (const json& choice : c["choices"]) {
        const size_t i = choice["index"];
        if (t.size() <= i) t.resize(i + 1);
        if (choice.contains("delta")) t[i] += choice["delta"].value("content", "");
        else t[i] += choice["text"].get<std::string>();
      }
    }
    return t;
  }
  // Finish reasons per choice, in order of arrival.
  std::vector<std::pair<size_t, std::string>> finishes() const {
    std::vector<std::pair<size_t, std::string>> f;
    for (const json& c : chunks) {
      for (const json& choice : c["choices"]) {
        if (!choice["finish_reason"].is_null()) f.emplace_back(choice["index"].get<size_t>(), choice["finish_reason"]);
      }
    }
    return f;
  }
};

Stream parse_sse(const std::string& raw) {
  Stream s;
  size_t at = 0;
  while (at < raw.size()) {
    const size_t end = raw.find("\n\n", at);
    if (end == std::string::npos) {
      ADD_FAILURE() << "unterminated event: " << raw.substr(at);
      break;
    }
    const std::string event = raw.substr(at, end - at);
    at = end + 2;
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    const std::string data = event.substr(6);
    EXPECT_FALSE(s.done) << "an event after [DONE]: " << data;
    if (data == "[DONE]") {
      s.done = true;
      continue;
    }
    s.chunks.push_back(json::parse(data));
  }
  return s;
}

Stream post_stream(int port, const std::string& path, json body) {
  body["stream"] = true;
  Reply r = post(port, path, body);
  EXPECT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.content_type, "text/event-stream");
  return parse_sse(r.raw);
}

// Streams a request, calling on_event with the raw bytes received; on_event returns false to
// hang up. Returns what was received.
std::string stream_with(int port, const std::string& path, json body, const std::function<bool(const std::string&)>& on_data) {
  body["stream"] = true;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  std::string received;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    received.append(data, n);
    return on_data(received);
  };
  httplib::Client c = client(port);
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  c.send(req, res, error);
  return received;
}

// The value of the sample `key` (name{labels}) on a /metrics page; -1 when absent.
double metric(const std::string& page, const std::string& key) {
  const size_t at = page.find("\n" + key + " ");
  if (at == std::string::npos) return -1;
  return std::stod(page.substr(at + key.size() + 2));
}

std::string labels(const std::string& extra = "") {
  return std::string("{model_name=\"") + kModelName + "\"" + (extra.empty() ? "" : "," + extra) + "}";
}

// Polls until pred() holds, for at most `seconds`.
template <class P>
bool eventually(P pred, double seconds = 5) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

json chat_body(const std::string& user, int max_tokens) {
  return {{"model", kModelName},
          {"messages", {{{"role", "user"}, {"content", user}}}},
          {"max_tokens", max_tokens},
          {"temperature", 0}};
}
json completion_body(const std::string& prompt, int max_tokens) {
  return {{"model", kModelName}, {"prompt", prompt}, {"max_tokens", max_tokens}, {"temperature", 0}};
}

// Prompts whose greedy answers run to max_tokens without an end token (checked where used).
constexpr const char* kLongPrompt = "once upon a time";
constexpr int kLongTokens = 480;

class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    SyntheticModelSpec s;  // the shape of llmrt-convert's "tiny" preset
    s.vocab_size = 512;
    s.hidden_size = 64;
    s.num_layers = 2;
    s.num_heads = 4;
    s.num_kv_heads = 2;
    s.head_dim = 16;
    s.intermediate_size = 128;
    s.max_position_embeddings = kContext;
    write_synthetic_hf(s, model());
    engine_ = new ServingEngine(model(), "CPU");
    pipeline_ = new Pipeline(model(), "CPU");
  }
  static void TearDownTestSuite() {
    delete pipeline_;
    delete engine_;
    delete dir_;
  }
  static std::filesystem::path model() { return *dir_ / kModelName; }
  static ServingEngine& engine() { return *engine_; }
  static Pipeline& pipeline() { return *pipeline_; }
  static GenerationConfig greedy(size_t n) {
    GenerationConfig c;
    c.max_new_tokens = n;
    return c;
  }
  // Waits until the engine is at rest; whether it then holds no sequence and no KV block.
  static ::testing::AssertionResult engine_idle() {
    engine().wait_idle();
    const ServingMetrics m = engine().metrics();
    if (m.requests_running == 0 && m.requests_waiting == 0 && m.kv_blocks_used == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "requests_running " << m.requests_running << ", requests_waiting "
                                         << m.requests_waiting << ", kv_blocks_used " << m.kv_blocks_used;
  }

  static TempDir* dir_;
  static ServingEngine* engine_;
  static Pipeline* pipeline_;
};
TempDir* Serve::dir_ = nullptr;
ServingEngine* Serve::engine_ = nullptr;
Pipeline* Serve::pipeline_ = nullptr;

TEST_F(Serve, ChatEqualsPipeline) {
  RunningServer s(engine(), model());
  const std::vector<ChatMessage> messages = {{"system", "be brief"}, {"user", "hello\nthere"}};
  const GenerationResult want = pipeline().generate(messages, greedy(12));
  json body = chat_body("", 12);
  const json parts = {{{"type", "text"}, {"text", "hello"}}, {{"type", "text"}, {"text", "there"}}};
  body["messages"] = {{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", parts}}};
  Reply r = post(s.port(), "/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["object"], "chat.completion");
  EXPECT_EQ(r.body["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(r.body["model"], kModelName);
  EXPECT_GT(r.body["created"].get<int64_t>(), 0);
  ASSERT_EQ(r.body["choices"].size(), 1u);
  const json& choice = r.body["choices"][0];
  EXPECT_EQ(choice["index"], 0);
  EXPECT_EQ(choice["message"]["role"], "assistant");
  EXPECT_EQ(choice["message"]["content"], want.text);
  EXPECT_EQ(choice["finish_reason"], std::string(to_string(want.finish_reason)));
  EXPECT_TRUE(choice["logprobs"].is_null());
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], want.prompt_token_ids.size());
  EXPECT_EQ(r.body["usage"]["completion_tokens"], want.generated_token_ids.size());
  EXPECT_EQ(r.body["usage"]["total_tokens"], want.prompt_token_ids.size() + want.generated_token_ids.size());
}

TEST_F(Serve, CompletionEqualsPipelineIncludingAnEndToken) {
  RunningServer s(engine(), model());
  // The first runs to max_tokens; the second ends on the model's end token (finish "stop").
  for (const auto& [prompt, max_tokens, reason] : {std::tuple<std::string, int, std::string>{kLongPrompt, 12, "length"},
                                                   {"tell me a long story", 64, "stop"}}) {
    const GenerationResult want = pipeline().generate(prompt, greedy(static_cast<size_t>(max_tokens)));
    ASSERT_EQ(to_string(want.finish_reason), reason) << prompt;
    Reply r = post(s.port(), "/v1/completions", completion_body(prompt, max_tokens));
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["object"], "text_completion");
    EXPECT_EQ(r.body["id"].get<std::string>().rfind("cmpl-", 0), 0u);
    EXPECT_EQ(r.body["choices"][0]["text"], want.text);
    EXPECT_EQ(r.body["choices"][0]["finish_reason"], reason);
    EXPECT_EQ(r.body["usage"]["completion_tokens"], want.generated_token_ids.size());
  }
}

TEST_F(Serve, TokenIdPromptsAndTheRestOfTheContext) {
  RunningServer s(engine(), model());
  std::vector<int32_t> ids(kContext - 7);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(3 + (i * 37) % 500);
  // Without max_tokens a completion may use what the prompt leaves of the context.
  json body = {{"prompt", ids}, {"temperature", 0}};
  Reply r = post(s.port(), "/v1/completions", body);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["usage"]["prompt_tokens"], ids.size());
  EXPECT_EQ(r.body["usage"]["completion_tokens"], 7);
  EXPECT_EQ(r.body["choices"][0]["finish_reason"], "length");
  body["max_tokens"] = 8;  // one more than fits
  r = post(s.port(), "/v1/completions", body);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["code"], "context_length_exceeded");
  EXPECT_EQ(r.body["error"]["param"], "max_tokens");
}

TEST_F(Serve, StreamsEqualNonStreamedAnswers) {
  RunningServer s(engine(), model());
  for (const std::string path : {"/v1/chat/completions", "/v1/completions"}) {
    SCOPED_TRACE(path);
    const bool chat = path == "/v1/chat/completions";
    json body = chat ? chat_body("tell me a story", 16) : completion_body(kLongPrompt, 16);
    Reply whole = post(s.port(), path, body);
    ASSERT_EQ(whole.status, 200) << whole.raw;
    body["stream_options"] = {{"include_usage", true}};
    const Stream st = post_stream(s.port(), path, body);
    ASSERT_TRUE(st.done);
    ASSERT_GE(st.chunks.size(), 3u);
    const std::string text = chat ? whole.body["choices"][0]["message"]["content"] : whole.body["choices"][0]["text"];
    EXPECT_EQ(st.texts(), std::vector<std::string>{text});
    const std::string id = st.chunks[0]["id"];
    EXPECT_EQ(id.rfind(chat ? "chatcmpl-" : "cmpl-", 0), 0u);
    for (const json& c : st.chunks) {
      EXPECT_EQ(c["id"], id);
      EXPECT_EQ(c["object"], chat ? "chat.completion.chunk" : "text_completion");
      EXPECT_EQ(c["model"], kModelName);
    }
    if (chat) {
      EXPECT_EQ(st.chunks[0]["choices"][0]["delta"]["role"], "assistant");
      for (size_t i = 1; i + 1 < st.chunks.size(); ++i) EXPECT_FALSE(st.chunks[i]["choices"][0]["delta"].contains("role"));
    }
    using Finish = std::vector<std::pair<size_t, std::string>>;
    EXPECT_EQ(st.finishes(), (Finish{{0, whole.body["choices"][0]["finish_reason"]}}));
    // The finish chunk is the last with a choice; the usage chunk follows it.
    EXPECT_FALSE(st.chunks[st.chunks.size() - 2]["choices"][0]["finish_reason"].is_null());
    const json& usage = st.chunks.back();
    EXPECT_TRUE(usage["choices"].empty());
    EXPECT_EQ(usage["usage"], whole.body["usage"]);
  }
}

TEST_F(Serve, NSequencesSampleWithConsecutiveSeeds) {
  RunningServer s(engine(), model());
  json body = completion_body(kLongPrompt, 10);
  body.update({{"temperature", 1.0}, {"seed", 7}, {"n", 2}});
  Reply both = post(s.port(), "/v1/completions", body);
  ASSERT_EQ(both.status, 200) << both.raw;
  ASSERT_EQ(both.body["choices"].size(), 2u);
  EXPECT_EQ(both.body["choices"][1]["index"], 1);
  size_t tokens = 0;
  for (int i = 0; i < 2; ++i) {
    json one = body;
    one.update({{"n", 1}, {"seed", 7 + i}});
    Reply single = post(s.port(), "/v1/completions", one);
    EXPECT_EQ(both.body["choices"][i]["text"], single.body["choices"][0]["text"]) << "sequence " << i;
    tokens += single.body["usage"]["completion_tokens"].get<size_t>();
  }
  EXPECT_EQ(both.body["usage"]["completion_tokens"], tokens);
  const Stream st = post_stream(s.port(), "/v1/completions", body);
  ASSERT_TRUE(st.done);
  EXPECT_EQ(st.texts(), (std::vector<std::string>{both.body["choices"][0]["text"], both.body["choices"][1]["text"]}));
  auto finishes = st.finishes();
  std::sort(finishes.begin(), finishes.end());
  ASSERT_EQ(finishes.size(), 2u);
  EXPECT_EQ(finishes[0].first, 0u);
  EXPECT_EQ(finishes[1].first, 1u);
}

TEST_F(Serve, StopStringsCutTheAnswer) {
  RunningServer s(engine(), model());
  Reply full = post(s.port(), "/v1/completions", completion_body(kLongPrompt, 24));
  const std::string text = full.body["choices"][0]["text"];
  // Two printable ASCII bytes from the middle of the answer.
  auto alnum = [&](size_t i) { return std::isalnum(static_cast<unsigned char>(text[i])) != 0; };
  size_t at = 4;
  while (at + 1 < text.size() && !(alnum(at) && alnum(at + 1))) ++at;
  ASSERT_LT(at + 1, text.size()) << text;
  const std::string stop = text.substr(at, 2);
  for (const json& stop_field : {json(stop), json({"never-in-the-answer", stop})}) {
    json body = completion_body(kLongPrompt, 24);
    body["stop"] = stop_field;
    Reply cut = post(s.port(), "/v1/completions", body);
    ASSERT_EQ(cut.status, 200) << cut.raw;
    EXPECT_EQ(cut.body["choices"][0]["text"], text.substr(0, text.find(stop))) << "stop " << stop;
    EXPECT_EQ(cut.body["choices"][0]["finish_reason"], "stop");
    const Stream st = post_stream(s.port(), "/v1/completions", body);
    EXPECT_EQ(st.texts(), std::vector<std::string>{text.substr(0, text.find(stop))});
  }
}

TEST_F(Serve, LogprobsAreThePipelines) {
  RunningServer s(engine(), model());
  GenerationConfig cfg = greedy(8);
  cfg.logprobs = 1;
  const GenerationResult want = pipeline().generate(std::vector<ChatMessage>{{"user", "hello"}}, cfg);
  json body = chat_body("hello", 8);
  body["logprobs"] = true;
  Reply r = post(s.port(), "/v1/chat/completions", body);
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& content = r.body["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.size(), want.logprobs.size());
  for (size_t i = 0; i < content.size(); ++i) {
    EXPECT_NEAR(content[i]["logprob"].get<double>(), want.logprobs[i], 1e-4) << i;
    EXPECT_TRUE(content[i]["token"].is_string());
    EXPECT_TRUE(content[i]["bytes"].is_array());
  }
  const Stream st = post_stream(s.port(), "/v1/chat/completions", body);
  size_t streamed = 0;
  for (const json& c : st.chunks) {
    if (!c["choices"][0]["logprobs"].is_null()) streamed += c["choices"][0]["logprobs"]["content"].size();
  }
  EXPECT_EQ(streamed, want.logprobs.size());

  json comp = completion_body(kLongPrompt, 8);
  comp["logprobs"] = 1;
  Reply c = post(s.port(), "/v1/completions", comp);
  const json& lp = c.body["choices"][0]["logprobs"];
  ASSERT_EQ(lp["tokens"].size(), 8u);
  ASSERT_EQ(lp["token_logprobs"].size(), 8u);
  ASSERT_EQ(lp["text_offset"].size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_LE(lp["token_logprobs"][i].get<double>(), 0.0);
    if (i > 0) {
      EXPECT_GE(lp["text_offset"][i].get<size_t>(), lp["text_offset"][i - 1].get<size_t>());
    }
  }
}

TEST_F(Serve, SeedsReproduce) {
  RunningServer s(engine(), model());
  auto sample = [&](std::optional<int> seed) {
    json body = chat_body("hello", 16);
    body["temperature"] = 1.0;
    if (seed) body["seed"] = *seed;
    return post(s.port(), "/v1/chat/completions", body).body["choices"][0]["message"]["content"].get<std::string>();
  };
  EXPECT_EQ(sample(42), sample(42));
  EXPECT_NE(sample(42), sample(43));
  EXPECT_NE(sample(std::nullopt), sample(std::nullopt));  // a fresh seed per request
}

TEST_F(Serve, ModelsAndHealth) {
  {
    RunningServer s(engine(), model());
    Reply models = get(s.port(), "/v1/models");
    ASSERT_EQ(models.status, 200);
    EXPECT_EQ(models.body["object"], "list");
    ASSERT_EQ(models.body["data"].size(), 1u);
    EXPECT_EQ(models.body["data"][0]["id"], kModelName);  // the folder's name
    EXPECT_EQ(models.body["data"][0]["object"], "model");
    Reply health = get(s.port(), "/health");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body, json({{"status", "ok"}}));
  }
  RunningServer named(engine(), model(), {.model_name = "served-name"});
  EXPECT_EQ(get(named.port(), "/v1/models").body["data"][0]["id"], "served-name");
  json body = chat_body("hi", 2);
  body["model"] = "served-name";
  EXPECT_EQ(post(named.port(), "/v1/chat/completions", body).status, 200);
  body.erase("model");  // accepted without a model too
  EXPECT_EQ(post(named.port(), "/v1/chat/completions", body).status, 200);
}

TEST_F(Serve, APortInUseIsAnErrorNamingIt) {
  RunningServer s(engine(), model());
  OpenAiServer second(engine(), model(), {.port = s.port()});
  EXPECT_TRUE(testing_util::fails_with([&] { second.bind(); }, ErrorCode::kIo, {fmt::format("127.0.0.1:{}", s.port())}));
  EXPECT_EQ(get(s.port(), "/health").status, 200);
}

TEST_F(Serve, MetricsCountWhatWasServed) {
  RunningServer s(engine(), model());
  ASSERT_TRUE(engine_idle());
  const ServingMetrics before = engine().metrics();
  size_t completion_tokens = 0, inter_token_gaps = 0;
  for (int i = 0; i < 5; ++i) {
    json body = completion_body(fmt::format("metrics request {}", i), 4 + i);
    size_t n = 0;
    if (i % 2) {
      body["stream_options"] = {{"include_usage", true}};
      n = post_stream(s.port(), "/v1/completions", body).chunks.back()["usage"]["completion_tokens"];
    } else {
      n = post(s.port(), "/v1/completions", body).body["usage"]["completion_tokens"];
    }
    completion_tokens += n;
    inter_token_gaps += n - 1;
  }
  ASSERT_TRUE(engine_idle());
  ASSERT_EQ(engine().metrics().generated_tokens - before.generated_tokens, completion_tokens);
  Reply r = get(s.port(), "/metrics");
  ASSERT_EQ(r.status, 200);
  const std::string& page = r.raw;
  EXPECT_EQ(metric(page, "llmrt:e2e_request_latency_seconds_count" + labels()), 5);
  EXPECT_EQ(metric(page, "llmrt:e2e_request_latency_seconds_bucket" + labels("le=\"+Inf\"")), 5);
  EXPECT_EQ(metric(page, "llmrt:time_to_first_token_seconds_count" + labels()), 5);
  EXPECT_EQ(metric(page, "llmrt:inter_token_latency_seconds_count" + labels()), static_cast<double>(inter_token_gaps));
  EXPECT_GT(metric(page, "llmrt:e2e_request_latency_seconds_sum" + labels()), 0);
  EXPECT_EQ(metric(page, "llmrt:request_success_total" + labels("finished_reason=\"stop\"")) +
                metric(page, "llmrt:request_success_total" + labels("finished_reason=\"length\"")),
            5);
  EXPECT_EQ(metric(page, "llmrt:generation_tokens_total" + labels()), static_cast<double>(engine().metrics().generated_tokens));
  EXPECT_GT(metric(page, "llmrt:prompt_tokens_total" + labels()), static_cast<double>(before.prompt_tokens));
  EXPECT_GT(metric(page, "llmrt:prefix_cache_queries_total" + labels()), static_cast<double>(before.prefix_queries));
  EXPECT_EQ(metric(page, "llmrt:num_requests_running" + labels()), 0);
  const double usage = metric(page, "llmrt:kv_cache_usage_perc" + labels());
  EXPECT_GE(usage, 0);
  EXPECT_LE(usage, 1);
  EXPECT_NE(page.find("# TYPE llmrt:time_to_first_token_seconds histogram\n"), std::string::npos);
  EXPECT_NE(page.find("# TYPE llmrt:num_preemptions_total counter\n"), std::string::npos);
}

struct ErrorCase {
  std::string method, path, body;
  httplib::Headers headers;
  int status;
  std::string code, param;
};

TEST_F(Serve, EveryErrorIsOpenAisJson) {
  RunningServer s(engine(), model(), {.api_key = "k3y", .max_body_bytes = 8192});
  const httplib::Headers key = {{"Authorization", "Bearer k3y"}};
  auto chat = [](const json& patch) {
    json b = chat_body("hello", 4);
    b.update(patch);
    return b.dump();
  };
  const json none = json::object();
  std::vector<int32_t> too_long(kContext, 5);
  const std::vector<ErrorCase> cases = {
      {"POST", "/v1/chat/completions", "{\"messages\": [", key, 400, "invalid_json", ""},
      {"POST", "/v1/chat/completions", chat({{"temperature", "hot"}}), key, 400, "invalid_type", "temperature"},
      {"POST", "/v1/chat/completions", chat({{"n", 99}}), key, 400, "invalid_value", "n"},
      {"POST", "/v1/chat/completions", chat({{"max_tokens", 600}}), key, 400, "context_length_exceeded", "max_tokens"},
      {"POST", "/v1/completions", json({{"prompt", too_long}}).dump(), key, 400, "context_length_exceeded", "prompt"},
      {"POST", "/v1/completions", json({{"prompt", {1, 100000}}}).dump(), key, 400, "invalid_value", "prompt"},
      {"POST", "/v1/chat/completions", chat({{"model", "gpt-4o"}}), key, 404, "model_not_found", ""},
      {"POST", "/v1/chat/completions", chat(none), {}, 401, "invalid_api_key", ""},
      {"POST", "/v1/chat/completions", chat(none), {{"Authorization", "Bearer k3z"}}, 401, "invalid_api_key", ""},
      {"POST", "/v1/completions", chat(none), {{"Authorization", "k3y"}}, 401, "invalid_api_key", ""},
      {"GET", "/v1/models", "", {}, 401, "invalid_api_key", ""},
      {"POST", "/v1/chat/completions", std::string(9000, ' '), key, 413, "request_too_large", ""},
      {"GET", "/v1/engines", "", key, 404, "unknown_url", ""},
      {"GET", "/v1/chat/completions", "", key, 405, "method_not_allowed", ""},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path + " " + c.body.substr(0, 80));
    Reply r = c.method == "GET" ? get(s.port(), c.path, c.headers) : post(s.port(), c.path, c.body, c.headers);
    EXPECT_EQ(r.status, c.status) << r.raw;
    ASSERT_TRUE(r.body.is_object()) << r.content_type << ": " << r.raw;
    const json& e = r.body["error"];
    EXPECT_FALSE(e["message"].get<std::string>().empty());
    EXPECT_TRUE(e["type"].is_string());
    EXPECT_EQ(e["code"], c.code);
    if (c.param.empty()) {
      EXPECT_TRUE(e["param"].is_null()) << e;
    } else {
      EXPECT_EQ(e["param"], c.param);
    }
  }
  // A form-encoded body has httplib's own 8 KiB limit, whatever the server's: the message says so.
  Reply form = reply_of(client(s.port()).Post("/v1/completions", key, std::string(8193, 'x'),
                                              "application/x-www-form-urlencoded"));
  EXPECT_EQ(form.status, 413);
  EXPECT_NE(form.body["error"]["message"].get<std::string>().find("application/json"), std::string::npos) << form.raw;
  // With the key everything works; health and metrics need none.
  EXPECT_EQ(post(s.port(), "/v1/chat/completions", chat(none), key).status, 200);
  EXPECT_EQ(get(s.port(), "/v1/models", key).status, 200);
  EXPECT_EQ(get(s.port(), "/health").status, 200);
  EXPECT_EQ(get(s.port(), "/metrics").status, 200);
}

TEST_F(Serve, BeyondTheConcurrencyLimitIs429) {
  RunningServer s(engine(), model(), {.max_concurrent_requests = 1});
  std::promise<void> first_chunk;
  std::atomic<bool> signalled{false};
  std::string received;
  std::thread streaming([&] {
    received = stream_with(s.port(), "/v1/completions", completion_body(kLongPrompt, kLongTokens), [&](const std::string&) {
      if (!signalled.exchange(true)) first_chunk.set_value();
      return true;
    });
  });
  first_chunk.get_future().wait();
  Reply busy = post(s.port(), "/v1/chat/completions", chat_body("hi", 2));
  streaming.join();
  EXPECT_EQ(busy.status, 429) << busy.raw;
  EXPECT_EQ(busy.body["error"]["code"], "too_many_requests");
  const Stream st = parse_sse(received);
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.finishes(), (std::vector<std::pair<size_t, std::string>>{{0, "length"}}));
  // The seat is given back once the server has finished the response (a moment after the
  // client read its end).
  EXPECT_TRUE(eventually([&] { return post(s.port(), "/v1/chat/completions", chat_body("hi", 2)).status == 200; }));
}

TEST_F(Serve, ClientHangingUpMidStreamFreesItsSequence) {
  RunningServer s(engine(), model());
  ASSERT_TRUE(engine_idle());
  const uint64_t generated_before = engine().metrics().generated_tokens;
  const std::string received = stream_with(s.port(), "/v1/completions", completion_body(kLongPrompt, kLongTokens),
                                           [](const std::string& got) { return got.find("\n\n") == std::string::npos; });
  EXPECT_FALSE(received.empty());
  EXPECT_TRUE(engine_idle());
  // The server noticed: the sequence was aborted long before its 480 tokens.
  EXPECT_TRUE(eventually([&] {
    return metric(get(s.port(), "/metrics").raw, "llmrt:request_success_total" + labels("finished_reason=\"abort\"")) == 1;
  }));
  EXPECT_LT(engine().metrics().generated_tokens - generated_before, static_cast<uint64_t>(kLongTokens));
}

TEST_F(Serve, StopDrainsStreamsAndRefusesNewWork) {
  RunningServer s(engine(), model());
  std::promise<void> first_chunk;
  std::atomic<bool> signalled{false};
  std::string received;
  json body = completion_body(kLongPrompt, kLongTokens);
  body["stream_options"] = {{"include_usage", true}};
  std::thread streaming([&] {
    received = stream_with(s.port(), "/v1/completions", body, [&](const std::string&) {
      if (!signalled.exchange(true)) first_chunk.set_value();
      return true;
    });
  });
  first_chunk.get_future().wait();
  std::thread stopper([&] { s.server().stop(); });
  Reply health;
  EXPECT_TRUE(eventually([&] { return (health = get(s.port(), "/health")).status == 503; }));
  EXPECT_EQ(health.body, json({{"status", "draining"}}));
  Reply refused = post(s.port(), "/v1/chat/completions", chat_body("hi", 2));
  EXPECT_EQ(refused.status, 503) << refused.raw;
  EXPECT_EQ(refused.body["error"]["code"], "service_unavailable");
  streaming.join();
  stopper.join();
  const Stream st = parse_sse(received);
  EXPECT_TRUE(st.done);
  EXPECT_EQ(st.chunks.back()["usage"]["completion_tokens"], kLongTokens);  // the stream was let finish
  s.stop();
  EXPECT_FALSE(client(s.port()).Get("/health"));  // nothing listens any more
}

// Captures the log lines written while it lives, at the info level.
class LogCapture {
 public:
  LogCapture() : level_(llmrt_log_get_level()) {
    llmrt_log_set_callback(&LogCapture::sink, this);
    llmrt_log_set_level(LLMRT_LOG_INFO);
  }
  ~LogCapture() {
    llmrt_log_set_callback(nullptr, nullptr);
    llmrt_log_set_level(level_);
  }
  std::string text() const {
    std::lock_guard lock(mu_);
    return text_;
  }

 private:
  static void sink(llmrt_log_level, const char* message, void* self) {
    auto* capture = static_cast<LogCapture*>(self);
    std::lock_guard lock(capture->mu_);
    capture->text_ += std::string(message) + "\n";
  }
  llmrt_log_level level_;
  mutable std::mutex mu_;
  std::string text_;
};

TEST_F(Serve, RequestLogLinesLeavePromptsOutUnlessAsked) {
  const std::string secret = "my-secret-prompt-text";
  for (const bool log_prompts : {false, true}) {
    SCOPED_TRACE(log_prompts ? "--log-prompts" : "default");
    LogCapture log;
    RunningServer s(engine(), model(), {.log_prompts = log_prompts});
    const Reply r = post(s.port(), "/v1/chat/completions", chat_body(secret, 4));
    ASSERT_EQ(r.status, 200);
    const std::string answer = r.body["choices"][0]["message"]["content"];
    const std::string line = fmt::format("POST /v1/chat/completions 200 prompt_tokens={} completion_tokens={}",
                                         r.body["usage"]["prompt_tokens"].get<size_t>(),
                                         r.body["usage"]["completion_tokens"].get<size_t>());
    ASSERT_TRUE(eventually([&] { return log.text().find(line) != std::string::npos; })) << log.text();
    EXPECT_EQ(log.text().find(secret) != std::string::npos, log_prompts) << log.text();
    if (log_prompts) {
      EXPECT_NE(log.text().find(json(answer).dump(-1, ' ', false, json::error_handler_t::replace)), std::string::npos)
          << log.text();
    }
  }
}

// 32 clients on their own threads, 8 streamed requests each, every prompt distinct: each
// response is complete and is the greedy answer to its own prompt.
TEST_F(Serve, ManyConcurrentStreamingClients) {
  constexpr int kClients = 32, kPerClient = 8, kTokens = 6;
  std::vector<std::string> prompts;
  for (int i = 0; i < kClients * kPerClient; ++i) prompts.push_back(fmt::format("request {}: say something about {}", i, i * 7));
  std::vector<GenerationHandle> handles;
  for (const std::string& p : prompts) handles.push_back(engine().add_request(p, greedy(kTokens)));
  std::vector<std::string> want;
  for (GenerationHandle& h : handles) want.push_back(h.wait()[0].text);

  RunningServer s(engine(), model());
  std::vector<std::string> got(prompts.size());
  std::vector<int> complete(prompts.size(), 0);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client cli = client(s.port());
      for (int k = 0; k < kPerClient; ++k) {
        const size_t i = static_cast<size_t>(c * kPerClient + k);
        json body = completion_body(prompts[i], kTokens);
        body["stream"] = true;
        auto r = cli.Post("/v1/completions", body.dump(), "application/json");
        if (!r || r->status != 200) {
          got[i] = r ? fmt::format("HTTP {}: {}", r->status, r->body) : "no response: " + httplib::to_string(r.error());
          continue;
        }
        const Stream st = parse_sse(r->body);
        got[i] = st.texts().empty() ? "" : st.texts()[0];
        complete[i] = st.done && st.finishes().size() == 1;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  for (size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_TRUE(complete[i]) << "request " << i << " incomplete";
    EXPECT_EQ(got[i], want[i]) << "request " << i;
  }
  EXPECT_TRUE(engine_idle());
}

}  // namespace
}  // namespace llmrt::serve
