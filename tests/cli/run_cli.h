#pragma once
// Runs the real `neurocore` executable (path NC_CLI, set by CMake) and captures its exit code
// and combined stdout/stderr.
#include <sys/wait.h>

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace nc::test {

struct CliResult {
  int code;
  std::string output;
};

/// Runs the CLI with variable assignments for the command (`env`, e.g. "WORLD_SIZE=2 RANK=1").
inline CliResult run_cli_with_env(const std::string& env, const std::string& args) {
  const std::string cmd = (env.empty() ? "" : "env " + env + " ") + std::string(NC_CLI) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (p && fgets(buf.data(), buf.size(), p)) out += buf.data();
  const int status = p ? pclose(p) : -1;
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline CliResult run_cli(const std::string& args) { return run_cli_with_env("", args); }

/// A path under the temporary directory, unique to this process ("nc_<area>_<name>_<pid>"),
/// removed first so that a test starts from nothing.
inline std::filesystem::path fresh_temp_path(const std::string& area, const std::string& name) {
  auto p = std::filesystem::temp_directory_path() /
           ("nc_" + area + "_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(p);
  return p;
}

/// Whole file as a string ("" when it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace nc::test
