// Tokenizer::from_hf: a Hugging Face folder.
//
//   tokenizer.json         model (BPE: vocab, merges as "a b" or [a, b], byte_fallback,
//                          unk_token, ignore_merges), added_tokens, normalizer, pre_tokenizer,
//                          decoder, post_processor (TemplateProcessing's BOS/EOS)
//   tokenizer_config.json  add_bos_token / add_eos_token (these win over the post-processor),
//                          bos_token / eos_token (a string or {"content": ...}), chat_template
//                          (a string, or a list of {name, template}: "default" is taken)
//   generation_config.json eos_token_id (one id or a list): more stop ids
//
// Supported components (anything else is an UNSUPPORTED error naming it):
//   normalizers   Sequence, Prepend, Replace, Strip, NFC (taken as identity: the text is
//                 assumed to be NFC already)
//   pre-tokenizers Sequence, Split, ByteLevel (last), Metaspace, Digits, Punctuation,
//                 WhitespaceSplit, Whitespace
//   decoders      ByteLevel, Metaspace, Sequence of Replace("▁", " ") / ByteFallback / Fuse /
//                 Strip(" ", 1, 0) / ByteLevel / Metaspace
//   post-processors TemplateProcessing, Sequence, ByteLevel, RobertaProcessing, BertProcessing
#include <nlohmann/json.hpp>

#include <cctype>
#include <filesystem>
#include <memory>

#include "genai/tokenizer.h"
#include "genai/tokenizer_impl.h"
#include "util/error.h"
#include "util/log.h"
#include "util/mapped_file.h"
#include "util/utf8.h"

namespace llmrt::genai {
namespace {

using detail::DecodeStyle;
using detail::SplitBehavior;
using detail::TokenKind;
using detail::TokenizerSpec;
using nlohmann::json;
namespace fs = std::filesystem;

json read_json(const fs::path& path) {
  std::string text = read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorCode::kBadFormat, "'{}': not valid JSON: {}", path.string(), e.what());
  }
}

// The members of one JSON file, with errors that name the file and the field.
class JsonReader {
 public:
  explicit JsonReader(std::string source) : source_(std::move(source)) {}
  const std::string& source() const { return source_; }

  [[noreturn]] void bad(std::string_view field, std::string_view what) const {
    fail(ErrorCode::kBadFormat, "'{}': {} {}", source_, field, what);
  }
  [[noreturn]] void unsupported(std::string_view field, std::string_view what) const {
    fail(ErrorCode::kUnsupported, "'{}': {} {} is not supported", source_, field, what);
  }

  const json* member(const json& j, std::string_view key) const {
    if (!j.is_object()) return nullptr;
    auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
  }
  std::string string(const json& j, std::string_view key, std::string_view field, std::string fallback = {}) const {
    const json* v = member(j, key);
    if (v == nullptr) return fallback;
    if (!v->is_string()) bad(field, "is not a string");
    return v->get<std::string>();
  }
  bool boolean(const json& j, std::string_view key, std::string_view field, bool fallback) const {
    const json* v = member(j, key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) bad(field, "is not true or false");
    return v->get<bool>();
  }
  int32_t id(const json& v, std::string_view field) const {
    if (!v.is_number_integer()) bad(field, "is not an integer token id");
    int64_t id = v.get<int64_t>();
    if (id < 0 || id >= detail::kMaxVocabSize) {
      bad(field, fmt::format("= {} is not a plausible token id (limit {})", id, detail::kMaxVocabSize));
    }
    return static_cast<int32_t>(id);
  }
  // A Split/Replace pattern: {"String": s} or {"Regex": r}.
  std::pair<std::string, bool> pattern(const json& j, std::string_view field) const {
    const json* p = member(j, "pattern");
    if (p == nullptr || !p->is_object()) bad(field, "has no pattern");
    if (const json* s = member(*p, "String"); s != nullptr && s->is_string()) return {s->get<std::string>(), false};
    if (const json* r = member(*p, "Regex"); r != nullptr && r->is_string()) return {r->get<std::string>(), true};
    bad(field, "has a pattern that is neither {\"String\": ...} nor {\"Regex\": ...}");
  }

 private:
  std::string source_;
};

SplitBehavior parse_behavior(const JsonReader& r, const json& j, std::string_view field, SplitBehavior fallback) {
  std::string b = r.string(j, "behavior", field);
  if (b.empty()) return fallback;
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (b == "Contiguous") return SplitBehavior::kContiguous;
  r.unsupported(field, fmt::format("behavior '{}'", b));
}

std::shared_ptr<const detail::Regex> make_regex(const JsonReader& r, std::string_view pattern, std::string_view field) {
  return std::make_shared<detail::Regex>(pattern, fmt::format("'{}': {}", r.source(), field));
}

void parse_normalizer(const JsonReader& r, const json& j, std::string_view field, TokenizerSpec& spec) {
  std::string type = r.string(j, "type", field);
  if (type == "Sequence") {
    const json* list = r.member(j, "normalizers");
    if (list == nullptr || !list->is_array()) r.bad(field, "has no normalizers list");
    for (size_t i = 0; i < list->size(); ++i) parse_normalizer(r, (*list)[i], fmt::format("{}.normalizers[{}]", field, i), spec);
  } else if (type == "Prepend") {
    spec.pipeline.add_prepend(r.string(j, "prepend", field));
  } else if (type == "Replace") {
    auto [pattern, is_regex] = r.pattern(j, field);
    std::string content = r.string(j, "content", field);
    if (is_regex) {
      spec.pipeline.add_replace_regex(make_regex(r, pattern, field), content);
    } else {
      spec.pipeline.add_replace(pattern, content);
    }
  } else if (type == "Strip") {
    spec.pipeline.add_strip(r.boolean(j, "strip_left", field, true), r.boolean(j, "strip_right", field, true));
  } else if (type == "NFC") {
    log::debug("'{}': {} NFC is taken as identity (text is expected in NFC already)", r.source(), field);
  } else {
    r.unsupported(field, fmt::format("type '{}'", type));
  }
}

// A ByteLevel step makes the model work on bytes; nothing may follow it.
void parse_pre_tokenizer(const JsonReader& r, const json& j, std::string_view field, TokenizerSpec& spec) {
  if (spec.byte_level) r.unsupported(field, "after a ByteLevel pre-tokenizer");
  std::string type = r.string(j, "type", field);
  if (type == "Sequence") {
    const json* list = r.member(j, "pretokenizers");
    if (list == nullptr || !list->is_array()) r.bad(field, "has no pretokenizers list");
    for (size_t i = 0; i < list->size(); ++i) {
      parse_pre_tokenizer(r, (*list)[i], fmt::format("{}.pretokenizers[{}]", field, i), spec);
    }
  } else if (type == "Split") {
    auto [pattern, is_regex] = r.pattern(j, field);
    SplitBehavior behavior = parse_behavior(r, j, field, SplitBehavior::kIsolated);
    bool invert = r.boolean(j, "invert", field, false);
    if (is_regex) {
      spec.pipeline.add_split(make_regex(r, pattern, field), behavior, invert);
    } else {
      spec.pipeline.add_split_literal(pattern, behavior, invert);
    }
  } else if (type == "ByteLevel") {
    if (r.boolean(j, "add_prefix_space", field, true)) spec.pipeline.add_prepend_unless_present(" ", false);
    if (r.boolean(j, "use_regex", field, true)) {
      spec.pipeline.add_split(make_regex(r, detail::gpt2_pattern(), field), SplitBehavior::kIsolated);
    }
    spec.byte_level = true;
  } else if (type == "Metaspace") {
    std::string replacement = r.string(j, "replacement", field, std::string(detail::kSpaceMarker));
    std::string scheme = r.string(j, "prepend_scheme", field);
    if (scheme.empty()) scheme = r.boolean(j, "add_prefix_space", field, true) ? "always" : "never";
    if (scheme != "always" && scheme != "first" && scheme != "never") r.unsupported(field, fmt::format("prepend_scheme '{}'", scheme));
    spec.pipeline.add_replace(" ", replacement);
    if (scheme != "never") spec.pipeline.add_prepend_unless_present(replacement, scheme == "first");
    if (r.boolean(j, "split", field, true)) spec.pipeline.add_split_literal(replacement, SplitBehavior::kMergedWithNext);
  } else if (type == "Digits") {
    bool individual = r.boolean(j, "individual_digits", field, false);
    spec.pipeline.add_split(make_regex(r, individual ? "\\p{N}" : "\\p{N}+", field), SplitBehavior::kIsolated);
  } else if (type == "Punctuation") {
    // Unicode punctuation plus everything ASCII calls punctuation ($, +, <, =, >, ^, `, |, ~).
    spec.pipeline.add_split(make_regex(r, "[\\p{P}!-/:-@\\[-`{-~]", field),
                            parse_behavior(r, j, field, SplitBehavior::kIsolated));
  } else if (type == "WhitespaceSplit") {
    spec.pipeline.add_split(make_regex(r, "\\s+", field), SplitBehavior::kRemoved);
  } else if (type == "Whitespace") {
    spec.pipeline.add_split(make_regex(r, "\\w+|[^\\w\\s]+", field), SplitBehavior::kRemoved, true);
  } else {
    r.unsupported(field, fmt::format("type '{}'", type));
  }
}

struct DecoderInfo {
  bool byte_level = false;
  bool space_marker = false;
  bool byte_fallback = false;
  std::string marker = std::string(detail::kSpaceMarker);
  bool strip = false;
};

void parse_decoder(const JsonReader& r, const json& j, std::string_view field, DecoderInfo& d) {
  std::string type = r.string(j, "type", field);
  if (type == "Sequence") {
    const json* list = r.member(j, "decoders");
    if (list == nullptr || !list->is_array()) r.bad(field, "has no decoders list");
    for (size_t i = 0; i < list->size(); ++i) parse_decoder(r, (*list)[i], fmt::format("{}.decoders[{}]", field, i), d);
  } else if (type == "ByteLevel") {
    d.byte_level = true;
  } else if (type == "Metaspace") {
    d.space_marker = true;
    d.marker = r.string(j, "replacement", field, std::string(detail::kSpaceMarker));
    std::string scheme = r.string(j, "prepend_scheme", field);
    d.strip = scheme.empty() ? r.boolean(j, "add_prefix_space", field, true) : scheme != "never";
  } else if (type == "Replace") {
    auto [pattern, is_regex] = r.pattern(j, field);
    if (is_regex || r.string(j, "content", field) != " ") {
      r.unsupported(field, "Replace other than of a literal space marker with \" \"");
    }
    d.space_marker = true;
    d.marker = pattern;
  } else if (type == "ByteFallback") {
    d.byte_fallback = true;
  } else if (type == "Fuse") {
    // Joining the pieces changes nothing for bytes.
  } else if (type == "Strip") {
    const json* start = r.member(j, "start");
    const json* stop = r.member(j, "stop");
    int64_t n_start = start != nullptr && start->is_number_integer() ? start->get<int64_t>() : 0;
    int64_t n_stop = stop != nullptr && stop->is_number_integer() ? stop->get<int64_t>() : 0;
    if (r.string(j, "content", field) != " " || n_start > 1 || n_stop != 0) {
      r.unsupported(field, "Strip other than of one leading space");
    }
    d.strip = n_start == 1;
  } else {
    r.unsupported(field, fmt::format("type '{}'", type));
  }
}

void parse_post_processor(const JsonReader& r, const json& j, std::string_view field, TokenizerSpec& spec) {
  std::string type = r.string(j, "type", field);
  if (type == "Sequence") {
    const json* list = r.member(j, "processors");
    if (list == nullptr || !list->is_array()) r.bad(field, "has no processors list");
    for (size_t i = 0; i < list->size(); ++i) {
      parse_post_processor(r, (*list)[i], fmt::format("{}.processors[{}]", field, i), spec);
    }
  } else if (type == "ByteLevel") {
    // Offsets only.
  } else if (type == "TemplateProcessing") {
    const json* single = r.member(j, "single");
    if (single == nullptr || !single->is_array()) r.bad(field, "has no 'single' template");
    const json* specials = r.member(j, "special_tokens");
    bool after_sequence = false;
    spec.prefix_ids.clear();
    spec.suffix_ids.clear();
    for (const json& item : *single) {
      if (r.member(item, "Sequence") != nullptr) {
        after_sequence = true;
        continue;
      }
      const json* special = r.member(item, "SpecialToken");
      if (special == nullptr) r.bad(field, "has a template item that is neither Sequence nor SpecialToken");
      std::string name = r.string(*special, "id", field);
      const json* entry = specials != nullptr ? r.member(*specials, name) : nullptr;
      const json* ids = entry != nullptr ? r.member(*entry, "ids") : nullptr;
      if (ids == nullptr || !ids->is_array()) r.bad(field, fmt::format("names special token '{}' without its ids", name));
      for (const json& id : *ids) {
        (after_sequence ? spec.suffix_ids : spec.prefix_ids).push_back(r.id(id, fmt::format("{} '{}'", field, name)));
      }
    }
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    const json* cls = r.member(j, "cls");
    const json* sep = r.member(j, "sep");
    if (cls == nullptr || sep == nullptr || !cls->is_array() || !sep->is_array() || cls->size() != 2 || sep->size() != 2) {
      r.bad(field, "has no [token, id] cls and sep");
    }
    spec.prefix_ids = {r.id((*cls)[1], fmt::format("{}.cls", field))};
    spec.suffix_ids = {r.id((*sep)[1], fmt::format("{}.sep", field))};
  } else {
    r.unsupported(field, fmt::format("type '{}'", type));
  }
}

// bos_token / eos_token in tokenizer_config.json: a string, or an AddedToken object.
std::optional<std::string> config_token(const JsonReader& r, const json& config, std::string_view key) {
  const json* v = r.member(config, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object()) return r.string(*v, "content", key);
  r.bad(key, "is neither a string nor an object with \"content\"");
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_hf(const fs::path& dir_or_file) {
  fs::path dir = dir_or_file;
  std::error_code ec;
  if (fs::is_regular_file(dir, ec) && dir.filename() == "tokenizer.json") dir = dir.parent_path();
  if (!fs::exists(dir, ec)) fail(ErrorCode::kNotFound, "'{}': no such folder", dir.string());
  if (!fs::is_directory(dir, ec)) {
    fail(ErrorCode::kInvalidArgument, "'{}': not a folder (a Hugging Face tokenizer is a folder with tokenizer.json)", dir.string());
  }
  const fs::path tokenizer_path = dir / "tokenizer.json";
  if (!fs::exists(tokenizer_path, ec)) {
    fail(ErrorCode::kNotFound, "'{}': not found (a Hugging Face tokenizer folder needs tokenizer.json)", tokenizer_path.string());
  }
  const json root = read_json(tokenizer_path);
  JsonReader r(tokenizer_path.string());
  if (!root.is_object()) r.bad("the file", "is not a JSON object");

  TokenizerSpec spec;
  spec.source = tokenizer_path.string();

  // ---- model: vocabulary and merges
  const json* model = r.member(root, "model");
  if (model == nullptr || !model->is_object()) r.bad("model", "is missing");
  std::string model_type = r.string(*model, "type", "model.type", r.member(*model, "merges") != nullptr ? "BPE" : "");
  if (model_type != "BPE") {
    fail(ErrorCode::kUnsupported, "'{}': model.type '{}' is not supported (only BPE)", spec.source, model_type);
  }
  for (std::string_view key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (!r.string(*model, key, key).empty()) r.unsupported(fmt::format("model.{}", key), "other than empty");
  }
  const json* vocab = r.member(*model, "vocab");
  if (vocab == nullptr || !vocab->is_object()) r.bad("model.vocab", "is missing or not an object");
  if (static_cast<int64_t>(vocab->size()) > detail::kMaxVocabSize) {
    r.bad("model.vocab", fmt::format("has {} tokens, not a plausible vocabulary (limit {})", vocab->size(), detail::kMaxVocabSize));
  }
  const json* added = r.member(root, "added_tokens");
  if (added != nullptr && !added->is_array()) r.bad("added_tokens", "is not a list");

  int64_t max_id = -1;
  for (const auto& [text, id_json] : vocab->items()) max_id = std::max<int64_t>(max_id, r.id(id_json, "model.vocab"));
  if (added != nullptr) {
    for (const json& t : *added) max_id = std::max<int64_t>(max_id, r.id(t.contains("id") ? t["id"] : json(), "added_tokens id"));
  }
  if (max_id < 0) r.bad("model.vocab", "is empty");
  const auto n = static_cast<size_t>(max_id + 1);
  spec.tokens.assign(n, std::string());
  spec.kinds.assign(n, TokenKind::kUnused);
  for (const auto& [text, id_json] : vocab->items()) {
    auto id = static_cast<size_t>(id_json.get<int64_t>());
    if (spec.kinds[id] != TokenKind::kUnused) {
      r.bad("model.vocab", fmt::format("gives id {} to both '{}' and '{}'", id, printable(spec.tokens[id]), printable(text)));
    }
    spec.tokens[id] = text;
    spec.kinds[id] = TokenKind::kNormal;
  }
  if (added != nullptr) {
    for (const json& t : *added) {
      auto id = static_cast<size_t>(t["id"].get<int64_t>());
      std::string content = r.string(t, "content", "added_tokens content");
      if (content.empty()) r.bad("added_tokens", fmt::format("has an empty token (id {})", id));
      spec.tokens[id] = content;
      spec.kinds[id] = r.boolean(t, "special", "added_tokens special", false) ? TokenKind::kControl : TokenKind::kUserDefined;
      bool lstrip = r.boolean(t, "lstrip", "added_tokens lstrip", false);
      bool rstrip = r.boolean(t, "rstrip", "added_tokens rstrip", false);
      if (lstrip || rstrip) spec.strip_flags[static_cast<int32_t>(id)] = {lstrip, rstrip};
    }
  }
  detail::TextToId ids;
  for (size_t i = 0; i < n; ++i) {
    if (!spec.tokens[i].empty()) ids.emplace(spec.tokens[i], static_cast<int32_t>(i));
  }
  auto lookup = [&](const std::string& text) -> std::optional<int32_t> {
    auto it = ids.find(text);
    return it == ids.end() ? std::nullopt : std::optional<int32_t>(it->second);
  };

  if (const json* merges = r.member(*model, "merges")) {
    if (!merges->is_array()) r.bad("model.merges", "is not a list");
    if (static_cast<int64_t>(merges->size()) > detail::kMaxMerges) {
      r.bad("model.merges", fmt::format("has {} entries (limit {})", merges->size(), detail::kMaxMerges));
    }
    spec.merges.reserve(merges->size());
    for (size_t i = 0; i < merges->size(); ++i) {
      const json& m = (*merges)[i];
      if (m.is_string()) {
        const std::string& line = m.get_ref<const std::string&>();
        size_t space = line.find(' ', 1);
        if (space == std::string::npos) r.bad(fmt::format("model.merges[{}]", i), "is not two tokens separated by a space");
        spec.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
      } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
        spec.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      } else {
        r.bad(fmt::format("model.merges[{}]", i), "is neither \"a b\" nor [\"a\", \"b\"]");
      }
    }
  }
  spec.byte_fallback = r.boolean(*model, "byte_fallback", "model.byte_fallback", false);
  spec.fuse_unk = r.boolean(*model, "fuse_unk", "model.fuse_unk", false);
  spec.ignore_merges = r.boolean(*model, "ignore_merges", "model.ignore_merges", false);
  if (std::string unk = r.string(*model, "unk_token", "model.unk_token"); !unk.empty()) {
    spec.unk_id = lookup(unk);
    if (!spec.unk_id) r.bad("model.unk_token", fmt::format("'{}' is not in the vocabulary", printable(unk)));
    spec.kinds[static_cast<size_t>(*spec.unk_id)] = TokenKind::kUnknown;
  }

  // ---- text pipeline and decoding
  if (const json* normalizer = r.member(root, "normalizer")) parse_normalizer(r, *normalizer, "normalizer", spec);
  if (const json* pre = r.member(root, "pre_tokenizer")) parse_pre_tokenizer(r, *pre, "pre_tokenizer", spec);
  DecoderInfo decoder;
  if (const json* d = r.member(root, "decoder")) parse_decoder(r, *d, "decoder", decoder);
  if (decoder.byte_level || (spec.byte_level && !decoder.space_marker)) {
    spec.decode_style = DecodeStyle::kByteLevel;
  } else if (decoder.space_marker) {
    spec.decode_style = DecodeStyle::kSpaceMarker;
    spec.space_marker = decoder.marker;
  } else {
    spec.decode_style = DecodeStyle::kRaw;
  }
  spec.strip_leading_space = decoder.strip;
  if (spec.byte_fallback || decoder.byte_fallback) {
    for (size_t i = 0; i < n; ++i) {
      const std::string& t = spec.tokens[i];
      if (spec.kinds[i] == TokenKind::kNormal && t.size() == 6 && t.starts_with("<0x") && t.back() == '>' &&
          std::isxdigit(static_cast<unsigned char>(t[3])) && std::isxdigit(static_cast<unsigned char>(t[4]))) {
        spec.kinds[i] = TokenKind::kByte;
      }
    }
  }
  if (const json* post = r.member(root, "post_processor")) parse_post_processor(r, *post, "post_processor", spec);

  // ---- tokenizer_config.json: BOS/EOS and the chat template
  std::optional<bool> add_bos, add_eos;
  const fs::path config_path = dir / "tokenizer_config.json";
  if (fs::exists(config_path, ec)) {
    const json config = read_json(config_path);
    JsonReader c(config_path.string());
    if (!config.is_object()) c.bad("the file", "is not a JSON object");
    if (c.member(config, "add_bos_token") != nullptr) add_bos = c.boolean(config, "add_bos_token", "add_bos_token", false);
    if (c.member(config, "add_eos_token") != nullptr) add_eos = c.boolean(config, "add_eos_token", "add_eos_token", false);
    for (auto [key, slot] : {std::pair{"bos_token", &spec.bos_id}, std::pair{"eos_token", &spec.eos_id}}) {
      if (std::optional<std::string> text = config_token(c, config, key)) {
        *slot = lookup(*text);
        if (!*slot) log::warn("'{}': {} '{}' is not in the vocabulary", c.source(), key, printable(*text));
      }
    }
    if (const json* t = c.member(config, "chat_template")) {
      if (t->is_string()) {
        spec.chat_template = t->get<std::string>();
      } else if (t->is_array()) {
        // Named templates ("default", "tool_use", ...): the default one, else the first.
        for (const json& named : *t) {
          if (c.string(named, "name", "chat_template name") == "default") {
            spec.chat_template = c.string(named, "template", "chat_template template");
          }
        }
        if (!spec.chat_template && !t->empty()) spec.chat_template = c.string(t->front(), "template", "chat_template template");
      } else {
        c.bad("chat_template", "is neither a string nor a list of {name, template}");
      }
    }
    if (add_bos.value_or(false) && !spec.bos_id) {
      c.bad("add_bos_token", "is true but bos_token names no token of the vocabulary");
    }
    if (add_eos.value_or(false) && !spec.eos_id) {
      c.bad("add_eos_token", "is true but eos_token names no token of the vocabulary");
    }
  }
  if (!spec.bos_id && !spec.prefix_ids.empty()) spec.bos_id = spec.prefix_ids.front();
  // add_bos_token / add_eos_token decide when present; otherwise the post-processor does.
  if (add_bos) spec.prefix_ids = *add_bos ? std::vector<int32_t>{*spec.bos_id} : std::vector<int32_t>{};
  if (add_eos) spec.suffix_ids = *add_eos ? std::vector<int32_t>{*spec.eos_id} : std::vector<int32_t>{};

  // ---- generation_config.json: every id that ends generation
  const fs::path generation_path = dir / "generation_config.json";
  if (fs::exists(generation_path, ec)) {
    const json generation = read_json(generation_path);
    JsonReader g(generation_path.string());
    if (const json* eos = g.member(generation, "eos_token_id")) {
      std::vector<int32_t> eos_ids;
      if (eos->is_array()) {
        for (const json& id : *eos) eos_ids.push_back(g.id(id, "eos_token_id"));
      } else {
        eos_ids.push_back(g.id(*eos, "eos_token_id"));
      }
      for (int32_t id : eos_ids) {
        if (static_cast<size_t>(id) >= n) g.bad("eos_token_id", fmt::format("{} is outside the vocabulary ({} tokens)", id, n));
      }
      if (!spec.eos_id && !eos_ids.empty()) spec.eos_id = eos_ids.front();
      spec.extra_stop_ids.insert(spec.extra_stop_ids.end(), eos_ids.begin(), eos_ids.end());
    }
  }
  return std::make_unique<detail::TokenizerImpl>(std::move(spec));
}

}  // namespace llmrt::genai
