#include "util/utf8.h"

#include <gtest/gtest.h>

namespace llmrt {
namespace {

TEST(Utf8, SequenceLengthFollowsRfc3629) {
  EXPECT_EQ(utf8_sequence_length("a", 0), 1u);
  EXPECT_EQ(utf8_sequence_length("\xC3\xA9", 0), 2u);          // é
  EXPECT_EQ(utf8_sequence_length("\xE2\x82\xAC", 0), 3u);      // €
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\xA6\x99", 0), 4u);  // 🦙
  EXPECT_EQ(utf8_sequence_length("\xC0\x80", 0), 0u) << "overlong";
  EXPECT_EQ(utf8_sequence_length("\xE0\x80\x80", 0), 0u) << "overlong";
  EXPECT_EQ(utf8_sequence_length("\xED\xA0\x80", 0), 0u) << "surrogate";
  EXPECT_EQ(utf8_sequence_length("\xF4\x90\x80\x80", 0), 0u) << "above U+10FFFF";
  EXPECT_EQ(utf8_sequence_length("\x80", 0), 0u) << "stray continuation byte";
  EXPECT_EQ(utf8_sequence_length("\xE2\x82", 0), 0u) << "cut short";
}

TEST(Utf8, IncompletePrefixIsAStartThatCanStillComplete) {
  EXPECT_TRUE(utf8_incomplete_prefix("\xE2"));
  EXPECT_TRUE(utf8_incomplete_prefix("\xE2\x82"));
  EXPECT_FALSE(utf8_incomplete_prefix("\xE2\x82\xAC")) << "complete";
  EXPECT_FALSE(utf8_incomplete_prefix("\xE2x")) << "can never complete";
  EXPECT_FALSE(utf8_incomplete_prefix("\xED\xA0")) << "would be a surrogate";
  EXPECT_FALSE(utf8_incomplete_prefix("a"));
  EXPECT_FALSE(utf8_incomplete_prefix(""));
}

TEST(Utf8, FirstInvalidAndValidity) {
  EXPECT_EQ(first_invalid_utf8("ok \xE2\x82\xAC"), 6u);
  EXPECT_EQ(first_invalid_utf8("ab\xFF" "cd"), 2u);
  EXPECT_TRUE(is_valid_utf8("h\xC3\xA9llo"));
  EXPECT_FALSE(is_valid_utf8("h\xC3llo"));
}

TEST(Utf8, AppendAndPrintable) {
  std::string s;
  for (uint32_t cp : {0x41u, 0xE9u, 0x20ACu, 0x1F999u}) append_utf8(s, cp);
  EXPECT_EQ(s, "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\xA6\x99");
  EXPECT_EQ(printable("a\x01\xFF" "b"), "a\\x01\\xFFb");
  EXPECT_EQ(printable(std::string(200, 'x'), 10), std::string(10, 'x') + "...");
}

}  // namespace
}  // namespace llmrt
