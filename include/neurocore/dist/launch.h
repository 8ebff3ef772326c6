#pragma once
// `--nproc N`: this machine runs N workers of the same command, as torchrun does.
#include <chrono>
#include <string>
#include <vector>

namespace nc::dist {

struct LaunchOptions {
  int nproc = 1;
  /// After the first worker fails, how long the others get to notice and exit by themselves
  /// (each names the lost rank) before they are killed.
  std::chrono::milliseconds grace{std::chrono::seconds(30)};
};

/// Runs this executable (/proc/self/exe) N times with `args` (args[0] is the program name,
/// replaced) and the environment plus MASTER_ADDR=127.0.0.1 (unless set), MASTER_PORT (a free
/// port unless set), WORLD_SIZE=N, RANK=LOCAL_RANK=i, LOCAL_WORLD_SIZE=N. Each worker dies with
/// the launcher (PR_SET_PDEATHSIG). Returns the exit code for the launcher: 0 when every
/// worker exited 0; otherwise the first failing worker's code (1 when it was killed by a
/// signal), after the failure was reported naming its rank and every worker was reaped.
/// Throws UserError when N < 1.
int launch_local(const std::vector<std::string>& args, const LaunchOptions& options);

/// `args` without the flag `name` and its value ("--nproc 2" or "--nproc=2").
std::vector<std::string> without_flag(std::vector<std::string> args, const std::string& name);

}  // namespace nc::dist
