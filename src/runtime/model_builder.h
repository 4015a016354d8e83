// A model file (HF folder or GGUF) becomes a config, its tensors, and a decoder graph:
//   inputs  input_ids [T] i32, positions [T] i32 (and logit_rows [R] i32, see LogitRows)
//   output  logits [T, vocab] (or [1, vocab], [R, vocab])
// The builder emits primitive MatMul/Add/SiLU/Mul and lets the fusion passes make
// FullyConnected and SwiGLU of them; RoPE and SDPA (with a KV-cache slot per layer) are
// emitted fused. Every tensor is checked against the config before anything is built.
#pragma once

#include <filesystem>
#include <memory>

#include "core/graph.h"
#include "runtime/model_config.h"
#include "store/tensor_set.h"

namespace llmrt {

struct LoadedModel {
  ModelConfig config;
  TensorSet tensors;  // views into the model file(s)
  TensorSet extra;    // weights the builder synthesises (RoPE factors)
  const Tensor& weight(std::string_view name) const;  // extra first, then the file's
};

// NOT_FOUND / BAD_FORMAT / UNSUPPORTED errors name the path and what is wrong.
std::shared_ptr<const LoadedModel> load_model(const std::filesystem::path& path);

// max_context: the KV-cache length the graph will be compiled for (GGUF phi3 picks its RoPE
// factors from it, as llama.cpp does). BAD_FORMAT naming the tensor, the expected and the
// found shape when a tensor does not fit the config; NOT_FOUND for a missing tensor.
// logits: which tokens the output head runs on.
enum class LogitRows {
  kAll,       // every token: logits [T, vocab] (scoring a text)
  kLast,      // the final token only: [1, vocab], all one sequence's generation needs
  kSelected,  // a third input, logit_rows [R] i32, names the rows: [R, vocab] (a batched step
              // of several sequences wants each one's last token)
};
core::Graph build_graph(const LoadedModel& model, int64_t max_context, LogitRows logits = LogitRows::kAll);

}  // namespace llmrt
