// llmrt-tokenize: the token ids a model's tokenizer gives a text.
//
//   llmrt-tokenize -m MODEL (-p TEXT | -f FILE) [--ids-only] [--no-bos] [--parse-special]
//
// MODEL is a GGUF file or a Hugging Face folder (tokenizer.json). Prints one line per token,
// "id<TAB>text" (the token's bytes, with control characters and broken UTF-8 as \xNN), or with
// --ids-only the ids on one line separated by spaces. --no-bos adds no special tokens at all
// (no BOS/EOS); --parse-special reads special tokens written in the text ("<|eot_id|>").
//
// Exits 0 on success, 1 with a message on stderr when the model or text cannot be read or
// tokenized, 2 on a usage error.
#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "genai/tokenizer.h"
#include "llmrt/error.hpp"
#include "store/gguf.h"
#include "util/mapped_file.h"
#include "util/utf8.h"

namespace {

constexpr std::string_view kUsage =
    "usage: llmrt-tokenize -m MODEL (-p TEXT | -f FILE) [--ids-only] [--no-bos] [--parse-special]\n"
    "  -m MODEL         a GGUF file or a Hugging Face folder with tokenizer.json\n"
    "  -p TEXT          the text to tokenize\n"
    "  -f FILE          read the text from FILE\n"
    "  --ids-only       print only the ids, separated by spaces\n"
    "  --no-bos         add no special tokens (BOS/EOS)\n"
    "  --parse-special  read special tokens written in the text\n";

int usage_error(std::string_view message) {
  fmt::print(stderr, "llmrt-tokenize: {}\n{}", message, kUsage);
  return 2;
}

std::unique_ptr<llmrt::genai::Tokenizer> load(const std::filesystem::path& model) {
  return llmrt::genai::Tokenizer::from_model(model);
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<std::string> model, text, file;
  bool ids_only = false;
  llmrt::genai::EncodeOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&](std::optional<std::string>& slot) {
      if (i + 1 >= argc) return false;
      slot = argv[++i];
      return true;
    };
    if (arg == "-m" || arg == "--model") {
      if (!value(model)) return usage_error("-m needs a model");
    } else if (arg == "-p" || arg == "--prompt") {
      if (!value(text)) return usage_error("-p needs a text");
    } else if (arg == "-f" || arg == "--file") {
      if (!value(file)) return usage_error("-f needs a file");
    } else if (arg == "--ids-only") {
      ids_only = true;
    } else if (arg == "--no-bos") {
      options.add_special_tokens = false;
    } else if (arg == "--parse-special") {
      options.parse_special = true;
    } else if (arg == "-h" || arg == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    } else {
      return usage_error(fmt::format("unknown argument '{}'", arg));
    }
  }
  if (!model) return usage_error("no model (-m)");
  if (text.has_value() == file.has_value()) return usage_error("give the text with exactly one of -p and -f");

  try {
    std::unique_ptr<llmrt::genai::Tokenizer> tokenizer = load(*model);
    if (file) text = llmrt::read_text_file(*file);
    std::vector<int32_t> ids = tokenizer->encode(*text, options);
    std::string out;
    if (ids_only) {
      for (size_t i = 0; i < ids.size(); ++i) out += fmt::format("{}{}", i == 0 ? "" : " ", ids[i]);
      out += '\n';
    } else {
      for (int32_t id : ids) out += fmt::format("{}\t{}\n", id, llmrt::printable(tokenizer->token_bytes(id, false), 256));
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  } catch (const llmrt::Error& e) {
    fmt::print(stderr, "llmrt-tokenize: {}\n", e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "llmrt-tokenize: {}\n", e.what());
  }
  return 1;
}
