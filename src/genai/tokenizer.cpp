#include "genai/tokenizer.h"
#include "genai/tokenizer_pretokenize.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "genai/tokenizer_impl.h"
#include "store/container.h"
#include "util/error.h"
#include "util/log.h"
#include "util/utf8.h"

namespace llmrt::genai::detail {
namespace {

// Tokens that end a turn in the chat formats real models use. stop_ids() adds each one the
// vocabulary has, besides eos: Llama 3 (<|eot_id|>, <|eom_id|>), ChatML / Qwen (<|im_end|>),
// Phi-3 (<|end|>), GPT-2-style base models (<|endoftext|>), Gemma (<end_of_turn>).
constexpr std::string_view kEndOfTurnTokens[] = {"<|eot_id|>", "<|eom_id|>", "<|im_end|>",
                                                 "<|end|>",    "<|endoftext|>", "<end_of_turn>"};

// The byte of a "<0xNN>" token text, or -1.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || !text.starts_with("<0x") || text[5] != '>') return -1;
  int value = 0;
  for (size_t i = 3; i < 5; ++i) {
    char c = text[i];
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

bool is_single_char(std::string_view text) {
  return !text.empty() && utf8_length(static_cast<unsigned char>(text[0])) >= text.size();
}

}  // namespace

struct TokenizerImpl::Scratch {
  PipelineScratch pipeline;
  std::vector<std::string_view> pieces;
  std::vector<Symbol> symbols;
  std::vector<MergeCandidate> heap;
  std::vector<SpecialMatcher::Match> matches;
  std::string word;
};

TokenizerImpl::TokenizerImpl(TokenizerSpec spec) : spec_(std::move(spec)) {
  const std::string& src = spec_.source;
  const size_t n = spec_.tokens.size();
  if (n == 0) fail(ErrorCode::kBadFormat, "'{}': the vocabulary is empty", src);
  if (static_cast<int64_t>(n) > kMaxVocabSize) {
    fail(ErrorCode::kBadFormat, "'{}': {} tokens is not a plausible vocabulary (limit {})", src, n, kMaxVocabSize);
  }
  if (spec_.kinds.size() != n) fail(ErrorCode::kInternal, "'{}': token kinds do not match the vocabulary", src);
  if (spec_.model == ModelKind::kSentencePiece && spec_.scores.size() != n) {
    fail(ErrorCode::kInternal, "'{}': token scores do not match the vocabulary", src);
  }
  auto check_special = [&](std::optional<int32_t> id, std::string_view what) {
    if (id && (*id < 0 || static_cast<size_t>(*id) >= n)) {
      fail(ErrorCode::kBadFormat, "'{}': the {} token id {} is outside the vocabulary ({} tokens)", src, what, *id, n);
    }
  };
  check_special(spec_.bos_id, "BOS");
  check_special(spec_.eos_id, "EOS");
  check_special(spec_.unk_id, "unknown");
  for (int32_t id : spec_.prefix_ids) check_special(id, "post-processor");
  for (int32_t id : spec_.suffix_ids) check_special(id, "post-processor");
  for (int32_t id : spec_.extra_stop_ids) check_special(id, "stop");

  text_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (!spec_.tokens[i].empty()) text_to_id_.emplace(spec_.tokens[i], static_cast<int32_t>(i));
  }

  // What each token decodes to.
  token_bytes_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& text = spec_.tokens[i];
    switch (spec_.kinds[i]) {
      case TokenKind::kByte: {
        int b = parse_byte_token(text);
        token_bytes_[i] = b >= 0 ? std::string(1, static_cast<char>(b)) : text;
        break;
      }
      case TokenKind::kNormal:
      case TokenKind::kUnused:
        if (spec_.decode_style == DecodeStyle::kByteLevel) {
          token_bytes_[i] = byte_level_decode(text);
        } else if (spec_.decode_style == DecodeStyle::kSpaceMarker && !spec_.space_marker.empty()) {
          std::string& out = token_bytes_[i];
          for (size_t at = 0; at < text.size();) {
            size_t hit = text.find(spec_.space_marker, at);
            if (hit == std::string::npos) {
              out.append(text, at);
              break;
            }
            out.append(text, at, hit - at);
            out += ' ';
            at = hit + spec_.space_marker.size();
          }
        } else {
          token_bytes_[i] = text;
        }
        break;
      default:  // control, unknown and user-defined tokens read as they are written
        token_bytes_[i] = text;
        break;
    }
  }

  // Special and added tokens found in text before anything else.
  for (size_t i = 0; i < n; ++i) {
    TokenKind kind = spec_.kinds[i];
    if (kind != TokenKind::kControl && kind != TokenKind::kUnknown && kind != TokenKind::kUserDefined) continue;
    const std::string& text = spec_.tokens[i];
    if (text.empty() || !is_valid_utf8(text)) continue;
    bool lstrip = false, rstrip = false;
    if (auto it = spec_.strip_flags.find(static_cast<int32_t>(i)); it != spec_.strip_flags.end()) {
      std::tie(lstrip, rstrip) = it->second;
    }
    special_.add(text, static_cast<int32_t>(i), kind == TokenKind::kUserDefined, lstrip, rstrip);
  }

  const ByteLevelMap& byte_map = ByteLevelMap::get();
  for (int b = 0; b < 256; ++b) {
    byte_ids_[b] = spec_.byte_level ? find_token(byte_map.text_of(static_cast<uint8_t>(b))) : -1;
    int32_t id = find_token(fmt::format("<0x{:02X}>", b));
    if (id < 0 && b < 0x80) id = find_token(std::string(1, static_cast<char>(b)));
    fallback_ids_[b] = id;
  }

  if (spec_.model == ModelKind::kSentencePiece) {
    build_score_merges();
  } else {
    build_rank_merges();
  }

  auto add_stop = [&](int32_t id) {
    if (id >= 0 && static_cast<size_t>(id) < n && std::find(stop_ids_.begin(), stop_ids_.end(), id) == stop_ids_.end()) {
      stop_ids_.push_back(id);
    }
  };
  if (spec_.eos_id) add_stop(*spec_.eos_id);
  for (int32_t id : spec_.extra_stop_ids) add_stop(id);
  for (std::string_view name : kEndOfTurnTokens) add_stop(find_token(name));
}

int32_t TokenizerImpl::find_token(std::string_view text) const {
  auto it = text_to_id_.find(text);
  return it == text_to_id_.end() ? -1 : it->second;
}

int32_t TokenizerImpl::char_symbol(std::string_view ch) const {
  if (auto it = text_to_id_.find(ch); it != text_to_id_.end()) return it->second;
  if (auto it = pseudo_ids_.find(ch); it != pseudo_ids_.end()) return it->second;
  return -1;
}

void TokenizerImpl::build_rank_merges() {
  size_t skipped = 0;
  std::string joined;
  for (size_t rank = 0; rank < spec_.merges.size(); ++rank) {
    const auto& [left, right] = spec_.merges[rank];
    joined.assign(left).append(right);
    int32_t l = find_token(left), r = find_token(right), result = find_token(joined);
    if (l < 0 || r < 0 || result < 0) {
      ++skipped;
      continue;
    }
    merges_.add(l, r, static_cast<int32_t>(rank), result);
  }
  if (skipped > 0) {
    log::debug("'{}': {} of {} merges name text outside the vocabulary and are ignored", spec_.source, skipped,
               spec_.merges.size());
  }
  spec_.merges.clear();
  spec_.merges.shrink_to_fit();
}

void TokenizerImpl::build_score_merges() {
  // Tokens that merging may produce: normal (and unused) tokens of two or more characters.
  // Control, unknown, user-defined and byte tokens never come out of merging text.
  const size_t n = spec_.tokens.size();
  auto mergeable = [&](size_t id) {
    TokenKind kind = spec_.kinds[id];
    const std::string& text = spec_.tokens[id];
    return (kind == TokenKind::kNormal || kind == TokenKind::kUnused) && !text.empty() && !is_single_char(text);
  };
  std::vector<int32_t> order;
  for (size_t id = 0; id < n; ++id) {
    if (mergeable(id)) order.push_back(static_cast<int32_t>(id));
  }
  auto score_of = [&](int32_t id) {
    float s = spec_.scores[static_cast<size_t>(id)];
    return std::isnan(s) ? -INFINITY : s;
  };
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return score_of(a) > score_of(b); });
  std::vector<int32_t> rank(n, -1);
  int32_t current = -1;
  for (size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || score_of(order[i]) != score_of(order[i - 1])) ++current;
    rank[static_cast<size_t>(order[i])] = current;
  }

  // Symbols that can meet during merging: single characters (tokens or not; a character that
  // is no token but occurs inside one gets an id past the vocabulary) and mergeable tokens.
  int32_t next_pseudo = static_cast<int32_t>(n);
  auto side = [&](std::string_view text) -> int32_t {
    if (is_single_char(text)) {
      if (int32_t id = char_symbol(text); id >= 0) return id;
      int32_t id = next_pseudo++;
      pseudo_ids_.emplace(std::string(text), id);
      return id;
    }
    int32_t id = find_token(text);
    return id >= 0 && rank[static_cast<size_t>(id)] >= 0 ? id : -1;
  };
  for (int32_t id : order) {
    std::string_view text = spec_.tokens[static_cast<size_t>(id)];
    for (size_t k = utf8_length(static_cast<unsigned char>(text[0])); k < text.size();
         k += utf8_length(static_cast<unsigned char>(text[k]))) {
      int32_t l = side(text.substr(0, k));
      if (l < 0) continue;
      int32_t r = side(text.substr(k));
      if (r < 0) continue;
      merges_.add(l, r, rank[static_cast<size_t>(id)], id);
    }
  }
}

void TokenizerImpl::check_id(int32_t id, std::string_view what) const {
  if (id < 0 || id >= vocab_size()) {
    fail(ErrorCode::kInvalidArgument, "{}: token id {} is out of range (the vocabulary of '{}' has {} tokens)", what, id,
         spec_.source, vocab_size());
  }
}

bool TokenizerImpl::is_special(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return false;
  TokenKind kind = spec_.kinds[static_cast<size_t>(id)];
  return kind == TokenKind::kControl || kind == TokenKind::kUnknown;
}

std::string TokenizerImpl::token_text(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return spec_.tokens[static_cast<size_t>(id)];
}

std::string TokenizerImpl::token_bytes(int32_t id, bool skip_special) const {
  check_id(id, "token_bytes");
  if (skip_special && is_special(id)) return {};
  return token_bytes_[static_cast<size_t>(id)];
}

std::string TokenizerImpl::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string out;
  for (int32_t id : ids) {
    check_id(id, "decode");
    if (skip_special && is_special(id)) continue;
    out += token_bytes_[static_cast<size_t>(id)];
  }
  if (spec_.strip_leading_space && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return detail::replace_invalid_utf8(std::move(out));
}

std::vector<int32_t> TokenizerImpl::encode(std::string_view text, const EncodeOptions& options) const {
  // One validation for the whole text: every regex match after this skips PCRE2's UTF check.
  if (const size_t at = first_invalid_utf8(text); at != text.size()) {
    fail(ErrorCode::kInvalidArgument, "encode: the text is not valid UTF-8 (byte 0x{:02X} at offset {})",
         static_cast<unsigned char>(text[at]), at);
  }
  if (text.size() >= (size_t{1} << 31)) {
    fail(ErrorCode::kInvalidArgument, "encode: a text of {} bytes is too long (limit 2 GiB)", text.size());
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (options.add_special_tokens) out.insert(out.end(), spec_.prefix_ids.begin(), spec_.prefix_ids.end());

  Scratch scratch;
  special_.find(text, options.parse_special, scratch.matches);
  size_t at = 0;
  for (const SpecialMatcher::Match& m : scratch.matches) {
    if (m.begin > at) encode_segment(text.substr(at, m.begin - at), at == 0, scratch, out);
    out.push_back(m.id);
    at = m.end;
  }
  if (at < text.size()) encode_segment(text.substr(at), at == 0, scratch, out);

  if (options.add_special_tokens) out.insert(out.end(), spec_.suffix_ids.begin(), spec_.suffix_ids.end());
  return out;
}

void TokenizerImpl::encode_segment(std::string_view segment, bool at_text_start, Scratch& scratch,
                                   std::vector<int32_t>& out) const {
  scratch.pipeline.buffers.clear();
  spec_.pipeline.run(segment, at_text_start, scratch.pipeline, scratch.pieces);
  for (std::string_view piece : scratch.pieces) encode_piece(piece, scratch, out);
}

void TokenizerImpl::encode_piece(std::string_view piece, Scratch& scratch, std::vector<int32_t>& out) const {
  std::vector<Symbol>& symbols = scratch.symbols;
  symbols.clear();
  if (spec_.byte_level) {
    if (spec_.ignore_merges) {
      scratch.word.clear();
      const ByteLevelMap& map = ByteLevelMap::get();
      for (char c : piece) scratch.word += map.text_of(static_cast<uint8_t>(c));
      int32_t id = find_token(scratch.word);
      if (id >= 0 && spec_.kinds[static_cast<size_t>(id)] == TokenKind::kNormal) {
        out.push_back(id);
        return;
      }
    }
    symbols.reserve(piece.size());
    for (size_t i = 0; i < piece.size(); ++i) {
      auto pos = static_cast<int32_t>(i);
      symbols.push_back({byte_ids_[static_cast<uint8_t>(piece[i])], static_cast<uint32_t>(i), 1, pos - 1, pos + 1});
    }
  } else {
    if (spec_.ignore_merges) {
      int32_t id = find_token(piece);
      if (id >= 0 && spec_.kinds[static_cast<size_t>(id)] == TokenKind::kNormal) {
        out.push_back(id);
        return;
      }
    }
    for (size_t i = 0; i < piece.size();) {
      size_t len = std::min(utf8_length(static_cast<unsigned char>(piece[i])), piece.size() - i);
      auto pos = static_cast<int32_t>(symbols.size());
      symbols.push_back({char_symbol(piece.substr(i, len)), static_cast<uint32_t>(i), static_cast<uint32_t>(len), pos - 1,
                         pos + 1});
      i += len;
    }
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;
  if (symbols.size() > 1) merges_.apply(symbols, scratch.heap);

  bool last_was_unk = false;
  const int32_t n = vocab_size();
  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) {
    const Symbol& s = symbols[static_cast<size_t>(i)];
    if (s.id >= 0 && s.id < n) {
      out.push_back(s.id);
      last_was_unk = false;
    } else {
      emit_unknown(piece.substr(s.begin, s.length), last_was_unk, out);
    }
  }
}

void TokenizerImpl::emit_unknown(std::string_view bytes, bool& last_was_unk, std::vector<int32_t>& out) const {
  auto push_unk = [&] {
    if (!spec_.unk_id || (spec_.fuse_unk && last_was_unk)) return;
    out.push_back(*spec_.unk_id);
    last_was_unk = true;
  };
  if (!spec_.byte_fallback) {
    push_unk();
    return;
  }
  for (char c : bytes) {
    int32_t id = fallback_ids_[static_cast<uint8_t>(c)];
    if (id >= 0) {
      out.push_back(id);
      last_was_unk = false;
    } else {
      push_unk();
    }
  }
}

}  // namespace llmrt::genai::detail

namespace llmrt::genai {

void Tokenizer::check_fits(int64_t model_vocab_size, std::string_view model) const {
  if (vocab_size() > model_vocab_size) {
    fail(ErrorCode::kBadFormat, "'{}': the tokenizer has {} tokens but the model's vocabulary only {}", model, vocab_size(),
         model_vocab_size);
  }
}

std::unique_ptr<Tokenizer> Tokenizer::from_model(const std::filesystem::path& path) {
  std::error_code ec;
  if (container::is_container(path)) {
    const std::filesystem::path dir = container::container_dir(path);
    if (std::filesystem::is_regular_file(dir / container::kGgufMetadataFile, ec)) {
      return from_gguf(gguf::File::read(dir / container::kGgufMetadataFile));
    }
    return from_hf(dir);
  }
  if (std::filesystem::is_directory(path, ec)) return from_hf(path);
  return from_gguf(gguf::File::read(path));
}

}  // namespace llmrt::genai
