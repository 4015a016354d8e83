// The CPU plugin's compiled graph and per-request state. A CompiledGraph binds the host's
// weight bytes (views, no copy, except small weights used as plain operands, decoded once to
// f32) to a validated graph; a Request holds one sequence's KV cache and runs steps.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "core/graph.h"
#include "llmrt/plugin/plugin_abi.h"
#include "plugins/cpu/ref_ops.h"

namespace llmrt::cpu {

class Request;

// llmrt_compile_options' paged-cache fields; num_blocks 0: the contiguous per-request cache.
struct PagedConfig {
  int64_t block_size = 0, num_blocks = 0;
  int32_t precision = LLMRT_KV_F32;
};

class CompiledGraph {
 public:
  // Errors: BAD_FORMAT when a weight is missing, mistyped or of the wrong shape (naming it).
  // weight_flags: llmrt_compile_options.weight_flags or nullptr (LLMRT_WEIGHT_FILE_MAPPED lets
  // it drop the host's pages of a weight it has packed into its own memory).
  CompiledGraph(core::Graph graph, const llmrt_weight* weights, uint32_t n_weights, int64_t max_context,
                const uint8_t* weight_flags = nullptr, const PagedConfig& paged = {});
  std::unique_ptr<Request> create_request() const;
  const core::Graph& graph() const { return graph_; }

 private:
  friend class Request;

  core::Graph graph_;
  int64_t max_context_;
  PagedConfig paged_;
  std::unordered_map<core::ValueId, Tensor> weights_;        // by value id
  std::unordered_map<core::ValueId, Activation> decoded_;    // weights used as plain operands
  std::unordered_map<core::ValueId, const kernels::PackedMatrix*> packed_;  // FC weights packed at compile (owned by the tensor's repack cache)
  std::vector<int64_t> slot_widths_;                          // KV width of each cache slot
  std::vector<std::pair<int64_t, int64_t>> slot_heads_;       // (kv_heads, head_dim) of each slot
  // Per node: the values whose last reader it is (not graph outputs); their buffers go back to
  // the request's pool once it has run, so a step holds only the live activations.
  std::vector<std::vector<core::ValueId>> dead_after_;
};

class Request {
 public:
  explicit Request(const CompiledGraph& compiled);
  void reset(int64_t keep_tokens);
  void execute(int64_t n_tokens, const llmrt_tensor* inputs, uint32_t n_inputs, llmrt_tensor* outputs, uint32_t n_outputs);
  // A step of several sequences over the block pool (models compiled with a paged cache).
  void execute_paged(std::span<const SeqStep> seqs, const llmrt_tensor* inputs, uint32_t n_inputs, llmrt_tensor* outputs,
                     uint32_t n_outputs);
  void copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst);
  int64_t n_past() const { return n_past_; }

 private:
  void run(int64_t n_tokens, const llmrt_tensor* inputs, uint32_t n_inputs, llmrt_tensor* outputs, uint32_t n_outputs,
           OpContext& ctx);

  const CompiledGraph& compiled_;
  std::vector<KvSlot> kv_;
  // By cache slot, when compiled with a paged cache (null for a slot number this part's graph
  // does not use: a partitioned model's later part starts at a later layer).
  std::vector<std::unique_ptr<PagedKv>> paged_;
  bool is_paged() const;
  int64_t n_past_ = 0;
  std::vector<Activation> values_;  // by value id, for the current step
  std::vector<std::vector<float>> pool_f32_;    // buffers of dead values, reused by later ones
  std::vector<std::vector<int32_t>> pool_i32_;
  Scratch scratch_;                 // kernels' working buffers, kept between steps
};

// A Tensor view over a weight the host passed across the ABI (validated).
Tensor tensor_from_abi(const llmrt_weight& w);

}  // namespace llmrt::cpu
