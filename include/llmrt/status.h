/*
 * Status codes and the error record returned across every C boundary of libllmrt
 * (the public C API and the device-plugin ABI). Plain C; includes only the C library.
 *
 * Convention: a function returns an llmrt_status and, when its last argument is a
 * non-NULL llmrt_error*, fills it with the code and a message naming what is at fault.
 */
#ifndef LLMRT_STATUS_H
#define LLMRT_STATUS_H

#include <stdint.h>

#include "llmrt/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef int32_t llmrt_status;

enum {
  LLMRT_OK = 0,
  LLMRT_ERR_INVALID_ARGUMENT = 1, /* the caller passed a value that cannot be used      */
  LLMRT_ERR_NOT_FOUND = 2,        /* a file, tensor, key or device does not exist         */
  LLMRT_ERR_IO = 3,               /* the operating system failed a read, write or map     */
  LLMRT_ERR_BAD_FORMAT = 4,       /* a file's contents are malformed or inconsistent      */
  LLMRT_ERR_UNSUPPORTED = 5,      /* well-formed, but this build cannot handle it         */
  LLMRT_ERR_NOT_IMPLEMENTED = 6,  /* a feature that is not finished yet                   */
  LLMRT_ERR_OUT_OF_RANGE = 7,     /* a size or count exceeds a limit (e.g. context size)  */
  LLMRT_ERR_OUT_OF_MEMORY = 8,    /* an allocation failed                                 */
  LLMRT_ERR_DEVICE = 9,           /* a device or its driver reported a failure            */
  LLMRT_ERR_CANCELLED = 10,       /* the operation was cancelled by the caller            */
  LLMRT_ERR_VERSION_MISMATCH = 11,/* ABI or file-format version this build does not know  */
  LLMRT_ERR_INTERNAL = 12         /* a bug in libllmrt; please report it                  */
};

/* Messages longer than this are cut, ending in "...". */
#define LLMRT_ERROR_MESSAGE_SIZE 1024

typedef struct llmrt_error {
  llmrt_status code;
  char message[LLMRT_ERROR_MESSAGE_SIZE]; /* NUL-terminated UTF-8 */
} llmrt_error;

/* "OK", "INVALID_ARGUMENT", ...; "UNKNOWN" for a value not listed above. Never NULL. */
LLMRT_API const char* llmrt_status_name(llmrt_status status);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LLMRT_STATUS_H */
