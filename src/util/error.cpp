#include "util/error.h"

#include <cstring>

namespace llmrt {

Status Status::from_c(const llmrt_error& e) {
  // The record crossed a C boundary: never trust it to be terminated.
  const char* end = static_cast<const char*>(std::memchr(e.message, '\0', sizeof(e.message)));
  size_t len = end ? static_cast<size_t>(end - e.message) : sizeof(e.message);
  return {static_cast<ErrorCode>(e.code), std::string(e.message, len)};
}

void Status::to_c(llmrt_error* dst) const {
  if (!dst) return;
  dst->code = static_cast<llmrt_status>(code_);
  constexpr size_t kCap = sizeof(dst->message) - 1;
  if (message_.size() <= kCap) {
    std::memcpy(dst->message, message_.data(), message_.size());
    dst->message[message_.size()] = '\0';
    return;
  }
  // Cut on a UTF-8 character boundary and mark the cut.
  size_t keep = kCap - 3;
  while (keep > 0 && (static_cast<unsigned char>(message_[keep]) & 0xC0) == 0x80) --keep;
  std::memcpy(dst->message, message_.data(), keep);
  std::memcpy(dst->message + keep, "...", 4);
}

void Status::throw_if_error(std::string_view context) const {
  if (ok()) return;
  if (context.empty()) throw Error(code_, message_);
  throw Error(code_, fmt::format("{}: {}", context, message_));
}

Status status_from_current_exception() {
  try {
    throw;
  } catch (const Error& e) {
    return Status::from_error(e);
  } catch (const std::bad_alloc&) {
    return {ErrorCode::kOutOfMemory, "out of memory"};
  } catch (const std::exception& e) {
    return {ErrorCode::kInternal, fmt::format("internal error: {}", e.what())};
  } catch (...) {
    return {ErrorCode::kInternal, "internal error: unknown exception"};
  }
}

}  // namespace llmrt

extern "C" const char* llmrt_status_name(llmrt_status status) {
  switch (status) {
    case LLMRT_OK: return "OK";
    case LLMRT_ERR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case LLMRT_ERR_NOT_FOUND: return "NOT_FOUND";
    case LLMRT_ERR_IO: return "IO";
    case LLMRT_ERR_BAD_FORMAT: return "BAD_FORMAT";
    case LLMRT_ERR_UNSUPPORTED: return "UNSUPPORTED";
    case LLMRT_ERR_NOT_IMPLEMENTED: return "NOT_IMPLEMENTED";
    case LLMRT_ERR_OUT_OF_RANGE: return "OUT_OF_RANGE";
    case LLMRT_ERR_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case LLMRT_ERR_DEVICE: return "DEVICE";
    case LLMRT_ERR_CANCELLED: return "CANCELLED";
    case LLMRT_ERR_VERSION_MISMATCH: return "VERSION_MISMATCH";
    case LLMRT_ERR_INTERNAL: return "INTERNAL";
    default: return "UNKNOWN";
  }
}
