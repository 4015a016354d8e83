// Tokenizers against the reference ids of llama.cpp's vocab test vectors (made by the Hugging
// Face tokenizers), small tokenizer.json files built here with hand-derived expectations, the
// tiny-fortunes model's tokenizer, streaming decode, special tokens, errors and speed.
#include "genai/tokenizer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "genai/tokenizer_pretokenize.h"
#include "llmrt/error.hpp"
#include "store/gguf.h"
#include "store/test_files.h"
#include "util/utf8.h"

namespace llmrt::genai {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing_util::fails_with;
using testing_util::TempDir;

const EncodeOptions kPlain{.add_special_tokens = false, .parse_special = false};

fs::path shared_dir() { return fs::path(LLMRT_TEST_SOURCE_DIR) / ".." / "shared"; }
fs::path vectors_dir() { return shared_dir() / "data" / "tokenizer"; }
fs::path tiny_fortunes_dir() { return shared_dir() / "models" / "tiny-fortunes"; }

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string shown(std::string_view s) { return fmt::format("'{}'", printable(s, 120)); }

// ---- the shared vectors ---------------------------------------------------------------------

struct VectorCase {
  std::string text;
  std::vector<int32_t> ids;
};

// .inp: cases separated (and ended) by "\n__ggml_vocab_test__\n"; .out: one line of ids per case.
std::vector<VectorCase> load_cases(const std::string& vocab) {
  const std::string base = (vectors_dir() / ("ggml-vocab-" + vocab + ".gguf")).string();
  const std::string inp = read_file(base + ".inp");
  const std::string out = read_file(base + ".out");
  constexpr std::string_view kSeparator = "\n__ggml_vocab_test__\n";
  std::vector<VectorCase> cases;
  for (size_t at = 0; at < inp.size();) {
    size_t end = inp.find(kSeparator, at);
    if (end == std::string::npos) break;  // the empty remainder after the last separator
    cases.push_back({inp.substr(at, end - at), {}});
    at = end + kSeparator.size();
  }
  std::istringstream lines(out);
  std::string line;
  for (VectorCase& c : cases) {
    if (!std::getline(lines, line)) break;
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
  }
  return cases;
}

std::unique_ptr<Tokenizer> load_vocab(const std::string& vocab) {
  return Tokenizer::from_gguf(gguf::File::read(vectors_dir() / ("ggml-vocab-" + vocab + ".gguf")));
}

#define SKIP_WITHOUT_VECTORS()                                                                          \
  if (!fs::exists(vectors_dir())) GTEST_SKIP() << "the shared tokenizer vectors are not here: " << vectors_dir()

class SharedVocab : public ::testing::TestWithParam<std::string> {};

TEST_P(SharedVocab, EveryCaseGivesTheReferenceIds) {
  SKIP_WITHOUT_VECTORS();
  std::vector<VectorCase> cases = load_cases(GetParam());
  ASSERT_EQ(cases.size(), 46u);
  auto tokenizer = load_vocab(GetParam());
  int failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    std::vector<int32_t> ids = tokenizer->encode(cases[i].text, kPlain);
    EXPECT_EQ(ids, cases[i].ids) << GetParam() << " case " << i << ": " << shown(cases[i].text);
    failures += ids != cases[i].ids;
  }
  EXPECT_EQ(failures, 0);
}

TEST_P(SharedVocab, DecodeGivesTheTextBack) {
  SKIP_WITHOUT_VECTORS();
  auto tokenizer = load_vocab(GetParam());
  for (const VectorCase& c : load_cases(GetParam())) {
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(c.text, kPlain)), c.text) << GetParam() << ": " << shown(c.text);
    // The reference ids decode to the same text.
    EXPECT_EQ(tokenizer->decode(c.ids), c.text) << GetParam() << ": " << shown(c.text);
  }
}

TEST_P(SharedVocab, StreamingDecodeEqualsDecode) {
  SKIP_WITHOUT_VECTORS();
  auto tokenizer = load_vocab(GetParam());
  for (const VectorCase& c : load_cases(GetParam())) {
    StreamDecoder stream(*tokenizer);
    std::string text;
    for (int32_t id : c.ids) {
      std::string piece = stream.push(id);
      EXPECT_TRUE(is_valid_utf8(piece)) << GetParam() << ": a broken character in " << shown(piece);
      text += piece;
    }
    text += stream.flush();
    EXPECT_EQ(text, tokenizer->decode(c.ids)) << GetParam() << ": " << shown(c.text);
  }
}

INSTANTIATE_TEST_SUITE_P(Vectors, SharedVocab,
                         ::testing::Values("gpt-2", "llama-spm", "phi-3", "starcoder", "deepseek-coder",
                                           "deepseek-llm", "falcon", "mpt", "refact"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string name = param_info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(SharedVocabs, SpecialTokensBosAndStopIds) {
  SKIP_WITHOUT_VECTORS();
  auto llama = load_vocab("llama-spm");
  EXPECT_EQ(llama->bos_id(), 1);
  EXPECT_EQ(llama->eos_id(), 2);
  // add_bos_token = true: BOS first; "Hello world" is 15043 3186 (the reference ids).
  EXPECT_EQ(llama->encode("Hello world"), (std::vector<int32_t>{1, 15043, 3186}));
  EXPECT_EQ(llama->encode(""), (std::vector<int32_t>{1}));
  EXPECT_EQ(llama->encode("", kPlain), (std::vector<int32_t>{}));
  // "<s>" is markup only when parsed; after it the text gets SentencePiece's "▁" again.
  std::vector<int32_t> parsed = llama->encode("<s>Hello world", {.add_special_tokens = false, .parse_special = true});
  EXPECT_EQ(parsed, (std::vector<int32_t>{1, 15043, 3186}));
  std::vector<int32_t> plain = llama->encode("<s>Hello world", kPlain);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0);
  EXPECT_EQ(llama->decode(plain), "<s>Hello world");
  EXPECT_TRUE(llama->is_special(1));
  EXPECT_FALSE(llama->is_special(15043));
  EXPECT_EQ(llama->decode(parsed, false), "<s> Hello world");
  EXPECT_EQ(llama->decode(parsed, true), "Hello world");
  EXPECT_EQ(llama->stop_ids(), (std::vector<int32_t>{2}));
  EXPECT_EQ(llama->token_text(15043), "\xE2\x96\x81Hello");
  EXPECT_EQ(llama->token_text(-1), "");
  EXPECT_EQ(llama->token_text(32000), "");

  auto phi3 = load_vocab("phi-3");
  std::vector<int32_t> chat = phi3->encode("<|user|>\nHi<|end|>", {.add_special_tokens = true, .parse_special = true});
  ASSERT_GE(chat.size(), 4u);
  EXPECT_EQ(chat.front(), 1);
  EXPECT_EQ(chat[1], 32010);  // <|user|>
  EXPECT_EQ(chat.back(), 32007);  // <|end|>
  // Phi-3's special tokens take the whitespace after them (llama.cpp's ids for this turn).
  EXPECT_EQ(phi3->encode("<|user|>\nSYS\nHI<|end|>\n<|assistant|>\n", {.add_special_tokens = true, .parse_special = true}),
            (std::vector<int32_t>{1, 32010, 317, 21554, 13, 17628, 32007, 32001}));
  // Other SentencePiece vocabularies keep it.
  EXPECT_EQ(llama->encode("<s>\nHi", {.add_special_tokens = false, .parse_special = true}),
            (std::vector<int32_t>{1, 29871, 13, 18567}));
  std::vector<int32_t> stops = phi3->stop_ids();
  EXPECT_EQ(stops.front(), 32000);  // eos, <|endoftext|>
  EXPECT_NE(std::find(stops.begin(), stops.end(), 32007), stops.end());
  ASSERT_TRUE(phi3->chat_template().has_value());
  EXPECT_NE(phi3->chat_template()->find("<|user|>"), std::string::npos);

  auto gpt2 = load_vocab("gpt-2");
  EXPECT_EQ(gpt2->encode("Hello world"), (std::vector<int32_t>{15496, 995}));  // no add_bos_token: no BOS
  EXPECT_EQ(gpt2->encode("<|endoftext|>", {.add_special_tokens = false, .parse_special = true}),
            (std::vector<int32_t>{50256}));
  EXPECT_GT(gpt2->encode("<|endoftext|>", kPlain).size(), 1u);
  EXPECT_EQ(gpt2->stop_ids(), (std::vector<int32_t>{50256}));
  EXPECT_EQ(gpt2->decode(std::vector<int32_t>{15496, 50256, 995}), "Hello world");
  EXPECT_EQ(gpt2->decode(std::vector<int32_t>{15496, 50256, 995}, false), "Hello<|endoftext|> world");

  auto coder = load_vocab("deepseek-coder");
  EXPECT_EQ(coder->encode("Hello").front(), 32013);  // add_bos_token = true
  EXPECT_EQ(coder->bos_id(), 32013);
  // User-defined tokens are matched even without parse_special (as the reference does: "ü").
  EXPECT_EQ(coder->encode("Führer", kPlain), (std::vector<int32_t>{37, 32009, 71, 6247}));
}

TEST(SharedVocabs, ManyThreadsShareOneTokenizer) {
  SKIP_WITHOUT_VECTORS();
  auto tokenizer = load_vocab("deepseek-llm");  // five regexes, PCRE2 state per thread
  const std::vector<VectorCase> cases = load_cases("deepseek-llm");
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (const VectorCase& c : cases) mismatches[t] += tokenizer->encode(c.text, kPlain) != c.ids;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

// ---- hand-built tokenizer.json files --------------------------------------------------------

// A byte-level BPE: the 256 byte characters (id = byte value) and a few merges.
json byte_level_tokenizer_json(bool merges_as_pairs) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[detail::byte_level_encode(std::string(1, static_cast<char>(b)))] = b;
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"\xC4\xA0", "t"}, {"h", "e"}, {"\xC4\xA0t", "he"}, {"i", "n"}, {"\xC4\xA0", "in"}, {"g", "s"},
  };
  int id = 256;
  json merge_list = json::array();
  for (const auto& [a, b] : merges) {
    vocab[a + b] = id++;
    merge_list.push_back(merges_as_pairs ? json::array({a, b}) : json(a + " " + b));
  }
  return {
      {"version", "1.0"},
      {"added_tokens", json::array({{{"id", 262}, {"content", "<|endoftext|>"}, {"special", true}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"byte_fallback", false},
                 {"vocab", vocab}, {"merges", merge_list}}},
  };
}

TEST(HfTokenizer, ByteLevelBpeByHand) {
  for (bool pairs : {false, true}) {
    TempDir dir;
    write_file(dir / "tokenizer.json", byte_level_tokenizer_json(pairs).dump());
    write_file(dir / "tokenizer_config.json",
               json{{"add_bos_token", false}, {"bos_token", "<|endoftext|>"}, {"eos_token", {{"content", "<|endoftext|>"}}},
                    {"chat_template", json::array({{{"name", "tool_use"}, {"template", "T"}}, {{"name", "default"}, {"template", "D"}}})}}
                   .dump());
    auto tok = Tokenizer::from_hf(dir.path());
    EXPECT_EQ(tok->vocab_size(), 263);
    // " the" -> Ġ t h e -> Ġt h e (rank 0) -> Ġt he (rank 1) -> Ġthe (rank 2) = 258.
    EXPECT_EQ(tok->encode(" the"), (std::vector<int32_t>{258}));
    // "the": t h e -> t he; no rule joins "t" and "he".
    EXPECT_EQ(tok->encode("the"), (std::vector<int32_t>{'t', 257}));
    // The GPT-2 regex splits "the things" into "the", " things": Ġt h i n g s -> Ġt h in gs.
    EXPECT_EQ(tok->encode("the things"), (std::vector<int32_t>{'t', 257, 256, 'h', 259, 261}));
    // " in": Ġ i n -> Ġ in (rank 3) -> Ġin (rank 4).
    EXPECT_EQ(tok->encode(" in\n"), (std::vector<int32_t>{260, '\n'}));
    // Every byte has a token, so any text survives.
    const std::string text = "Grüße, 世界! 🦙\n\ttabs  and  spaces ";
    EXPECT_EQ(tok->decode(tok->encode(text)), text);
    EXPECT_EQ(tok->encode("a<|endoftext|>b", {.add_special_tokens = true, .parse_special = true}),
              (std::vector<int32_t>{'a', 262, 'b'}));
    EXPECT_EQ(tok->bos_id(), 262);
    EXPECT_EQ(tok->eos_id(), 262);
    EXPECT_EQ(tok->stop_ids(), (std::vector<int32_t>{262}));
    EXPECT_EQ(tok->chat_template(), "D");
    EXPECT_TRUE(tok->is_special(262));
    EXPECT_EQ(tok->token_text(258), "\xC4\xA0the");
  }
}

TEST(HfTokenizer, PostProcessorAddsBosUnlessTheConfigSaysOtherwise) {
  TempDir dir;
  json j = byte_level_tokenizer_json(false);
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", json::array({{{"SpecialToken", {{"id", "<|endoftext|>"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
      {"pair", json::array()},
      {"special_tokens", {{"<|endoftext|>", {{"id", "<|endoftext|>"}, {"ids", {262}}, {"tokens", {"<|endoftext|>"}}}}}}};
  write_file(dir / "tokenizer.json", j.dump());
  auto with_template = Tokenizer::from_hf(dir.path());
  EXPECT_EQ(with_template->encode(" the"), (std::vector<int32_t>{262, 258}));
  EXPECT_EQ(with_template->encode(" the", kPlain), (std::vector<int32_t>{258}));
  EXPECT_EQ(with_template->bos_id(), 262);

  write_file(dir / "tokenizer_config.json", json{{"add_bos_token", false}, {"add_eos_token", true}, {"eos_token", "<|endoftext|>"}}.dump());
  auto configured = Tokenizer::from_hf(dir.path());
  EXPECT_EQ(configured->encode(" the"), (std::vector<int32_t>{258, 262}));
}

TEST(HfTokenizer, Llama3StyleSplitThenByteLevel) {
  TempDir dir;
  json j = byte_level_tokenizer_json(false);
  // One more merge, "3 4", at id 300: ids 263..299 are unused.
  j["model"]["vocab"]["34"] = 300;
  j["model"]["merges"].push_back("3 4");
  write_file(dir / "tokenizer.json", j.dump());
  auto gpt2_style = Tokenizer::from_hf(dir.path());
  // The GPT-2 regex keeps "123456" whole, so "3 4" merges.
  EXPECT_EQ(gpt2_style->encode("123456", kPlain), (std::vector<int32_t>{'1', '2', 300, '5', '6'}));

  json split = {{"type", "Split"},
                {"pattern", {{"Regex", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                       "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
                {"behavior", "Isolated"},
                {"invert", false}};
  json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}};
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", json::array({split, byte_level})}};
  j["model"]["ignore_merges"] = true;
  json bos = {{"SpecialToken", {{"id", "<|endoftext|>"}, {"type_id", 0}}}};
  json sequence = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
  json special = {{"<|endoftext|>", {{"id", "<|endoftext|>"}, {"ids", {262}}}}};
  json templated = {{"type", "TemplateProcessing"}, {"single", json::array({bos, sequence})}, {"special_tokens", special}};
  j["post_processor"] = {{"type", "Sequence"},
                         {"processors", json::array({json{{"type", "ByteLevel"}, {"add_prefix_space", true}}, templated})}};
  write_file(dir / "tokenizer.json", j.dump());
  auto llama3_style = Tokenizer::from_hf(dir.path());
  EXPECT_EQ(llama3_style->vocab_size(), 301);
  // Digits go in threes: "123" and "456", so no "34".
  EXPECT_EQ(llama3_style->encode("123456", kPlain), (std::vector<int32_t>{'1', '2', '3', '4', '5', '6'}));
  EXPECT_EQ(llama3_style->encode(" the"), (std::vector<int32_t>{262, 258}));
  // The contraction is a piece of its own ("DON", "'T"), and no merge crosses pieces.
  EXPECT_EQ(llama3_style->encode("DON'T", kPlain), (std::vector<int32_t>{'D', 'O', 'N', '\'', 'T'}));
  EXPECT_EQ(llama3_style->token_text(280), "");
  EXPECT_EQ(llama3_style->decode(std::vector<int32_t>{'a', 280, 'b'}), "ab");
}

// A Llama-2-style tokenizer: SentencePiece pieces with scores, converted to tokenizer.json the
// way Hugging Face converts them (every split of a piece into two pieces is a merge, ranked
// by the score of the piece), and the same vocabulary as a GGUF "llama" tokenizer.
struct SpmFixture {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;

  SpmFixture() {
    add("<unk>", 0, 2);
    add("<s>", 0, 3);
    add("</s>", 0, 3);
    for (int b = 0; b < 256; ++b) add(fmt::format("<0x{:02X}>", b), 0, 6);
    // Pieces by decreasing score, as SentencePiece lists them.
    const char* pieces[] = {"\xE2\x96\x81t", "he", "\xE2\x96\x81the", "in", "\xE2\x96\x81" "a", "er", "\xE2\x96\x81\xE2\x96\x81",
                            "lo", "\xE2\x96\x81w", "or", "ld", "\xE2\x96\x81wor", "\xE2\x96\x81world", "el", "hel", "hello",
                            "\xE2\x96\x81hello", "\xE2\x96\x81h", "\xE2\x96\x81", "t", "h", "e", "i", "n", "a", "r", "l",
                            "o", "w", "d", "s", "\xC3\xBC"};
    float score = -1;
    for (const char* p : pieces) add(p, score--, 1);
  }
  void add(std::string text, float score, int32_t type) {
    tokens.push_back(std::move(text));
    scores.push_back(score);
    types.push_back(type);
  }

  fs::path write_gguf(const fs::path& dir) const {
    gguf::Writer w;
    w.add("tokenizer.ggml.model", gguf::string_value("llama"));
    w.add("tokenizer.ggml.tokens", gguf::string_array(tokens));
    w.add("tokenizer.ggml.scores", gguf::number_array(gguf::ValueType::kF32, scores));
    w.add("tokenizer.ggml.token_type", gguf::number_array(gguf::ValueType::kI32, types));
    w.add("tokenizer.ggml.bos_token_id", gguf::Value{uint32_t{1}});
    w.add("tokenizer.ggml.eos_token_id", gguf::Value{uint32_t{2}});
    w.add("tokenizer.ggml.unknown_token_id", gguf::Value{uint32_t{0}});
    fs::path path = dir / "spm.gguf";
    w.write(path);
    return path;
  }

  json tokenizer_json() const {
    json vocab = json::object();
    std::map<std::string, int> ids;
    for (size_t i = 0; i < tokens.size(); ++i) {
      vocab[tokens[i]] = i;
      ids[tokens[i]] = static_cast<int>(i);
    }
    // Every (a, b) with a, b and a+b normal pieces, ordered by the score of a+b.
    std::vector<std::tuple<float, int, std::string, std::string>> merges;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (types[i] != 1) continue;
      for (size_t k = 0; k < tokens.size(); ++k) {
        if (types[k] != 1) continue;
        auto it = ids.find(tokens[i] + tokens[k]);
        if (it != ids.end() && types[static_cast<size_t>(it->second)] == 1) {
          merges.emplace_back(-scores[static_cast<size_t>(it->second)], it->second, tokens[i], tokens[k]);
        }
      }
    }
    std::sort(merges.begin(), merges.end());
    json merge_list = json::array();
    for (const auto& m : merges) merge_list.push_back(std::get<2>(m) + " " + std::get<3>(m));
    auto added = [](int id, const char* content) {
      return json{{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                  {"normalized", false}, {"special", true}};
    };
    return {
        {"version", "1.0"},
        {"added_tokens", json::array({added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")})},
        {"normalizer", {{"type", "Sequence"}, {"normalizers", json::array({
                            {{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
                            {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}}})}}},
        {"pre_tokenizer", nullptr},
        {"post_processor", {{"type", "TemplateProcessing"},
                            {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                                    {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                            {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
        {"decoder", {{"type", "Sequence"}, {"decoders", json::array({
                         {{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
                         {{"type", "ByteFallback"}}, {{"type", "Fuse"}},
                         {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}}},
        {"model", {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"fuse_unk", true},
                   {"byte_fallback", true}, {"vocab", vocab}, {"merges", merge_list}}},
    };
  }
  int32_t id(const std::string& text) const {
    return static_cast<int32_t>(std::find(tokens.begin(), tokens.end(), text) - tokens.begin());
  }
};

TEST(HfTokenizer, LlamaStyleSentencePieceByHandAndEqualToTheGgufPath) {
  SpmFixture spm;
  TempDir dir;
  write_file(dir / "tokenizer.json", spm.tokenizer_json().dump());
  write_file(dir / "tokenizer_config.json",
             json{{"add_bos_token", true}, {"add_eos_token", false}, {"bos_token", "<s>"}, {"eos_token", "</s>"}}.dump());
  auto hf = Tokenizer::from_hf(dir.path());
  auto gg = Tokenizer::from_gguf(gguf::File::read(spm.write_gguf(dir.path())));

  const std::string u = "\xE2\x96\x81";  // ▁
  // "hello world" -> "▁hello▁world": ▁hello is one piece; "▁world" wins over "▁wor"+"ld".
  const std::vector<int32_t> hello_world = {1, spm.id(u + "hello"), spm.id(u + "world")};
  EXPECT_EQ(hf->encode("hello world"), hello_world);
  EXPECT_EQ(gg->encode("hello world"), hello_world);
  // "€" is no piece: its three bytes (byte fallback).
  const std::vector<int32_t> euro = {spm.id(u), 3 + 0xE2, 3 + 0x82, 3 + 0xAC};
  EXPECT_EQ(hf->encode("€", kPlain), euro);
  EXPECT_EQ(gg->encode("€", kPlain), euro);
  EXPECT_EQ(hf->decode(euro), "€");

  for (const std::string text : {"the weather", "  two  spaces ", "hello\nworld", "Führer", "in the ertw lo", "",
                                 " ", "x y z", "hellohello helloworld", "🦙 and €"}) {
    EXPECT_EQ(hf->encode(text), gg->encode(text)) << shown(text);
    EXPECT_EQ(hf->decode(hf->encode(text)), text) << shown(text);
    EXPECT_EQ(gg->decode(gg->encode(text)), text) << shown(text);
  }
  EXPECT_EQ(hf->bos_id(), 1);
  EXPECT_EQ(hf->eos_id(), 2);
  EXPECT_EQ(hf->stop_ids(), (std::vector<int32_t>{2}));
  EXPECT_TRUE(hf->is_special(0));
  EXPECT_EQ(hf->decode(std::vector<int32_t>{1, spm.id(u + "hello")}, false), "<s> hello");
}

TEST(HfTokenizer, TinyFortunes) {
  if (!fs::exists(tiny_fortunes_dir() / "tokenizer.json")) {
    GTEST_SKIP() << "the tiny-fortunes model is not here: " << tiny_fortunes_dir();
  }
  auto tok = Tokenizer::from_hf(tiny_fortunes_dir());
  EXPECT_EQ(tok->vocab_size(), 4096);
  EXPECT_EQ(tok->bos_id(), 4095);
  EXPECT_EQ(tok->eos_id(), 4095);
  EXPECT_EQ(tok->stop_ids(), (std::vector<int32_t>{4095}));
  EXPECT_TRUE(tok->is_special(4095));
  ASSERT_TRUE(tok->chat_template().has_value());
  EXPECT_NE(tok->chat_template()->find("<|im_start|>"), std::string::npos);
  // add_bos_token is false: no BOS, with or without special tokens.
  const std::string text = "You will be awarded some great honor.\n\nA fool and his money are soon parted.";
  std::vector<int32_t> ids = tok->encode(text);
  EXPECT_EQ(ids, tok->encode(text, kPlain));
  EXPECT_NE(ids.front(), 4095);
  EXPECT_LT(ids.size(), text.size() / 2);  // merges happen
  EXPECT_EQ(tok->decode(ids), text);
  // The 256 byte tokens are ids 0..255 (README), so every text round-trips.
  EXPECT_EQ(tok->encode("A", kPlain), (std::vector<int32_t>{'A'}));
  for (const std::string t : {"Grüße 🦙 世界", "\t\n  x  ", "<|im_start|>user\nhi<|im_end|>\n"}) {
    EXPECT_EQ(tok->decode(tok->encode(t)), t) << shown(t);
  }
  // <|im_start|> is no token here: always plain text. <|endoftext|> is one, when parsed.
  std::vector<int32_t> chat = tok->encode("<|im_start|>", {.add_special_tokens = true, .parse_special = true});
  EXPECT_GT(chat.size(), 1u);
  EXPECT_EQ(tok->encode("<|endoftext|>", {.add_special_tokens = true, .parse_special = true}), (std::vector<int32_t>{4095}));
  EXPECT_GT(tok->encode("<|endoftext|>", kPlain).size(), 1u);
}

// ---- the pre-tokenizer regexes --------------------------------------------------------------

std::vector<std::string> pieces_of(const std::string& preset_name, std::string_view text) {
  detail::PreTokenizerPreset preset;
  EXPECT_TRUE(detail::pre_tokenizer_preset(preset_name, preset)) << preset_name;
  detail::TextPipeline pipeline;
  for (const std::string& re : preset.regexes) {
    pipeline.add_split(std::make_shared<detail::Regex>(re, preset_name), detail::SplitBehavior::kIsolated);
  }
  detail::PipelineScratch scratch;
  std::vector<std::string_view> pieces;
  pipeline.run(text, true, scratch, pieces);
  return {pieces.begin(), pieces.end()};
}

TEST(PreTokenizer, Llama3AndQwen2Splits) {
  using V = std::vector<std::string>;
  // Llama 3: up to three digits together, case-insensitive contractions, a letter run takes one
  // leading non-letter, newlines with the whitespace before them.
  EXPECT_EQ(pieces_of("llama-bpe", "Hello world 12345 DON'T\n\n  x!?"),
            (V{"Hello", " world", " ", "123", "45", " DON", "'T", "\n\n", " ", " x", "!?"}));
  EXPECT_EQ(pieces_of("qwen2", "ab 12345"), (V{"ab", " ", "1", "2", "3", "4", "5"}));
  EXPECT_EQ(pieces_of("gpt-2", "I'll  go"), (V{"I", "'ll", " ", " go"}));
  // Every preset compiles with PCRE2.
  for (const char* name : {"default", "llama3", "dbrx", "qwen2", "gpt-2", "mpt", "starcoder", "refact", "falcon",
                           "deepseek-coder", "deepseek-llm", "deepseek-v3", "gpt-4o", "tekken"}) {
    EXPECT_FALSE(pieces_of(name, "x").empty()) << name;
  }
}

// ---- streaming ------------------------------------------------------------------------------

TEST(StreamDecoder, ByteTokensFormOneCharacter) {
  SpmFixture spm;
  TempDir dir;
  auto tok = Tokenizer::from_gguf(gguf::File::read(spm.write_gguf(dir.path())));
  StreamDecoder stream(*tok);
  EXPECT_EQ(stream.push(1), "");  // BOS, skipped
  EXPECT_EQ(stream.push(3 + 0xE2), "");
  EXPECT_EQ(stream.push(3 + 0x82), "");
  EXPECT_EQ(stream.push(3 + 0xAC), "€");
  EXPECT_EQ(stream.push(spm.id("\xE2\x96\x81the")), " the");
  EXPECT_EQ(stream.flush(), "");

  // The first piece loses SentencePiece's space, as in decode().
  std::vector<int32_t> ids = tok->encode("the € hello");
  StreamDecoder again(*tok);
  std::string text;
  for (int32_t id : ids) text += again.push(id);
  text += again.flush();
  EXPECT_EQ(text, "the € hello");
  EXPECT_EQ(text, tok->decode(ids));

  // An unfinished character comes out of flush() as U+FFFD; a byte that starts nothing at once.
  StreamDecoder broken(*tok);
  EXPECT_EQ(broken.push(3 + 'a'), "a");
  EXPECT_EQ(broken.push(3 + 0xE2), "");
  EXPECT_EQ(broken.push(3 + 0x82), "");
  EXPECT_EQ(broken.flush(), "\xEF\xBF\xBD");
  StreamDecoder stray(*tok);
  EXPECT_EQ(stray.push(3 + 0x82), "\xEF\xBF\xBD");
  EXPECT_EQ(stray.push(3 + 0xE2), "");
  EXPECT_EQ(stray.push(3 + 'x'), "\xEF\xBF\xBDx");
}

TEST(StreamDecoder, ByteLevelTokensSplittingAnEmoji) {
  SKIP_WITHOUT_VECTORS();
  auto gpt2 = load_vocab("gpt-2");
  // " this is 🦙.cpp": 12520 is " \xF0\x9F", 99 "\xA6", 247 "\x99" (the reference ids).
  const std::vector<int32_t> ids = {428, 318, 12520, 99, 247, 13, 20322};
  EXPECT_EQ(gpt2->token_bytes(12520), " \xF0\x9F");
  StreamDecoder stream(*gpt2);
  std::vector<std::string> pieces;
  for (int32_t id : ids) pieces.push_back(stream.push(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{" this", " is", " ", "", "🦙", ".", "cpp"}));
  EXPECT_EQ(stream.flush(), "");
  EXPECT_EQ(gpt2->decode(ids), " this is 🦙.cpp");
}

// ---- errors ---------------------------------------------------------------------------------

fs::path write_vocab_gguf(const fs::path& dir, const std::string& model, const std::string& pre,
                          std::optional<uint32_t> bos = std::nullopt) {
  gguf::Writer w;
  w.add("tokenizer.ggml.model", gguf::string_value(model));
  if (!pre.empty()) w.add("tokenizer.ggml.pre", gguf::string_value(pre));
  w.add("tokenizer.ggml.tokens", gguf::string_array({"a", "b", "ab"}));
  w.add("tokenizer.ggml.merges", gguf::string_array({"a b"}));
  if (bos) w.add("tokenizer.ggml.bos_token_id", gguf::Value{*bos});
  fs::path path = dir / "vocab.gguf";
  w.write(path);
  return path;
}

TEST(TokenizerErrors, MissingTokenizerJson) {
  TempDir dir;
  EXPECT_TRUE(fails_with([&] { Tokenizer::from_hf(dir.path()); }, ErrorCode::kNotFound, {"tokenizer.json"}));
  EXPECT_TRUE(fails_with([&] { Tokenizer::from_hf(dir / "nowhere"); }, ErrorCode::kNotFound, {"nowhere"}));
  write_file(dir / "tokenizer.json", "{ not json");
  EXPECT_TRUE(fails_with([&] { Tokenizer::from_hf(dir.path()); }, ErrorCode::kBadFormat, {"tokenizer.json", "JSON"}));
}

TEST(TokenizerErrors, UnknownModelType) {
  TempDir dir;
  write_file(dir / "tokenizer.json", json{{"model", {{"type", "Unigram"}, {"vocab", json::array()}}}}.dump());
  EXPECT_TRUE(fails_with([&] { Tokenizer::from_hf(dir.path()); }, ErrorCode::kUnsupported, {"Unigram", "tokenizer.json"}));

  json j = byte_level_tokenizer_json(false);
  j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}};
  write_file(dir / "tokenizer.json", j.dump());
  EXPECT_TRUE(fails_with([&] { Tokenizer::from_hf(dir.path()); }, ErrorCode::kUnsupported, {"BertPreTokenizer", "pre_tokenizer"}));

  EXPECT_TRUE(fails_with([&] { Tokenizer::from_gguf(gguf::File::read(write_vocab_gguf(dir.path(), "bert", "default"))); },
                         ErrorCode::kUnsupported, {"bert", "tokenizer.ggml.model"}));
}

TEST(TokenizerErrors, UnknownPreTokenizer) {
  TempDir dir;
  EXPECT_TRUE(fails_with([&] { Tokenizer::from_gguf(gguf::File::read(write_vocab_gguf(dir.path(), "gpt2", "made-up-pre"))); },
                         ErrorCode::kUnsupported, {"made-up-pre", "tokenizer.ggml.pre"}));
  // A known one loads, and merges "a b".
  auto tok = Tokenizer::from_gguf(gguf::File::read(write_vocab_gguf(dir.path(), "gpt2", "gpt-2")));
  EXPECT_EQ(tok->encode("ab"), (std::vector<int32_t>{2}));
}

TEST(TokenizerErrors, BadIdsAndText) {
  TempDir dir;
  auto tok = Tokenizer::from_gguf(gguf::File::read(write_vocab_gguf(dir.path(), "gpt2", "gpt-2")));
  EXPECT_TRUE(fails_with([&] { tok->decode(std::vector<int32_t>{0, 7}); }, ErrorCode::kInvalidArgument, {"7", "out of range"}));
  EXPECT_TRUE(fails_with([&] { tok->decode(std::vector<int32_t>{-1}); }, ErrorCode::kInvalidArgument, {"-1"}));
  EXPECT_TRUE(fails_with([&] { tok->token_bytes(3); }, ErrorCode::kInvalidArgument, {"3"}));
  EXPECT_TRUE(fails_with([&] { tok->encode("a\xFF" "b"); }, ErrorCode::kInvalidArgument, {"UTF-8", "offset 1"}));
  StreamDecoder stream(*tok);
  EXPECT_TRUE(fails_with([&] { stream.push(99); }, ErrorCode::kInvalidArgument, {"99"}));

  EXPECT_TRUE(fails_with([&] { Tokenizer::from_gguf(gguf::File::read(write_vocab_gguf(dir.path(), "gpt2", "gpt-2", 3))); },
                         ErrorCode::kBadFormat, {"tokenizer.ggml.bos_token_id", "3"}));
  json j = byte_level_tokenizer_json(false);
  j["model"]["vocab"]["huge"] = 1'000'000'000;
  write_file(dir / "tokenizer.json", j.dump());
  EXPECT_TRUE(fails_with([&] { Tokenizer::from_hf(dir.path()); }, ErrorCode::kBadFormat, {"1000000000", "model.vocab"}));
}

// ---- speed ----------------------------------------------------------------------------------

TEST(TokenizerSpeed, OneMegabyteWellUnderASecond) {
  SKIP_WITHOUT_VECTORS();
  std::string corpus;
  for (const VectorCase& c : load_cases("gpt-2")) corpus += c.text + "\n";
  std::string text;
  while (text.size() < (1u << 20)) text += corpus;

  gguf::File gpt2_file = gguf::File::read(vectors_dir() / "ggml-vocab-gpt-2.gguf");
  // The same vocabulary with Llama 3's pre-tokenizer (and its whole-word shortcut).
  gguf::File llama3_file = gpt2_file;
  for (auto& [key, value] : llama3_file.metadata) {
    if (key == "tokenizer.ggml.pre") value = gguf::string_value("llama-bpe");
  }
  struct Run {
    const char* name;
    std::unique_ptr<Tokenizer> tokenizer;
  };
  Run runs[] = {{"gpt-2 byte-level BPE", Tokenizer::from_gguf(gpt2_file)},
                {"llama3-style byte-level BPE", Tokenizer::from_gguf(llama3_file)},
                {"SentencePiece (llama-spm)", load_vocab("llama-spm")}};
  for (Run& run : runs) {
    auto start = std::chrono::steady_clock::now();
    std::vector<int32_t> ids = run.tokenizer->encode(text, kPlain);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ timing ] %s: %zu bytes -> %zu tokens in %.3f s\n", run.name, text.size(), ids.size(), seconds);
    EXPECT_LT(seconds, 3.0) << run.name;
    EXPECT_EQ(run.tokenizer->decode(ids), text) << run.name;
  }
}

}  // namespace
}  // namespace llmrt::genai
