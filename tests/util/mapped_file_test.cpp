#include "util/mapped_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "llmrt/error.hpp"

namespace llmrt {
namespace {

namespace fs = std::filesystem;

class MappedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("llmrt_mapped_file_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& content) {
    fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  // The error's code, and checks that the message names the path.
  ErrorCode open_error(const fs::path& p, std::string* message = nullptr) {
    try {
      MappedFile::open(p);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
      if (message) *message = e.what();
      return e.code();
    }
    ADD_FAILURE() << "open(" << p << ") succeeded";
    return ErrorCode::kOk;
  }
  fs::path dir_;
};

TEST_F(MappedFileTest, MapsTheWholeFile) {
  std::string content = "GGUF";
  for (int i = 0; i < 10000; ++i) content += static_cast<char>(i * 7);
  auto f = MappedFile::open(write("a.bin", content));
  ASSERT_EQ(f->size(), content.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->data()), f->size()), content);
  EXPECT_EQ(f->bytes().size(), content.size());
  f->advise_sequential();
  f->advise_willneed(4097, 1u << 30);  // past the end: clipped, not an error
}

// Releasing pages of a file map drops them from the process only: a later read sees the file's
// bytes again, page-aligned or not, and a range inside one page releases nothing.
TEST_F(MappedFileTest, ReleasedPagesReadBackFromTheFile) {
  std::string content(5 * 4096 + 123, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 31 + 7);
  auto f = MappedFile::open(write("r.bin", content));
  const std::string before(reinterpret_cast<const char*>(f->data()), f->size());
  ASSERT_EQ(before, content);
  release_file_pages(f->data() + 100, f->size() - 200);
  release_file_pages(f->data() + 10, 20);
  release_file_pages(nullptr, 0);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->data()), f->size()), content);
}

TEST_F(MappedFileTest, MissingFileIsNotFound) {
  std::string msg;
  EXPECT_EQ(open_error(dir_ / "nope.gguf", &msg), ErrorCode::kNotFound);
  EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;
}

TEST_F(MappedFileTest, EmptyFileIsABadFormatError) {
  std::string msg;
  EXPECT_EQ(open_error(write("empty.safetensors", ""), &msg), ErrorCode::kBadFormat);
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
}

TEST_F(MappedFileTest, DirectoryIsRejected) {
  EXPECT_EQ(open_error(dir_), ErrorCode::kInvalidArgument);
}

TEST_F(MappedFileTest, RangeChecksEveryOffsetWithoutOverflow) {
  auto f = MappedFile::open(write("r.bin", std::string(100, 'x')));
  EXPECT_EQ(f->range(0, 100, "all").size(), 100u);
  EXPECT_EQ(f->range(100, 0, "nothing at the end").size(), 0u);
  EXPECT_EQ(f->range(40, 10, "t").data(), f->data() + 40);
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  for (auto [off, len] : {std::pair<uint64_t, uint64_t>{0, 101}, {101, 0}, {50, 51}, {kMax, 1}, {1, kMax}, {kMax, kMax}}) {
    try {
      f->range(off, len, "tensor 'x'");
      ADD_FAILURE() << "range(" << off << ", " << len << ") accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kBadFormat);
      std::string msg = e.what();
      EXPECT_NE(msg.find("tensor 'x'"), std::string::npos) << msg;
      EXPECT_NE(msg.find("past the end"), std::string::npos) << msg;
    }
  }
}

TEST_F(MappedFileTest, ViewsKeepTheMapAliveAfterTheFileIsDeleted) {
  fs::path p = write("gone.bin", "persistent bytes");
  auto f = MappedFile::open(p);
  fs::remove(p);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(f->data()), f->size()), "persistent bytes");
}

TEST_F(MappedFileTest, ReadTextFile) {
  EXPECT_EQ(read_text_file(write("config.json", "{\"a\": 1}")), "{\"a\": 1}");
  EXPECT_EQ(read_text_file(write("blank.json", "")), "");
  try {
    read_text_file(write("big.json", std::string(2000, ' ')), 1000);
    FAIL() << "size limit not enforced";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfRange);
  }
  try {
    read_text_file(dir_ / "missing.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  }
}

}  // namespace
}  // namespace llmrt
