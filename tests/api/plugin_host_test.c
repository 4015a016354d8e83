/* An embedding host in plain C11 driving the CPU plugin through its C tables alone: dlopen,
 * version check, init with a log sink, device info, supports(), buffers, compile a two-node
 * graph (FullyConnected then SiLU) from its JSON, run two steps, check the numbers against a
 * computation here, and check that a bad call fails with a message instead of crashing.
 * Usage: plugin_host_test PATH/TO/libllmrt_plugin_cpu.so */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "llmrt/plugin/plugin_abi.h"

#include "c_check.h"

static int log_lines = 0;
static void host_log(void* data, llmrt_log_level level, const char* message) {
  (void)data;
  (void)level;
  (void)message;
  ++log_lines;
}

static const char* kGraph =
    "{\"format\":\"llmrt-graph\",\"version\":1,"
    "\"values\":["
    "{\"name\":\"x\",\"kind\":\"input\",\"dtype\":\"f32\",\"shape\":[-1,4]},"
    "{\"name\":\"w\",\"kind\":\"weight\",\"dtype\":\"f32\",\"shape\":[3,4],\"stored\":\"f32\"},"
    "{\"name\":\"fc\",\"kind\":\"node\",\"dtype\":\"f32\",\"shape\":[-1,3]},"
    "{\"name\":\"act\",\"kind\":\"node\",\"dtype\":\"f32\",\"shape\":[-1,3]}],"
    "\"nodes\":["
    "{\"name\":\"fc\",\"op\":\"FullyConnected\",\"inputs\":[0,1],\"outputs\":[2],\"attrs\":{}},"
    "{\"name\":\"act\",\"op\":\"SiLU\",\"inputs\":[2],\"outputs\":[3],\"attrs\":{}}],"
    "\"inputs\":[0],\"outputs\":[3]}";

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PLUGIN.so\n", argv[0]);
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  llmrt_plugin_entry_fn entry;
  *(void**)(&entry) = dlsym(lib, LLMRT_PLUGIN_ENTRY_SYMBOL);
  CHECK(entry != NULL);
  if (!entry) return 1;
  CHECK(entry(LLMRT_PLUGIN_ABI_VERSION + 1) == NULL); /* a version it does not speak */
  const llmrt_plugin_api* api = entry(LLMRT_PLUGIN_ABI_VERSION);
  CHECK(api && api->abi_version == LLMRT_PLUGIN_ABI_VERSION && api->struct_size >= sizeof(llmrt_plugin_api));
  CHECK(strcmp(api->plugin_name, "cpu") == 0);

  llmrt_host_api host;
  memset(&host, 0, sizeof host);
  host.abi_version = LLMRT_PLUGIN_ABI_VERSION;
  host.struct_size = sizeof host;
  host.log = host_log;
  host.log_level = LLMRT_LOG_TRACE;
  llmrt_error err;
  void* plugin = NULL;
  CHECK(api->init(&host, &plugin, &err) == LLMRT_OK);

  uint32_t count = 0;
  CHECK(api->device_count(plugin, &count, &err) == LLMRT_OK && count == 1);
  llmrt_device_info info;
  CHECK(api->device_info(plugin, 0, &info, &err) == LLMRT_OK);
  CHECK(strcmp(info.name, "CPU") == 0);
  CHECK(info.properties_json[0] == '{');
  CHECK(api->device_info(plugin, 7, &info, &err) == LLMRT_ERR_NOT_FOUND && strlen(err.message) > 0);

  int32_t ok = -1;
  CHECK(api->supports(plugin, 0, "{\"op\":\"FullyConnected\",\"attrs\":{},\"inputs\":[]}", &ok, &err) == LLMRT_OK && ok == 1);
  CHECK(api->supports(plugin, 0, "{\"op\":\"Mamba\",\"attrs\":{},\"inputs\":[]}", &ok, &err) == LLMRT_OK && ok == 0);
  CHECK(api->supports(plugin, 0, "not json", &ok, &err) == LLMRT_ERR_INVALID_ARGUMENT);

  void* buffer = NULL;
  float in[4] = {1, 2, 3, 4}, back[4] = {0};
  CHECK(api->buffer_create(plugin, 0, sizeof in, &buffer, &err) == LLMRT_OK);
  CHECK(api->buffer_write(plugin, buffer, 0, in, sizeof in, &err) == LLMRT_OK);
  CHECK(api->buffer_read(plugin, buffer, 0, back, sizeof back, &err) == LLMRT_OK && memcmp(in, back, sizeof in) == 0);
  CHECK(api->buffer_read(plugin, buffer, 8, back, sizeof back, &err) == LLMRT_ERR_OUT_OF_RANGE);
  api->buffer_release(plugin, buffer);

  float w[12];
  for (int i = 0; i < 12; ++i) w[i] = (float)(i - 5) * 0.25f;
  llmrt_weight weight;
  memset(&weight, 0, sizeof weight);
  weight.name = "w";
  weight.stored_type = "f32";
  weight.scale_type = "f32";
  weight.rank = 2;
  weight.shape[0] = 3;
  weight.shape[1] = 4;
  weight.data = w;
  weight.data_bytes = sizeof w;
  llmrt_compile_options options = {sizeof(llmrt_compile_options), 0, 16, NULL, 0, 0, LLMRT_KV_F32, 0};
  void* compiled = NULL;
  CHECK(api->compile(plugin, 0, kGraph, &weight, 1, &options, &compiled, &err) == LLMRT_OK);
  if (!compiled) {
    fprintf(stderr, "compile: %s\n", err.message);
    return 1;
  }
  /* A weight of the wrong shape is refused, naming it. */
  weight.shape[0] = 2;
  void* bad = NULL;
  CHECK(api->compile(plugin, 0, kGraph, &weight, 1, &options, &bad, &err) != LLMRT_OK && strstr(err.message, "'w'") != NULL);
  weight.shape[0] = 3;

  void* request = NULL;
  CHECK(api->request_create(compiled, &request, &err) == LLMRT_OK);
  for (int step = 0; step < 2; ++step) {
    const int64_t t = step == 0 ? 2 : 1;
    float x[8];
    for (int i = 0; i < 8; ++i) x[i] = (float)(i + step) * 0.5f - 1.0f;
    llmrt_tensor input;
    memset(&input, 0, sizeof input);
    input.dtype = LLMRT_DTYPE_F32;
    input.rank = 2;
    input.shape[0] = t;
    input.shape[1] = 4;
    input.data = x;
    input.bytes = (uint64_t)(t * 4 * sizeof(float));
    llmrt_tensor output;
    memset(&output, 0, sizeof output);
    CHECK(api->execute(request, t, &input, 1, &output, 1, &err) == LLMRT_OK);
    CHECK(output.dtype == LLMRT_DTYPE_F32 && output.rank == 2 && output.shape[0] == t && output.shape[1] == 3);
    const float* y = (const float*)output.data;
    for (int64_t r = 0; r < t; ++r) {
      for (int j = 0; j < 3; ++j) {
        double acc = 0;
        for (int k = 0; k < 4; ++k) acc += (double)x[r * 4 + k] * w[j * 4 + k];
        double want = acc / (1.0 + exp(-acc));
        CHECK(fabs(y[r * 3 + j] - want) <= 1e-5 * (1 + fabs(want)));
      }
    }
  }
  /* A malformed call fails cleanly with a message. */
  llmrt_tensor wrong;
  memset(&wrong, 0, sizeof wrong);
  wrong.dtype = LLMRT_DTYPE_I32;
  wrong.rank = 1;
  llmrt_tensor out;
  CHECK(api->execute(request, 1, &wrong, 1, &out, 1, &err) == LLMRT_ERR_INVALID_ARGUMENT && strlen(err.message) > 0);
  CHECK(api->execute(request, 1, &wrong, 0, &out, 1, NULL) == LLMRT_ERR_INVALID_ARGUMENT); /* NULL error record allowed */
  /* NULL pointers from the host are errors with messages, never crashes. */
  CHECK(api->execute(request, 1, NULL, 1, &out, 1, &err) == LLMRT_ERR_INVALID_ARGUMENT && strstr(err.message, "NULL") != NULL);
  CHECK(api->device_info(plugin, 0, NULL, &err) == LLMRT_ERR_INVALID_ARGUMENT);
  CHECK(api->compile(plugin, 0, kGraph, NULL, 1, &options, &bad, &err) == LLMRT_ERR_INVALID_ARGUMENT);
  CHECK(api->request_reset(NULL, 0, &err) == LLMRT_ERR_INVALID_ARGUMENT);
  CHECK(api->request_reset(request, 0, &err) == LLMRT_OK);
  CHECK(api->request_reset(request, 5, &err) == LLMRT_ERR_INVALID_ARGUMENT);

  api->request_release(request);
  api->compiled_release(compiled);
  api->shutdown(plugin);
  dlclose(lib);
  if (failures == 0) printf("plugin_host_test: all checks passed (%d log lines received)\n", log_lines);
  return failures == 0 ? 0 : 1;
}
