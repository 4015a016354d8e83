/* CHECK for the C tests: records a failure with its line and goes on. */
#ifndef LLMRT_TESTS_C_CHECK_H
#define LLMRT_TESTS_C_CHECK_H

#include <stdio.h>

static int failures = 0;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                              \
    }                                                                          \
  } while (0)

#endif /* LLMRT_TESTS_C_CHECK_H */
