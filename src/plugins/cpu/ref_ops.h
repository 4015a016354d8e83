// Reference kernels of the CPU plugin: straightforward, f32 with double accumulation where a
// reduction is long, parallel over independent rows. Each implements the maths of its op in
// src/core/ops.h. The conformance test checks every one against a float64 oracle.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/graph.h"
#include "kernels/cpu/qgemv.h"
#include "plugins/cpu/activation.h"
#include "plugins/cpu/paged_kv.h"
#include "store/tensor.h"

namespace llmrt::cpu {

// The KV cache of one attention layer of one request.
struct KvSlot {
  int64_t capacity = 0, width = 0;  // tokens, kv_heads * head_dim
  std::vector<float> k, v;          // [capacity, width]
};

// Scratch buffers a request owns, one per pool thread, kept between steps so that a decode
// step allocates nothing once the buffers have grown to size.
class Scratch {
 public:
  Scratch();
  // The calling pool thread's buffers; nullptr for a thread beyond the pool (a host calling
  // from inside its own parallel region), which then uses a buffer of its own for the call.
  std::vector<float>* f32();
  std::vector<double>* f64();
  // Activations quantized for the packed-weight kernels (one per request: every thread of a
  // parallel op writes its own rows).
  kernels::QuantizedRows& quantized() { return quantized_; }
  // Per-token key limits of an attention op (first and last key index).
  std::vector<int64_t>& limits() { return limits_; }

 private:
  std::vector<int64_t> limits_;
  kernels::QuantizedRows quantized_;
  std::vector<std::vector<float>> f32_;
  std::vector<std::vector<double>> f64_;
};

struct OpContext {
  int64_t n_past = 0;                 // tokens already in the request's cache
  int64_t n_tokens = 0;               // tokens in this step
  std::vector<KvSlot>* kv = nullptr;  // indexed by cache_slot
  int64_t max_context = 0;
  Scratch* scratch = nullptr;         // the request's
  // A paged step (execute_paged): the request's block pools by cache_slot, and the step's
  // sequences; kv is then unused.
  std::vector<std::unique_ptr<PagedKv>>* paged = nullptr;
  std::span<const SeqStep> seqs;
};

// An input: an activation, or a weight given as its stored tensor (with a decoded f32 copy
// for ops that take weights as plain operands).
struct Operand {
  const Activation* act = nullptr;
  const Tensor* weight = nullptr;
  const Activation* weight_f32 = nullptr;  // decoded weight, when the op needs it
  const kernels::PackedMatrix* packed = nullptr;  // FullyConnected's weight packed at compile, if any
  const Shape& shape() const { return act ? act->shape : weight->shape; }
  const float* f() const { return act ? act->f() : weight_f32->f(); }
  core::DType dtype() const { return act ? act->dtype : core::DType::kF32; }
  // Both dtypes are 4-byte elements: data-movement ops copy them as 32-bit words.
  const uint32_t* words() const {
    return act ? static_cast<const uint32_t*>(const_cast<Activation*>(act)->raw()) : reinterpret_cast<const uint32_t*>(weight_f32->f());
  }
};

// Runs `node` on `in`, resizing and filling `out`. Errors name the node.
void run_ref(const core::Node& node, const std::vector<Operand>& in, Activation& out, OpContext& ctx);

}  // namespace llmrt::cpu
