// TensorSet: the named tensors of one model file (or of a sharded model), in file order,
// with lookup by name. Readers produce one; model builders take tensors from it.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/tensor.h"

namespace llmrt {

class TensorSet {
 public:
  explicit TensorSet(std::string source = {}) : source_(std::move(source)) {}

  // BAD_FORMAT naming both sources when the name is already present.
  void add(Tensor tensor);
  const Tensor* find(std::string_view name) const;
  // NOT_FOUND naming the tensor and where it was looked for.
  const Tensor& at(std::string_view name) const;

  const std::vector<Tensor>& tensors() const { return tensors_; }
  size_t size() const { return tensors_.size(); }
  uint64_t total_bytes() const;
  // A description of where the tensors came from ("model.safetensors", "3 shards in DIR").
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace llmrt
