#include "store/tensor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>
#include <vector>

#include "llmrt/error.hpp"
#include "store/codecs.h"

namespace llmrt {
namespace {

TEST(Tensor, ShapeHelpersAndOverflowChecks) {
  EXPECT_EQ(shape_to_string({2, 3}), "[2, 3]");
  EXPECT_EQ(checked_numel({2, 3, 4}, "t"), 24);
  EXPECT_EQ(checked_numel({}, "scalar"), 1);
  EXPECT_THROW(checked_numel({-1, 4}, "t"), Error);
  EXPECT_THROW(checked_numel({1 << 30, 1 << 30}, "t"), Error);
  EXPECT_THROW(checked_numel({int64_t{1} << 40, int64_t{1} << 40, 0}, "t"), Error)
      << "the overflow check must not depend on a later zero";
}

TEST(Tensor, ValidateNamesTheTensorAndThePlane) {
  std::vector<float> v(8, 1.0f);
  Tensor t = make_f32_tensor("model.norm.weight", {8}, v);
  t.shape = {9};
  try {
    t.validate();
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kBadFormat);
    EXPECT_NE(msg.find("model.norm.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("36"), std::string::npos) << msg;
  }
}

TEST(Tensor, PlainTypesDecode) {
  std::vector<std::byte> f16 = {std::byte{0x00}, std::byte{0x3C}, std::byte{0x00}, std::byte{0xC0}};
  EXPECT_EQ(make_owned_tensor("h", StoredType::kF16, {2}, f16).to_f32(), (std::vector<float>{1.0f, -2.0f}));
  std::vector<std::byte> bf16 = {std::byte{0x80}, std::byte{0x3F}};
  EXPECT_EQ(make_owned_tensor("b", StoredType::kBF16, {1}, bf16).to_f32(), (std::vector<float>{1.0f}));
  std::vector<std::byte> u8 = {std::byte{200}};
  EXPECT_EQ(make_owned_tensor("u", StoredType::kU8, {1}, u8).to_f32(), (std::vector<float>{200.0f}));
}

TEST(Tensor, CopiesAreViewsOfTheSameBytes) {
  std::vector<float> v(64, 2.0f);
  Tensor a = make_f32_tensor("w", {64}, v);
  Tensor b = a;
  EXPECT_EQ(a.data.data(), b.data.data());
  std::weak_ptr<const void> owner = a.owner;
  a = Tensor{};
  EXPECT_FALSE(owner.expired()) << "the copy keeps the bytes alive";
  EXPECT_EQ(b.to_f32()[0], 2.0f);
}

TEST(Tensor, RepackIsBuiltOnceAndSharedByCopies) {
  std::vector<float> v(64, 1.0f);
  Tensor a = codec::quantize("w", {2, 32}, v, {StoredType::kInt4Sym, 32});
  Tensor b = a;
  std::atomic<int> builds{0};
  auto make = [&]() -> std::shared_ptr<const void> {
    ++builds;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return std::make_shared<std::vector<int>>(3, 7);
  };
  std::vector<std::thread> threads;
  std::vector<const void*> got(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { got[i] = (i % 2 ? a : b).repacked("cpu.test", make).get(); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(builds.load(), 1);
  for (auto* p : got) EXPECT_EQ(p, got[0]);
  a.repacked("cpu.other", make);
  EXPECT_EQ(builds.load(), 2);
  EXPECT_THROW(a.repacked("empty", [] { return std::shared_ptr<const void>(); }), Error);
}

}  // namespace
}  // namespace llmrt

namespace llmrt {
namespace {

// Decoding a range of rows gives exactly those rows of the full decode, for every family.
TEST(Tensor, DequantizeRowsMatchesTheFullDecode) {
  std::vector<float> src(6 * 64);
  for (size_t i = 0; i < src.size(); ++i) src[i] = std::sin(static_cast<float>(i) * 0.37f);
  std::vector<Tensor> tensors = {
      make_f32_tensor("f", {6, 64}, src),
      codec::quantize("a", {6, 64}, src, {StoredType::kInt8Asym, 32, StoredType::kF16}),
      codec::quantize("b", {6, 64}, src, {StoredType::kInt4Sym, 32, StoredType::kF32}),
      codec::quantize("c", {6, 64}, src, {StoredType::kMxfp4}),
  };
  std::vector<std::byte> q4(ggml::row_bytes(ggml::Type::kQ4_K, 256) * 2);
  std::vector<float> wide(512);
  for (size_t i = 0; i < wide.size(); ++i) wide[i] = std::cos(static_cast<float>(i));
  for (int r = 0; r < 2; ++r) ggml::quantize_row(ggml::Type::kQ4_K, wide.data() + r * 256, q4.data() + r * q4.size() / 2, 256);
  tensors.push_back(make_owned_tensor("k", StoredType::kQ4_K, {2, 256}, q4));
  for (const Tensor& t : tensors) {
    auto all = t.to_f32();
    std::vector<float> part(static_cast<size_t>(t.cols()), -1.0f);
    t.dequantize_rows(t.rows() - 1, 1, part.data());
    EXPECT_TRUE(std::equal(part.begin(), part.end(), all.end() - t.cols())) << t.name;
    EXPECT_THROW(t.dequantize_rows(t.rows(), 1, part.data()), Error) << t.name;
  }
}

}  // namespace
}  // namespace llmrt
