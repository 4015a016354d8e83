// llmrt-run, llmrt-tokenize, llmrt-chat-template and llmrt-convert, run as a user runs them.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/program.h"
#include "runtime/synthetic_model.h"
#include "store/gguf.h"
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

// Generated token ids of `llmrt-run -m model -n 6 --json` (empty when it failed).
nlohmann::json generated_ids(const std::string& model, const TempDir& dir) {
  ProgramRun r = run(std::string(LLMRT_RUN) + " -m " + model + " -p 'the early bird' -n 6 --json", dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (r.exit_code != 0) return nlohmann::json::array();
  return nlohmann::json::parse(r.out)["generated_token_ids"];
}

TEST_F(Tools, ConvertWritesQuantizedGgufThatGenerates) {
  // q4_0 through the CLI (alias int4): the tiny preset's rows of 64 fit Q4_0's blocks of 32.
  // The folder it goes in does not exist yet (README's main command writes into build/models).
  const std::string q4_0 = (*dir_ / "models" / "tiny-q4_0.gguf").string();
  ProgramRun convert = run(std::string(LLMRT_CONVERT) + " --synthetic tiny --gguf --weights int4 -o " + q4_0, *dir_);
  ASSERT_EQ(convert.exit_code, 0) << convert.err;
  EXPECT_NE(convert.err.find("GGUF q4_0"), std::string::npos) << convert.err;
  EXPECT_NE(convert.err.find("bytes per weight"), std::string::npos) << convert.err;
  EXPECT_EQ(gguf::File::read(q4_0).tensors().at("blk.1.ffn_up.weight").type, StoredType::kQ4_0);
  EXPECT_EQ(generated_ids(q4_0, *dir_).size(), 6u);

  // q4_k_m needs rows of 256 for its Q4_K / Q6_K blocks.
  SyntheticModelSpec s;
  s.vocab_size = 512;
  s.max_position_embeddings = 256;
  s.hidden_size = 256;
  s.intermediate_size = 512;
  s.head_dim = 64;
  s.gguf_recipe = GgufRecipe::kQ4_K_M;
  const std::string q4_k_m = (*dir_ / "q4_k_m.gguf").string();
  write_synthetic_gguf(s, q4_k_m);
  const TensorSet tensors = gguf::File::read(q4_k_m).tensors();
  EXPECT_EQ(tensors.at("blk.1.ffn_up.weight").type, StoredType::kQ4_K);
  EXPECT_EQ(tensors.at("blk.1.ffn_down.weight").type, StoredType::kQ6_K);
  EXPECT_EQ(generated_ids(q4_k_m, *dir_).size(), 6u);
}

TEST_F(Tools, ConvertWeightsModesAndErrors) {
  const std::string convert = std::string(LLMRT_CONVERT) + " --synthetic tiny ";
  ProgramRun hf_q4 = run(convert + "--weights q4_0 -o " + (*dir_ / "hf-q4").string(), *dir_);
  EXPECT_EQ(hf_q4.exit_code, 2);
  EXPECT_NE(hf_q4.err.find("GGUF recipes need --gguf"), std::string::npos) << hf_q4.err;
  EXPECT_FALSE(std::filesystem::exists(*dir_ / "hf-q4"));

  // A container mode without --gguf: the random model is written in HF form, then converted
  // into an .llmrt container that generates; the temporary HF source is gone afterwards.
  ProgramRun container = run(convert + "--weights int4 -o " + (*dir_ / "c-int4").string(), *dir_);
  ASSERT_EQ(container.exit_code, 0) << container.err;
  EXPECT_NE(container.out.find("int4_sym g32"), std::string::npos) << container.out;
  EXPECT_TRUE(std::filesystem::exists(*dir_ / "c-int4" / "model.llmrt"));
  EXPECT_TRUE(std::filesystem::exists(*dir_ / "c-int4" / "conversion_report.tsv"));
  for (const auto& entry : std::filesystem::directory_iterator(dir_->path())) {
    EXPECT_EQ(entry.path().filename().string().find("synthetic-source"), std::string::npos) << entry.path();
  }
  EXPECT_EQ(generated_ids((*dir_ / "c-int4").string(), *dir_).size(), 6u);

  ProgramRun unknown = run(convert + "--gguf --weights q3_k -o " + (*dir_ / "q3.gguf").string(), *dir_);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("'q3_k'"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("q4_k_m"), std::string::npos) << unknown.err;
  EXPECT_FALSE(std::filesystem::exists(*dir_ / "q3.gguf"));

  ProgramRun missing = run(std::string(LLMRT_CONVERT) + " -m no-such-model --weights int4 -o x", *dir_);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no-such-model"), std::string::npos) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(*dir_ / "x"));
  ProgramRun no_mode = run(std::string(LLMRT_CONVERT) + " -m no-such-model -o x", *dir_);
  EXPECT_EQ(no_mode.exit_code, 2);
  EXPECT_NE(no_mode.err.find("--weights MODE is required"), std::string::npos) << no_mode.err;

  // f16/bf16 without --gguf choose the safetensors dtype.
  ProgramRun hf_bf16 = run(convert + "--weights bf16 -o " + (*dir_ / "hf-bf16").string(), *dir_);
  ASSERT_EQ(hf_bf16.exit_code, 0) << hf_bf16.err;
  std::ifstream config(*dir_ / "hf-bf16" / "config.json");
  EXPECT_EQ(nlohmann::json::parse(config)["torch_dtype"], "bfloat16");
}

}  // namespace
}  // namespace llmrt
