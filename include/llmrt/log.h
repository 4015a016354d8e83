/*
 * libllmrt's one log sink. By default messages go to stderr; the library never writes to
 * stdout by itself. A host replaces the sink with a callback.
 *
 * Environment (read once, at first use):
 *   LLMRT_LOG_LEVEL = trace | debug | info | warn | error | off   (default: warn)
 *   LLMRT_VERBOSE   = 1  one line per compiled or executed kernel, with its implementation
 *                        and time (implies at least the info level)
 * Thread-safety: all functions may be called from any thread. The callback is called with
 * an internal lock held, so it must not call back into llmrt_log_*.
 */
#ifndef LLMRT_LOG_H
#define LLMRT_LOG_H

#include "llmrt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum llmrt_log_level {
  LLMRT_LOG_TRACE = 0,
  LLMRT_LOG_DEBUG = 1,
  LLMRT_LOG_INFO = 2,
  LLMRT_LOG_WARN = 3,
  LLMRT_LOG_ERROR = 4,
  LLMRT_LOG_OFF = 5
} llmrt_log_level;

/* message: one line of UTF-8 without a trailing newline; valid only during the call. */
typedef void (*llmrt_log_callback)(llmrt_log_level level, const char* message, void* user_data);

/* Replace the sink; NULL restores the default (stderr). */
LLMRT_API void llmrt_log_set_callback(llmrt_log_callback callback, void* user_data);
/* Messages below this level are dropped before they are formatted. */
LLMRT_API void llmrt_log_set_level(llmrt_log_level level);
LLMRT_API llmrt_log_level llmrt_log_get_level(void);
/* Turn per-kernel verbose lines on or off (what LLMRT_VERBOSE=1 sets). */
LLMRT_API void llmrt_log_set_verbose(int enabled);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LLMRT_LOG_H */
