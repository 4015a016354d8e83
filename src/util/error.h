// Helpers for raising llmrt::Error with a formatted message, and for turning exceptions
// into C status records at every C boundary (public C API, plugin ABI).
#pragma once

#include <fmt/format.h>

#include <exception>
#include <new>
#include <string>
#include <utility>

#include "llmrt/error.hpp"
#include "llmrt/status.h"

namespace llmrt {

template <class... Args>
[[noreturn]] void fail(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(code, fmt::format(format, std::forward<Args>(args)...));
}

// A code and message as a value, for the C side and for APIs that report rather than throw.
class Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status from_error(const Error& e) { return {e.code(), e.what()}; }
  static Status from_c(const llmrt_error& e);

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Writes into a C record (NULL allowed); cuts messages that do not fit, ending in "...".
  void to_c(llmrt_error* dst) const;
  // Throws llmrt::Error when not ok; `context` prefixes the message when not empty.
  void throw_if_error(std::string_view context = {}) const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

// The current exception as a Status: llmrt::Error keeps its code, bad_alloc becomes
// OUT_OF_MEMORY, anything else INTERNAL. Call only inside a catch block.
Status status_from_current_exception();

// Runs `fn` and converts any exception into a status for a C caller. Never throws.
template <class F>
llmrt_status c_boundary(llmrt_error* err, F&& fn) noexcept {
  Status status;
  try {
    std::forward<F>(fn)();
  } catch (...) {
    status = status_from_current_exception();
  }
  status.to_c(err);
  return static_cast<llmrt_status>(status.code());
}

}  // namespace llmrt
