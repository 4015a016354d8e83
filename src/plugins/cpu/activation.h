// Activations inside the CPU plugin: a dtype, a concrete shape and host memory. Kernels read
// inputs and write outputs through these views.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/graph.h"

namespace llmrt::cpu {

struct Activation {
  core::DType dtype = core::DType::kF32;
  Shape shape;
  std::vector<float> f32;    // when dtype is f32
  std::vector<int32_t> i32;  // when dtype is i32

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  // Sets dtype and shape and sizes the storage. The contents are unspecified (not zeroed):
  // every kernel writes all of its output, and a decode step then reuses the buffers of the
  // previous step without touching them twice.
  void resize(core::DType t, Shape s) {
    dtype = t;
    shape = std::move(s);
    if (t == core::DType::kF32) f32.resize(static_cast<size_t>(numel()));
    else i32.resize(static_cast<size_t>(numel()));
  }
  float* f() { return f32.data(); }
  const float* f() const { return f32.data(); }
  int32_t* i() { return i32.data(); }
  const int32_t* i() const { return i32.data(); }
  size_t bytes() const { return dtype == core::DType::kF32 ? f32.size() * 4 : i32.size() * 4; }
  void* raw() { return dtype == core::DType::kF32 ? static_cast<void*>(f32.data()) : static_cast<void*>(i32.data()); }
};

}  // namespace llmrt::cpu
