#include "store/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "store/test_files.h"

namespace llmrt {
namespace {

using testing_util::as_bytes;
using testing_util::fails_with;
using testing_util::read_bytes;
using testing_util::TempDir;
using testing_util::write_bytes;

// Little-endian byte builder for hand-made files.
struct Bytes {
  std::vector<std::byte> b;
  Bytes& u8(uint8_t v) { b.push_back(std::byte{v}); return *this; }
  Bytes& u32(uint32_t v) { for (int i = 0; i < 4; ++i) u8(static_cast<uint8_t>(v >> (8 * i))); return *this; }
  Bytes& u64(uint64_t v) { for (int i = 0; i < 8; ++i) u8(static_cast<uint8_t>(v >> (8 * i))); return *this; }
  Bytes& str(std::string_view s) { u64(s.size()); for (char c : s) u8(static_cast<uint8_t>(c)); return *this; }
  Bytes& f32(float f) { uint32_t v; std::memcpy(&v, &f, 4); return u32(v); }
  Bytes& pad(size_t a) { while (b.size() % a) u8(0); return *this; }
};

// The published layout, written out by hand for a tiny file: one string key and one F32
// tensor of shape [2] (ne = {2}).
TEST(Gguf, WriterMatchesTheSpecByteForByte) {
  Bytes want;
  want.u32(0x46554747).u32(3).u64(1).u64(1);
  want.str("general.architecture").u32(8).str("llama");
  want.str("t").u32(1).u64(2).u32(0).u64(0);
  want.pad(32).f32(1.5f).f32(-2.0f).pad(32);

  gguf::Writer w;
  w.add("general.architecture", gguf::string_value("llama"));
  auto data = as_bytes(std::vector<float>{1.5f, -2.0f});
  w.add_tensor("t", ggml::Type::kF32, {2}, data);
  EXPECT_EQ(w.bytes(), want.b);
}

TEST(Gguf, RoundTripsEveryMetadataTypeAndTensorLayout) {
  TempDir dir;
  gguf::Writer w(3, 64);
  w.add("u8", {uint8_t{200}});
  w.add("i8", {int8_t{-5}});
  w.add("u16", {uint16_t{60000}});
  w.add("i16", {int16_t{-30000}});
  w.add("u32", {uint32_t{4000000000u}});
  w.add("i32", {int32_t{-2000000000}});
  w.add("f32", {0.25f});
  w.add("bool", {true});
  w.add("str", gguf::string_value("héllo"));
  w.add("u64", {uint64_t{1} << 40});
  w.add("i64", {int64_t{-1} << 40});
  w.add("f64", {0.125});
  w.add("tokens", gguf::string_array({"<s>", "</s>", "▁the"}));
  w.add("scores", gguf::number_array(gguf::ValueType::kF32, std::vector<float>{0.0f, -1.5f, 2.0f}));
  auto nested = std::make_shared<gguf::Array>();
  nested->element_type = gguf::ValueType::kArray;
  nested->count = 2;
  nested->arrays.resize(2);
  for (int k = 0; k < 2; ++k) {
    nested->arrays[static_cast<size_t>(k)].element_type = gguf::ValueType::kI32;
    nested->arrays[static_cast<size_t>(k)].count = 1;
    nested->arrays[static_cast<size_t>(k)].packed = as_bytes(std::vector<int32_t>{k * 7});
  }
  w.add("nested", {nested});
  std::vector<float> m(3 * 64);
  for (size_t i = 0; i < m.size(); ++i) m[i] = static_cast<float>(i) * 0.5f;
  w.add_tensor("w", ggml::Type::kF32, {3, 64}, as_bytes(m));
  w.add_tensor("bias", ggml::Type::kF32, {5}, as_bytes(std::vector<float>{1, 2, 3, 4, 5}));
  w.write(dir / "m.gguf");

  auto f = gguf::File::read(dir / "m.gguf");
  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.alignment, 64u);
  EXPECT_EQ(f.at("u8").as_int("u8"), 200);
  EXPECT_EQ(f.at("i8").as_int("i8"), -5);
  EXPECT_EQ(f.at("u16").as_int("u16"), 60000);
  EXPECT_EQ(f.at("i16").as_int("i16"), -30000);
  EXPECT_EQ(f.at("u32").as_int("u32"), 4000000000);
  EXPECT_EQ(f.at("i32").as_int("i32"), -2000000000);
  EXPECT_EQ(f.at("f32").as_float("f32"), 0.25);
  EXPECT_EQ(f.at("bool").type(), gguf::ValueType::kBool);
  EXPECT_EQ(f.at("str").as_string("str"), "héllo");
  EXPECT_EQ(f.at("u64").as_int("u64"), int64_t{1} << 40);
  EXPECT_EQ(f.at("i64").as_int("i64"), int64_t{-1} << 40);
  EXPECT_EQ(f.at("f64").as_float("f64"), 0.125);
  const auto& tokens = f.at("tokens").as_array("tokens");
  EXPECT_EQ(tokens.strings, (std::vector<std::string>{"<s>", "</s>", "▁the"}));
  EXPECT_EQ(f.at("scores").as_array("scores").number(1), -1.5);
  EXPECT_EQ(f.at("nested").as_array("nested").arrays[1].integer(0), 7);
  EXPECT_TRUE(fails_with([&] { f.at("str").as_int("str"); }, ErrorCode::kInvalidArgument, {"'str'", "string"}));
  EXPECT_TRUE(fails_with([&] { f.at("nope"); }, ErrorCode::kNotFound, {"'nope'"}));

  auto set = f.tensors();
  EXPECT_EQ(set.at("w").shape, (Shape{3, 64}));
  EXPECT_EQ(set.at("w").to_f32(), m);
  EXPECT_EQ(set.at("bias").to_f32()[4], 5.0f);
  for (const auto& info : f.tensor_infos) EXPECT_EQ(info.offset % 64, 0u) << info.name;
}

TEST(Gguf, QuantizedTensorsRoundTripThroughTheFile) {
  TempDir dir;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<float> src(4 * 256);
  for (auto& x : src) x = normal(rng);
  gguf::Writer w;
  std::vector<std::pair<std::string, ggml::Type>> types = {
      {"q8", ggml::Type::kQ8_0}, {"q4", ggml::Type::kQ4_0}, {"q4k", ggml::Type::kQ4_K},
      {"q6k", ggml::Type::kQ6_K}, {"mx", ggml::Type::kMXFP4}, {"h", ggml::Type::kF16}};
  std::vector<std::vector<float>> expected;
  for (auto& [name, type] : types) {
    std::vector<std::byte> q(ggml::row_bytes(type, 256) * 4);
    for (int r = 0; r < 4; ++r) ggml::quantize_row(type, src.data() + r * 256, q.data() + r * ggml::row_bytes(type, 256), 256);
    std::vector<float> deq(src.size());
    for (int r = 0; r < 4; ++r) ggml::dequantize_row(type, q.data() + r * ggml::row_bytes(type, 256), deq.data() + r * 256, 256);
    expected.push_back(deq);
    w.add_tensor(name, type, {4, 256}, q);
  }
  w.write(dir / "q.gguf");
  auto set = gguf::File::read(dir / "q.gguf").tensors();
  for (size_t i = 0; i < types.size(); ++i) {
    const Tensor& t = set.at(types[i].first);
    EXPECT_EQ(to_ggml(t.type), types[i].second);
    EXPECT_EQ(t.to_f32(), expected[i]) << types[i].first;
  }
}

TEST(Gguf, Version2IsReadAndVersion1Refused) {
  TempDir dir;
  gguf::Writer w(2);
  w.add("general.name", gguf::string_value("v2"));
  w.write(dir / "v2.gguf");
  EXPECT_EQ(gguf::File::read(dir / "v2.gguf").version, 2u);
  write_bytes(dir / "v1.gguf", Bytes().u32(0x46554747).u32(1).u32(0).u32(0).b);
  EXPECT_TRUE(fails_with([&] { gguf::File::read(dir / "v1.gguf"); }, ErrorCode::kBadFormat, {"v1.gguf", "version 1"}));
  write_bytes(dir / "v9.gguf", Bytes().u32(0x46554747).u32(9).u64(0).u64(0).b);
  EXPECT_TRUE(fails_with([&] { gguf::File::read(dir / "v9.gguf"); }, ErrorCode::kBadFormat, {"version 9"}));
}

// A small valid file; hostile variants are made from it.
Bytes header(uint64_t n_tensors, uint64_t n_kv) { return Bytes().u32(0x46554747).u32(3).u64(n_tensors).u64(n_kv); }

struct HostileCase {
  const char* label;
  Bytes file;
  const char* needle;
};

std::vector<HostileCase> hostile_cases() {
  std::vector<HostileCase> c;
  c.push_back({"wrong_magic", Bytes().u32(0x0000464C).u32(3).u64(0).u64(0), "not a GGUF file"});
  c.push_back({"huge_tensor_count", header(uint64_t{1} << 40, 0), "tensors (limit"});
  c.push_back({"counts_cannot_fit", header(1000, 1000), "cannot fit"});
  c.push_back({"huge_string", header(0, 1).u64(uint64_t{1} << 62).u64(0).u64(0), "limit"});
  c.push_back({"string_past_end", header(0, 1).str("k").u32(8).u64(1000).u8('x'), "past the end"});
  c.push_back({"huge_array", header(0, 1).str("k").u32(9).u32(0).u64(uint64_t{1} << 26).u8(0), "more bytes than"});
  c.push_back({"array_over_limit", header(0, 1).str("k").u32(9).u32(0).u64(uint64_t{1} << 40), "limit"});
  c.push_back({"bad_utf8_key", header(0, 1).str("\xFF\xFE").u32(4).u32(1), "not valid UTF-8"});
  c.push_back({"duplicate_key", header(0, 2).str("k").u32(4).u32(1).str("k").u32(4).u32(2), "appears twice"});
  c.push_back({"unknown_value_type", header(0, 1).str("k").u32(77).u32(1), "unknown value type 77"});
  c.push_back({"bool_not_0_or_1", header(0, 1).str("k").u32(7).u8(3), "neither 0 nor 1"});
  c.push_back({"bad_alignment", header(0, 1).str("general.alignment").u32(4).u32(48), "power of two"});
  c.push_back({"alignment_wrong_type", header(0, 1).str("general.alignment").u32(5).u32(32), "expected u32"});
  Bytes deep = header(0, 1).str("k").u32(9);  // value type: array
  for (int i = 0; i < 8; ++i) deep.u32(9).u64(1);  // an array of one array of ...
  c.push_back({"arrays_too_deep", deep.u32(0).u64(0), "nested deeper"});
  c.push_back({"too_many_dims", header(1, 0).str("t").u32(5).u64(1).u64(1).u64(1).u64(1).u64(1).u32(0).u64(0), "5 dimensions"});
  c.push_back({"absurd_dim", header(1, 0).str("t").u32(2).u64(uint64_t{1} << 60).u64(1).u32(0).u64(0), "dimension of"});
  c.push_back({"absurd_product", header(1, 0).str("t").u32(2).u64(uint64_t{1} << 30).u64(uint64_t{1} << 30).u32(0).u64(0), "2^48"});
  c.push_back({"misaligned_offset", header(1, 0).str("t").u32(1).u64(2).u32(0).u64(4).pad(32).u64(0).u64(0), "not a multiple"});
  c.push_back({"offset_past_end", header(1, 0).str("t").u32(1).u64(2).u32(0).u64(64).pad(32).u64(0), "past the end"});
  c.push_back({"data_truncated", header(1, 0).str("t").u32(1).u64(64).u32(0).u64(0).pad(32).u64(0), "past the end"});
  c.push_back({"row_not_block_multiple", header(1, 0).str("t").u32(1).u64(20).u32(8).u64(0).pad(32), "multiple of the 32"});
  c.push_back({"overlap", header(2, 0).str("a").u32(1).u64(16).u32(0).u64(0).str("b").u32(1).u64(8).u32(0).u64(32)
                              .pad(32).u64(0).u64(0).u64(0).u64(0).u64(0).u64(0).u64(0).u64(0).u64(0).u64(0),
               "overlap"});
  c.push_back({"duplicate_tensor", header(2, 0).str("a").u32(1).u64(2).u32(0).u64(0).str("a").u32(1).u64(2).u32(0).u64(32)
                                       .pad(32).u64(0).u64(0).u64(0).u64(0).u64(0),
               "appears twice"});
  c.push_back({"bad_utf8_tensor_name", header(1, 0).str("\xC0\x80").u32(1).u64(2).u32(0).u64(0).pad(32).u64(0), "UTF-8"});
  return c;
}

TEST(Gguf, HostileFilesGiveClearErrors) {
  TempDir dir;
  for (const HostileCase& h : hostile_cases()) {
    auto path = dir / (std::string(h.label) + ".gguf");
    write_bytes(path, h.file.b);
    EXPECT_TRUE(fails_with([&] { gguf::File::read(path); }, ErrorCode::kBadFormat, {path.string(), h.needle})) << h.label;
  }
}

TEST(Gguf, UnknownTensorTypeIsListedButNotLoaded) {
  TempDir dir;
  write_bytes(dir / "iq.gguf", header(1, 0).str("t").u32(1).u64(256).u32(16).u64(0).pad(32).u64(0).b);
  auto f = gguf::File::read(dir / "iq.gguf");
  ASSERT_EQ(f.tensor_infos.size(), 1u);
  EXPECT_EQ(f.tensor_infos[0].ggml_type, 16u);
  EXPECT_TRUE(fails_with([&] { f.tensors(); }, ErrorCode::kUnsupported, {"'t'", "16"}));
}

TEST(Gguf, EveryTruncationOfAValidFileFailsCleanly) {
  TempDir dir;
  gguf::Writer w;
  w.add("general.architecture", gguf::string_value("llama"));
  w.add("tokenizer.ggml.tokens", gguf::string_array({"a", "b", "c"}));
  w.add("tokenizer.ggml.scores", gguf::number_array(gguf::ValueType::kF32, std::vector<float>{1, 2, 3}));
  std::vector<float> v(64, 1.0f);
  w.add_tensor("w", ggml::Type::kF32, {2, 32}, as_bytes(v));
  auto full = w.bytes();
  // Prefixes shorter than the end of the tensor data must all be refused.
  size_t data_end = full.size();
  for (size_t n = 0; n < data_end; n += (n < 400 ? 1 : 7)) {
    write_bytes(dir / "t.gguf", std::vector<std::byte>(full.begin(), full.begin() + static_cast<long>(n)));
    try {
      gguf::File::read(dir / "t.gguf").tensors();
      ADD_FAILURE() << "prefix of " << n << " of " << full.size() << " bytes accepted";
    } catch (const Error& e) {
      EXPECT_TRUE(e.code() == ErrorCode::kBadFormat) << e.what();
    }
  }
}

TEST(Gguf, WriterRejectsBadInput) {
  gguf::Writer w;
  w.add("k", {uint32_t{1}});
  EXPECT_THROW(w.add("k", {uint32_t{2}}), Error);
  std::vector<std::byte> eight(8);
  EXPECT_THROW(w.add_tensor("t", ggml::Type::kF32, {3}, eight), Error);
  EXPECT_THROW(w.add_tensor("t", ggml::Type::kF32, {1, 1, 1, 1, 2}, eight), Error);
  EXPECT_THROW(gguf::Writer(1), Error);
  EXPECT_THROW(gguf::Writer(3, 48), Error);
}

}  // namespace
}  // namespace llmrt
