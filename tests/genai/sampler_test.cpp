#include "genai/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "genai/stop_strings.h"

namespace llmrt::genai {
namespace {

GenerationConfig sampling(uint64_t seed = 1) {
  GenerationConfig c;
  c.do_sample = true;
  c.rng_seed = seed;
  return c;
}

std::vector<float> log_probs(std::vector<double> p) {
  std::vector<float> l;
  for (double x : p) l.push_back(static_cast<float>(std::log(x)));
  return l;
}

// Draws n tokens from the same logits with a fresh copy each time; returns frequencies.
std::map<int32_t, double> frequencies(Sampler& s, const std::vector<float>& logits, int n) {
  std::map<int32_t, double> f;
  for (int i = 0; i < n; ++i) {
    auto l = logits;
    f[s.next(l)] += 1.0 / n;
  }
  return f;
}

TEST(Sampler, GreedyIsArgmaxWithLowestIdOnTies) {
  Sampler s(GenerationConfig{}, {});
  std::vector<float> l = {0.5f, 3.0f, 3.0f, -1.0f};
  EXPECT_EQ(s.next(l), 1);
}

TEST(Sampler, RepetitionPenaltyFollowsHuggingFace) {
  GenerationConfig c;
  c.repetition_penalty = 2.0f;
  Sampler s(c, {});
  s.observe_prompt(std::vector<int32_t>{0, 2});
  std::vector<float> l = {2.0f, 1.9f, -0.5f, -0.8f};
  EXPECT_EQ(s.next(l), 1);  // token 0: 2.0 / 2 = 1.0 < 1.9
  EXPECT_FLOAT_EQ(l[0], 1.0f);
  EXPECT_FLOAT_EQ(l[2], -1.0f);  // negative logits are multiplied
  EXPECT_FLOAT_EQ(l[3], -0.8f);  // unseen: unchanged
}

TEST(Sampler, PresenceAndFrequencyPenaltiesCountGeneratedTokensOnly) {
  GenerationConfig c;
  c.presence_penalty = 0.5f;
  c.frequency_penalty = 0.25f;
  Sampler s(c, {});
  s.observe_prompt(std::vector<int32_t>{1});  // the prompt does not count for these
  std::vector<float> l = {1.0f, 0.9f};
  EXPECT_EQ(s.next(l), 0);
  l = {1.0f, 0.9f};
  EXPECT_EQ(s.next(l), 1);  // token 0: 1.0 - 0.5 - 0.25 = 0.25
  EXPECT_FLOAT_EQ(l[0], 0.25f);
  l = {2.0f, 1.0f};
  s.next(l);
  EXPECT_FLOAT_EQ(l[1], 1.0f - 0.5f - 0.25f);
}

TEST(Sampler, MinNewTokensSuppressesEndTokens) {
  GenerationConfig c;
  c.min_new_tokens = 2;
  Sampler s(c, {3});
  std::vector<float> l = {0.0f, 0.0f, 0.0f, 9.0f};
  EXPECT_NE(s.next(l), 3);
  l = {0.0f, 0.0f, 0.0f, 9.0f};
  EXPECT_NE(s.next(l), 3);
  l = {0.0f, 0.0f, 0.0f, 9.0f};
  EXPECT_EQ(s.next(l), 3);
}

TEST(Sampler, SamplesTheSoftmaxDistribution) {
  Sampler s(sampling(), {});
  auto f = frequencies(s, log_probs({0.5, 0.3, 0.2}), 40000);
  EXPECT_NEAR(f[0], 0.5, 0.015);
  EXPECT_NEAR(f[1], 0.3, 0.015);
  EXPECT_NEAR(f[2], 0.2, 0.015);
}

TEST(Sampler, TemperatureFlattens) {
  GenerationConfig c = sampling(2);
  c.temperature = 2.0f;
  Sampler s(c, {});
  // softmax(log p / 2) = sqrt(p) normalised: 0.5, 0.3, 0.2 -> 0.408, 0.316, 0.258 (/0.982)
  auto f = frequencies(s, log_probs({0.5, 0.3, 0.2}), 40000);
  const double z = std::sqrt(0.5) + std::sqrt(0.3) + std::sqrt(0.2);
  EXPECT_NEAR(f[0], std::sqrt(0.5) / z, 0.015);
  EXPECT_NEAR(f[2], std::sqrt(0.2) / z, 0.015);
}

TEST(Sampler, TopKTopPAndMinPTruncate) {
  const auto logits = log_probs({0.5, 0.3, 0.15, 0.05});
  GenerationConfig k = sampling(3);
  k.top_k = 2;
  Sampler sk(k, {});
  auto fk = frequencies(sk, logits, 20000);
  EXPECT_EQ(fk.count(2) + fk.count(3), 0u);
  EXPECT_NEAR(fk[0], 0.5 / 0.8, 0.02);
  GenerationConfig p = sampling(4);
  p.top_p = 0.85f;  // 0.5 + 0.3 = 0.8 < 0.85: the third token is kept too
  Sampler sp(p, {});
  auto fp = frequencies(sp, logits, 20000);
  EXPECT_EQ(fp.count(3), 0u);
  EXPECT_GT(fp[2], 0.1);
  GenerationConfig m = sampling(5);
  m.min_p = 0.5f;  // keep p >= 0.25
  Sampler sm(m, {});
  auto fm = frequencies(sm, logits, 20000);
  EXPECT_EQ(fm.count(2) + fm.count(3), 0u);
}

TEST(Sampler, SameSeedSameTokensOtherSeedOtherTokens) {
  auto run = [](uint64_t seed) {
    Sampler s(sampling(seed), {});
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) {
      std::vector<float> l(50, 0.0f);
      out.push_back(s.next(l));
    }
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, LogprobIsLogSoftmaxOfTheChosenToken) {
  Sampler s(GenerationConfig{}, {});
  std::vector<float> l = log_probs({0.6, 0.3, 0.1});
  float lp = 0;
  EXPECT_EQ(s.next(l, &lp), 0);
  EXPECT_NEAR(lp, std::log(0.6), 1e-6);
}

TEST(Sampler, ConfigValidation) {
  GenerationConfig c = sampling();
  c.temperature = 0;
  EXPECT_THROW(Sampler(c, {}), Error);
  c = sampling();
  c.top_p = 1.5f;
  EXPECT_THROW(Sampler(c, {}), Error);
  c = GenerationConfig{};
  c.max_new_tokens = 0;
  EXPECT_THROW(c.validate(), Error);
  c = GenerationConfig{};
  c.stop_strings = {""};
  EXPECT_THROW(c.validate(), Error);
  c = GenerationConfig{};
  c.temperature = 0;  // ignored when greedy
  EXPECT_NO_THROW(c.validate());
}

TEST(StopStrings, SplitAcrossPushesAndHeldBack) {
  StopStrings s({"</answer>", "STOP"}, false);
  auto a = s.push("The result is 4</an");
  EXPECT_FALSE(a.stopped);
  EXPECT_EQ(a.emit, "The result is 4") << "'</an' could start a stop string";
  auto b = s.push("swer> trailing");
  EXPECT_TRUE(b.stopped);
  EXPECT_EQ(b.emit, "");
}

TEST(StopStrings, IncludeAndFalseAlarms) {
  StopStrings s({"STOP"}, true);
  auto a = s.push("ST");
  EXPECT_EQ(a.emit, "");
  auto b = s.push("ART ");  // not a stop after all
  EXPECT_EQ(b.emit, "START ");
  auto c = s.push("now STOP and more");
  EXPECT_TRUE(c.stopped);
  EXPECT_EQ(c.emit, "now STOP");
  StopStrings t({"\n\n"}, false);
  EXPECT_EQ(t.push("line\n").emit, "line");
  EXPECT_EQ(t.flush(), "\n");
}

TEST(StopStrings, EarliestMatchWins) {
  StopStrings s({"cd", "b"}, false);
  auto r = s.push("abcd");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.emit, "a");
}

}  // namespace
}  // namespace llmrt::genai
