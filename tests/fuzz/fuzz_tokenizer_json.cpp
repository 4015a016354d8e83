// tokenizer.json loader: any bytes are a Hugging Face folder's tokenizer.json; malformed ones
// must be refused with an llmrt::Error. A loaded tokenizer encodes and decodes a fixed text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_input.h"
#include "genai/tokenizer.h"
#include "llmrt/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& dir = llmrt::fuzz::scratch_dir();
  llmrt::fuzz::write_file(dir / "tokenizer.json", std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    auto tok = llmrt::genai::Tokenizer::from_hf(dir);
    const auto ids = tok->encode("Hello, wörld! <|endoftext|> 123  \n\t 日本", {.add_special_tokens = true, .parse_special = true});
    (void)tok->decode(ids, false);
    for (int32_t id : ids) (void)tok->token_text(id);
  } catch (const llmrt::Error&) {
  }
  return 0;
}
