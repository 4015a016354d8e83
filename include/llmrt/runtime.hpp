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

// Element type of a paged KV cache. kU8: per token and KV head, asymmetric 8-bit with an f32
// scale and zero point (docs/serving.md gives its measured effect on logits).
enum class KvPrecision { kF32, kF16, kBF16, kU8 };
std::string_view to_string(KvPrecision p);  // "f32", "f16", "bf16", "u8"

struct CompileOptions {
  int64_t max_context = 0;  // KV-cache length in tokens; 0: min(model's max positions, 4096)
  // InferRequest::infer returns the logits of the step's last token only ([vocab]) instead of
  // every token's ([T * vocab]): what generation needs, and a prefill then skips T - 1 runs of
  // the output head (a quarter of a 1B model's prefill).
  bool last_token_logits = false;
  // Paged KV cache (what the ServingEngine runs on): kv_num_blocks > 0 gives every request a
  // pool of kv_num_blocks blocks of kv_block_size tokens per layer; such a request runs batched
  // steps with infer_paged (infer is refused), and max_context bounds each sequence's length.
  int64_t kv_num_blocks = 0;
  int64_t kv_block_size = 16;
  KvPrecision kv_precision = KvPrecision::kF32;
};

// One sequence of a batched step (InferRequest::infer_paged).
struct SequenceStep {
  std::span<const int32_t> tokens;       // its new tokens, at positions n_past ..
  int64_t n_past = 0;                    // positions already in its blocks
  std::span<const int32_t> block_table;  // block of position p: block_table[p / kv_block_size];
                                         // covers n_past + tokens.size() positions
  bool logits = true;                    // return the logits of its last new token
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

  // Paged requests (compiled with kv_num_blocks > 0): one step of several sequences, each
  // attending over its own blocks. Returns [number of sequences with logits x vocab], in the
  // order of `sequences`. INVALID_ARGUMENT / OUT_OF_RANGE naming the sequence for a table that
  // does not cover its positions, a block outside the pool, or a context overflow.
  std::vector<float> infer_paged(std::span<const SequenceStep> sequences);
  // Copies whole blocks (every layer's keys and values): src[i] -> dst[i] (copy-on-write).
  void copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst);

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
  int64_t kv_num_blocks() const;  // 0: not paged
  int64_t kv_block_size() const;
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
