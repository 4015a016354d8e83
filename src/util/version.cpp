#include "llmrt/version.h"

extern "C" const char* llmrt_version(void) { return LLMRT_VERSION_STRING; }
