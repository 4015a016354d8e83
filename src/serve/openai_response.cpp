#include "serve/openai_response.h"

#include <nlohmann/json.hpp>
#include <span>

namespace llmrt::serve {

namespace {

using json = nlohmann::json;

// Token pieces may hold part of a UTF-8 character: such bytes are sent as U+FFFD.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json finish_json(FinishReason reason) {
  return reason == FinishReason::kNone ? json(nullptr) : json(finish_reason_name(reason));
}

// The logprobs object for some of a choice's tokens.
json logprobs_json(Endpoint endpoint, const genai::Tokenizer& tokenizer, std::span<const int32_t> ids,
                   std::span<const float> logprobs, std::span<const size_t> text_offsets) {
  if (endpoint == Endpoint::kChatCompletions) {
    json content = json::array();
    for (size_t i = 0; i < ids.size(); ++i) {
      const std::string piece = tokenizer.token_bytes(ids[i], /*skip_special=*/false);
      json bytes = json::array();
      for (unsigned char b : piece) bytes.push_back(b);
      content.push_back({{"token", piece}, {"logprob", logprobs[i]}, {"bytes", bytes}, {"top_logprobs", json::array()}});
    }
    return {{"content", content}};
  }
  json tokens = json::array(), token_logprobs = json::array(), offsets = json::array();
  for (size_t i = 0; i < ids.size(); ++i) {
    tokens.push_back(tokenizer.token_bytes(ids[i], /*skip_special=*/false));
    token_logprobs.push_back(logprobs[i]);
    offsets.push_back(text_offsets[i]);
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", nullptr}, {"text_offset", offsets}};
}

json envelope(const ResponseHeader& h, bool chunk) {
  const bool chat = h.endpoint == Endpoint::kChatCompletions;
  const char* object = chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  return {{"id", h.id}, {"object", object}, {"created", h.created}, {"model", h.model}};
}

json usage_json(size_t prompt_tokens, size_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

}  // namespace

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    default: return "abort";
  }
}

CompletionBuilder::CompletionBuilder(ResponseHeader header, size_t num_choices, const genai::Tokenizer& tokenizer)
    : header_(std::move(header)), tokenizer_(tokenizer), choices_(num_choices) {}

std::string CompletionBuilder::add(const GenerationOutput& out, bool streaming) {
  Choice& c = choices_.at(out.index);
  const size_t first_token = c.token_ids.size();
  const size_t text_offset = c.text.size();
  c.text += out.text;
  c.token_ids.insert(c.token_ids.end(), out.token_ids.begin(), out.token_ids.end());
  if (header_.logprobs) {
    c.logprobs.insert(c.logprobs.end(), out.logprobs.begin(), out.logprobs.end());
    c.text_offsets.insert(c.text_offsets.end(), out.token_ids.size(), text_offset);
  }
  if (out.finish_reason != FinishReason::kNone) c.finish = out.finish_reason;
  if (!streaming) return {};

  const bool chat = header_.endpoint == Endpoint::kChatCompletions;
  const bool with_logprobs = header_.logprobs && !out.token_ids.empty();
  const bool announce_role = chat && !c.started;
  if (out.text.empty() && out.finish_reason == FinishReason::kNone && !with_logprobs && !announce_role) return {};
  c.started = true;

  json choice = {{"index", out.index}};
  if (chat) {
    json delta = json::object();
    if (announce_role) delta["role"] = "assistant";
    if (announce_role || !out.text.empty()) delta["content"] = out.text;
    choice["delta"] = std::move(delta);
  } else {
    choice["text"] = out.text;
  }
  choice["logprobs"] = with_logprobs ? logprobs_json(header_.endpoint, tokenizer_, std::span(c.token_ids).subspan(first_token),
                                                     std::span(c.logprobs).subspan(first_token),
                                                     std::span(c.text_offsets).subspan(first_token))
                                     : json(nullptr);
  choice["finish_reason"] = finish_json(out.finish_reason);
  json chunk = envelope(header_, true);
  chunk["choices"] = json::array({std::move(choice)});
  return dump(chunk);
}

std::string CompletionBuilder::usage_chunk() const {
  json chunk = envelope(header_, true);
  chunk["choices"] = json::array();
  chunk["usage"] = usage_json(header_.prompt_tokens, completion_tokens());
  return dump(chunk);
}

std::string CompletionBuilder::response() const {
  json choices = json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    json choice = {{"index", i}};
    if (header_.endpoint == Endpoint::kChatCompletions) choice["message"] = {{"role", "assistant"}, {"content", c.text}};
    else choice["text"] = c.text;
    choice["logprobs"] = header_.logprobs ? logprobs_json(header_.endpoint, tokenizer_, c.token_ids, c.logprobs, c.text_offsets)
                                          : json(nullptr);
    choice["finish_reason"] = finish_json(c.finish);
    choices.push_back(std::move(choice));
  }
  json body = envelope(header_, false);
  body["choices"] = std::move(choices);
  body["usage"] = usage_json(header_.prompt_tokens, completion_tokens());
  return dump(body);
}

size_t CompletionBuilder::completion_tokens() const {
  size_t n = 0;
  for (const Choice& c : choices_) n += c.token_ids.size();
  return n;
}

const std::string& CompletionBuilder::text(size_t index) const { return choices_.at(index).text; }

}  // namespace llmrt::serve
