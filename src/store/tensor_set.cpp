#include "store/tensor_set.h"

#include "util/error.h"

namespace llmrt {

void TensorSet::add(Tensor tensor) {
  auto [it, inserted] = index_.emplace(tensor.name, tensors_.size());
  if (!inserted) fail(ErrorCode::kBadFormat, "{}: tensor '{}' appears twice", source_, tensor.name);
  tensors_.push_back(std::move(tensor));
}

const Tensor* TensorSet::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const Tensor& TensorSet::at(std::string_view name) const {
  if (const Tensor* t = find(name)) return *t;
  fail(ErrorCode::kNotFound, "{}: no tensor named '{}'", source_, name);
}

uint64_t TensorSet::total_bytes() const {
  uint64_t n = 0;
  for (const Tensor& t : tensors_) n += t.storage_bytes();
  return n;
}

}  // namespace llmrt
