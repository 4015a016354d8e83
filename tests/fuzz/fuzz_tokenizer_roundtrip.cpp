// Tokenizer round trip: any valid UTF-8 text must come back unchanged from
// decode(encode(text)), for the synthetic SentencePiece-style tokenizer (byte fallback) and, when
// ../shared is there, for tiny-fortunes' byte-level BPE. Invalid UTF-8 must be refused with an
// INVALID_ARGUMENT llmrt::Error (encode's contract), and decode must always give valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "genai/tokenizer.h"
#include "llmrt/error.hpp"
#include "runtime/synthetic_tokenizer.h"
#include "util/utf8.h"

namespace {

std::vector<std::unique_ptr<llmrt::genai::Tokenizer>> load_tokenizers() {
  std::vector<std::unique_ptr<llmrt::genai::Tokenizer>> out;
  const auto dir = llmrt::fuzz::scratch_dir() / "synthetic";
  std::filesystem::create_directories(dir);
  llmrt::write_synthetic_tokenizer_hf(llmrt::synthetic_vocab(512), dir);
  out.push_back(llmrt::genai::Tokenizer::from_hf(dir));
#ifdef LLMRT_TEST_SOURCE_DIR
  const std::filesystem::path fortunes = std::filesystem::path(LLMRT_TEST_SOURCE_DIR) / "../shared/models/tiny-fortunes";
  if (std::filesystem::exists(fortunes / "tokenizer.json")) out.push_back(llmrt::genai::Tokenizer::from_hf(fortunes));
#endif
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tokenizers = load_tokenizers();
  const std::string text(reinterpret_cast<const char*>(data), size);
  const bool valid = llmrt::is_valid_utf8(text);
  for (const auto& tok : tokenizers) {
    std::vector<int32_t> ids;
    try {
      ids = tok->encode(text, {.add_special_tokens = false, .parse_special = false});
    } catch (const llmrt::Error& e) {
      if (valid || e.code() != llmrt::ErrorCode::kInvalidArgument) {
        std::fprintf(stderr, "encode refused %s text: %s\n", valid ? "valid" : "invalid", e.what());
        std::abort();
      }
      continue;
    }
    if (!valid) {
      std::fprintf(stderr, "encode accepted invalid UTF-8\n");
      std::abort();
    }
    const std::string back = tok->decode(ids, false);
    if (!llmrt::is_valid_utf8(back)) {
      std::fprintf(stderr, "decode produced invalid UTF-8\n");
      std::abort();
    }
    if (valid && back != text) {
      std::fprintf(stderr, "round trip changed the text: %zu bytes in, %zu out\n", text.size(), back.size());
      std::abort();
    }
  }
  return 0;
}
