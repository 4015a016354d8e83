#include "serve/openai_request.h"

#include <fmt/format.h>

#include <limits>
#include <set>
#include <nlohmann/json.hpp>

namespace llmrt::serve {

namespace {

using json = nlohmann::json;

// Thrown inside the parser only; parse_completion_request turns it into its ApiError result.
struct Rejection {
  ApiError error;
};

[[noreturn]] void reject(std::string code, std::string param, std::string message) {
  throw Rejection{bad_request(std::move(code), std::move(param), std::move(message))};
}

std::string_view type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a decimal";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "an unsupported value";
  }
}

[[noreturn]] void wrong_type(const std::string& param, std::string_view expected, const json& got) {
  reject("invalid_type", param, fmt::format("Invalid type for '{}': expected {}, but got {} instead.", param, expected,
                                            type_name(got)));
}

[[noreturn]] void out_of_range(const std::string& param, std::string_view got, std::string_view allowed) {
  reject("invalid_value", param, fmt::format("Invalid '{}': {} is out of range; expected {}.", param, got, allowed));
}

[[noreturn]] void unsupported(const std::string& param, std::string_view why) {
  reject("unsupported_value", param, fmt::format("Unsupported '{}': {}.", param, why));
}

// The field's value, or nullptr when it is absent or null (OpenAI's "not given").
const json* field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<double> number_field(const json& body, const char* name, double lo, double hi) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) wrong_type(name, "a number", *v);
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi)) out_of_range(name, fmt::format("{}", x), fmt::format("a number in [{}, {}]", lo, hi));
  return x;
}

std::optional<int64_t> integer_field(const json& body, const char* name, int64_t lo, int64_t hi) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) wrong_type(name, "an integer", *v);
  constexpr auto kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  const bool above_int64 = v->is_number_unsigned() && v->get<uint64_t>() > kInt64Max;
  const int64_t x = above_int64 ? std::numeric_limits<int64_t>::max() : v->get<int64_t>();
  if (above_int64 || x < lo || x > hi) out_of_range(name, v->dump(), fmt::format("an integer in [{}, {}]", lo, hi));
  return x;
}

std::optional<bool> bool_field(const json& body, const char* name) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) wrong_type(name, "a boolean", *v);
  return v->get<bool>();
}

const std::string* string_field(const json& body, const char* name) {
  const json* v = field(body, name);
  if (!v) return nullptr;
  if (!v->is_string()) wrong_type(name, "a string", *v);
  return v->get_ptr<const std::string*>();
}

// A message's content: a string, or text parts {"type": "text", "text": ...} joined by newlines.
std::string message_content(const json& content, const std::string& param) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) wrong_type(param, "a string or an array of content parts", content);
  std::string text;
  for (size_t j = 0; j < content.size(); ++j) {
    const json& part = content[j];
    const std::string at = fmt::format("{}[{}]", param, j);
    if (!part.is_object()) wrong_type(at, "an object", part);
    const std::string* type = string_field(part, "type");
    if (!type) reject("missing_required_parameter", at + ".type", fmt::format("Missing required parameter: '{}.type'.", at));
    if (*type != "text") unsupported(at + ".type", fmt::format("content part type '{}': only 'text' parts are supported", *type));
    const std::string* part_text = string_field(part, "text");
    if (!part_text) reject("missing_required_parameter", at + ".text", fmt::format("Missing required parameter: '{}.text'.", at));
    if (j > 0) text += '\n';
    text += *part_text;
  }
  return text;
}

std::vector<ChatMessage> parse_messages(const json& body) {
  const json* messages = field(body, "messages");
  if (!messages) reject("missing_required_parameter", "messages", "Missing required parameter: 'messages'.");
  if (!messages->is_array()) wrong_type("messages", "an array", *messages);
  if (messages->empty()) reject("invalid_value", "messages", "'messages' must hold at least one message.");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    const std::string at = fmt::format("messages[{}]", i);
    if (!m.is_object()) wrong_type(at, "an object", m);
    const json* role = field(m, "role");
    if (!role) reject("missing_required_parameter", at + ".role", fmt::format("Missing required parameter: '{}.role'.", at));
    if (!role->is_string()) wrong_type(at + ".role", "a string", *role);
    std::string r = role->get<std::string>();
    if (r == "developer") r = "system";  // OpenAI's newer name for the system role
    if (r != "system" && r != "user" && r != "assistant") {
      unsupported(at + ".role", fmt::format("role '{}' (this server takes system, developer, user and assistant messages; "
                                            "it has no tool calling)", role->get<std::string>()));
    }
    const json* content = field(m, "content");
    if (!content) {
      reject("missing_required_parameter", at + ".content", fmt::format("Missing required parameter: '{}.content'.", at));
    }
    out.push_back({std::move(r), message_content(*content, at + ".content")});
  }
  return out;
}

// Token ids of a prompt: integers in [0, 2^31).
std::vector<int32_t> token_ids(const json& array, const std::string& param) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < array.size(); ++i) {
    const json& v = array[i];
    const std::string at = fmt::format("{}[{}]", param, i);
    if (!v.is_number_integer()) wrong_type(at, "an integer token id", v);
    if (!v.is_number_unsigned() && v.get<int64_t>() < 0) out_of_range(at, v.dump(), "a token id >= 0");
    if (v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      out_of_range(at, v.dump(), "a token id below 2^31");
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return ids;
}

// "prompt": a string, an array of one string, token ids, or an array of one array of ids.
void parse_prompt(const json& body, ParsedRequest* r) {
  const json* prompt = field(body, "prompt");
  if (!prompt) reject("missing_required_parameter", "prompt", "Missing required parameter: 'prompt'.");
  if (prompt->is_string()) {
    r->prompt = prompt->get<std::string>();
    return;
  }
  if (!prompt->is_array()) wrong_type("prompt", "a string, an array of strings or an array of token ids", *prompt);
  if (prompt->empty()) reject("invalid_value", "prompt", "'prompt' is an empty array.");
  const json& first = prompt->front();
  if (first.is_number_integer()) {
    r->prompt_ids = token_ids(*prompt, "prompt");
    r->prompt_is_ids = true;
    return;
  }
  if (prompt->size() > 1) {
    unsupported("prompt", fmt::format("a batch of {} prompts: send one prompt per request", prompt->size()));
  }
  if (first.is_string()) {
    r->prompt = first.get<std::string>();
  } else if (first.is_array()) {
    if (first.empty()) reject("invalid_value", "prompt[0]", "'prompt[0]' is an empty array of token ids.");
    r->prompt_ids = token_ids(first, "prompt[0]");
    r->prompt_is_ids = true;
  } else {
    wrong_type("prompt[0]", "a string or an array of token ids", first);
  }
}

std::set<std::string> parse_stop(const json& body) {
  const json* stop = field(body, "stop");
  if (!stop) return {};
  constexpr size_t kMaxStop = 4;  // OpenAI's limit
  std::vector<std::string> list;
  if (stop->is_string()) {
    list.push_back(stop->get<std::string>());
  } else if (stop->is_array()) {
    if (stop->size() > kMaxStop) out_of_range("stop", fmt::format("{} sequences", stop->size()), "at most 4 stop sequences");
    for (size_t i = 0; i < stop->size(); ++i) {
      if (!(*stop)[i].is_string()) wrong_type(fmt::format("stop[{}]", i), "a string", (*stop)[i]);
      list.push_back((*stop)[i].get<std::string>());
    }
  } else {
    wrong_type("stop", "a string or an array of strings", *stop);
  }
  for (const std::string& s : list) {
    if (s.empty()) reject("invalid_value", "stop", "Invalid 'stop': a stop sequence is empty.");
  }
  return {list.begin(), list.end()};
}

// Fields whose effect the engine cannot give: refused when set to anything but their default.
void refuse_unsupported(const json& body, Endpoint endpoint) {
  if (endpoint == Endpoint::kCompletions) {
    if (bool_field(body, "echo").value_or(false)) unsupported("echo", "echoing the prompt is not supported");
    if (const std::string* suffix = string_field(body, "suffix"); suffix && !suffix->empty()) {
      unsupported("suffix", "insertion with a suffix is not supported");
    }
    if (integer_field(body, "best_of", 1, std::numeric_limits<int64_t>::max()).value_or(1) != 1) {
      unsupported("best_of", "best_of above 1 is not supported (use n)");
    }
  }
  if (const json* bias = field(body, "logit_bias")) {
    if (!bias->is_object()) wrong_type("logit_bias", "an object", *bias);
    if (!bias->empty()) unsupported("logit_bias", "logit_bias is not supported");
  }
  for (const char* name : {"tools", "functions"}) {
    if (const json* tools = field(body, name)) {
      if (!tools->is_array()) wrong_type(name, "an array", *tools);
      if (!tools->empty()) unsupported(name, "this server has no tool calling");
    }
  }
  if (const json* format = field(body, "response_format")) {
    if (!format->is_object()) wrong_type("response_format", "an object", *format);
    const std::string* type = string_field(*format, "type");
    if (type && *type != "text") unsupported("response_format", fmt::format("response_format type '{}' (only 'text')", *type));
  }
}

ParsedRequest parse(std::string_view body_text, Endpoint endpoint, const Limits& limits) {
  const json body = json::parse(body_text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) reject("invalid_json", "", "The request body is not valid JSON.");
  if (!body.is_object()) {
    reject("invalid_json", "", fmt::format("The request body must be a JSON object, not {}.", type_name(body)));
  }

  ParsedRequest r;
  r.endpoint = endpoint;
  if (const std::string* model = string_field(body, "model")) r.model = *model;
  if (endpoint == Endpoint::kChatCompletions) r.messages = parse_messages(body);
  else parse_prompt(body, &r);
  refuse_unsupported(body, endpoint);

  constexpr int64_t kMaxTokens = int64_t{1} << 31;  // beyond any context; the context check gives the real bound
  const auto max_tokens = integer_field(body, "max_tokens", 1, kMaxTokens);
  const auto max_completion_tokens = integer_field(body, "max_completion_tokens", 1, kMaxTokens);
  if (max_completion_tokens) r.max_tokens = static_cast<size_t>(*max_completion_tokens);
  else if (max_tokens) r.max_tokens = static_cast<size_t>(*max_tokens);

  GenerationConfig& c = r.config;
  const double temperature = number_field(body, "temperature", 0, 2).value_or(1.0);  // OpenAI's default samples
  c.do_sample = temperature > 0;
  if (c.do_sample) c.temperature = static_cast<float>(temperature);
  if (const auto top_p = number_field(body, "top_p", 0, 1)) {
    if (*top_p <= 0) out_of_range("top_p", fmt::format("{}", *top_p), "a number in (0, 1]");
    c.top_p = static_cast<float>(*top_p);
  }
  c.presence_penalty = static_cast<float>(number_field(body, "presence_penalty", -2, 2).value_or(0));
  c.frequency_penalty = static_cast<float>(number_field(body, "frequency_penalty", -2, 2).value_or(0));
  c.num_return_sequences = static_cast<size_t>(integer_field(body, "n", 1, static_cast<int64_t>(limits.max_n)).value_or(1));
  c.stop_strings = parse_stop(body);

  if (const json* seed = field(body, "seed")) {
    if (!seed->is_number_integer()) wrong_type("seed", "an integer", *seed);
    r.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : static_cast<uint64_t>(seed->get<int64_t>());
  }
  if (endpoint == Endpoint::kChatCompletions) {
    r.logprobs = bool_field(body, "logprobs").value_or(false);
    integer_field(body, "top_logprobs", 0, 20);  // accepted; only the chosen token's logprob is returned
  } else {
    r.logprobs = integer_field(body, "logprobs", 0, 5).value_or(0) > 0;
  }
  if (r.logprobs) c.logprobs = 1;

  r.stream = bool_field(body, "stream").value_or(false);
  if (const json* options = field(body, "stream_options")) {
    if (!options->is_object()) wrong_type("stream_options", "an object", *options);
    r.include_usage = bool_field(*options, "include_usage").value_or(false);
  }
  string_field(body, "user");  // accepted and ignored, but must be a string
  return r;
}

}  // namespace

std::string ApiError::to_json() const {
  auto or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  const json body = {{"error", {{"message", message}, {"type", type}, {"param", or_null(param)}, {"code", or_null(code)}}}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

ApiError bad_request(std::string code, std::string param, std::string message) {
  ApiError e;
  e.status = 400;
  e.code = std::move(code);
  e.param = std::move(param);
  e.message = std::move(message);
  return e;
}

std::string_view to_string(Endpoint endpoint) {
  return endpoint == Endpoint::kChatCompletions ? "/v1/chat/completions" : "/v1/completions";
}

std::variant<ParsedRequest, ApiError> parse_completion_request(std::string_view body, Endpoint endpoint,
                                                               const Limits& limits) {
  try {
    return parse(body, endpoint, limits);
  } catch (Rejection& r) {
    return std::move(r.error);
  } catch (const json::exception& e) {  // not expected: every access above checks the type first
    return bad_request("invalid_json", "", fmt::format("The request body could not be read: {}", e.what()));
  }
}

bool bearer_token_matches(std::string_view authorization, std::string_view key) {
  constexpr std::string_view kScheme = "bearer ";
  bool scheme = authorization.size() >= kScheme.size();
  for (size_t i = 0; scheme && i < kScheme.size(); ++i) {
    scheme = (authorization[i] | 0x20) == kScheme[i];  // the scheme is case-insensitive (RFC 7235); it is no secret
  }
  const std::string_view token = scheme ? authorization.substr(kScheme.size()) : std::string_view();
  // Every byte of the key is compared whatever the token holds or how long it is, so the time
  // taken tells nothing about how much of the key a guess got right.
  unsigned diff = token.size() == key.size() ? 0u : 1u;
  for (size_t i = 0; i < key.size(); ++i) {
    const unsigned char t = token.empty() ? 0 : static_cast<unsigned char>(token[i % token.size()]);
    diff |= t ^ static_cast<unsigned char>(key[i]);
  }
  return scheme && !key.empty() && diff == 0;
}

}  // namespace llmrt::serve
