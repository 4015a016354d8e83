// llmrt-inspect, run as a user would on files made by our writers.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "apps/program.h"
#include "store/gguf.h"
#include "store/safetensors.h"
#include "store/test_files.h"

namespace llmrt {
namespace {

using testing_util::as_bytes;
using testing_util::TempDir;

// stdout and stderr together, as a person reading the terminal sees them.
testing_util::ProgramRun inspect(const std::string& arg) {
  testing_util::ProgramRun r = testing_util::run_program(std::string(LLMRT_INSPECT_PATH) + " '" + arg + "'");
  r.out += r.err;
  return r;
}

TEST(Inspect, GgufMetadataAndTensorTable) {
  TempDir dir;
  gguf::Writer w;
  w.add("general.architecture", gguf::string_value("llama"));
  w.add("llama.block_count", {uint32_t{2}});
  w.add("tokenizer.ggml.tokens", gguf::string_array({"<unk>", "<s>", "</s>", "a", "b", "c", "d", "e"}));
  std::vector<float> v(2 * 32, 0.5f);
  w.add_tensor("token_embd.weight", ggml::Type::kF32, {2, 32}, as_bytes(v));
  std::vector<std::byte> q(ggml::row_bytes(ggml::Type::kQ8_0, 64));
  ggml::quantize_row(ggml::Type::kQ8_0, v.data(), q.data(), 64);
  w.add_tensor("blk.0.attn_q.weight", ggml::Type::kQ8_0, {1, 64}, q);
  w.write(dir / "m.gguf");
  testing_util::ProgramRun r = inspect((dir / "m.gguf").string());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("GGUF v3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"llama\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[string x 8] \"<unk>\", \"<s>\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("token_embd.weight"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[2, 32]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Q8_0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 tensors"), std::string::npos) << r.out;
}

TEST(Inspect, SafetensorsFileAndFolder) {
  TempDir dir;
  std::vector<float> v(6, 1.0f);
  safetensors::write(dir / "model.safetensors", {{"lm_head.weight", StoredType::kF32, {2, 3}, as_bytes(v)}});
  { std::ofstream(dir / "config.json") << R"({"model_type": "llama", "hidden_size": 3})"; }
  testing_util::ProgramRun f = inspect((dir / "model.safetensors").string());
  EXPECT_EQ(f.exit_code, 0) << f.out;
  EXPECT_NE(f.out.find("lm_head.weight"), std::string::npos) << f.out;
  EXPECT_NE(f.out.find("F32"), std::string::npos) << f.out;
  testing_util::ProgramRun d = inspect(dir.path().string());
  EXPECT_EQ(d.exit_code, 0) << d.out;
  EXPECT_NE(d.out.find("model_type"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("24 B"), std::string::npos) << d.out;
}

TEST(Inspect, BadFilesExitOneWithTheReason) {
  TempDir dir;
  testing_util::ProgramRun missing = inspect((dir / "nope.gguf").string());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("nope.gguf"), std::string::npos) << missing.out;
  testing_util::write_bytes(dir / "junk.bin", std::vector<std::byte>(64, std::byte{0x41}));
  testing_util::ProgramRun junk = inspect((dir / "junk.bin").string());
  EXPECT_EQ(junk.exit_code, 1);
  EXPECT_NE(junk.out.find("junk.bin"), std::string::npos) << junk.out;
  EXPECT_EQ(junk.out.find("internal error"), std::string::npos) << junk.out;
}

}  // namespace
}  // namespace llmrt
