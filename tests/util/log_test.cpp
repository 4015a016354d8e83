#include "util/log.h"

#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace llmrt {
namespace {

struct Captured {
  std::mutex mutex;
  std::vector<std::pair<llmrt_log_level, std::string>> lines;
};

void capture(llmrt_log_level level, const char* message, void* user) {
  auto* c = static_cast<Captured*>(user);
  std::lock_guard lock(c->mutex);
  c->lines.emplace_back(level, message);
}

// Counts how often it is formatted, to prove that dropped messages are never formatted.
struct Expensive {
  int* formatted;
};

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_level_ = log::level();
    llmrt_log_set_callback(capture, &captured_);
  }
  void TearDown() override {
    llmrt_log_set_callback(nullptr, nullptr);
    log::set_level(saved_level_);
    log::set_verbose(false);
  }
  Captured captured_;
  log::Level saved_level_{};
};

}  // namespace
}  // namespace llmrt

template <>
struct fmt::formatter<llmrt::Expensive> : fmt::formatter<std::string_view> {
  auto format(const llmrt::Expensive& e, format_context& ctx) const {
    ++*e.formatted;
    return fmt::formatter<std::string_view>::format("expensive", ctx);
  }
};

namespace llmrt {
namespace {

TEST_F(LogTest, CallbackReceivesMessagesAtOrAboveTheLevel) {
  llmrt_log_set_level(LLMRT_LOG_INFO);
  log::debug("hidden {}", 1);
  log::info("loaded {} tensors", 3);
  log::warn("slow path for {}", "q4_k");
  log::error("failed\n");
  ASSERT_EQ(captured_.lines.size(), 3u);
  EXPECT_EQ(captured_.lines[0].first, LLMRT_LOG_INFO);
  EXPECT_EQ(captured_.lines[0].second, "loaded 3 tensors");
  EXPECT_EQ(captured_.lines[1].first, LLMRT_LOG_WARN);
  EXPECT_EQ(captured_.lines[2].second, "failed") << "trailing newline is stripped";
}

TEST_F(LogTest, DroppedMessagesAreNeverFormatted) {
  int formatted = 0;
  llmrt_log_set_level(LLMRT_LOG_WARN);
  log::debug("{}", Expensive{&formatted});
  EXPECT_EQ(formatted, 0);
  log::warn("{}", Expensive{&formatted});
  EXPECT_EQ(formatted, 1);
  ASSERT_EQ(captured_.lines.size(), 1u);
  EXPECT_EQ(captured_.lines[0].second, "expensive");
}

TEST_F(LogTest, OffSilencesEverything) {
  llmrt_log_set_level(LLMRT_LOG_OFF);
  log::error("nobody hears this");
  EXPECT_TRUE(captured_.lines.empty());
  EXPECT_EQ(llmrt_log_get_level(), LLMRT_LOG_OFF);
}

TEST_F(LogTest, NullCallbackRestoresTheStderrSink) {
  llmrt_log_set_level(LLMRT_LOG_WARN);
  llmrt_log_set_callback(nullptr, nullptr);
  testing::internal::CaptureStderr();
  testing::internal::CaptureStdout();
  log::warn("to stderr {}", 7);
  std::string err = testing::internal::GetCapturedStderr();
  std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(err, "llmrt [warn] to stderr 7\n");
  EXPECT_EQ(out, "") << "the library must never write to stdout";
  EXPECT_TRUE(captured_.lines.empty());
}

TEST_F(LogTest, VerboseSwitch) {
  llmrt_log_set_verbose(1);
  EXPECT_TRUE(log::verbose());
  llmrt_log_set_verbose(0);
  EXPECT_FALSE(log::verbose());
}

TEST_F(LogTest, ManyThreadsLogWithoutLosingLines) {
  llmrt_log_set_level(LLMRT_LOG_INFO);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 250; ++i) log::info("thread {} line {}", t, i);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(captured_.lines.size(), 1000u);
}

TEST(LogLevel, Parses) {
  log::Level l{};
  EXPECT_TRUE(log::parse_level("TRACE", &l));
  EXPECT_EQ(l, log::Level::kTrace);
  EXPECT_TRUE(log::parse_level("warning", &l));
  EXPECT_EQ(l, log::Level::kWarn);
  EXPECT_TRUE(log::parse_level("4", &l));
  EXPECT_EQ(l, log::Level::kError);
  EXPECT_FALSE(log::parse_level("6", &l));
  EXPECT_FALSE(log::parse_level("loud", &l));
  EXPECT_FALSE(log::parse_level("", &l));
}

}  // namespace
}  // namespace llmrt
