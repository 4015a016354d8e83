// llmrt-perplexity run as a user runs it, checked against a perplexity, KL divergence and top-1
// agreement computed here: the public API (Core, compile with every row's logits, a fresh
// request per window), this file's own double log-softmax and windowing, and token counts
// derived from the windowing formulas.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/program.h"
#include "genai/tokenizer.h"
#include "llmrt/runtime.hpp"
#include "store/test_files.h"

namespace llmrt {
namespace {

namespace fs = std::filesystem;
using testing_util::ProgramRun;
using testing_util::run_program;
using testing_util::TempDir;

// A few hundred tokens of plain English for every model here.
constexpr const char* kText =
    "The lighthouse keeper wrote in his log every evening, even when nothing had happened. He noted the wind, the colour "
    "of the sea and the ships that passed too far out to wave at. In the spring a family of gulls nested on the gallery "
    "rail, and he wrote about them too: how many eggs, which one hatched first, how the smallest bird learned to fly "
    "later than the others but flew the farthest once it did. When the supply boat came he asked the sailors for news "
    "of the town, and they told him about the new bakery, the flooded road and the mayor who had lost his hat in the "
    "harbour. He laughed at the hat and worried about the road. At night the lamp turned slowly above him, and he "
    "listened to the engine that kept it turning, a patient sound like someone breathing in the next room. Years later, "
    "when the light was run by a machine and the keeper had moved into the town, people found his logs in a cupboard "
    "and read them aloud at the bakery. Nobody remembered the ships, but everyone remembered the gulls.\n";

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// log p(v) for every v of a row of logits, in double.
std::vector<double> log_softmax(const float* row, int64_t n) {
  double max = row[0];
  for (int64_t v = 1; v < n; ++v) max = std::max(max, static_cast<double>(row[v]));
  double sum = 0;
  for (int64_t v = 0; v < n; ++v) sum += std::exp(static_cast<double>(row[v]) - max);
  const double log_z = max + std::log(sum);
  std::vector<double> out(static_cast<size_t>(n));
  for (int64_t v = 0; v < n; ++v) out[static_cast<size_t>(v)] = static_cast<double>(row[v]) - log_z;
  return out;
}

struct Expected {
  int64_t text_tokens = 0, windows = 0, scored = 0;
  double ppl = 0, base_ppl = 0, kl_mean = 0, top1 = 0;
};

// The perplexity (and with a base, KL(base || model) and top-1 agreement) as the tool's method
// describes it, computed independently. `bos`: whether windows start with the tokenizer's BOS.
Expected expected(const fs::path& model_dir, const std::optional<fs::path>& base_dir, const std::string& text, int64_t ctx,
                  bool bos) {
  const auto tokenizer = genai::Tokenizer::from_hf(model_dir);
  const std::vector<int32_t> ids = tokenizer->encode(text, {.add_special_tokens = false, .parse_special = false});
  Core core;
  const Model model = core.read_model(model_dir);
  const CompiledModel compiled = core.compile(model, "CPU", {.max_context = ctx, .last_token_logits = false});
  std::optional<CompiledModel> base_compiled;
  if (base_dir) base_compiled = core.compile(core.read_model(*base_dir), "CPU", {.max_context = ctx, .last_token_logits = false});
  const int64_t vocab = model.info().vocab_size;
  const size_t step = static_cast<size_t>(bos ? ctx - 1 : ctx);
  Expected e;
  e.text_tokens = static_cast<int64_t>(ids.size());
  double nll = 0, base_nll = 0, kl = 0;
  int64_t agree = 0;
  for (size_t at = 0; at < ids.size(); at += step) {
    std::vector<int32_t> window;
    if (bos) window.push_back(*tokenizer->bos_id());
    window.insert(window.end(), ids.begin() + static_cast<long>(at), ids.begin() + static_cast<long>(std::min(ids.size(), at + step)));
    if (window.size() < 2) break;
    const std::vector<float> logits = compiled.create_request().infer(window);
    std::vector<float> base_logits;
    if (base_compiled) base_logits = base_compiled->create_request().infer(window);
    for (size_t r = 0; r + 1 < window.size(); ++r) {
      const float* row = logits.data() + r * static_cast<size_t>(vocab);
      const std::vector<double> lp = log_softmax(row, vocab);
      nll -= lp[static_cast<size_t>(window[r + 1])];
      ++e.scored;
      if (!base_compiled) continue;
      const float* base_row = base_logits.data() + r * static_cast<size_t>(vocab);
      const std::vector<double> base_lp = log_softmax(base_row, vocab);
      base_nll -= base_lp[static_cast<size_t>(window[r + 1])];
      for (int64_t v = 0; v < vocab; ++v) {
        kl += std::exp(base_lp[static_cast<size_t>(v)]) * (base_lp[static_cast<size_t>(v)] - lp[static_cast<size_t>(v)]);
      }
      agree += std::max_element(row, row + vocab) - row == std::max_element(base_row, base_row + vocab) - base_row;
    }
    ++e.windows;
  }
  e.ppl = std::exp(nll / static_cast<double>(e.scored));
  e.base_ppl = std::exp(base_nll / static_cast<double>(e.scored));
  e.kl_mean = kl / static_cast<double>(e.scored);
  e.top1 = static_cast<double>(agree) / static_cast<double>(e.scored);
  return e;
}

class Perplexity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    convert("--synthetic tiny -o " + path("tiny"));
    convert("--synthetic tiny --seed 7 -o " + path("tiny-seed7"));
    // The same model whose tokenizer config adds no BOS (add_bos_token wins over tokenizer.json's post-processor).
    fs::copy(*dir_ / "tiny", *dir_ / "tiny-nobos", fs::copy_options::recursive);
    nlohmann::json config = nlohmann::json::parse(read_file(*dir_ / "tiny-nobos" / "tokenizer_config.json"));
    config["add_bos_token"] = false;
    std::ofstream(*dir_ / "tiny-nobos" / "tokenizer_config.json", std::ios::trunc) << config.dump(2);
    std::ofstream(*dir_ / "text.txt") << kText;
  }
  static void TearDownTestSuite() { delete dir_; }
  static void convert(const std::string& args) {
    ProgramRun r = run_program(std::string(LLMRT_CONVERT) + " " + args);
    ASSERT_EQ(r.exit_code, 0) << args << ": " << r.err;
  }
  static std::string path(const std::string& name) { return (*dir_ / name).string(); }
  static ProgramRun perplexity(const std::string& args) { return run_program(std::string(LLMRT_PERPLEXITY) + " " + args); }
  // The tool's --json object (null, with a test failure, when it did not succeed).
  static nlohmann::json perplexity_json(const std::string& args) {
    ProgramRun r = perplexity(args + " --json");
    EXPECT_EQ(r.exit_code, 0) << args << ": " << r.err;
    if (r.exit_code != 0) return nullptr;
    return nlohmann::json::parse(r.out);
  }
  static TempDir* dir_;
};
TempDir* Perplexity::dir_ = nullptr;

::testing::AssertionResult near_relative(double actual, double expected, double tolerance) {
  if (std::abs(actual - expected) <= tolerance * std::abs(expected)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << actual << " vs " << expected << " (relative " << std::abs(actual - expected) / std::abs(expected)
                                       << ")";
}

TEST_F(Perplexity, WithBosMatchesOwnComputationAndScoresEveryTextToken) {
  const int64_t ctx = 48;
  const nlohmann::json j = perplexity_json("-m " + path("tiny") + " -f " + path("text.txt") + " --ctx " + std::to_string(ctx));
  ASSERT_FALSE(j.is_null());
  const Expected e = expected(*dir_ / "tiny", std::nullopt, kText, ctx, /*bos=*/true);
  ASSERT_GT(e.text_tokens, 3 * ctx) << "the text should fill several windows";
  EXPECT_EQ(j["bos_added"], true);
  EXPECT_EQ(j["ctx"], ctx);
  EXPECT_EQ(j["text_tokens"], e.text_tokens);
  // [BOS] + ctx-1 text tokens per window: every text token is scored, the last partial window too.
  const int64_t windows = (e.text_tokens + ctx - 2) / (ctx - 1);
  EXPECT_EQ(e.scored, e.text_tokens);
  EXPECT_EQ(e.windows, windows);
  EXPECT_EQ(j["tokens_scored"], e.text_tokens);
  EXPECT_EQ(j["windows"], windows);
  EXPECT_TRUE(near_relative(j["ppl"].get<double>(), e.ppl, 1e-6));
  EXPECT_TRUE(near_relative(j["nll_mean"].get<double>(), std::log(e.ppl), 1e-6));
  EXPECT_GT(e.ppl, 1.0);
  for (const char* k : {"seconds", "tokens_per_s"}) EXPECT_GT(j[k].get<double>(), 0) << k;
  EXPECT_NE(j["method"].get<std::string>().find("BOS"), std::string::npos) << j["method"];
  EXPECT_FALSE(j.contains("kl_mean"));
}

TEST_F(Perplexity, WithoutBosEveryWindowsFirstTextTokenIsUnscored) {
  const auto tokenizer = genai::Tokenizer::from_hf(*dir_ / "tiny-nobos");
  const auto length = static_cast<int64_t>(tokenizer->encode(kText, {.add_special_tokens = false}).size());
  ASSERT_TRUE(tokenizer->encode("", {.add_special_tokens = true}).empty()) << "the edited config should add nothing";
  // A context whose last window has >= 2 tokens (scored), and one whose last window is a lone
  // token (not a window: nothing to score).
  std::optional<int64_t> scored_tail, lone_tail;
  for (int64_t ctx = 16; ctx < length && !(scored_tail && lone_tail); ++ctx) {
    if (length % ctx >= 2 && !scored_tail) scored_tail = ctx;
    if (length % ctx == 1 && !lone_tail) lone_tail = ctx;
  }
  ASSERT_TRUE(scored_tail && lone_tail) << length;
  for (int64_t ctx : {*scored_tail, *lone_tail}) {
    SCOPED_TRACE("ctx " + std::to_string(ctx));
    const nlohmann::json j = perplexity_json("-m " + path("tiny-nobos") + " -f " + path("text.txt") + " --ctx " + std::to_string(ctx));
    ASSERT_FALSE(j.is_null());
    const Expected e = expected(*dir_ / "tiny-nobos", std::nullopt, kText, ctx, /*bos=*/false);
    const int64_t full = length / ctx, tail = length % ctx;
    EXPECT_EQ(j["bos_added"], false);
    EXPECT_EQ(j["text_tokens"], length);
    EXPECT_EQ(j["windows"], full + (tail >= 2 ? 1 : 0));
    EXPECT_EQ(j["tokens_scored"], full * (ctx - 1) + std::max<int64_t>(tail - 1, 0));
    EXPECT_EQ(j["tokens_scored"], e.scored);
    EXPECT_TRUE(near_relative(j["ppl"].get<double>(), e.ppl, 1e-6));
  }
}

TEST_F(Perplexity, MaxWindowsStopsEarly) {
  const nlohmann::json j = perplexity_json("-m " + path("tiny") + " -f " + path("text.txt") + " --ctx 32 --max-windows 2");
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(j["windows"], 2);
  EXPECT_EQ(j["tokens_scored"], 2 * 31);
  EXPECT_EQ(j["tokens_evaluated"], 2 * 32);
  EXPECT_NE(j["method"].get<std::string>().find("--max-windows"), std::string::npos) << j["method"];
}

TEST_F(Perplexity, KlAgainstItselfIsZeroWithFullAgreement) {
  const nlohmann::json j = perplexity_json("-m " + path("tiny") + " -f " + path("text.txt") + " --ctx 64 --kl-base " + path("tiny"));
  ASSERT_FALSE(j.is_null());
  EXPECT_LT(std::abs(j["kl_mean"].get<double>()), 1e-9);
  EXPECT_LT(std::abs(j["kl_max"].get<double>()), 1e-9);
  EXPECT_EQ(j["top1_agreement"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["base_ppl"].get<double>(), j["ppl"].get<double>());
}

TEST_F(Perplexity, KlAgainstAnotherModelMatchesOwnComputation) {
  const int64_t ctx = 64;
  const nlohmann::json j = perplexity_json("-m " + path("tiny") + " -f " + path("text.txt") + " --ctx " + std::to_string(ctx) +
                                           " --kl-base " + path("tiny-seed7"));
  ASSERT_FALSE(j.is_null());
  const Expected e = expected(*dir_ / "tiny", *dir_ / "tiny-seed7", kText, ctx, /*bos=*/true);
  const double kl_mean = j["kl_mean"].get<double>(), top1 = j["top1_agreement"].get<double>();
  EXPECT_GT(kl_mean, 0.0);
  EXPECT_LT(top1, 1.0);
  EXPECT_TRUE(near_relative(kl_mean, e.kl_mean, 1e-6));
  EXPECT_NEAR(top1, e.top1, 1e-12);
  EXPECT_TRUE(near_relative(j["ppl"].get<double>(), e.ppl, 1e-6));
  EXPECT_TRUE(near_relative(j["base_ppl"].get<double>(), e.base_ppl, 1e-6));
  EXPECT_NE(j["ppl"].get<double>(), j["base_ppl"].get<double>());
  EXPECT_LE(j["kl_p99"].get<double>(), j["kl_max"].get<double>());
  EXPECT_GE(j["kl_max"].get<double>(), kl_mean);
  EXPECT_EQ(j["tokens_scored"], e.scored);
}

TEST_F(Perplexity, GgufFormOfTheSameWeightsGivesTheSamePerplexity) {
  convert("--synthetic tiny --gguf -o " + path("tiny.gguf"));
  const nlohmann::json hf = perplexity_json("-m " + path("tiny") + " -f " + path("text.txt") + " --ctx 64");
  const nlohmann::json gguf = perplexity_json("-m " + path("tiny.gguf") + " -f " + path("text.txt") + " --ctx 64");
  ASSERT_FALSE(hf.is_null() || gguf.is_null());
  EXPECT_EQ(gguf["bos_added"], true);
  EXPECT_EQ(gguf["tokens_scored"], hf["tokens_scored"]);
  EXPECT_TRUE(near_relative(gguf["ppl"].get<double>(), hf["ppl"].get<double>(), 1e-4));
}

TEST_F(Perplexity, TextOutputStatesTheMethodThenTheNumbers) {
  ProgramRun r = perplexity("-m " + path("tiny") + " -f " + path("text.txt") + " --ctx 64 -t 1 --kl-base " + path("tiny-seed7"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("method ", 0), 0u) << r.out;
  for (const char* needle : {"each window's first", "position 0", "ppl ", "KL ", "top-1 ", "tokens/s"}) {
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle << " in\n" << r.out;
  }
}

TEST_F(Perplexity, ErrorsNameTheProblem) {
  const std::string tiny = "-m " + path("tiny") + " ";
  const std::string text = "-f " + path("text.txt") + " ";
  struct Case {
    std::string args;
    int exit_code;
    std::string needle;
  };
  std::ofstream(*dir_ / "empty.txt");
  std::ofstream(*dir_ / "one.txt") << "a";
  convert("--synthetic small -o " + path("small"));
  const std::vector<Case> cases = {
      {tiny + "-f " + path("no-such.txt"), 1, "no-such.txt"},
      {tiny + "-f " + path("empty.txt"), 1, "is empty"},
      {tiny + "-f " + path("one.txt"), 1, "at least 2"},
      {tiny + text + "--ctx 1", 2, "--ctx"},
      {tiny + text + "--ctx 513", 1, "larger than the context"},
      {tiny + text + "--kl-base " + path("small"), 1, "vocabulary sizes differ"},
      {tiny + text + "--kl-base " + path("no-such-model"), 1, "no-such-model"},
      {"-m " + path("no-such-model") + " " + text, 1, "no-such-model"},
      {tiny, 2, "-f TEXT is required"},
      {tiny + text + "--max-windows 0", 2, "--max-windows"},
  };
  for (const Case& c : cases) {
    ProgramRun r = perplexity(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << ": " << r.err;
  }
  ProgramRun vocab = perplexity(tiny + text + "--kl-base " + path("small"));
  EXPECT_NE(vocab.err.find("512"), std::string::npos) << vocab.err;
  EXPECT_NE(vocab.err.find("4096"), std::string::npos) << vocab.err;
}

// A trained model: its perplexity on English text is far below the ~vocabulary-sized
// perplexity of random weights.
TEST_F(Perplexity, TinyFortunesIsFarBelowItsVocabularySize) {
  const fs::path model = fs::path(LLMRT_TEST_SOURCE_DIR) / ".." / "shared" / "models" / "tiny-fortunes";
  if (!fs::exists(model / "tokenizer.json")) GTEST_SKIP() << "no ../shared/models/tiny-fortunes beside the checkout (" << model << ")";
  const nlohmann::json j = perplexity_json("-m " + model.string() + " -f " + path("text.txt") + " --ctx 128");
  ASSERT_FALSE(j.is_null());
  const double ppl = j["ppl"].get<double>();
  std::cout << "[ tiny-fortunes ] ppl " << ppl << " over " << j["tokens_scored"] << " tokens (" << j["windows"]
            << " windows of 128, no BOS)\n";
  EXPECT_EQ(j["bos_added"], false) << "its tokenizer_config.json has add_bos_token: false";
  EXPECT_GT(j["tokens_scored"].get<int64_t>(), 150);
  EXPECT_GT(ppl, 1.0);
  EXPECT_LT(ppl, 4096.0 / 8) << "a trained model should be far below its vocabulary of 4096";
  const Expected e = expected(model, std::nullopt, kText, 128, /*bos=*/false);
  EXPECT_TRUE(near_relative(ppl, e.ppl, 1e-6));
}

}  // namespace
}  // namespace llmrt
