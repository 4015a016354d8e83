// The plugin loader skips bad plugins with a clear reason and keeps the good ones; nodes a
// device does not support fall back to the CPU without changing the results.
#include <gtest/gtest.h>

#include <algorithm>

#include "llmrt/runtime.hpp"
#include "runtime/plugin_loader.h"
#include "runtime/synthetic_model.h"
#include "store/test_files.h"

namespace llmrt {
namespace {

using testing_util::TempDir;

bool any_contains(const std::vector<std::string>& lines, const std::string& a, const std::string& b) {
  return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
    return l.find(a) != std::string::npos && l.find(b) != std::string::npos;
  });
}

TEST(PluginLoader, SkipsBadPluginsWithTheirReasonAndKeepsTheRest) {
  Core core({.plugin_dirs = {LLMRT_BAD_PLUGIN_DIR, LLMRT_BUILD_PLUGIN_DIR}});
  auto skipped = core.skipped_plugins();
  ASSERT_EQ(skipped.size(), 3u);
  EXPECT_TRUE(any_contains(skipped, "libllmrt_plugin_bad_no_entry.so", "does not export llmrt_plugin_entry"));
  EXPECT_TRUE(any_contains(skipped, "libllmrt_plugin_bad_version.so", "ABI version 999"));
  EXPECT_TRUE(any_contains(skipped, "libllmrt_plugin_bad_init.so", "no such hardware here"));
  auto devices = core.devices();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].name, "CPU");
  EXPECT_EQ(devices[0].plugin, "cpu");
  EXPECT_GT(devices[0].memory_bytes, 0u);
  EXPECT_NE(devices[0].properties_json.find("\"isa\""), std::string::npos);
}

TEST(PluginLoader, MissingFoldersAndUnknownDevices) {
  Core empty({.plugin_dirs = {"/nonexistent/llmrt-plugins"}});
  EXPECT_TRUE(empty.devices().empty());
  TempDir dir;
  SyntheticModelSpec spec;
  write_synthetic_hf(spec, dir / "hf");
  Model m = empty.read_model(dir / "hf");
  try {
    empty.compile(m, "CPU");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("no plugin loaded"), std::string::npos) << e.what();
  }
  Core core;
  try {
    core.compile(m, "NPU");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("available: CPU"), std::string::npos) << e.what();
  }
}

TEST(PluginLoader, UnsupportedNodesFallBackToTheCpu) {
  TempDir dir;
  SyntheticModelSpec spec;
  spec.arch = "qwen2";
  write_synthetic_hf(spec, dir / "hf");
  Core core({.plugin_dirs = {LLMRT_PARTIAL_PLUGIN_DIR, LLMRT_BUILD_PLUGIN_DIR}});
  ASSERT_EQ(core.devices().size(), 2u);
  Model m = core.read_model(dir / "hf");
  CompiledModel on_cpu = core.compile(m, "CPU", {.max_context = 16});
  CompiledModel mixed = core.compile(m, "PARTIAL", {.max_context = 16});
  int partial = 0, cpu = 0;
  for (const auto& [node, device] : mixed.placement()) {
    (device == "PARTIAL" ? partial : cpu)++;
    if (node.find("sdpa") != std::string::npos || node.find("rope") != std::string::npos) {
      EXPECT_EQ(device, "CPU") << node;
    }
    if (node.find("attn_norm") != std::string::npos) {
      EXPECT_EQ(device, "PARTIAL") << node;
    }
  }
  EXPECT_GT(partial, 0);
  EXPECT_GT(cpu, 0);
  std::vector<int32_t> prompt = {1, 5, 9, 13, 2};
  InferRequest a = on_cpu.create_request(), b = mixed.create_request();
  EXPECT_EQ(a.infer(prompt), b.infer(prompt)) << "the same kernels on either side of the split";
  std::vector<int32_t> step = {7};
  const std::vector<float> decoded = a.infer(step);
  EXPECT_EQ(decoded, b.infer(step)) << "and the KV caches live on the CPU side";

  // Paged: each CPU part holds the block pools of its own layers only (the second part's
  // attention starts at layer 1, a gap in its cache-slot numbering), and both parts run every
  // paged step and copy_blocks.
  CompileOptions paged{.max_context = 16, .kv_num_blocks = 8, .kv_block_size = 4};
  CompiledModel pc = core.compile(m, "CPU", paged), pm = core.compile(m, "PARTIAL", paged);
  InferRequest c = pc.create_request(), d = pm.create_request();
  const std::vector<int32_t> table = {3, 6};
  SequenceStep first{prompt, 0, table, true};
  EXPECT_EQ(c.infer_paged(std::span(&first, 1)), d.infer_paged(std::span(&first, 1)));
  d.copy_blocks(std::vector<int32_t>{3, 6}, std::vector<int32_t>{0, 1});
  c.copy_blocks(std::vector<int32_t>{3, 6}, std::vector<int32_t>{0, 1});
  const std::vector<int32_t> copied = {0, 1};
  SequenceStep next{step, 5, copied, true};
  const std::vector<float> got = d.infer_paged(std::span(&next, 1));
  EXPECT_EQ(c.infer_paged(std::span(&next, 1)), got) << "decoding from the copied blocks";
  ASSERT_EQ(got.size(), decoded.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], decoded[i], 1e-4) << "paged decode == contiguous decode, logit " << i;
}

}  // namespace
}  // namespace llmrt
