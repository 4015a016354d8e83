// The generation Pipeline end to end on synthetic models (HF and GGUF) and on the trained
// tiny-fortunes model: greedy generation equals greedy decoding with the float64 reference,
// the streamed text equals the final text, stop conditions, cancellation, chat, errors.
#include "llmrt/genai.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "golden/reference_model.h"
#include "runtime/synthetic_model.h"
#include "store/test_files.h"
#include "util/utf8.h"

namespace llmrt {
namespace {

using testing_util::fails_with;
using testing_util::TempDir;

SyntheticModelSpec spec_for(const std::string& arch) {
  SyntheticModelSpec s;
  s.arch = arch;
  s.vocab_size = 512;  // room for byte fallback and some merges
  s.max_position_embeddings = 128;
  s.seed = 11;
  return s;
}

// Greedy decoding with the reference: argmax of the last row, fed back one token at a time.
std::vector<int32_t> reference_greedy(golden::ReferenceModel& ref, const std::vector<int32_t>& prompt, size_t n) {
  std::vector<int32_t> out;
  auto logits = ref.forward(prompt);
  for (size_t i = 0; i < n; ++i) {
    const auto& row = logits.back();
    const auto next = static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
    out.push_back(next);
    if (i + 1 < n) logits = ref.forward({next});
  }
  return out;
}

struct Form {
  std::string arch;
  bool gguf;
};

class PipelineGreedy : public ::testing::TestWithParam<Form> {};

TEST_P(PipelineGreedy, EqualsReferenceGreedyAndStreamsTheSameText) {
  TempDir dir;
  const SyntheticModelSpec spec = spec_for(GetParam().arch);
  write_synthetic_hf(spec, dir / "hf");
  write_synthetic_gguf(spec, dir / "m.gguf");
  Pipeline pipe(GetParam().gguf ? dir / "m.gguf" : dir / "hf", "CPU", {.max_context = 96});
  GenerationConfig cfg;
  cfg.max_new_tokens = 12;
  cfg.ignore_eos = true;  // random weights may pick </s> at any step
  std::string streamed;
  int chunks = 0;
  GenerationResult r = pipe.generate("the quick brown fox", cfg, [&](std::string_view text) {
    EXPECT_TRUE(is_valid_utf8(text)) << "a chunk split a character";
    streamed += text;
    ++chunks;
    return false;
  });
  ASSERT_FALSE(r.prompt_token_ids.empty());
  EXPECT_EQ(r.prompt_token_ids.front(), 1) << "BOS first, as the tokenizer config says";
  EXPECT_EQ(r.generated_token_ids.size(), 12u);
  EXPECT_EQ(r.finish_reason, FinishReason::kLength);
  EXPECT_EQ(streamed, r.text);
  EXPECT_EQ(r.text, pipe.decode(r.generated_token_ids));
  auto ref = golden::ReferenceModel::load_hf(dir / "hf");
  EXPECT_EQ(r.generated_token_ids, reference_greedy(ref, r.prompt_token_ids, 12));
  EXPECT_EQ(r.perf.num_input_tokens, r.prompt_token_ids.size());
  EXPECT_EQ(r.perf.num_generated_tokens, 12u);
  EXPECT_GT(r.perf.ttft_ms, 0);
  EXPECT_GT(r.perf.tpot_ms, 0);
  EXPECT_NEAR(r.perf.throughput_tps, 1000.0 / r.perf.tpot_ms, 1e-6);
  EXPECT_GT(r.perf.load_time_ms, 0);
}

INSTANTIATE_TEST_SUITE_P(Models, PipelineGreedy,
                         ::testing::Values(Form{"llama", false}, Form{"llama3", true}, Form{"qwen2", true}, Form{"phi3", false}),
                         [](const auto& p) { return p.param.arch + (p.param.gguf ? "_gguf" : "_hf"); });

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    write_synthetic_hf(spec_for("llama"), *dir_ / "hf");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::filesystem::path model() { return *dir_ / "hf"; }
  static TempDir* dir_;
};
TempDir* PipelineTest::dir_ = nullptr;

TEST_F(PipelineTest, StopTokenIdsAndStopStrings) {
  Pipeline pipe(model(), "CPU", {.max_context = 96});
  GenerationConfig cfg;
  cfg.max_new_tokens = 16;
  cfg.ignore_eos = true;
  const GenerationResult full = pipe.generate("hello world", cfg);
  ASSERT_EQ(full.generated_token_ids.size(), 16u);
  // Stop at the token greedy decoding produces fifth.
  GenerationConfig by_id = cfg;
  by_id.stop_token_ids = {full.generated_token_ids[4]};
  const GenerationResult a = pipe.generate("hello world", by_id);
  const auto first = std::find(full.generated_token_ids.begin(), full.generated_token_ids.end(), full.generated_token_ids[4]);
  EXPECT_EQ(a.finish_reason, FinishReason::kStop);
  EXPECT_EQ(a.generated_token_ids.size(), static_cast<size_t>(first - full.generated_token_ids.begin()) + 1);
  // Stop strings cut the text (and are kept only when asked).
  ASSERT_GE(full.text.size(), 6u);
  const std::string stop = full.text.substr(full.text.size() / 2, 2);
  GenerationConfig by_text = cfg;
  by_text.stop_strings = {stop};
  const GenerationResult b = pipe.generate("hello world", by_text);
  EXPECT_EQ(b.finish_reason, FinishReason::kStop);
  EXPECT_EQ(b.text, full.text.substr(0, full.text.find(stop)));
  by_text.include_stop_str_in_output = true;
  const GenerationResult c = pipe.generate("hello world", by_text);
  EXPECT_EQ(c.text, full.text.substr(0, full.text.find(stop) + stop.size()));
}

TEST_F(PipelineTest, CancellationFromTheStreamer) {
  Pipeline pipe(model(), "CPU", {.max_context = 96});
  GenerationConfig cfg;
  cfg.max_new_tokens = 30;
  cfg.ignore_eos = true;
  int calls = 0;
  const GenerationResult r = pipe.generate("once upon a time", cfg, [&](std::string_view) { return ++calls == 2; });
  EXPECT_EQ(r.finish_reason, FinishReason::kCancelled);
  EXPECT_EQ(calls, 2);
  EXPECT_LT(r.generated_token_ids.size(), 30u);
}

TEST_F(PipelineTest, SamplingIsReproducibleBySeed) {
  Pipeline pipe(model(), "CPU", {.max_context = 96});
  GenerationConfig cfg;
  cfg.do_sample = true;
  cfg.temperature = 1.5f;
  cfg.top_k = 50;
  cfg.max_new_tokens = 20;
  cfg.ignore_eos = true;
  cfg.logprobs = 1;
  cfg.rng_seed = 7;
  const auto a = pipe.generate("seed test", cfg);
  const auto b = pipe.generate("seed test", cfg);
  cfg.rng_seed = 8;
  const auto c = pipe.generate("seed test", cfg);
  EXPECT_EQ(a.generated_token_ids, b.generated_token_ids);
  EXPECT_NE(a.generated_token_ids, c.generated_token_ids);
  ASSERT_EQ(a.logprobs.size(), a.generated_token_ids.size());
  for (float lp : a.logprobs) EXPECT_LE(lp, 0.0f);
}

TEST_F(PipelineTest, ChatKeepsHistoryAndUsesTheTemplate) {
  Pipeline pipe(model(), "CPU", {.max_context = 128});
  EXPECT_EQ(pipe.apply_chat_template({{"user", "hi"}}), "user: hi\nassistant:");
  GenerationConfig cfg;
  cfg.max_new_tokens = 4;
  cfg.ignore_eos = true;
  pipe.start_chat("be brief");
  const auto first = pipe.generate("hi", cfg);
  const auto second = pipe.generate("and then?", cfg);
  ASSERT_EQ(pipe.chat_history().size(), 5u);
  EXPECT_EQ(pipe.chat_history()[0].role, "system");
  EXPECT_EQ(pipe.chat_history()[2].content, first.text);
  EXPECT_EQ(pipe.chat_history()[4].content, second.text);
  // The second turn's prompt is the whole rendered chat so far.
  const std::string rendered = pipe.apply_chat_template({{"system", "be brief"}, {"user", "hi"}, {"assistant", first.text},
                                                         {"user", "and then?"}});
  EXPECT_EQ(pipe.decode(second.prompt_token_ids), rendered);
  // The same reply as a one-off generate(messages) on a fresh sequence (the cache reuse is exact).
  pipe.finish_chat();
  const auto replay = pipe.generate(std::vector<ChatMessage>{{"system", "be brief"}, {"user", "hi"}, {"assistant", first.text},
                                                             {"user", "and then?"}},
                                    cfg);
  EXPECT_EQ(replay.generated_token_ids, second.generated_token_ids);
}

TEST_F(PipelineTest, ErrorsAPersonWillHit) {
  EXPECT_TRUE(fails_with([] { Pipeline p("/no/such/model"); }, ErrorCode::kNotFound, {"/no/such/model"}));
  EXPECT_TRUE(fails_with([] { Pipeline p(model(), "NPU"); }, ErrorCode::kNotFound, {"'NPU'", "available: CPU"}));
  Pipeline pipe(model(), "CPU", {.max_context = 16});
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "the ";
  EXPECT_TRUE(fails_with([&] { pipe.generate(long_prompt); }, ErrorCode::kOutOfRange, {"context window of 16"}));
  GenerationConfig bad;
  bad.do_sample = true;
  bad.top_p = 0;
  EXPECT_TRUE(fails_with([&] { pipe.generate("hi", bad); }, ErrorCode::kInvalidArgument, {"top_p"}));
  // After errors the pipeline still works.
  GenerationConfig ok;
  ok.max_new_tokens = 3;
  ok.ignore_eos = true;
  EXPECT_EQ(pipe.generate("hi", ok).generated_token_ids.size(), 3u);
}

TEST_F(PipelineTest, GenerationStopsWhenTheContextIsFull) {
  Pipeline pipe(model(), "CPU", {.max_context = 12});
  GenerationConfig cfg;
  cfg.max_new_tokens = 100;
  cfg.ignore_eos = true;
  const auto r = pipe.generate("hi", cfg);
  EXPECT_EQ(r.finish_reason, FinishReason::kLength);
  EXPECT_EQ(r.prompt_token_ids.size() + r.generated_token_ids.size(), 13u) << "the last token is sampled, never fed";
}

// The trained tiny-fortunes model: real text, greedy equals the reference's greedy.
TEST(PipelineFortunes, GreedyEqualsReference) {
  const auto dir = std::filesystem::path(LLMRT_TEST_SOURCE_DIR) / ".." / "shared" / "models" / "tiny-fortunes";
  if (!std::filesystem::exists(dir / "tokenizer.json")) GTEST_SKIP() << "no ../shared/models/tiny-fortunes beside the checkout";
  Pipeline pipe(dir, "CPU", {.max_context = 128});
  GenerationConfig cfg;
  cfg.max_new_tokens = 24;
  const auto r = pipe.generate("A friend in need", cfg);
  auto ref = golden::ReferenceModel::load_hf(dir);
  auto want = reference_greedy(ref, r.prompt_token_ids, r.generated_token_ids.size());
  EXPECT_EQ(r.generated_token_ids, want);
  EXPECT_FALSE(r.text.empty());
  std::printf("tiny-fortunes: \"A friend in need%s\"\n", r.text.c_str());
}

}  // namespace
}  // namespace llmrt
