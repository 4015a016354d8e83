// What a user sees when a model or a request is wrong: a clear error naming the file, the
// tensor, the expected and the found shape — and a request that is still usable afterwards.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "llmrt/runtime.hpp"
#include "runtime/synthetic_model.h"
#include "store/gguf.h"
#include "store/safetensors.h"
#include "store/test_files.h"

namespace llmrt {
namespace {

using testing_util::fails_with;
using testing_util::TempDir;

void edit_config(const std::filesystem::path& dir, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j;
  std::ifstream(dir / "config.json") >> j;
  edit(j);
  std::ofstream(dir / "config.json") << j.dump(2);
}

class ModelErrors : public ::testing::Test {
 protected:
  void SetUp() override { write_synthetic_hf(spec_, dir_ / "hf"); }
  std::filesystem::path hf() const { return dir_ / "hf"; }
  SyntheticModelSpec spec_;
  TempDir dir_;
  Core core_;
};

TEST_F(ModelErrors, UnknownArchitecture) {
  edit_config(hf(), [](nlohmann::json& j) { j["model_type"] = "mamba"; });
  EXPECT_TRUE(fails_with([&] { core_.read_model(hf()); }, ErrorCode::kUnsupported, {"config.json", "'mamba'", "llama"}));
  gguf::Writer w;
  w.add("general.architecture", gguf::string_value("rwkv6"));
  w.write(dir_ / "rwkv.gguf");
  EXPECT_TRUE(fails_with([&] { core_.read_model(dir_ / "rwkv.gguf"); }, ErrorCode::kUnsupported, {"rwkv.gguf", "'rwkv6'"}));
}

TEST_F(ModelErrors, MissingTensorIsNamed) {
  auto f = safetensors::read(hf() / "model.safetensors");
  std::vector<safetensors::WriteTensor> keep;
  for (const Tensor& t : f.tensors.tensors()) {
    if (t.name != "model.layers.1.mlp.down_proj.weight") keep.push_back({t.name, t.type, t.shape, t.data});
  }
  safetensors::write(dir_ / "model.safetensors.tmp", keep);
  std::filesystem::rename(dir_ / "model.safetensors.tmp", hf() / "model.safetensors");
  Model m = core_.read_model(hf());
  EXPECT_TRUE(fails_with([&] { core_.compile(m, "CPU"); }, ErrorCode::kNotFound, {"missing tensor 'model.layers.1.mlp.down_proj.weight'"}));
}

TEST_F(ModelErrors, ShapeMismatchNamesTensorExpectedAndFound) {
  edit_config(hf(), [](nlohmann::json& j) { j["intermediate_size"] = 100; });
  Model m = core_.read_model(hf());
  EXPECT_TRUE(fails_with([&] { core_.compile(m, "CPU"); }, ErrorCode::kBadFormat,
                         {"'model.layers.0.mlp.gate_proj.weight'", "[96, 64]", "[100, 64]"}));
}

TEST_F(ModelErrors, BadConfigValues) {
  edit_config(hf(), [](nlohmann::json& j) { j["num_key_value_heads"] = 3; });
  EXPECT_TRUE(fails_with([&] { core_.read_model(hf()); }, ErrorCode::kBadFormat, {"not a multiple"}));
  edit_config(hf(), [](nlohmann::json& j) {
    j["num_key_value_heads"] = 2;
    j.erase("hidden_size");
  });
  EXPECT_TRUE(fails_with([&] { core_.read_model(hf()); }, ErrorCode::kNotFound, {"\"hidden_size\""}));
  edit_config(hf(), [](nlohmann::json& j) {
    j["hidden_size"] = 64;
    j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  });
  EXPECT_TRUE(fails_with([&] { core_.read_model(hf()); }, ErrorCode::kUnsupported, {"'yarn'"}));
  edit_config(hf(), [](nlohmann::json& j) {
    j.erase("rope_scaling");
    j["model_type"] = "qwen2";
    j["use_sliding_window"] = true;
  });
  EXPECT_TRUE(fails_with([&] { core_.read_model(hf()); }, ErrorCode::kUnsupported, {"use_sliding_window"}));
  std::filesystem::remove(hf() / "config.json");
  EXPECT_TRUE(fails_with([&] { core_.read_model(hf()); }, ErrorCode::kNotFound, {"config.json"}));
  EXPECT_TRUE(fails_with([&] { core_.read_model(dir_ / "nothing-here"); }, ErrorCode::kNotFound, {"nothing-here"}));
}

TEST_F(ModelErrors, PromptLongerThanTheContextLeavesTheRequestUsable) {
  CompiledModel cm = core_.compile(core_.read_model(hf()), "CPU", {.max_context = 8});
  InferRequest req = cm.create_request();
  std::vector<int32_t> nine(9, 3), five(5, 3), four(4, 3);
  EXPECT_TRUE(fails_with([&] { req.infer(nine); }, ErrorCode::kOutOfRange, {"9 tokens", "context of 8"}));
  EXPECT_EQ(req.n_past(), 0);
  req.infer(five);
  EXPECT_TRUE(fails_with([&] { req.infer(four); }, ErrorCode::kOutOfRange, {"after the 5"}));
  EXPECT_EQ(req.n_past(), 5);
  EXPECT_NO_THROW(req.infer(std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(req.n_past(), 8);
}

TEST_F(ModelErrors, TokenIdsOutsideTheVocabulary) {
  InferRequest req = core_.compile(core_.read_model(hf()), "CPU", {.max_context = 8}).create_request();
  EXPECT_TRUE(fails_with([&] { req.infer(std::vector<int32_t>{1, 96}); }, ErrorCode::kInvalidArgument, {"token id 96", "index 1"}));
  EXPECT_TRUE(fails_with([&] { req.infer(std::vector<int32_t>{-1}); }, ErrorCode::kInvalidArgument, {"token id -1"}));
  EXPECT_TRUE(fails_with([&] { req.infer(std::vector<int32_t>{}); }, ErrorCode::kInvalidArgument, {"no tokens"}));
  EXPECT_EQ(req.n_past(), 0);
  EXPECT_TRUE(fails_with([&] { req.reset(3); }, ErrorCode::kInvalidArgument, {"holds 0"}));
}

TEST_F(ModelErrors, GgufWithATruncatedTensorIsRefusedAtLoad) {
  write_synthetic_gguf(spec_, dir_ / "m.gguf");
  std::filesystem::resize_file(dir_ / "m.gguf", std::filesystem::file_size(dir_ / "m.gguf") - 100);
  EXPECT_TRUE(fails_with([&] { core_.read_model(dir_ / "m.gguf"); }, ErrorCode::kBadFormat, {"m.gguf", "past the end"}));
}

}  // namespace
}  // namespace llmrt
