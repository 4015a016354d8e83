// The request parser on its own: fields reach GenerationConfig as OpenAI means them, every bad
// field is a 400 naming it, unknown fields are ignored, and no body (mutated, hostile, nested
// a hundred thousand deep) makes it throw. Also the API key check.
#include "serve/openai_request.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

namespace llmrt::serve {
namespace {

using json = nlohmann::json;

ParsedRequest ok(const json& body, Endpoint endpoint = Endpoint::kChatCompletions, Limits limits = {}) {
  auto r = parse_completion_request(body.dump(), endpoint, limits);
  if (auto* e = std::get_if<ApiError>(&r)) {
    ADD_FAILURE() << "refused " << body.dump() << ": " << e->to_json();
    return {};
  }
  return std::get<ParsedRequest>(r);
}

ApiError refused(std::string_view body, Endpoint endpoint = Endpoint::kChatCompletions) {
  auto r = parse_completion_request(body, endpoint, {});
  if (auto* e = std::get_if<ApiError>(&r)) return *e;
  ADD_FAILURE() << "accepted " << body;
  return {};
}

const json kChat = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
const json kCompletion = {{"model", "m"}, {"prompt", "once upon"}};

json with(json body, const std::string& key, json value) {
  body[key] = std::move(value);
  return body;
}

TEST(OpenAiRequest, ChatDefaultsFollowOpenAi) {
  const ParsedRequest r = ok(kChat);
  EXPECT_EQ(r.model, "m");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].role, "user");
  EXPECT_EQ(r.messages[0].content, "hi");
  EXPECT_FALSE(r.max_tokens);
  EXPECT_FALSE(r.seed);
  EXPECT_FALSE(r.stream);
  EXPECT_TRUE(r.config.do_sample);  // OpenAI's default temperature is 1
  EXPECT_FLOAT_EQ(r.config.temperature, 1.0f);
  EXPECT_EQ(r.config.num_return_sequences, 1u);
  EXPECT_EQ(r.config.logprobs, 0u);
}

TEST(OpenAiRequest, FieldsReachTheConfig) {
  json body = kChat;
  body.update({{"temperature", 0.5}, {"top_p", 0.9}, {"n", 3}, {"stop", {"a", "bc"}}, {"seed", -1},
               {"presence_penalty", 1.5}, {"frequency_penalty", -0.5}, {"logprobs", true}, {"top_logprobs", 3},
               {"max_tokens", 7}, {"stream", true}, {"stream_options", {{"include_usage", true}}}, {"user", "u"}});
  const ParsedRequest r = ok(body);
  EXPECT_TRUE(r.config.do_sample);
  EXPECT_FLOAT_EQ(r.config.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.config.top_p, 0.9f);
  EXPECT_EQ(r.config.num_return_sequences, 3u);
  EXPECT_EQ(r.config.stop_strings, (std::set<std::string>{"a", "bc"}));
  EXPECT_EQ(r.seed, std::optional<uint64_t>(~uint64_t{0}));  // -1 as two's complement
  EXPECT_FLOAT_EQ(r.config.presence_penalty, 1.5f);
  EXPECT_FLOAT_EQ(r.config.frequency_penalty, -0.5f);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.config.logprobs, 1u);
  EXPECT_EQ(r.max_tokens, std::optional<size_t>(7));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_NO_THROW(r.config.validate());
}

TEST(OpenAiRequest, TemperatureZeroIsGreedy) {
  EXPECT_FALSE(ok(with(kChat, "temperature", 0)).config.do_sample);
  EXPECT_TRUE(ok(with(kChat, "temperature", 0.01)).config.do_sample);
}

TEST(OpenAiRequest, NullMeansNotGiven) {
  json body = kChat;
  body.update({{"temperature", nullptr}, {"max_tokens", nullptr}, {"stop", nullptr}, {"seed", nullptr}, {"n", nullptr}});
  const ParsedRequest r = ok(body);
  EXPECT_TRUE(r.config.do_sample);
  EXPECT_FALSE(r.max_tokens);
  EXPECT_TRUE(r.config.stop_strings.empty());
  EXPECT_FALSE(r.seed);
}

TEST(OpenAiRequest, MaxCompletionTokensWinsOverMaxTokens) {
  json body = kChat;
  body.update({{"max_tokens", 9}, {"max_completion_tokens", 4}});
  EXPECT_EQ(ok(body).max_tokens, std::optional<size_t>(4));
}

TEST(OpenAiRequest, UnknownFieldsAreIgnored) {
  json body = kChat;
  body.update({{"metadata", {{"x", 1}}}, {"store", true}, {"parallel_tool_calls", false}, {"service_tier", "auto"}});
  EXPECT_EQ(ok(body).messages.size(), 1u);
}

TEST(OpenAiRequest, ContentPartsAreJoinedAndDeveloperIsSystem) {
  json body = kChat;
  const json parts = {{{"type", "text"}, {"text", "one"}}, {{"type", "text"}, {"text", "two"}}};
  body["messages"] = {{{"role", "developer"}, {"content", "be brief"}}, {{"role", "user"}, {"content", parts}}};
  const ParsedRequest r = ok(body);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "one\ntwo");
}

TEST(OpenAiRequest, CompletionPromptForms) {
  EXPECT_EQ(ok(kCompletion, Endpoint::kCompletions).prompt, "once upon");
  EXPECT_EQ(ok(with(kCompletion, "prompt", {"only one"}), Endpoint::kCompletions).prompt, "only one");
  const ParsedRequest ids = ok(with(kCompletion, "prompt", {5, 6, 7}), Endpoint::kCompletions);
  EXPECT_TRUE(ids.prompt_is_ids);
  EXPECT_EQ(ids.prompt_ids, (std::vector<int32_t>{5, 6, 7}));
  EXPECT_EQ(ok(with(kCompletion, "prompt", json::array({{1, 2}})), Endpoint::kCompletions).prompt_ids,
            (std::vector<int32_t>{1, 2}));
  EXPECT_TRUE(ok(with(kCompletion, "logprobs", 2), Endpoint::kCompletions).logprobs);
  EXPECT_FALSE(ok(with(kCompletion, "logprobs", 0), Endpoint::kCompletions).logprobs);
}

struct BadCase {
  std::string body;
  Endpoint endpoint;
  std::string code, param;
};

TEST(OpenAiRequest, EveryBadFieldIsA400NamingIt) {
  auto chat = [](const std::string& key, json value) { return with(kChat, key, std::move(value)).dump(); };
  auto completion = [](const std::string& key, json value) { return with(kCompletion, key, std::move(value)).dump(); };
  const auto kChatEp = Endpoint::kChatCompletions;
  const auto kComp = Endpoint::kCompletions;
  const std::vector<BadCase> cases = {
      {"{\"messages\": [", kChatEp, "invalid_json", ""},
      {"[1, 2]", kChatEp, "invalid_json", ""},
      {"", kChatEp, "invalid_json", ""},
      {"{}", kChatEp, "missing_required_parameter", "messages"},
      {"{}", kComp, "missing_required_parameter", "prompt"},
      {chat("model", 3), kChatEp, "invalid_type", "model"},
      {chat("messages", "hi"), kChatEp, "invalid_type", "messages"},
      {chat("messages", json::array()), kChatEp, "invalid_value", "messages"},
      {chat("messages", {"hi"}), kChatEp, "invalid_type", "messages[0]"},
      {chat("messages", {{{"content", "x"}}}), kChatEp, "missing_required_parameter", "messages[0].role"},
      {chat("messages", {{{"role", "tool"}, {"content", "x"}}}), kChatEp, "unsupported_value", "messages[0].role"},
      {chat("messages", {{{"role", "user"}}}), kChatEp, "missing_required_parameter", "messages[0].content"},
      {chat("messages", {{{"role", "user"}, {"content", 5}}}), kChatEp, "invalid_type", "messages[0].content"},
      {chat("messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}, {"image_url", "x"}}}}}}), kChatEp,
       "unsupported_value", "messages[0].content[0].type"},
      {chat("temperature", "hot"), kChatEp, "invalid_type", "temperature"},
      {chat("temperature", -0.1), kChatEp, "invalid_value", "temperature"},
      {chat("temperature", 2.1), kChatEp, "invalid_value", "temperature"},
      {chat("top_p", 0), kChatEp, "invalid_value", "top_p"},
      {chat("top_p", 1.5), kChatEp, "invalid_value", "top_p"},
      {chat("n", 0), kChatEp, "invalid_value", "n"},
      {chat("n", 17), kChatEp, "invalid_value", "n"},
      {chat("n", 1.5), kChatEp, "invalid_type", "n"},
      {chat("max_tokens", 0), kChatEp, "invalid_value", "max_tokens"},
      {chat("max_tokens", "8"), kChatEp, "invalid_type", "max_tokens"},
      {chat("max_completion_tokens", -3), kChatEp, "invalid_value", "max_completion_tokens"},
      {chat("presence_penalty", 2.5), kChatEp, "invalid_value", "presence_penalty"},
      {chat("frequency_penalty", -2.5), kChatEp, "invalid_value", "frequency_penalty"},
      {chat("stop", 5), kChatEp, "invalid_type", "stop"},
      {chat("stop", {"a", 1}), kChatEp, "invalid_type", "stop[1]"},
      {chat("stop", {"a", "b", "c", "d", "e"}), kChatEp, "invalid_value", "stop"},
      {chat("stop", ""), kChatEp, "invalid_value", "stop"},
      {chat("seed", "x"), kChatEp, "invalid_type", "seed"},
      {chat("logprobs", 1), kChatEp, "invalid_type", "logprobs"},
      {chat("top_logprobs", 21), kChatEp, "invalid_value", "top_logprobs"},
      {chat("stream", "yes"), kChatEp, "invalid_type", "stream"},
      {chat("stream_options", true), kChatEp, "invalid_type", "stream_options"},
      {chat("user", 1), kChatEp, "invalid_type", "user"},
      {chat("logit_bias", {{"5", 10}}), kChatEp, "unsupported_value", "logit_bias"},
      {chat("tools", {{{"type", "function"}}}), kChatEp, "unsupported_value", "tools"},
      {chat("response_format", {{"type", "json_object"}}), kChatEp, "unsupported_value", "response_format"},
      {completion("prompt", 5), kComp, "invalid_type", "prompt"},
      {completion("prompt", json::array()), kComp, "invalid_value", "prompt"},
      {completion("prompt", {"a", "b"}), kComp, "unsupported_value", "prompt"},
      {completion("prompt", {1, -2}), kComp, "invalid_value", "prompt[1]"},
      {completion("prompt", {1, 4294967296}), kComp, "invalid_value", "prompt[1]"},
      {completion("prompt", {1, "a"}), kComp, "invalid_type", "prompt[1]"},
      {completion("logprobs", 6), kComp, "invalid_value", "logprobs"},
      {completion("logprobs", true), kComp, "invalid_type", "logprobs"},
      {completion("echo", true), kComp, "unsupported_value", "echo"},
      {completion("best_of", 3), kComp, "unsupported_value", "best_of"},
      {completion("suffix", "end"), kComp, "unsupported_value", "suffix"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.body);
    const ApiError e = refused(c.body, c.endpoint);
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_EQ(e.code, c.code) << e.message;
    EXPECT_EQ(e.param, c.param) << e.message;
    if (!c.param.empty()) {
      EXPECT_NE(e.message.find(c.param), std::string::npos) << e.message;
    }
  }
}

TEST(OpenAiRequest, MaxNComesFromTheLimits) {
  const json body = with(kChat, "n", 4);
  EXPECT_TRUE(
      std::holds_alternative<ParsedRequest>(parse_completion_request(body.dump(), Endpoint::kChatCompletions, {.max_n = 4})));
  auto r = parse_completion_request(body.dump(), Endpoint::kChatCompletions, {.max_n = 3});
  ASSERT_TRUE(std::holds_alternative<ApiError>(r));
  EXPECT_EQ(std::get<ApiError>(r).param, "n");
}

TEST(OpenAiRequest, ErrorJsonHasOpenAisShape) {
  const json e = json::parse(bad_request("invalid_type", "temperature", "m").to_json());
  EXPECT_EQ(e["error"]["message"], "m");
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  EXPECT_EQ(e["error"]["param"], "temperature");
  EXPECT_EQ(e["error"]["code"], "invalid_type");
  const json bare = json::parse(bad_request("", "", "m").to_json());
  EXPECT_TRUE(bare["error"]["param"].is_null());
  EXPECT_TRUE(bare["error"]["code"].is_null());
}

// Every byte of random mutations of real bodies, and a deeply nested one: an answer each time,
// never an exception, and every refusal a 400 with a JSON error body.
TEST(OpenAiRequest, HostileBodiesNeverThrow) {
  std::vector<std::string> seeds = {kChat.dump(), kCompletion.dump(),
                                    with(with(kChat, "stop", {"x", "y"}), "stream_options", {{"include_usage", true}}).dump(),
                                    with(kCompletion, "prompt", {1, 2, 3}).dump()};
  std::mt19937 rng(7);
  size_t accepted = 0, refused_count = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string body = seeds[static_cast<size_t>(i) % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits && !body.empty(); ++k) {
      const size_t at = rng() % body.size();
      switch (rng() % 3) {
        case 0: body[at] = static_cast<char>(rng() % 256); break;
        case 1: body.erase(at, 1 + rng() % 8); break;
        default: body.insert(at, std::string(1 + rng() % 3, "{[\"0-e9,:}]"[rng() % 11])); break;
      }
    }
    for (Endpoint ep : {Endpoint::kChatCompletions, Endpoint::kCompletions}) {
      std::variant<ParsedRequest, ApiError> r;
      ASSERT_NO_THROW(r = parse_completion_request(body, ep, {})) << body;
      if (auto* e = std::get_if<ApiError>(&r)) {
        ++refused_count;
        EXPECT_EQ(e->status, 400);
        EXPECT_TRUE(json::parse(e->to_json(), nullptr, false).contains("error"));
      } else {
        ++accepted;
        EXPECT_NO_THROW(std::get<ParsedRequest>(r).config.validate()) << body;
      }
    }
  }
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(refused_count, 0u);
  const std::string nested = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(refused(nested).code, "invalid_json");
}

TEST(OpenAiRequest, BearerTokenMatchesOnlyTheExactKey) {
  EXPECT_TRUE(bearer_token_matches("Bearer s3cret", "s3cret"));
  EXPECT_TRUE(bearer_token_matches("bearer s3cret", "s3cret"));
  EXPECT_FALSE(bearer_token_matches("Bearer s3cres", "s3cret"));
  EXPECT_FALSE(bearer_token_matches("Bearer s3cret2", "s3cret"));
  EXPECT_FALSE(bearer_token_matches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(bearer_token_matches("Bearer ", "s3cret"));
  EXPECT_FALSE(bearer_token_matches("", "s3cret"));
  EXPECT_FALSE(bearer_token_matches("s3cret", "s3cret"));
  EXPECT_FALSE(bearer_token_matches("Basic s3cret", "s3cret"));
  EXPECT_FALSE(bearer_token_matches("Bearer ", ""));  // an empty key never matches
}

}  // namespace
}  // namespace llmrt::serve
