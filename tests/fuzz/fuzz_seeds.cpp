// Writes the fuzz targets' seed corpora with the project's own writers: GGUF files in several
// recipes, safetensors, .llmrt containers in several codecs, tokenizer.json files, texts for the
// tokenizer round trip and chat templates (the synthetic one, and ../shared's real ones when
// SHARED_DIR is given).
//   fuzz_seeds OUT_DIR [SHARED_DIR]      -> OUT_DIR/{gguf,safetensors,container,tokenizer_json,
//                                             tokenizer_roundtrip,chat_template,openai_request}/...
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "llmrt/error.hpp"
#include "runtime/converter.h"
#include "runtime/synthetic_model.h"
#include "runtime/synthetic_tokenizer.h"

namespace fs = std::filesystem;

namespace {

constexpr auto kReplace = fs::copy_options::overwrite_existing;  // seeds are rewritten on every run

void write(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary | std::ios::trunc) << s; }

llmrt::SyntheticModelSpec small_spec(const std::string& arch) {
  llmrt::SyntheticModelSpec s;
  s.arch = arch;
  s.vocab_size = 96;
  s.hidden_size = 32;
  s.num_layers = 1;
  s.num_heads = 2;
  s.num_kv_heads = 1;
  s.head_dim = 16;
  s.intermediate_size = 64;
  s.max_position_embeddings = 64;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: fuzz_seeds OUT_DIR [SHARED_DIR]\n");
    return 2;
  }
  const fs::path out = argv[1];
  try {
    for (const char* d : {"gguf", "safetensors", "container", "tokenizer_json", "tokenizer_roundtrip", "chat_template",
                          "openai_request"}) {
      fs::create_directories(out / d);
    }
    const fs::path work = out / "work";
    fs::remove_all(work);
    for (const char* arch : {"llama", "qwen2", "phi3"}) {
      llmrt::SyntheticModelSpec s = small_spec(arch);
      for (const llmrt::GgufRecipe r : {llmrt::GgufRecipe::kF32, llmrt::GgufRecipe::kQ8_0, llmrt::GgufRecipe::kQ4_0}) {
        s.gguf_recipe = r;
        llmrt::write_synthetic_gguf(s, out / "gguf" / (std::string(arch) + "-" + std::string(llmrt::to_string(r)) + ".gguf"));
      }
      s.gguf_recipe = llmrt::GgufRecipe::kF32;
      s.hf_dtype = llmrt::StoredType::kF16;
      const fs::path hf = work / arch;
      llmrt::write_synthetic_hf(s, hf);
      fs::copy_file(hf / "model.safetensors", out / "safetensors" / (std::string(arch) + ".safetensors"), kReplace);
      fs::copy_file(hf / "tokenizer.json", out / "tokenizer_json" / (std::string(arch) + ".json"), kReplace);
      for (const char* mode : {"int4", "int8_asym", "mxfp4"}) {
        llmrt::ConvertOptions o;
        o.mode = *llmrt::parse_weight_mode(mode);
        const fs::path c = work / (std::string(arch) + "-" + mode);
        llmrt::convert_model(hf, c, o);
        fs::copy_file(c / "model.llmrt", out / "container" / (std::string(arch) + "-" + mode + ".llmrt"), kReplace);
      }
    }
    const char* texts[] = {"Hello world", "  leading and trailing  ", "tabs\tand\nnewlines\r\n",
                           "Unicode: café, 日本語, emoji 🦙", "<s> </s> <|endoftext|> specials as text", "12345 67.89"};
    int i = 0;
    for (const char* t : texts) write(out / "tokenizer_roundtrip" / ("text" + std::to_string(i++)), t);
    write(out / "chat_template" / "synthetic.jinja", llmrt::synthetic_chat_template());
    // Request bodies of the kinds OpenAI clients send (both endpoints read every one).
    const char* bodies[] = {
        R"({"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":8})",
        R"({"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"stream":true,)"
        R"("stream_options":{"include_usage":true},"n":2,"temperature":0.7,"top_p":0.9,"seed":3,"stop":["
","END"]})",
        R"({"model":"m","prompt":"Once upon a time","max_tokens":16,"logprobs":1,"presence_penalty":0.5,"frequency_penalty":-0.5})",
        R"({"prompt":[[1,2,3,4]],"max_completion_tokens":4,"logprobs":true,"user":"u","extra":{"x":[1,2]}})",
        R"({"prompt":["one string"],"temperature":0,"stop":"x"})"};
    i = 0;
    for (const char* b : bodies) write(out / "openai_request" / ("body" + std::to_string(i++) + ".json"), b);
    if (argc == 3) {
      const fs::path shared = argv[2];
      if (fs::exists(shared / "models/tiny-fortunes/tokenizer.json")) {
        fs::copy_file(shared / "models/tiny-fortunes/tokenizer.json", out / "tokenizer_json" / "tiny-fortunes.json",
                      kReplace);
      }
      if (fs::is_directory(shared / "data/chat-templates")) {
        for (const auto& e : fs::directory_iterator(shared / "data/chat-templates")) {
          if (e.path().extension() == ".jinja") {
            fs::copy_file(e.path(), out / "chat_template" / e.path().filename(), kReplace);
          }
        }
      }
    }
    fs::remove_all(work);
  } catch (const std::exception& e) {  // llmrt::Error or a filesystem error
    std::fprintf(stderr, "fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
