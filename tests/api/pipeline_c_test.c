/* The generation C API (llmrt/llmrt.h), as a C program would use it: create a pipeline on the
 * model folder given as argv[1], generate greedily with a streaming callback, check that the
 * streamed text equals the result, cancel from the callback, chat, and get clear errors.
 * Usage: pipeline_c_test MODEL_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llmrt/llmrt.h"

#include "c_check.h"

struct Collected {
  char text[4096];
  size_t length;
  int calls;
  int cancel_after;
};

static int collect(const char* text, size_t length, void* user) {
  struct Collected* c = (struct Collected*)user;
  if (c->length + length < sizeof c->text) {
    memcpy(c->text + c->length, text, length);
    c->length += length;
    c->text[c->length] = '\0';
  }
  ++c->calls;
  return c->cancel_after > 0 && c->calls >= c->cancel_after;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s MODEL_DIR\n", argv[0]);
    return 2;
  }
  llmrt_error err;
  llmrt_pipeline* p = NULL;
  CHECK(llmrt_pipeline_create("/no/such/model", "CPU", 0, &p, &err) == LLMRT_ERR_NOT_FOUND && p == NULL);
  CHECK(strstr(err.message, "/no/such/model") != NULL);
  if (llmrt_pipeline_create(argv[1], "CPU", 64, &p, &err) != LLMRT_OK) {
    fprintf(stderr, "create: %s\n", err.message);
    return 1;
  }

  llmrt_generation_config cfg;
  llmrt_generation_config_init(&cfg);
  cfg.max_new_tokens = 8;
  cfg.ignore_eos = 1;
  struct Collected c;
  memset(&c, 0, sizeof c);
  llmrt_generation_result* r = NULL;
  CHECK(llmrt_pipeline_generate(p, "the early bird", &cfg, collect, &c, &r, &err) == LLMRT_OK);
  if (r) {
    CHECK(r->n_generated_tokens == 8);
    CHECK(r->finish_reason == LLMRT_FINISH_LENGTH);
    CHECK(r->n_prompt_tokens > 1 && r->prompt_token_ids[0] == 1);
    CHECK(strcmp(r->text, c.text) == 0);
    CHECK(strlen(r->text) == r->text_length);
    CHECK(r->ttft_ms > 0 && r->tpot_ms > 0);
    CHECK(r->logprobs == NULL);
    llmrt_generation_result_free(r);
  }

  /* Cancel after the first chunk. */
  memset(&c, 0, sizeof c);
  c.cancel_after = 1;
  cfg.max_new_tokens = 40;
  r = NULL;
  CHECK(llmrt_pipeline_generate(p, "the early bird", &cfg, collect, &c, &r, &err) == LLMRT_OK);
  if (r) {
    CHECK(r->finish_reason == LLMRT_FINISH_CANCELLED);
    CHECK(r->n_generated_tokens < 40);
    llmrt_generation_result_free(r);
  }

  /* Chat turns. */
  CHECK(llmrt_pipeline_start_chat(p, "", &err) == LLMRT_OK);
  cfg.max_new_tokens = 4;
  for (int turn = 0; turn < 2; ++turn) {
    r = NULL;
    CHECK(llmrt_pipeline_generate(p, "hello", &cfg, NULL, NULL, &r, &err) == LLMRT_OK);
    llmrt_generation_result_free(r);
  }
  llmrt_pipeline_finish_chat(p);

  /* Bad arguments give statuses and messages. */
  cfg.do_sample = 1;
  cfg.temperature = -1.0f;
  CHECK(llmrt_pipeline_generate(p, "x", &cfg, NULL, NULL, &r, &err) == LLMRT_ERR_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "temperature") != NULL);
  CHECK(llmrt_pipeline_generate(p, NULL, NULL, NULL, NULL, &r, &err) == LLMRT_ERR_INVALID_ARGUMENT);
  cfg.struct_size = 8;
  CHECK(llmrt_pipeline_generate(p, "x", &cfg, NULL, NULL, &r, NULL) == LLMRT_ERR_VERSION_MISMATCH);

  llmrt_pipeline_destroy(p);
  if (failures == 0) printf("pipeline_c_test: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
