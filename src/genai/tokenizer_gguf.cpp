// Tokenizer::from_gguf: the tokenizer.ggml.* metadata llama.cpp writes, read the way
// llama.cpp's llama_vocab::load reads it (same defaults where a key is absent).
//
//   tokenizer.ggml.model       "gpt2": byte-level BPE (+ tokenizer.ggml.merges)
//                              "llama": SentencePiece BPE (+ tokenizer.ggml.scores)
//   tokenizer.ggml.pre         the pre-tokenizer regexes of a BPE vocabulary (by name)
//   tokenizer.ggml.tokens / token_type (1 normal, 2 unknown, 3 control, 4 user-defined,
//                              5 unused, 6 byte)
//   tokenizer.ggml.{bos,eos,unknown,padding,eot,eom}_token_id, add_bos_token, add_eos_token,
//   add_space_prefix (SentencePiece; true when absent), tokenizer.chat_template
//   general.name               "phi-3"/"phi3" in it: special tokens strip the whitespace after
//                              them, as llama.cpp does (Phi-3's tokenizer.json says rstrip)
#include <algorithm>
#include <cctype>
#include <memory>

#include "genai/tokenizer.h"
#include "genai/tokenizer_impl.h"
#include "util/error.h"
#include "util/log.h"
#include "util/utf8.h"

namespace llmrt::genai {
namespace {

using detail::DecodeStyle;
using detail::ModelKind;
using detail::TokenKind;
using detail::TokenizerSpec;

class MetadataReader {
 public:
  MetadataReader(const gguf::File& file, std::string source) : file_(file), source_(std::move(source)) {}

  std::optional<std::string> string(std::string_view key) const {
    const gguf::Value* v = file_.find(key);
    if (v == nullptr) return std::nullopt;
    if (v->type() != gguf::ValueType::kString) mistyped(key, *v, "a string");
    return v->as_string(key);
  }

  std::optional<int64_t> integer(std::string_view key) const {
    const gguf::Value* v = file_.find(key);
    if (v == nullptr) return std::nullopt;
    switch (v->type()) {
      case gguf::ValueType::kString:
      case gguf::ValueType::kArray:
      case gguf::ValueType::kF32:
      case gguf::ValueType::kF64:
        mistyped(key, *v, "an integer");
      default:
        break;
    }
    return v->as_int(key);
  }

  std::optional<bool> boolean(std::string_view key) const {
    std::optional<int64_t> v = integer(key);
    if (!v) return std::nullopt;
    return *v != 0;
  }

  // nullptr when absent and not required.
  const gguf::Array* array(std::string_view key, bool strings, bool required) const {
    const gguf::Value* v = file_.find(key);
    if (v == nullptr) {
      if (required) fail(ErrorCode::kBadFormat, "'{}': metadata '{}' is missing", source_, key);
      return nullptr;
    }
    if (v->type() != gguf::ValueType::kArray) mistyped(key, *v, "an array");
    const gguf::Array& a = v->as_array(key);
    bool is_string = a.element_type == gguf::ValueType::kString;
    bool is_number = !is_string && a.element_type != gguf::ValueType::kArray;
    if (strings ? !is_string : !is_number) {
      fail(ErrorCode::kBadFormat, "'{}': metadata '{}' is an array of {}, expected {}", source_, key,
           gguf::to_string(a.element_type), strings ? "strings" : "numbers");
    }
    return &a;
  }

  [[noreturn]] void mistyped(std::string_view key, const gguf::Value& v, std::string_view expected) const {
    fail(ErrorCode::kBadFormat, "'{}': metadata '{}' is a {}, expected {}", source_, key, gguf::to_string(v.type()), expected);
  }

 private:
  const gguf::File& file_;
  std::string source_;
};

TokenKind kind_of(int64_t token_type) {
  switch (token_type) {
    case 2: return TokenKind::kUnknown;
    case 3: return TokenKind::kControl;
    case 4: return TokenKind::kUserDefined;
    case 5: return TokenKind::kUnused;
    case 6: return TokenKind::kByte;
    default: return TokenKind::kNormal;  // 1 normal, 0 undefined
  }
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
  TokenizerSpec spec;
  spec.source = file.path().string();
  const std::string& src = spec.source;
  MetadataReader meta(file, src);

  std::optional<std::string> model = meta.string("tokenizer.ggml.model");
  if (!model) fail(ErrorCode::kNotFound, "'{}': the file carries no tokenizer (metadata 'tokenizer.ggml.model' is missing)", src);
  if (*model == "gpt2") {
    spec.model = ModelKind::kBpe;
  } else if (*model == "llama") {
    spec.model = ModelKind::kSentencePiece;
  } else {
    fail(ErrorCode::kUnsupported,
         "'{}': tokenizer.ggml.model '{}' is not supported (supported: \"gpt2\" byte-level BPE, \"llama\" SentencePiece)",
         src, *model);
  }

  const gguf::Array& tokens = *meta.array("tokenizer.ggml.tokens", true, true);
  const uint64_t n = tokens.count;
  if (n == 0) fail(ErrorCode::kBadFormat, "'{}': tokenizer.ggml.tokens is empty", src);
  if (n > static_cast<uint64_t>(detail::kMaxVocabSize)) {
    fail(ErrorCode::kBadFormat, "'{}': tokenizer.ggml.tokens has {} tokens, not a plausible vocabulary (limit {})", src, n,
         detail::kMaxVocabSize);
  }
  spec.tokens = tokens.strings;
  spec.kinds.assign(n, TokenKind::kNormal);
  if (const gguf::Array* types = meta.array("tokenizer.ggml.token_type", false, false)) {
    if (types->count != n) {
      fail(ErrorCode::kBadFormat, "'{}': tokenizer.ggml.token_type has {} entries for {} tokens", src, types->count, n);
    }
    for (uint64_t i = 0; i < n; ++i) spec.kinds[i] = kind_of(types->integer(i));
  }

  const size_t vocab = static_cast<size_t>(n);
  // An id key: absent -> fallback; outside the vocabulary -> an error naming it.
  auto id_key = [&](std::string_view key, std::optional<int32_t> fallback) -> std::optional<int32_t> {
    std::optional<int64_t> v = meta.integer(key);
    if (!v) return fallback && static_cast<size_t>(*fallback) < vocab ? fallback : std::nullopt;
    if (*v < 0 || static_cast<uint64_t>(*v) >= n) {
      fail(ErrorCode::kBadFormat, "'{}': {} = {} is outside the vocabulary ({} tokens)", src, key, *v, n);
    }
    return static_cast<int32_t>(*v);
  };

  bool add_bos = false;
  if (spec.model == ModelKind::kBpe) {
    const gguf::Array& merges = *meta.array("tokenizer.ggml.merges", true, true);
    if (merges.count > static_cast<uint64_t>(detail::kMaxMerges)) {
      fail(ErrorCode::kBadFormat, "'{}': tokenizer.ggml.merges has {} entries (limit {})", src, merges.count,
           detail::kMaxMerges);
    }
    spec.merges.reserve(merges.strings.size());
    for (size_t i = 0; i < merges.strings.size(); ++i) {
      const std::string& line = merges.strings[i];
      size_t space = line.find(' ', 1);  // from 1: a token may itself be " "
      if (space == std::string::npos) {
        fail(ErrorCode::kBadFormat, "'{}': tokenizer.ggml.merges[{}] ('{}') is not two tokens separated by a space", src, i,
             printable(line));
      }
      spec.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    }

    std::string pre = meta.string("tokenizer.ggml.pre").value_or("");
    if (pre.empty()) {
      log::warn("'{}': no tokenizer.ggml.pre; using llama.cpp's 'default' pre-tokenizer", src);
      pre = "default";
    }
    detail::PreTokenizerPreset preset;
    if (!detail::pre_tokenizer_preset(pre, preset)) {
      fail(ErrorCode::kUnsupported, "'{}': pre-tokenizer '{}' (tokenizer.ggml.pre) is not supported", src, pre);
    }
    std::string where = fmt::format("'{}': pre-tokenizer '{}'", src, pre);
    for (const std::string& pattern : preset.regexes) {
      spec.pipeline.add_split(std::make_shared<detail::Regex>(pattern, where), detail::SplitBehavior::kIsolated);
    }
    spec.byte_level = true;
    spec.ignore_merges = preset.ignore_merges;
    spec.decode_style = DecodeStyle::kByteLevel;
    add_bos = preset.add_bos;
    spec.bos_id = id_key("tokenizer.ggml.bos_token_id", std::nullopt);
    spec.eos_id = id_key("tokenizer.ggml.eos_token_id", std::nullopt);
    spec.unk_id = id_key("tokenizer.ggml.unknown_token_id", std::nullopt);
  } else {
    spec.scores.assign(n, 0.0f);
    if (const gguf::Array* scores = meta.array("tokenizer.ggml.scores", false, false)) {
      if (scores->count != n) {
        fail(ErrorCode::kBadFormat, "'{}': tokenizer.ggml.scores has {} entries for {} tokens", src, scores->count, n);
      }
      for (uint64_t i = 0; i < n; ++i) spec.scores[i] = static_cast<float>(scores->number(i));
    }
    // SentencePiece's dummy prefix: " " before the text (llama.cpp's default when the key is
    // absent), spaces as "▁", and decode drops the first space again.
    bool add_space_prefix = meta.boolean("tokenizer.ggml.add_space_prefix").value_or(true);
    spec.pipeline.add_replace(" ", std::string(detail::kSpaceMarker));
    if (add_space_prefix) spec.pipeline.add_prepend(std::string(detail::kSpaceMarker));
    spec.byte_fallback = true;
    spec.decode_style = DecodeStyle::kSpaceMarker;
    spec.strip_leading_space = add_space_prefix;
    add_bos = true;
    spec.bos_id = id_key("tokenizer.ggml.bos_token_id", 1);
    spec.eos_id = id_key("tokenizer.ggml.eos_token_id", 2);
    spec.unk_id = id_key("tokenizer.ggml.unknown_token_id", 0);
  }

  add_bos = meta.boolean("tokenizer.ggml.add_bos_token").value_or(add_bos);
  bool add_eos = meta.boolean("tokenizer.ggml.add_eos_token").value_or(false);
  if (add_bos) {
    if (!spec.bos_id) fail(ErrorCode::kBadFormat, "'{}': the tokenizer adds a BOS token but names none (tokenizer.ggml.bos_token_id)", src);
    spec.prefix_ids.push_back(*spec.bos_id);
  }
  if (add_eos) {
    if (!spec.eos_id) fail(ErrorCode::kBadFormat, "'{}': the tokenizer adds an EOS token but names none (tokenizer.ggml.eos_token_id)", src);
    spec.suffix_ids.push_back(*spec.eos_id);
  }
  for (std::string_view key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    if (std::optional<int32_t> id = id_key(key, std::nullopt)) spec.extra_stop_ids.push_back(*id);
  }
  spec.chat_template = meta.string("tokenizer.chat_template");

  // Phi-3's special tokens take the whitespace after them (its tokenizer.json says rstrip);
  // GGUF has no field for that, so llama.cpp keys it on the model's name, and so do we.
  std::string name = meta.string("general.name").value_or("");
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
    for (size_t i = 0; i < vocab; ++i) {
      TokenKind kind = spec.kinds[i];
      const std::string& text = spec.tokens[i];
      bool special = kind == TokenKind::kControl || kind == TokenKind::kUserDefined || kind == TokenKind::kUnknown;
      if (special && text != "<unk>" && text != "<s>" && text != "<|endoftext|>") {
        spec.strip_flags[static_cast<int32_t>(i)] = {false, true};
      }
    }
  }
  return std::make_unique<detail::TokenizerImpl>(std::move(spec));
}

}  // namespace llmrt::genai
