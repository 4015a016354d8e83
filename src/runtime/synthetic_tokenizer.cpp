#include "runtime/synthetic_tokenizer.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "util/error.h"

namespace llmrt {
namespace {

const std::string kSpace = "\xE2\x96\x81";  // "▁"

// Text the merges are learnt from (written for this purpose).
constexpr const char* kCorpus =
    "the quick brown fox jumps over the lazy dog. a journey of a thousand miles begins with a single step. "
    "there is no place like home. the early bird catches the worm, but the second mouse gets the cheese. "
    "you will meet a tall dark stranger. today is a good day to read a book and to write a letter. "
    "the answer is in the question. when in doubt, tell the truth. the best way out is always through. "
    "hello world! this is a small model that runs on the cpu. it speaks in fortunes and in tokens. "
    "what is the capital of france? paris is the capital of france. one, two, three, four, five. "
    "the weather is nice and the sun is shining. please come in and have a seat. thank you very much.";

// Characters in the order they get a token when the vocabulary is small.
std::vector<std::string> characters() {
  std::vector<std::string> out = {kSpace};
  for (char c = 'a'; c <= 'z'; ++c) out.emplace_back(1, c);
  for (char c : std::string(".,!?'-:;\"()")) out.emplace_back(1, c);
  for (char c = '0'; c <= '9'; ++c) out.emplace_back(1, c);
  for (char c = 'A'; c <= 'Z'; ++c) out.emplace_back(1, c);
  for (char c = 33; c < 127; ++c) {
    std::string s(1, c);
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

// Symbols of a word: its UTF-8 characters ("▁" is one).
std::vector<std::string> split_chars(const std::string& w) {
  std::vector<std::string> out;
  for (size_t i = 0; i < w.size();) {
    size_t n = (static_cast<unsigned char>(w[i]) >= 0xE0) ? 3 : 1;
    out.push_back(w.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace

SyntheticVocab synthetic_vocab(int64_t vocab_size) {
  const std::vector<std::string> chars = characters();
  if (vocab_size < 3 + 64) fail(ErrorCode::kInvalidArgument, "a synthetic vocabulary needs at least 67 tokens, not {}", vocab_size);
  SyntheticVocab v;
  auto add = [&](std::string piece, float score, int32_t type) {
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0, 2);
  add("<s>", 0, 3);
  add("</s>", 0, 3);
  v.byte_fallback = vocab_size >= 3 + 256 + static_cast<int64_t>(chars.size());
  if (v.byte_fallback) {
    for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), 0, 6);
  }
  std::set<std::string> known;
  for (const std::string& c : chars) {
    if (static_cast<int64_t>(v.tokens.size()) >= vocab_size) break;
    add(c, 0, 1);
    known.insert(c);
  }
  // BPE over the corpus, SentencePiece-style: spaces become "▁" and start each word.
  std::vector<std::vector<std::string>> words;
  {
    std::string text = kCorpus, word;
    for (char ch : text) {
      if (ch == ' ') {
        if (!word.empty()) words.push_back(split_chars(kSpace + word));
        word.clear();
      } else {
        word += ch;
      }
    }
    if (!word.empty()) words.push_back(split_chars(kSpace + word));
  }
  while (static_cast<int64_t>(v.tokens.size()) < vocab_size && v.merges.size() < 2000) {
    std::map<std::pair<std::string, std::string>, int> counts;
    for (const auto& w : words) {
      for (size_t i = 0; i + 1 < w.size(); ++i) {
        if (known.count(w[i]) && known.count(w[i + 1])) ++counts[{w[i], w[i + 1]}];
      }
    }
    // The most frequent pair (ties: the first in order), whose result is new.
    std::pair<std::string, std::string> best;
    int best_count = 1;
    for (const auto& [pair, count] : counts) {
      if (count > best_count && !known.count(pair.first + pair.second)) {
        best = pair;
        best_count = count;
      }
    }
    if (best_count <= 1) break;
    const std::string merged = best.first + best.second;
    add(merged, -static_cast<float>(v.merges.size()), 1);
    known.insert(merged);
    v.merges.push_back(best);
    for (auto& w : words) {
      for (size_t i = 0; i + 1 < w.size(); ++i) {
        if (w[i] == best.first && w[i + 1] == best.second) {
          w[i] = merged;
          w.erase(w.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        }
      }
    }
  }
  // Fill the rest with more reachable pieces: each known piece that starts a word (or any
  // piece, in later rounds) extended by a letter, most frequent English letters first. Every
  // new piece is a merge of two known pieces, so the tokenizer can produce it.
  const std::string kLetters = "etaoinshrdlcumwfgypbvkjxqz";
  for (int round = 0; static_cast<int64_t>(v.tokens.size()) < vocab_size && round < 8; ++round) {
    const size_t known_before = v.tokens.size();
    for (size_t i = 3; i < known_before && static_cast<int64_t>(v.tokens.size()) < vocab_size; ++i) {
      const std::string base = v.tokens[i];  // a copy: add() below grows v.tokens
      if (v.types[i] != 1 || (round == 0 && base.rfind(kSpace, 0) != 0)) continue;
      for (char c : kLetters) {
        if (static_cast<int64_t>(v.tokens.size()) >= vocab_size) break;
        const std::string letter(1, c), merged = base + letter;
        if (!known.count(letter) || known.count(merged) || merged.size() > 16) continue;
        v.merges.emplace_back(base, letter);
        known.insert(merged);
        add(merged, -static_cast<float>(v.merges.size() - 1), 1);
      }
    }
  }
  for (int64_t i = static_cast<int64_t>(v.tokens.size()); i < vocab_size; ++i) add(fmt::format("<unused{}>", i), 0, 5);
  return v;
}

const std::string& synthetic_chat_template() {
  static const std::string t =
      "{% if messages and messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}\n{% endif %}"
      "{% for message in messages %}{% if message['role'] != 'system' %}"
      "{{ message['role'] }}: {{ message['content'] }}\n"
      "{% endif %}{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
  return t;
}

void write_synthetic_tokenizer_hf(const SyntheticVocab& v, const std::filesystem::path& dir) {
  using nlohmann::json;
  json vocab = json::object();
  for (size_t i = 0; i < v.tokens.size(); ++i) vocab[v.tokens[i]] = i;
  json merges = json::array();
  for (const auto& [a, b] : v.merges) merges.push_back(a + " " + b);
  json added = json::array();
  for (int id = 0; id < 3; ++id) {
    added.push_back({{"id", id}, {"content", v.tokens[static_cast<size_t>(id)]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  json decoders = json::array({json{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}}});
  if (v.byte_fallback) decoders.push_back({{"type", "ByteFallback"}});
  decoders.push_back({{"type", "Fuse"}});
  decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
  json tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         json::array({json{{"type", "Prepend"}, {"prepend", kSpace}},
                      json{{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}}})}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", json::array({json{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"pair", json::array({json{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                              json{{"SpecialToken", {{"id", "<s>"}, {"type_id", 1}}}}, json{{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder", {{"type", "Sequence"}, {"decoders", decoders}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", v.byte_fallback},
        {"vocab", vocab},
        {"merges", merges}}}};
  json config = {{"add_bos_token", true},   {"add_eos_token", false}, {"bos_token", "<s>"},
                 {"eos_token", "</s>"},     {"unk_token", "<unk>"},   {"tokenizer_class", "LlamaTokenizer"},
                 {"chat_template", synthetic_chat_template()}, {"legacy", false}};
  for (const auto& [name, j] : {std::pair<const char*, const json*>{"tokenizer.json", &tokenizer}, {"tokenizer_config.json", &config}}) {
    std::ofstream out(dir / name, std::ios::trunc);
    out << j->dump(2) << "\n";
    if (!out.flush()) fail(ErrorCode::kIo, "cannot write '{}'", (dir / name).string());
  }
}

void add_synthetic_tokenizer_gguf(const SyntheticVocab& v, gguf::Writer& w) {
  w.add("tokenizer.ggml.model", gguf::string_value("llama"));
  w.add("tokenizer.ggml.pre", gguf::string_value("default"));
  w.add("tokenizer.ggml.tokens", gguf::string_array(v.tokens));
  w.add("tokenizer.ggml.scores", gguf::number_array(gguf::ValueType::kF32, v.scores));
  w.add("tokenizer.ggml.token_type", gguf::number_array(gguf::ValueType::kI32, v.types));
  w.add("tokenizer.ggml.bos_token_id", gguf::Value{uint32_t{1}});
  w.add("tokenizer.ggml.eos_token_id", gguf::Value{uint32_t{2}});
  w.add("tokenizer.ggml.unknown_token_id", gguf::Value{uint32_t{0}});
  w.add("tokenizer.ggml.add_bos_token", gguf::Value{true});
  w.add("tokenizer.ggml.add_eos_token", gguf::Value{false});
  w.add("tokenizer.chat_template", gguf::string_value(synthetic_chat_template()));
}

}  // namespace llmrt
