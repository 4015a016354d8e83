// StreamDecoder: text for ids as they are generated, never a broken UTF-8 character.
//
// Byte tokens (<0xE2><0x82><0xAC> = "€") and byte-level BPE tokens can end in the middle of a
// character. push() keeps such an incomplete tail until the bytes that complete it arrive;
// bytes that can never become a character (a stray continuation byte, a lead byte followed by
// something else) come out as U+FFFD at once. flush() gives whatever is held back, with an
// unfinished character as U+FFFD. The pushes and flush concatenate to Tokenizer::decode() of
// the same ids, which applies the same replacement (as Hugging Face's errors="replace").
#include <string_view>

#include "genai/tokenizer.h"
#include "genai/tokenizer_pretokenize.h"
#include "util/utf8.h"

namespace llmrt::genai {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Moves the whole characters at the front of `pending` out; an incomplete character at the
// end stays unless `final`.
std::string drain(std::string& pending, bool final) {
  std::string out;
  size_t i = 0;
  const size_t n = pending.size();
  while (i < n) {
    if (size_t len = utf8_sequence_length(pending, i); len > 0) {
      out.append(pending, i, len);
      i += len;
      continue;
    }
    std::string_view rest(pending.data() + i, n - i);
    if (!final && utf8_incomplete_prefix(rest)) break;
    // One U+FFFD for the longest start of a character found here (at least one byte).
    size_t bad = 1;
    while (bad < rest.size() && utf8_incomplete_prefix(rest.substr(0, bad + 1))) ++bad;
    out += kReplacement;
    i += bad;
  }
  pending.erase(0, i);
  return out;
}

}  // namespace

namespace detail {
std::string replace_invalid_utf8(std::string text) { return drain(text, true); }
}  // namespace detail

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special)
    : tokenizer_(tokenizer), skip_special_(skip_special) {}

std::string StreamDecoder::push(int32_t id) {
  std::string piece = tokenizer_.token_bytes(id, skip_special_);
  if (piece.empty()) return {};
  if (first_) {
    // decode() of the first token with text says whether its leading space goes (SentencePiece's
    // dummy prefix). Only that decision is taken from it: decode() would also turn a partial
    // character into U+FFFD, which the stream must hold back instead.
    const int32_t one[1] = {id};
    const std::string decoded = tokenizer_.decode(one, skip_special_);
    if (piece[0] == ' ' && decoded == detail::replace_invalid_utf8(piece.substr(1))) piece.erase(0, 1);
    first_ = false;
  }
  pending_ += piece;
  return drain(pending_, false);
}

std::string StreamDecoder::flush() { return drain(pending_, true); }

}  // namespace llmrt::genai
