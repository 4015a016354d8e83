// llmrt-inspect: what is in a model file — its metadata and a table of its tensors.
//
//   llmrt-inspect model.gguf
//   llmrt-inspect model.safetensors
//   llmrt-inspect path/to/hf-folder        (config.json + model.safetensors[.index.json])
//   llmrt-inspect [--verify] CONTAINER      an .llmrt container folder (or its model.llmrt);
//                                           --verify recomputes every tensor's and file's checksum
//   llmrt-inspect --graph MODEL [--context N]   the graph compile() builds for the model
//
// Exits 0 on success, 1 with a message naming the file and the fault otherwise.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "llmrt/error.hpp"
#include "llmrt/runtime.hpp"
#include "store/container.h"
#include "store/gguf.h"
#include "store/safetensors.h"
#include "util/mapped_file.h"
#include "util/utf8.h"

namespace {

namespace fs = std::filesystem;
using namespace llmrt;

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.2f} {}", v, units[u]);
}

struct Row {
  std::string name, type, shape;
  uint64_t bytes;
};

void print_table(const std::vector<Row>& rows) {
  size_t wn = 4, wt = 4, ws = 5;
  for (const Row& r : rows) {
    wn = std::max(wn, r.name.size());
    wt = std::max(wt, r.type.size());
    ws = std::max(ws, r.shape.size());
  }
  wn = std::min<size_t>(wn, 60);
  fmt::print("\n{:<{}}  {:<{}}  {:<{}}  {:>12}\n", "name", wn, "type", wt, "shape", ws, "bytes");
  std::map<std::string, std::pair<int, uint64_t>> per_type;
  uint64_t total = 0;
  for (const Row& r : rows) {
    fmt::print("{:<{}}  {:<{}}  {:<{}}  {:>12}\n", r.name, wn, r.type, wt, r.shape, ws, r.bytes);
    per_type[r.type].first++;
    per_type[r.type].second += r.bytes;
    total += r.bytes;
  }
  fmt::print("\n{} tensors, {} ({} bytes)\n", rows.size(), human_bytes(total), total);
  for (const auto& [type, count_bytes] : per_type) {
    fmt::print("  {:<10} {:>6} tensors  {:>12}\n", type, count_bytes.first, human_bytes(count_bytes.second));
  }
}

std::string gguf_value_text(const gguf::Value& v);

std::string array_text(const gguf::Array& a) {
  std::string out = fmt::format("[{} x {}]", gguf::to_string(a.element_type), a.count);
  const uint64_t show = std::min<uint64_t>(a.count, 6);
  for (uint64_t i = 0; i < show; ++i) {
    out += i == 0 ? " " : ", ";
    if (a.element_type == gguf::ValueType::kString) out += fmt::format("\"{}\"", printable(a.strings[i], 24));
    else if (a.element_type == gguf::ValueType::kArray) out += fmt::format("[{} items]", a.arrays[i].count);
    else out += fmt::format("{}", a.number(i));
  }
  if (a.count > show) out += ", ...";
  return out;
}

std::string gguf_value_text(const gguf::Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) {
          std::string s = printable(x, 100);
          return fmt::format("\"{}\"{}", s, x.size() > 100 ? fmt::format(" ({} bytes)", x.size()) : "");
        } else if constexpr (std::is_same_v<T, std::shared_ptr<gguf::Array>>) {
          return array_text(*x);
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>) {
          return fmt::format("{}", static_cast<int>(x));
        } else {
          return fmt::format("{}", x);
        }
      },
      v.v);
}

void inspect_gguf(const fs::path& path) {
  auto f = gguf::File::read(path);
  fmt::print("{}: GGUF v{}, alignment {}, {} metadata entries, {} tensors, data at byte {}\n\n", path.string(), f.version,
             f.alignment, f.metadata.size(), f.tensor_infos.size(), f.data_offset);
  size_t w = 0;
  for (const auto& [k, v] : f.metadata) w = std::max(w, k.size());
  for (const auto& [k, v] : f.metadata) fmt::print("  {:<{}}  {:<6} {}\n", k, w, gguf::to_string(v.type()), gguf_value_text(v));
  std::vector<Row> rows;
  for (const auto& t : f.tensor_infos) {
    const ggml::TypeTraits* traits = ggml::type_traits(t.ggml_type);
    rows.push_back({t.name, traits ? std::string(traits->name) : fmt::format("type {}?", t.ggml_type),
                    shape_to_string(t.shape), t.bytes});
  }
  print_table(rows);
}

void print_safetensors(const safetensors::File& f) {
  for (const auto& [k, v] : f.metadata) fmt::print("  {}  \"{}\"\n", k, printable(v, 100));
  std::vector<Row> rows;
  for (const Tensor& t : f.tensors.tensors()) {
    rows.push_back({t.name, std::string(safetensors::dtype_name(t.type)), shape_to_string(t.shape), t.storage_bytes()});
  }
  print_table(rows);
}

void inspect_folder(const fs::path& dir) {
  fmt::print("{}: Hugging Face folder\n", dir.string());
  for (const char* name : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                           "model.safetensors", "model.safetensors.index.json"}) {
    fmt::print("  {:<30} {}\n", name, fs::exists(dir / name) ? "present" : "-");
  }
  if (fs::exists(dir / "config.json")) {
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(read_text_file(dir / "config.json"));
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorCode::kBadFormat, fmt::format("'{}' is not valid JSON: {}", (dir / "config.json").string(), e.what()));
    }
    fmt::print("\nconfig.json\n");
    for (auto& [k, v] : config.items()) {
      if (!v.is_object()) fmt::print("  {:<32} {}\n", k, printable(v.dump(), 100));
    }
  }
  fmt::print("\n");
  print_safetensors(safetensors::read_model(dir));
}

// Returns false when --verify found a damaged tensor or file.
bool inspect_container(const fs::path& path, bool verify) {
  const container::File f = container::File::read(path);
  fmt::print("{}: llmrt container v{}, {} tensors, written by {} from {} '{}'\n", container::container_dir(path).string(),
             f.version, f.tensors.size(), f.writer, f.source_format, f.source);
  fmt::print("  conversion  {}\n", printable(f.conversion, 300));
  for (const container::FileRecord& r : f.files) {
    fmt::print("  {:<30} {:>10} bytes  {}\n", r.name, r.bytes, container::checksum_text(r.checksum));
  }
  std::vector<Row> rows;
  for (const Tensor& t : f.tensors.tensors()) {
    std::string type(to_string(t.type));
    if (family(t.type) == TypeFamily::kCompressed) type += fmt::format(" g{}", t.group_size);
    rows.push_back({t.name, type, shape_to_string(t.shape), t.storage_bytes()});
  }
  print_table(rows);
  if (!verify) return true;
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  const auto problems = container::verify(f, [&](size_t done, size_t total) {
    if (tty) std::fprintf(stderr, "\rverifying %zu/%zu%s", done, total, done == total ? "\n" : "");
  });
  for (const container::VerifyProblem& p : problems) fmt::print("DAMAGED {}: {}\n", p.what, p.detail);
  if (problems.empty()) {
    fmt::print("verify: all {} tensors and {} files match their checksums\n", f.tensors.size(), f.files.size());
    return true;
  }
  fmt::print("verify: {} of {} tensors and files do not match their checksums\n", problems.size(),
             f.tensors.size() + f.files.size());
  return false;
}

bool starts_with_gguf_magic(const fs::path& path) {
  auto map = MappedFile::open(path);
  return map->size() >= 4 && std::memcmp(map->data(), "GGUF", 4) == 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: llmrt-inspect FILE|FOLDER\n"
               "       llmrt-inspect [--verify] CONTAINER\n"
               "       llmrt-inspect --graph MODEL [--context N]\n"
               "  Prints a model file's metadata and a table of its tensors (name, type, shape, bytes),\n"
               "  or with --graph the model's compiled graph (after the fusion passes).\n"
               "  FILE: a .gguf or .safetensors file; FOLDER: a Hugging Face model folder;\n"
               "  CONTAINER: an .llmrt container folder (--verify checks every tensor's checksum; exit 1 if damaged).\n");
  return 2;
}

void print_graph(const fs::path& path, int64_t context) {
  Core core({.plugin_dirs = {"/nonexistent"}});  // building the graph needs no device
  Model model = core.read_model(path);
  const ModelInfo& i = model.info();
  fmt::print("{}: {} ({}), {} layers, hidden {}, {} heads / {} kv heads of {}, ffn {}, vocab {}\n\n", path.string(),
             i.architecture, i.format, i.num_layers, i.hidden_size, i.num_heads, i.num_kv_heads, i.head_dim,
             i.intermediate_size, i.vocab_size);
  fmt::print("{}", model.graph_text(context));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0) return usage();
  const bool graph = std::strcmp(argv[1], "--graph") == 0;
  const bool verify = std::strcmp(argv[1], "--verify") == 0;
  if (graph ? (argc != 3 && argc != 5) : argc != (verify ? 3 : 2)) return usage();
  int64_t context = 0;
  if (graph && argc == 5) {
    char* end = nullptr;
    context = std::strtoll(argv[4], &end, 10);
    if (std::strcmp(argv[3], "--context") != 0 || !end || *end || context <= 0) return usage();
  }
  const fs::path path = argv[graph || verify ? 2 : 1];
  try {
    if (graph) {
      print_graph(path, context);
    } else if (verify && !container::is_container(path)) {
      std::fprintf(stderr, "llmrt-inspect: --verify: '%s' is not an llmrt container (no model.llmrt)\n", path.c_str());
      return 1;
    } else if (container::is_container(path)) {
      if (!inspect_container(path, verify)) return 1;
    } else if (fs::is_directory(path)) {
      inspect_folder(path);
    } else if (starts_with_gguf_magic(path)) {
      inspect_gguf(path);
    } else {
      auto f = safetensors::read(path);
      fmt::print("{}: safetensors, {} tensors\n", path.string(), f.tensors.size());
      print_safetensors(f);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "llmrt-inspect: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llmrt-inspect: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
