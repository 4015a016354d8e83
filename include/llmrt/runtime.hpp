// libllmrt's C++ API: find devices, load a model, compile it for a device, run it.
//
//   llmrt::Core core;                                   // loads the device plugins
//   for (auto& d : core.devices()) std::cout << d.name << "\n";
//   llmrt::Model model = core.read_model("Llama-3.2-1B");  // HF folder or .gguf file
//   llmrt::CompiledModel cm = core.compile(model, "CPU", {.max_context = 2048});
//   llmrt::InferRequest req = cm.create_request();
//   std::vector<float> logits = req.infer(prompt_ids);  // [tokens x vocab] ([vocab] with last_token_logits)
//
// Errors are llmrt::Error (llmrt/error.hpp) with a code and a message naming what is wrong.
// Thread-safety: Core, Model and CompiledModel may be shared between threads; an InferRequest
// is one sequence and must be used by one thread at a time. Standard library only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmrt/error.hpp"

namespace llmrt {

struct DeviceInfo {
  std::string name;       // what compile() takes: "CPU", "GPU.0", ...
  std::string full_name;  // "AMD EPYC 9R14", ...
  std::string vendor;
  std::string plugin;     // the plugin serving it ("cpu") and where it was loaded from
  std::string plugin_path;
  uint64_t memory_bytes = 0;
  uint32_t compute_units = 0;
  std::string properties_json;  // further properties, as a JSON object
};

struct CoreOptions {
  // Folders searched for libllmrt_plugin_*.so. Empty: LLMRT_PLUGIN_PATH (':'-separated), or
  // else the build's plugin folder and llmrt-plugins/ beside libllmrt.
  std::vector<std::filesystem::path> plugin_dirs;
};

struct ModelInfo {
  std::string architecture;  // llama, mistral, qwen2, phi3
  std::string format;        // huggingface, gguf
  std::string source;
  int64_t vocab_size = 0, hidden_size = 0, num_layers = 0, num_heads = 0, num_kv_heads = 0, head_dim = 0;
  int64_t intermediate_size = 0, max_position_embeddings = 0;
  int64_t bos_token_id = -1, eos_token_id = -1;
  uint64_t weight_bytes = 0;         // all tensors as stored
  uint64_t decode_weight_bytes = 0;  // bytes one decoded token reads: all but the embedding table
                                     // (one row of it), unless it doubles as the output head
  std::string weight_types;          // stored types and their shares, e.g. "q4_0 88%, q6_k 12%"
};

struct CompileOptions {
  int64_t max_context = 0;  // KV-cache length in tokens; 0: min(model's max positions, 4096)
  // InferRequest::infer returns the logits of the step's last token only ([vocab]) instead of
  // every token's ([T * vocab]): what generation needs, and a prefill then skips T - 1 runs of
  // the output head (a quarter of a 1B model's prefill).
  bool last_token_logits = false;
};

class Core;
class CompiledModel;

class Model {
 public:
  const ModelInfo& info() const;
  // The graph compile() would build, as text (what LLMRT_DUMP_GRAPH=1 logs).
  std::string graph_text(int64_t max_context = 0) const;
  struct Impl;

 private:
  friend class Core;
  std::shared_ptr<const Impl> impl_;
};

class InferRequest {
 public:
  // Runs `tokens` at positions n_past() .. n_past() + size - 1 and returns their logits,
  // row-major [tokens.size() x vocab_size()]. OUT_OF_RANGE when the context would overflow,
  // INVALID_ARGUMENT for a token id outside the vocabulary; the request is unchanged then.
  std::vector<float> infer(std::span<const int32_t> tokens);
  int64_t n_past() const;
  int64_t vocab_size() const;
  // Keeps the first keep_tokens positions of the KV cache (0 starts over).
  void reset(int64_t keep_tokens = 0);

  InferRequest(InferRequest&&) noexcept;
  InferRequest& operator=(InferRequest&&) noexcept;
  ~InferRequest();
  struct Impl;

 private:
  friend class CompiledModel;
  explicit InferRequest(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class CompiledModel {
 public:
  InferRequest create_request() const;
  const std::string& device() const;
  int64_t max_context() const;
  // "node -> device" for every node, showing where unsupported nodes fell back to the CPU.
  std::vector<std::pair<std::string, std::string>> placement() const;
  struct Impl;

 private:
  friend class Core;
  std::shared_ptr<const Impl> impl_;
};

class Core {
 public:
  explicit Core(const CoreOptions& options = {});
  ~Core();
  Core(Core&&) noexcept;
  Core& operator=(Core&&) noexcept;

  std::vector<DeviceInfo> devices() const;
  // Plugins that were found but skipped, with the reason ("path: why").
  std::vector<std::string> skipped_plugins() const;
  Model read_model(const std::filesystem::path& path) const;
  // device: "CPU", "GPU", "GPU.1", "NPU" ... ("GPU" means the first GPU). Nodes the device's
  // plugin does not support run on the CPU.
  CompiledModel compile(const Model& model, std::string_view device, const CompileOptions& options = {}) const;
  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace llmrt
