#include "util/error.h"

#include <gtest/gtest.h>

#include <cstring>
#include <new>
#include <string>

namespace llmrt {
namespace {

TEST(Error, CarriesCodeAndMessage) {
  try {
    fail(ErrorCode::kBadFormat, "tensor '{}': expected {} bytes, found {}", "blk.0.attn_q.weight", 64, 60);
    FAIL() << "fail() returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBadFormat);
    EXPECT_STREQ(e.what(), "tensor 'blk.0.attn_q.weight': expected 64 bytes, found 60");
  }
}

TEST(Error, CodeNamesMatchTheCApi) {
  EXPECT_EQ(to_string(ErrorCode::kOk), "OK");
  EXPECT_EQ(to_string(ErrorCode::kNotFound), "NOT_FOUND");
  EXPECT_EQ(to_string(ErrorCode::kInternal), "INTERNAL");
  EXPECT_STREQ(llmrt_status_name(LLMRT_ERR_OUT_OF_RANGE), "OUT_OF_RANGE");
  EXPECT_STREQ(llmrt_status_name(9999), "UNKNOWN");
  EXPECT_STREQ(llmrt_status_name(-1), "UNKNOWN");
}

TEST(Status, RoundTripsThroughTheCRecord) {
  Status s(ErrorCode::kUnsupported, "architecture 'mamba' is not supported");
  llmrt_error c{};
  s.to_c(&c);
  EXPECT_EQ(c.code, LLMRT_ERR_UNSUPPORTED);
  EXPECT_STREQ(c.message, "architecture 'mamba' is not supported");
  Status back = Status::from_c(c);
  EXPECT_EQ(back.code(), ErrorCode::kUnsupported);
  EXPECT_EQ(back.message(), s.message());
  s.to_c(nullptr);  // allowed: the caller did not want details
}

TEST(Status, LongMessagesAreCutOnACharacterBoundaryAndMarked) {
  // 'é' is two bytes; place one across the cut so a naive cut would split it.
  std::string msg(LLMRT_ERROR_MESSAGE_SIZE - 5, 'a');
  for (int i = 0; i < 100; ++i) msg += "é";
  llmrt_error c{};
  Status(ErrorCode::kIo, msg).to_c(&c);
  size_t len = std::strlen(c.message);
  ASSERT_LT(len, sizeof c.message);
  EXPECT_EQ(std::string(c.message + len - 3), "...");
  std::string kept(c.message, len - 3);
  EXPECT_EQ(msg.compare(0, kept.size(), kept), 0);
  EXPECT_NE(static_cast<unsigned char>(kept.back()), 0xC3) << "cut inside a two-byte character";
}

TEST(Status, FromCToleratesAnUnterminatedMessage) {
  llmrt_error c;
  c.code = LLMRT_ERR_IO;
  std::memset(c.message, 'x', sizeof c.message);
  Status s = Status::from_c(c);
  EXPECT_EQ(s.message().size(), sizeof c.message);
}

TEST(Status, ThrowIfErrorAddsContext) {
  EXPECT_NO_THROW(Status().throw_if_error("loading"));
  try {
    Status(ErrorCode::kNotFound, "no tensor 'lm_head.weight'").throw_if_error("model.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_STREQ(e.what(), "model.safetensors: no tensor 'lm_head.weight'");
  }
}

TEST(CBoundary, TurnsEachKindOfExceptionIntoAStatus) {
  llmrt_error c{};
  EXPECT_EQ(c_boundary(&c, [] {}), LLMRT_OK);
  EXPECT_EQ(c.code, LLMRT_OK);
  EXPECT_STREQ(c.message, "");

  EXPECT_EQ(c_boundary(&c, [] { fail(ErrorCode::kOutOfRange, "prompt of {} tokens exceeds context {}", 5000, 4096); }),
            LLMRT_ERR_OUT_OF_RANGE);
  EXPECT_STREQ(c.message, "prompt of 5000 tokens exceeds context 4096");

  EXPECT_EQ(c_boundary(&c, [] { throw std::bad_alloc(); }), LLMRT_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(c_boundary(&c, [] { throw std::runtime_error("boom"); }), LLMRT_ERR_INTERNAL);
  EXPECT_STREQ(c.message, "internal error: boom");
  EXPECT_EQ(c_boundary(&c, [] { throw 42; }), LLMRT_ERR_INTERNAL);
  EXPECT_EQ(c_boundary(nullptr, [] { throw 42; }), LLMRT_ERR_INTERNAL);
}

}  // namespace
}  // namespace llmrt
