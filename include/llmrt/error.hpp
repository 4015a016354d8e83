// llmrt::Error — the one exception type libllmrt's C++ API throws. It carries a code (the
// same values as the C llmrt_status) and a message that names the file, tensor, field or
// argument at fault. Includes only the standard library and llmrt/status.h.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "llmrt/status.h"

namespace llmrt {

enum class ErrorCode : llmrt_status {
  kOk = LLMRT_OK,
  kInvalidArgument = LLMRT_ERR_INVALID_ARGUMENT,
  kNotFound = LLMRT_ERR_NOT_FOUND,
  kIo = LLMRT_ERR_IO,
  kBadFormat = LLMRT_ERR_BAD_FORMAT,
  kUnsupported = LLMRT_ERR_UNSUPPORTED,
  kNotImplemented = LLMRT_ERR_NOT_IMPLEMENTED,
  kOutOfRange = LLMRT_ERR_OUT_OF_RANGE,
  kOutOfMemory = LLMRT_ERR_OUT_OF_MEMORY,
  kDevice = LLMRT_ERR_DEVICE,
  kCancelled = LLMRT_ERR_CANCELLED,
  kVersionMismatch = LLMRT_ERR_VERSION_MISMATCH,
  kInternal = LLMRT_ERR_INTERNAL,
};

// "OK", "INVALID_ARGUMENT", ... (the C name without the LLMRT_ERR_ prefix).
inline std::string_view to_string(ErrorCode code) { return llmrt_status_name(static_cast<llmrt_status>(code)); }

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace llmrt
