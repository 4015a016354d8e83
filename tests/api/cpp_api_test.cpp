// README's C++ example, linked against libllmrt.so only (not the static layer libraries), on
// a synthetic model: the public headers and the shared library are enough for an application.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "llmrt/runtime.hpp"
#include "runtime/synthetic_model.h"  // only to make a model here; applications bring their own

int main() {
  const auto dir = std::filesystem::temp_directory_path() / ("llmrt_cpp_api_test_" + std::to_string(::getpid()));
  llmrt::SyntheticModelSpec spec;
  spec.arch = "llama3";
  llmrt::write_synthetic_hf(spec, dir);
  int status = 1;
  try {
    // --- README example starts ---
    llmrt::Core core;
    for (const auto& d : core.devices()) std::printf("%s: %s\n", d.name.c_str(), d.full_name.c_str());
    llmrt::Model model = core.read_model(dir);  // a Hugging Face folder or a .gguf file
    llmrt::CompiledModel compiled = core.compile(model, "CPU", {.max_context = 64});
    llmrt::InferRequest request = compiled.create_request();
    std::vector<int32_t> prompt = {1, 15, 42, 7};
    std::vector<float> logits = request.infer(prompt);  // [4 x vocab], row-major
    // --- README example ends ---
    const int64_t vocab = request.vocab_size();
    bool ok = logits.size() == prompt.size() * static_cast<size_t>(vocab) && request.n_past() == 4;
    std::vector<int32_t> next = {3};
    ok = ok && request.infer(next).size() == static_cast<size_t>(vocab);
    // last_token_logits: one row, the same values as the last row of every token's logits (the
    // output head is per token; only rows the caller would drop are skipped).
    llmrt::CompiledModel last_only = core.compile(model, "CPU", {.max_context = 64, .last_token_logits = true});
    llmrt::InferRequest r2 = last_only.create_request();
    std::vector<float> last = r2.infer(prompt);
    ok = ok && last.size() == static_cast<size_t>(vocab);
    for (int64_t i = 0; ok && i < vocab; ++i) {
      const float want = logits[static_cast<size_t>(3 * vocab + i)];
      if (std::fabs(last[static_cast<size_t>(i)] - want) > 1e-5f * (1.0f + std::fabs(want))) {
        std::printf("last_token_logits: logit %lld is %g, want %g\n", static_cast<long long>(i), last[static_cast<size_t>(i)], want);
        ok = false;
      }
    }
    std::printf("cpp_api_test: %s\n", ok ? "ok" : "FAILED");
    status = ok ? 0 : 1;
  } catch (const llmrt::Error& e) {
    std::printf("cpp_api_test: %s\n", e.what());
  }
  std::filesystem::remove_all(dir);
  return status;
}
