// The ServingEngine end to end on a synthetic model: batched greedy outputs equal the
// one-at-a-time Pipeline's, prefix-cache hits skip prefill (counted), preemption under a tiny
// cache still completes every request with the same text, num_return_sequences share the
// prompt (copy-on-write) and sample by seed, cancellation, draining, and errors.
#include "llmrt/serving.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "llmrt/genai.hpp"
#include "runtime/synthetic_model.h"
#include "store/test_files.h"

namespace llmrt {
namespace {

using testing_util::fails_with;
using testing_util::TempDir;

class Serving : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    SyntheticModelSpec s;
    s.arch = "llama";
    s.vocab_size = 512;
    s.max_position_embeddings = 256;
    s.seed = 11;
    write_synthetic_hf(s, *dir_ / "hf");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::filesystem::path model() { return *dir_ / "hf"; }
  static TempDir* dir_;

  static GenerationConfig greedy(size_t n) {
    GenerationConfig c;
    c.max_new_tokens = n;
    c.ignore_eos = true;
    return c;
  }
  // What the single-sequence Pipeline generates for each prompt.
  static std::vector<GenerationResult> one_at_a_time(const std::vector<std::string>& prompts, const GenerationConfig& cfg) {
    Pipeline pipe(model(), "CPU", {.max_context = 128});
    std::vector<GenerationResult> out;
    for (const auto& p : prompts) out.push_back(pipe.generate(p, cfg));
    return out;
  }
  static const std::vector<std::string>& prompts() {
    static const std::vector<std::string> p = {
        "the quick brown fox jumps over the lazy dog",
        "hello",
        "once upon a time there was a little engine that could run many requests",
        "a b c d e f g",
        "the quick brown fox is quick",
        "zebra"};
    return p;
  }
};
TempDir* Serving::dir_ = nullptr;

TEST_F(Serving, BatchedGreedyEqualsOneAtATime) {
  const GenerationConfig cfg = greedy(10);
  const auto want = one_at_a_time(prompts(), cfg);
  SchedulerConfig sc;
  sc.block_size = 4;
  sc.max_num_batched_tokens = 16;  // prompts are split into chunks beside other sequences' decodes
  sc.max_context = 128;
  sc.enable_prefix_caching = false;
  ServingEngine engine(model(), "CPU", sc);
  std::vector<GenerationHandle> handles;
  for (const auto& p : prompts()) handles.push_back(engine.add_request(p, cfg));
  for (size_t i = 0; i < handles.size(); ++i) {
    std::string streamed;
    size_t tokens = 0;
    while (auto out = handles[i].read()) {
      EXPECT_EQ(out->index, 0u);
      streamed += out->text;
      tokens += out->token_ids.size();
    }
    const auto r = handles[i].wait();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].generated_token_ids, want[i].generated_token_ids) << "prompt " << i;
    EXPECT_EQ(r[0].text, want[i].text);
    EXPECT_EQ(streamed, r[0].text) << "the stream adds up to the result";
    EXPECT_EQ(tokens, 10u);
    EXPECT_EQ(r[0].finish_reason, FinishReason::kLength);
    EXPECT_EQ(r[0].prompt_token_ids, want[i].prompt_token_ids);
    EXPECT_GT(r[0].perf.ttft_ms, 0);
    EXPECT_GT(r[0].perf.tpot_ms, 0);
  }
  engine.wait_idle();  // metrics are as of the last finished step
  const ServingMetrics m = engine.metrics();
  EXPECT_EQ(m.requests_finished, prompts().size());
  EXPECT_EQ(m.generated_tokens, 60u);
  EXPECT_LT(m.steps, 60u) << "sequences shared steps";
  EXPECT_EQ(m.kv_blocks_used, 0) << "finished sequences gave their blocks back";
}

TEST_F(Serving, PrefixCacheHitsSkipTheSharedPrefill) {
  SchedulerConfig sc;
  sc.block_size = 4;
  sc.max_context = 128;
  ServingEngine engine(model(), "CPU", sc);
  const std::string system = "you are a helpful assistant who answers in short sentences about foxes and dogs. ";
  const GenerationConfig cfg = greedy(6);
  auto first = engine.add_request(system + "tell me about the fox", cfg);
  const auto r1 = first.wait();
  EXPECT_EQ(first.cached_prompt_tokens(), 0u);
  auto second = engine.add_request(system + "tell me about the dog", cfg);
  const auto r2 = second.wait();
  engine.wait_idle();  // metrics are as of the last finished step
  const size_t shared = engine.encode(system).size();
  EXPECT_GE(second.cached_prompt_tokens(), shared - shared % 4 - 4) << "all full blocks of the shared system prompt";
  EXPECT_LT(second.cached_prompt_tokens(), r2[0].prompt_token_ids.size());
  const ServingMetrics m = engine.metrics();
  EXPECT_EQ(m.prefix_hits, second.cached_prompt_tokens());
  EXPECT_EQ(m.prompt_tokens, r1[0].prompt_token_ids.size() + r2[0].prompt_token_ids.size() - second.cached_prompt_tokens())
      << "the hit tokens were not computed again";
  // The same text as without the cache.
  const auto want = one_at_a_time({system + "tell me about the dog"}, cfg);
  EXPECT_EQ(r2[0].generated_token_ids, want[0].generated_token_ids);
}

TEST_F(Serving, PreemptionUnderATinyCacheCompletesEveryRequestWithTheSameText) {
  const GenerationConfig cfg = greedy(12);
  const auto want = one_at_a_time(prompts(), cfg);
  SchedulerConfig sc;
  sc.block_size = 4;
  sc.num_kv_blocks = 16;  // 64 positions: the longest sequence needs ~50, all six ~170
  sc.max_context = 128;
  sc.max_num_batched_tokens = 64;
  sc.enable_prefix_caching = false;
  ServingEngine engine(model(), "CPU", sc);
  std::vector<GenerationHandle> handles;
  for (const auto& p : prompts()) handles.push_back(engine.add_request(p, cfg));
  for (size_t i = 0; i < handles.size(); ++i) {
    const auto r = handles[i].wait();
    EXPECT_EQ(r[0].generated_token_ids, want[i].generated_token_ids) << "prompt " << i;
    EXPECT_EQ(r[0].finish_reason, FinishReason::kLength);
  }
  engine.wait_idle();
  EXPECT_GT(engine.metrics().preemptions, 0u) << "the cache was meant to run out";
}

TEST_F(Serving, SeveralSequencesShareThePromptAndSampleBySeed) {
  SchedulerConfig sc;
  sc.block_size = 4;
  sc.max_context = 128;
  ServingEngine engine(model(), "CPU", sc);
  const std::string prompt = "the quick brown fox jumps";  // not a whole number of blocks
  // Greedy: every copy writes into the shared partial block after a copy, and all agree.
  GenerationConfig g = greedy(8);
  g.num_return_sequences = 3;
  const auto single = engine.add_request(prompt, greedy(8)).wait();
  auto h = engine.add_request(prompt, g);
  std::vector<std::string> streamed(3);
  while (auto out = h.read()) {
    ASSERT_LT(out->index, 3u);
    streamed[out->index] += out->text;
  }
  const auto all = h.wait();
  ASSERT_EQ(all.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(all[i].generated_token_ids, single[0].generated_token_ids) << "sequence " << i;
    EXPECT_EQ(streamed[i], all[i].text);
  }
  // Sampling: sequence i draws as a single request seeded rng_seed + i.
  GenerationConfig s = greedy(8);
  s.do_sample = true;
  s.temperature = 1.5f;
  s.rng_seed = 40;
  s.num_return_sequences = 2;
  const auto pair = engine.add_request(prompt, s).wait();
  GenerationConfig s0 = s, s1 = s;
  s0.num_return_sequences = s1.num_return_sequences = 1;
  s1.rng_seed = 41;
  EXPECT_EQ(pair[0].generated_token_ids, engine.add_request(prompt, s0).wait()[0].generated_token_ids);
  EXPECT_EQ(pair[1].generated_token_ids, engine.add_request(prompt, s1).wait()[0].generated_token_ids);
  EXPECT_NE(pair[0].generated_token_ids, pair[1].generated_token_ids) << "two seeds, two texts (temperature 1.5)";
}

TEST_F(Serving, CancelStopsARequestAndFreesItsBlocks) {
  SchedulerConfig sc;
  sc.max_context = 128;
  ServingEngine engine(model(), "CPU", sc);
  auto h = engine.add_request("once upon a time", greedy(100));
  ASSERT_TRUE(h.read().has_value());
  h.cancel();
  const auto r = h.wait();
  EXPECT_EQ(r[0].finish_reason, FinishReason::kCancelled);
  EXPECT_LT(r[0].generated_token_ids.size(), 100u);
  engine.drain();
  EXPECT_EQ(engine.metrics().kv_blocks_used, 0);
  EXPECT_TRUE(fails_with([&] { engine.add_request("more", greedy(2)); }, ErrorCode::kCancelled, {"draining"}));
}

TEST_F(Serving, CancellingBeforeTheFirstTokenEndsEverySequenceOfTheRequest) {
  SchedulerConfig sc;
  sc.max_context = 128;
  sc.step_thread = false;  // the test decides when steps run
  ServingEngine engine(model(), "CPU", sc);
  GenerationConfig c = greedy(8);
  c.num_return_sequences = 3;
  auto h = engine.add_request("the quick brown fox", c);
  h.cancel();  // before any step: the other two sequences were never forked
  engine.wait_idle();
  ASSERT_TRUE(h.finished());
  const auto r = h.wait();
  ASSERT_EQ(r.size(), 3u);
  for (const auto& one : r) EXPECT_EQ(one.finish_reason, FinishReason::kCancelled);
  EXPECT_EQ(engine.metrics().requests_finished, 1u);
  EXPECT_EQ(engine.metrics().kv_blocks_used, 0);
}

TEST_F(Serving, TheContextIsClampedToWhatTheCacheHolds) {
  SchedulerConfig sc;
  sc.max_context = 128;
  sc.num_kv_blocks = 5;
  sc.block_size = 4;
  ServingEngine engine(model(), "CPU", sc);
  EXPECT_EQ(engine.max_context(), 20) << "one sequence may use the whole cache, never more";
  const auto r = engine.add_request("the quick brown fox", greedy(100)).wait()[0];
  EXPECT_EQ(r.finish_reason, FinishReason::kLength);
  EXPECT_EQ(r.prompt_token_ids.size() + r.generated_token_ids.size(), 21u);
}

TEST_F(Serving, RequestsFromManyThreadsAllComplete) {
  SchedulerConfig sc;
  sc.max_context = 128;
  sc.block_size = 8;
  ServingEngine engine(model(), "CPU", sc);
  const auto want = one_at_a_time(prompts(), greedy(5));
  std::vector<std::thread> threads;
  std::vector<std::vector<int32_t>> got(12);
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] { got[t] = engine.add_request(prompts()[t % prompts().size()], greedy(5)).wait()[0].generated_token_ids; });
  }
  for (auto& t : threads) t.join();
  for (size_t t = 0; t < got.size(); ++t) EXPECT_EQ(got[t], want[t % prompts().size()].generated_token_ids) << "thread " << t;
}

TEST_F(Serving, BadRequestsAreRefusedClearly) {
  SchedulerConfig sc;
  sc.max_context = 32;
  ServingEngine engine(model(), "CPU", sc);
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "word ";
  EXPECT_TRUE(fails_with([&] { engine.add_request(long_prompt, greedy(2)); }, ErrorCode::kOutOfRange, {"context window of 32"}));
  EXPECT_TRUE(fails_with([&] { engine.add_request(std::vector<int32_t>{}, greedy(2)); }, ErrorCode::kInvalidArgument, {"empty"}));
  EXPECT_TRUE(fails_with([&] { engine.add_request(std::vector<int32_t>{1, 9999}, greedy(2)); }, ErrorCode::kInvalidArgument,
                         {"9999", "vocabulary"}));
  GenerationConfig bad = greedy(2);
  bad.num_return_sequences = 0;
  EXPECT_TRUE(fails_with([&] { engine.add_request("x", bad); }, ErrorCode::kInvalidArgument, {"num_return_sequences"}));
  SchedulerConfig zero;
  zero.max_num_seqs = 0;
  EXPECT_TRUE(fails_with([&] { ServingEngine(model(), "CPU", zero); }, ErrorCode::kInvalidArgument, {"max_num_seqs"}));
  // The context's end finishes a sequence with "length".
  const auto r = engine.add_request("the quick brown fox", greedy(100)).wait();
  EXPECT_EQ(r[0].finish_reason, FinishReason::kLength);
  EXPECT_EQ(r[0].prompt_token_ids.size() + r[0].generated_token_ids.size(), 33u) << "up to the context, plus the last sampled";
}

TEST_F(Serving, TextHeldBackForAStopStringIsKeptWhenAnEndTokenFinishes) {
  SchedulerConfig sc;
  sc.max_context = 128;
  ServingEngine engine(model(), "CPU", sc);
  const auto full = engine.add_request("the quick brown fox", greedy(16)).wait()[0];
  // End on the token greedy decoding gives sixth (its first occurrence), and hold back the text's
  // last character: a stop string that starts with it but never completes.
  GenerationConfig c = greedy(16);
  c.stop_token_ids = {full.generated_token_ids[5]};
  const size_t k = static_cast<size_t>(std::find(full.generated_token_ids.begin(), full.generated_token_ids.end(),
                                                 full.generated_token_ids[5]) - full.generated_token_ids.begin());
  const std::string before = engine.decode(std::vector<int32_t>(full.generated_token_ids.begin(),
                                                                full.generated_token_ids.begin() + static_cast<std::ptrdiff_t>(k)));
  ASSERT_FALSE(before.empty()) << "pick a prompt whose first tokens decode to text";
  c.stop_strings = {before.substr(before.size() - 1) + "\u2603\u2603"};
  const auto r = engine.add_request("the quick brown fox", c).wait()[0];
  EXPECT_EQ(r.finish_reason, FinishReason::kStop);
  EXPECT_EQ(r.text, before) << "the held-back tail went out when the end token finished the sequence";
}

TEST_F(Serving, PipelineRefusesSeveralReturnSequences) {
  Pipeline pipe(model(), "CPU", {.max_context = 64});
  GenerationConfig c = greedy(2);
  c.num_return_sequences = 2;
  EXPECT_TRUE(fails_with([&] { pipe.generate("x", c); }, ErrorCode::kInvalidArgument, {"num_return_sequences", "ServingEngine"}));
}

}  // namespace
}  // namespace llmrt
