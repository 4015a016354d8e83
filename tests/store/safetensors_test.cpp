#include "store/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "store/test_files.h"
#include "util/mapped_file.h"

namespace llmrt {
namespace {

using testing_util::as_bytes;
using testing_util::fails_with;
using testing_util::read_bytes;
using testing_util::TempDir;
using testing_util::write_bytes;

// A file made by hand: header {"a": F32 [2] at 0..8}, data 1.0, 2.0.
std::vector<std::byte> handmade(const std::string& header_json, const std::vector<std::byte>& data) {
  std::vector<std::byte> out(8);
  uint64_t n = header_json.size();
  std::memcpy(out.data(), &n, 8);
  for (char c : header_json) out.push_back(static_cast<std::byte>(c));
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

TEST(Safetensors, ReadsAHandMadeFileAsViews) {
  TempDir dir;
  auto data = as_bytes(std::vector<float>{1.0f, 2.0f, 3.0f});
  write_bytes(dir / "m.safetensors",
              handmade(R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
                       R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                       data));
  auto f = safetensors::read(dir / "m.safetensors");
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors.tensors()[0].name, "a") << "tensors come in file (offset) order";
  EXPECT_EQ(f.tensors.at("a").to_f32(), (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(f.tensors.at("b").to_f32(), (std::vector<float>{3.0f}));
  EXPECT_EQ(f.metadata.at("format"), "pt");
  EXPECT_TRUE(fails_with([&] { f.tensors.at("c"); }, ErrorCode::kNotFound, {"'c'", "m.safetensors"}));
}

TEST(Safetensors, WriterRoundTripsEveryDtype) {
  TempDir dir;
  std::vector<safetensors::WriteTensor> tensors;
  std::vector<std::vector<std::byte>> keep;
  int i = 0;
  for (auto type : {StoredType::kF32, StoredType::kF16, StoredType::kBF16, StoredType::kI8, StoredType::kU8,
                    StoredType::kI32, StoredType::kF64, StoredType::kI64}) {
    std::vector<std::byte> bytes(static_cast<size_t>(3 * 5 * plain_element_bytes(type)));
    for (size_t k = 0; k < bytes.size(); ++k) bytes[k] = static_cast<std::byte>(k * 13 + i);
    keep.push_back(bytes);
    std::string name = "t";
    name += std::to_string(i++);  // (not "t" + ...: GCC 12 -Wrestrict false positive)
    tensors.push_back({name, type, {3, 5}, keep.back()});
  }
  safetensors::write(dir / "rt.safetensors", tensors, {{"k", "v"}});
  // The header is padded to a multiple of 8 so the data is 8-aligned.
  auto raw = read_bytes(dir / "rt.safetensors");
  uint64_t header_size;
  std::memcpy(&header_size, raw.data(), 8);
  EXPECT_EQ(header_size % 8, 0u);
  auto f = safetensors::read(dir / "rt.safetensors");
  ASSERT_EQ(f.tensors.size(), tensors.size());
  for (size_t k = 0; k < tensors.size(); ++k) {
    const Tensor& t = f.tensors.at(tensors[k].name);
    EXPECT_EQ(t.type, tensors[k].type);
    EXPECT_EQ(t.shape, (Shape{3, 5}));
    ASSERT_EQ(t.data.size(), keep[k].size());
    EXPECT_EQ(std::memcmp(t.data.data(), keep[k].data(), keep[k].size()), 0);
    // A view into the file's map, not a copy.
    auto map = std::static_pointer_cast<const MappedFile>(t.owner);
    EXPECT_GE(t.data.data(), map->data());
    EXPECT_LE(t.data.data() + t.data.size(), map->data() + map->size());
  }
  EXPECT_EQ(f.metadata.at("k"), "v");
}

TEST(Safetensors, ShardedModels) {
  TempDir dir;
  auto a = as_bytes(std::vector<float>{1, 2, 3, 4});
  auto b = as_bytes(std::vector<float>{5, 6});
  safetensors::write_sharded(dir.path(), {{{"model.embed_tokens.weight", StoredType::kF32, {2, 2}, a}},
                                          {{"lm_head.weight", StoredType::kF32, {1, 2}, b}}});
  auto f = safetensors::read_model(dir.path());
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors.at("lm_head.weight").to_f32(), (std::vector<float>{5, 6}));
  EXPECT_EQ(f.tensors.at("model.embed_tokens.weight").to_f32()[3], 4.0f);
  EXPECT_NE(f.tensors.source().find("2 shards"), std::string::npos);
}

TEST(Safetensors, ShardIndexThatLiesOrEscapesIsRejected) {
  TempDir dir;
  auto a = as_bytes(std::vector<float>{1, 2});
  safetensors::write(dir / "s1.safetensors", {{"x", StoredType::kF32, {2}, a}});
  auto index = [&](const std::string& body) {
    std::ofstream(dir / "model.safetensors.index.json") << body;
  };
  index(R"({"weight_map": {"y": "s1.safetensors"}})");
  EXPECT_TRUE(fails_with([&] { safetensors::read_model(dir.path()); }, ErrorCode::kBadFormat, {"'y'", "s1.safetensors"}));
  index(R"({"weight_map": {"x": "../s1.safetensors"}})");
  EXPECT_TRUE(fails_with([&] { safetensors::read_model(dir.path()); }, ErrorCode::kBadFormat, {"not a plain file name"}));
  index(R"({"weight_map": {"x": "missing.safetensors"}})");
  EXPECT_TRUE(fails_with([&] { safetensors::read_model(dir.path()); }, ErrorCode::kNotFound, {"missing.safetensors"}));
  index(R"({"weight_map": 5})");
  EXPECT_TRUE(fails_with([&] { safetensors::read_model(dir.path()); }, ErrorCode::kBadFormat, {"weight_map"}));
  index(R"({"weight_map": )");
  EXPECT_TRUE(fails_with([&] { safetensors::read_model(dir.path()); }, ErrorCode::kBadFormat, {"not valid JSON"}));
}

// Each hostile file gets BAD_FORMAT/UNSUPPORTED naming the file and what is wrong.
struct Hostile {
  const char* label;
  std::string header;
  size_t data_bytes;
  ErrorCode code;
  const char* needle;
};

class SafetensorsHostile : public ::testing::TestWithParam<Hostile> {};

TEST_P(SafetensorsHostile, GivesAClearError) {
  const Hostile& h = GetParam();
  TempDir dir;
  write_bytes(dir / "h.safetensors", handmade(h.header, std::vector<std::byte>(h.data_bytes)));
  EXPECT_TRUE(fails_with([&] { safetensors::read(dir / "h.safetensors"); }, h.code, {"h.safetensors", h.needle}));
}

INSTANTIATE_TEST_SUITE_P(
    Files, SafetensorsHostile,
    ::testing::Values(
        Hostile{"offsets_past_end", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8, ErrorCode::kBadFormat, "past the end"},
        Hostile{"overlap", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12, ErrorCode::kBadFormat, "overlap"},
        Hostile{"size_mismatch", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, ErrorCode::kBadFormat, "needs 12 bytes"},
        Hostile{"reversed_offsets", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8, ErrorCode::kBadFormat, "end before"},
        Hostile{"unknown_dtype", R"({"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", 2, ErrorCode::kUnsupported, "F8_E4M3"},
        Hostile{"absurd_dims", R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8, ErrorCode::kBadFormat, "2^48"},
        Hostile{"negative_dim", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, ErrorCode::kBadFormat, "shape entry"},
        Hostile{"duplicate_name", R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", 2, ErrorCode::kBadFormat, "appears twice"},
        Hostile{"not_json", R"({"a": [)", 0, ErrorCode::kBadFormat, "not valid JSON"},
        Hostile{"not_object", R"([1,2,3])", 0, ErrorCode::kBadFormat, "not a JSON object"},
        Hostile{"bad_utf8_key", "{\"\xC3\x28\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, ErrorCode::kBadFormat, "UTF-8"},
        Hostile{"missing_fields", R"({"a":{"dtype":"U8"}})", 0, ErrorCode::kBadFormat, "data_offsets"},
        Hostile{"metadata_not_strings", R"({"__metadata__":{"n":1}})", 0, ErrorCode::kBadFormat, "__metadata__"}),
    [](const auto& p) { return std::string(p.param.label); });

TEST(Safetensors, TruncatedAndTinyFiles) {
  TempDir dir;
  auto full = handmade(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::vector<std::byte>(8));
  // Every prefix of a valid file fails cleanly (never reads past the end, never crashes).
  for (size_t n = 1; n < full.size(); ++n) {
    write_bytes(dir / "t.safetensors", std::vector<std::byte>(full.begin(), full.begin() + static_cast<long>(n)));
    try {
      safetensors::read(dir / "t.safetensors");
      ADD_FAILURE() << "prefix of " << n << " bytes accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kBadFormat) << e.what();
    }
  }
  // A header length larger than the limit (e.g. a GGUF or random file) is refused up front.
  std::vector<std::byte> huge(16, std::byte{0xFF});
  write_bytes(dir / "huge.safetensors", huge);
  EXPECT_TRUE(fails_with([&] { safetensors::read(dir / "huge.safetensors"); }, ErrorCode::kBadFormat, {"header size"}));
}

}  // namespace
}  // namespace llmrt
