// llmrt-run, llmrt-tokenize and llmrt-chat-template, run as a user runs them.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/program.h"
#include "runtime/synthetic_model.h"
#include "store/test_files.h"

namespace llmrt {
namespace {

using testing_util::TempDir;

using testing_util::ProgramRun;

ProgramRun run(const std::string& command, const TempDir&) { return testing_util::run_program(command); }

class Tools : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    SyntheticModelSpec s;
    s.vocab_size = 512;
    s.max_position_embeddings = 256;
    write_synthetic_hf(s, *dir_ / "model");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string model() { return (*dir_ / "model").string(); }
  static TempDir* dir_;
};
TempDir* Tools::dir_ = nullptr;

TEST_F(Tools, RunJsonHasIdsTextFinishReasonAndPerf) {
  ProgramRun r = run(std::string(LLMRT_RUN) + " -m " + model() + " -p 'the early bird' -n 6 --json", *dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["generated_token_ids"].size(), 6u);
  EXPECT_GT(j["prompt_token_ids"].size(), 1u);
  EXPECT_EQ(j["prompt_token_ids"][0], 1);
  EXPECT_TRUE(j["text"].is_string());
  EXPECT_TRUE(j["finish_reason"] == "length" || j["finish_reason"] == "stop");
  for (const char* k : {"ttft_ms", "tpot_ms", "throughput_tps", "load_ms", "prefill_tps", "input_tokens", "output_tokens"}) {
    EXPECT_TRUE(j["perf"].contains(k)) << k;
  }
}

TEST_F(Tools, RunStreamsTextAndEndsWithAPerfLine) {
  ProgramRun r = run(std::string(LLMRT_RUN) + " -m " + model() + " -p hello -n 5 --temp 0.7 --seed 4", *dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ms/token"), std::string::npos) << r.err;
  ProgramRun again = run(std::string(LLMRT_RUN) + " -m " + model() + " -p hello -n 5 --temp 0.7 --seed 4", *dir_);
  EXPECT_EQ(again.out, r.out) << "same seed, same text";
}

TEST_F(Tools, RunErrorsAreClearWithExitCodes) {
  ProgramRun missing = run(std::string(LLMRT_RUN) + " -m /no/such/model -p hi", *dir_);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/no/such/model"), std::string::npos) << missing.err;
  ProgramRun device = run(std::string(LLMRT_RUN) + " -m " + model() + " -d NPU -p hi", *dir_);
  EXPECT_EQ(device.exit_code, 1);
  EXPECT_NE(device.err.find("'NPU'"), std::string::npos) << device.err;
  ProgramRun context = run(std::string(LLMRT_RUN) + " -m " + model() + " --context 8 -p 'one two three four five six seven eight nine'", *dir_);
  EXPECT_EQ(context.exit_code, 1);
  EXPECT_NE(context.err.find("context window of 8"), std::string::npos) << context.err;
  ProgramRun usage = run(std::string(LLMRT_RUN) + " -p hi", *dir_);
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.err.find("-m MODEL is required"), std::string::npos) << usage.err;
}

TEST_F(Tools, BenchJsonReportsEveryConfiguration) {
  ProgramRun r = run(std::string(LLMRT_BENCH) + " -m " + model() + " -p 4,9 -n 3 -r 2 -t 1 --no-bandwidth --json", *dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["results"].size(), 2u);
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["results"][1]["prompt_tokens"], 9);
  for (const auto& res : j["results"]) {
    EXPECT_EQ(res["gen_tokens"], 3);
    for (const char* k : {"ttft_ms", "tpot_ms", "prefill_tps", "decode_tps", "load_ms", "peak_rss_mb"}) {
      ASSERT_TRUE(res.contains(k)) << k;
      EXPECT_GT(res[k].get<double>(), 0) << k;
    }
    EXPECT_LE(res["ttft_ms_min"].get<double>(), res["ttft_ms"].get<double>());
    EXPECT_GE(res["tpot_ms_max"].get<double>(), res["tpot_ms"].get<double>());
  }
  EXPECT_GT(j["decode_weight_bytes"].get<uint64_t>(), 0u);
  EXPECT_LT(j["decode_weight_bytes"].get<uint64_t>(), j["weight_bytes"].get<uint64_t>()) << "the embedding table is not read whole";
  ProgramRun bad = run(std::string(LLMRT_BENCH) + " -m " + model() + " -p 4,x", *dir_);
  EXPECT_EQ(bad.exit_code, 2);
}

TEST_F(Tools, ChatReadsTurnsFromStdin) {
  ProgramRun r = run("printf 'hello\\nand you?\\n/exit\\n' | " + std::string(LLMRT_RUN) + " -m " + model() + " --chat -n 3", *dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t turns = 0;
  for (size_t at = r.err.find("generated"); at != std::string::npos; at = r.err.find("generated", at + 1)) ++turns;
  EXPECT_EQ(turns, 2u) << r.err;
}

TEST_F(Tools, TokenizeIdsAndNoBos) {
  ProgramRun with = run(std::string(LLMRT_TOKENIZE) + " -m " + model() + " -p 'the cat' --ids-only", *dir_);
  ProgramRun without = run(std::string(LLMRT_TOKENIZE) + " -m " + model() + " -p 'the cat' --ids-only --no-bos", *dir_);
  ASSERT_EQ(with.exit_code, 0) << with.err;
  ASSERT_EQ(without.exit_code, 0) << without.err;
  EXPECT_EQ(with.out.rfind("1 ", 0), 0u) << with.out;
  EXPECT_EQ(with.out.substr(2), without.out);
}

TEST_F(Tools, ChatTemplateRendersAndReportsRaise) {
  {
    std::ofstream(*dir_ / "t.jinja") << "{% for m in messages %}[{{ m.role }}] {{ m.content | trim }}\n{% endfor %}"
                                        "{% if add_generation_prompt %}[assistant]{% endif %}";
    std::ofstream(*dir_ / "v.json") << R"({"messages": [{"role": "user", "content": "  hi  "}], "add_generation_prompt": true})";
    std::ofstream(*dir_ / "bad.jinja") << "{{ raise_exception('roles must alternate') }}";
  }
  ProgramRun ok = run(std::string(LLMRT_CHAT_TEMPLATE) + " -t " + (*dir_ / "t.jinja").string() + " -i " + (*dir_ / "v.json").string(), *dir_);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "[user] hi\n[assistant]");
  ProgramRun bad = run(std::string(LLMRT_CHAT_TEMPLATE) + " -t " + (*dir_ / "bad.jinja").string() + " -i " + (*dir_ / "v.json").string(), *dir_);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("roles must alternate"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace llmrt
