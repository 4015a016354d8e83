// Golden tests: tiny random models of each architecture, written by our own writers in HF and
// GGUF form, compiled for every device that runs them, must reproduce the float64 reference
// forward pass (tests/golden/reference_model.*) for a prompt and for decode steps through the
// KV cache. Tolerance (f32 weights): max |logit - ref| <= 1e-4 * max |ref| per token.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "golden/reference_model.h"
#include "llmrt/runtime.hpp"
#include "runtime/synthetic_model.h"
#include "store/test_files.h"

namespace llmrt {
namespace {

using testing_util::TempDir;

constexpr double kTolerance = 1e-4;

double max_rel_error(const std::vector<float>& got, size_t offset, const std::vector<double>& ref) {
  double max_ref = 0, max_err = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_ref = std::max(max_ref, std::fabs(ref[i]));
    max_err = std::max(max_err, std::fabs(static_cast<double>(got[offset + i]) - ref[i]));
  }
  return max_err / std::max(max_ref, 1e-30);
}

std::vector<int32_t> tokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return t;
}

// Prompt, then single-token steps; every token's logits against the reference.
void expect_matches_reference(InferRequest& req, golden::ReferenceModel& ref, const std::vector<int32_t>& prompt,
                              int decode_steps, const std::string& label) {
  std::vector<float> got = req.infer(prompt);
  auto want = ref.forward(prompt);
  const int64_t vocab = req.vocab_size();
  for (size_t t = 0; t < want.size(); ++t) {
    double err = max_rel_error(got, t * static_cast<size_t>(vocab), want[t]);
    EXPECT_LE(err, kTolerance) << label << ": prompt token " << t;
  }
  std::mt19937 rng(99);
  for (int s = 0; s < decode_steps; ++s) {
    std::vector<int32_t> next = {static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab))};
    got = req.infer(next);
    want = ref.forward(next);
    EXPECT_LE(max_rel_error(got, 0, want[0]), kTolerance) << label << ": decode step " << s << " at position " << req.n_past() - 1;
  }
}

struct Case {
  std::string arch;
  bool gguf;
  bool tied;
};

class GoldenLogits : public ::testing::TestWithParam<Case> {};

TEST_P(GoldenLogits, MatchReferenceForPromptAndDecode) {
  const Case& c = GetParam();
  TempDir dir;
  SyntheticModelSpec spec;
  spec.arch = c.arch;
  spec.tie_word_embeddings = c.tied;
  spec.seed = 7;
  write_synthetic_hf(spec, dir / "hf");
  write_synthetic_gguf(spec, dir / "m.gguf");
  auto ref = golden::ReferenceModel::load_hf(dir / "hf");

  Core core;
  Model model = core.read_model(c.gguf ? dir / "m.gguf" : dir / "hf");
  EXPECT_EQ(model.info().vocab_size, spec.vocab_size);
  EXPECT_EQ(model.info().num_layers, spec.num_layers);
  const std::string label = c.arch + (c.gguf ? " gguf" : " hf");
  if (c.arch == "phi3") {
    // Within the original context (short factors) ...
    CompiledModel short_ctx = core.compile(model, "CPU", {.max_context = spec.original_max_position_embeddings});
    InferRequest a = short_ctx.create_request();
    expect_matches_reference(a, ref, tokens(9, static_cast<int>(spec.vocab_size), 1), 4, label + " short");
    // ... and a prompt beyond it (long factors; llama.cpp's GGUF rule picks them from the context).
    ref.reset();
    CompiledModel long_ctx = core.compile(model, "CPU", {.max_context = 96});
    InferRequest b = long_ctx.create_request();
    expect_matches_reference(b, ref, tokens(spec.original_max_position_embeddings + 8, static_cast<int>(spec.vocab_size), 2), 3,
                             label + " long");
    return;
  }
  CompiledModel compiled = core.compile(model, "CPU", {.max_context = 64});
  InferRequest req = compiled.create_request();
  // Long enough to cross llama3's smoothed band of wavelengths.
  expect_matches_reference(req, ref, tokens(40, static_cast<int>(spec.vocab_size), 3), 5, label);
}

INSTANTIATE_TEST_SUITE_P(Archs, GoldenLogits,
                         ::testing::Values(Case{"llama", false, false}, Case{"llama", true, false},
                                           Case{"llama3", false, true}, Case{"llama3", true, true},
                                           Case{"mistral", false, false}, Case{"mistral", true, false},
                                           Case{"qwen2", false, true}, Case{"qwen2", true, true},
                                           Case{"phi3", false, false}, Case{"phi3", true, false}),
                         [](const auto& p) {
                           return p.param.arch + (p.param.gguf ? "_gguf" : "_hf") + (p.param.tied ? "_tied" : "");
                         });

TEST(GoldenLogits, ShardedAndHalfPrecisionHfFolders) {
  TempDir dir;
  SyntheticModelSpec spec;
  spec.arch = "llama";
  spec.shards = 2;
  spec.hf_dtype = StoredType::kBF16;
  write_synthetic_hf(spec, dir / "hf");
  auto ref = golden::ReferenceModel::load_hf(dir / "hf");  // the reference decodes the same bf16 values
  Core core;
  InferRequest req = core.compile(core.read_model(dir / "hf"), "CPU", {.max_context = 32}).create_request();
  expect_matches_reference(req, ref, tokens(6, static_cast<int>(spec.vocab_size), 4), 2, "llama bf16 sharded");
}

TEST(GoldenLogits, ResetReplaysTheSameLogits) {
  TempDir dir;
  SyntheticModelSpec spec;
  write_synthetic_hf(spec, dir / "hf");
  Core core;
  InferRequest req = core.compile(core.read_model(dir / "hf"), "CPU", {.max_context = 32}).create_request();
  auto prompt = tokens(5, static_cast<int>(spec.vocab_size), 5);
  auto first = req.infer(prompt);
  auto step = req.infer(std::vector<int32_t>{3});
  req.reset(5);  // keep the prompt, redo the step
  EXPECT_EQ(req.infer(std::vector<int32_t>{3}), step);
  req.reset();
  EXPECT_EQ(req.infer(prompt), first);
}

}  // namespace
}  // namespace llmrt

namespace llmrt {
namespace {

// A real trained Llama (../shared/models/tiny-fortunes), where random weights prove little.
TEST(GoldenLogits, TrainedTinyFortunesModel) {
  const std::filesystem::path dir = std::filesystem::path(LLMRT_TEST_SOURCE_DIR) / ".." / "shared" / "models" / "tiny-fortunes";
  if (!std::filesystem::exists(dir / "config.json")) GTEST_SKIP() << "no ../shared/models/tiny-fortunes beside the checkout";
  auto ref = golden::ReferenceModel::load_hf(dir);
  Core core;
  InferRequest req = core.compile(core.read_model(dir), "CPU", {.max_context = 64}).create_request();
  expect_matches_reference(req, ref, {4095, 17, 342, 9, 1201, 77, 3000, 12}, 6, "tiny-fortunes");
}

}  // namespace
}  // namespace llmrt

namespace llmrt {
namespace {

// Sliding-window attention with a window much shorter than the prompt: transformers applies
// it for mistral and phi3 (HF folders), llama.cpp for phi3 (GGUF).
TEST(GoldenLogits, SlidingWindowAttention) {
  for (const auto& [arch, gguf] : std::vector<std::pair<std::string, bool>>{{"mistral", false}, {"phi3", false}, {"phi3", true}}) {
    SCOPED_TRACE(arch + (gguf ? " gguf" : " hf"));
    TempDir dir;
    SyntheticModelSpec spec;
    spec.arch = arch;
    spec.sliding_window = 6;
    write_synthetic_hf(spec, dir / "hf");
    write_synthetic_gguf(spec, dir / "m.gguf");
    auto ref = golden::ReferenceModel::load_hf(dir / "hf");
    Core core;
    // phi3 from GGUF picks long RoPE factors from the context: keep the first call beyond the
    // original context, where transformers picks them too.
    const int prompt = arch == "phi3" ? 40 : 20;
    InferRequest req = core.compile(core.read_model(gguf ? dir / "m.gguf" : dir / "hf"), "CPU", {.max_context = 96}).create_request();
    expect_matches_reference(req, ref, tokens(prompt, static_cast<int>(spec.vocab_size), 8), 4, arch + " window 6");
    // And the window matters: the same weights without it give other logits.
    TempDir full;
    spec.sliding_window = 0;
    write_synthetic_hf(spec, full / "hf");
    auto no_window = golden::ReferenceModel::load_hf(full / "hf");
    ref.reset();
    auto a = ref.forward(tokens(prompt, static_cast<int>(spec.vocab_size), 8));
    auto b = no_window.forward(tokens(prompt, static_cast<int>(spec.vocab_size), 8));
    EXPECT_EQ(a[5], b[5]) << "within the window nothing changes";
    EXPECT_NE(a.back(), b.back()) << "beyond it the window must change the logits";
  }
}

}  // namespace
}  // namespace llmrt
