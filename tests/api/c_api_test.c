/* Uses libllmrt.so through its C headers only, compiled as C11: the way a C host (or any
 * language with a C FFI) would. Returns non-zero with a message on the first failure. */
#include <stdio.h>
#include <string.h>

#include "llmrt/log.h"
#include "llmrt/status.h"
#include "llmrt/version.h"

#include "c_check.h"

static int calls = 0;
static void on_log(llmrt_log_level level, const char* message, void* user) {
  (void)level;
  (void)message;
  ++*(int*)user;
}

int main(void) {
  CHECK(strcmp(llmrt_version(), LLMRT_VERSION_STRING) == 0);
  CHECK(strcmp(llmrt_status_name(LLMRT_OK), "OK") == 0);
  CHECK(strcmp(llmrt_status_name(LLMRT_ERR_BAD_FORMAT), "BAD_FORMAT") == 0);
  CHECK(sizeof(llmrt_error) == sizeof(llmrt_status) + LLMRT_ERROR_MESSAGE_SIZE);

  llmrt_log_set_callback(on_log, &calls);
  llmrt_log_set_level(LLMRT_LOG_OFF);
  CHECK(llmrt_log_get_level() == LLMRT_LOG_OFF);
  llmrt_log_set_level((llmrt_log_level)42); /* out of range: clamped, not trusted */
  CHECK(llmrt_log_get_level() == LLMRT_LOG_OFF);
  llmrt_log_set_callback(NULL, NULL);
  CHECK(calls == 0);

  if (failures == 0) printf("c_api_test: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
