// Runs a program the way a user's shell would, capturing stdout, stderr and the exit code.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace llmrt::testing_util {

struct ProgramRun {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// `command` is a shell command line; stderr goes to a file in the temp folder.
inline ProgramRun run_program(const std::string& command) {
  static int counter = 0;
  const std::filesystem::path err_file =
      std::filesystem::temp_directory_path() / ("llmrt_program_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  FILE* p = popen((command + " 2>" + err_file.string()).c_str(), "r");
  ProgramRun r;
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  r.err.assign(std::istreambuf_iterator<char>(e), std::istreambuf_iterator<char>());
  std::filesystem::remove(err_file);
  return r;
}

}  // namespace llmrt::testing_util
