// Run by ctest with LLMRT_LOG_LEVEL / LLMRT_VERBOSE set, and the expected outcome in
// LLMRT_TEST_EXPECT_LEVEL / LLMRT_TEST_EXPECT_VERBOSE (see tests/CMakeLists.txt).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "util/log.h"

namespace llmrt {
namespace {

TEST(LogEnv, MatchesExpectation) {
  const char* want_level = std::getenv("LLMRT_TEST_EXPECT_LEVEL");
  const char* want_verbose = std::getenv("LLMRT_TEST_EXPECT_VERBOSE");
  if (!want_level || !want_verbose) GTEST_SKIP() << "run through ctest, which sets the environment";
  log::Level expected{};
  ASSERT_TRUE(log::parse_level(want_level, &expected));
  EXPECT_EQ(log::level_name(log::level()), log::level_name(expected));
  EXPECT_EQ(log::verbose(), std::string(want_verbose) == "1");
}

}  // namespace
}  // namespace llmrt
