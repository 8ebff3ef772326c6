#pragma once
// Runs the real `neurocore` executable (path NC_CLI, set by CMake) and captures its exit code
// and combined stdout/stderr.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace nc::test {

struct CliResult {
  int code;
  std::string output;
};

inline CliResult run_cli(const std::string& args) {
  const std::string cmd = std::string(NC_CLI) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (p && fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int status = p ? pclose(p) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace nc::test
