#include "neurocore/dist/launch.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <thread>

#include "neurocore/core/error.h"

extern char** environ;

namespace nc::dist {

namespace {

// A port nobody listens on now (the kernel's choice); rank 0 binds it a moment later.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw UserError(std::string("--nproc: cannot open a socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  ::close(fd);
  if (!ok) throw UserError(std::string("--nproc: no free local port: ") + std::strerror(errno));
  return ntohs(a.sin_port);
}

std::string describe(int status) {
  if (WIFSIGNALED(status)) {
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  }
  return fmt::format("exited with code {}", WEXITSTATUS(status));
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 1; }

}  // namespace

std::vector<std::string> without_flag(std::vector<std::string> args, const std::string& name) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name) {
      ++i;  // and its value
    } else if (args[i].rfind(name + "=", 0) != 0) {
      out.push_back(args[i]);
    }
  }
  return out;
}

int launch_local(const std::vector<std::string>& args, const LaunchOptions& o) {
  if (o.nproc < 1) throw UserError(fmt::format("--nproc must be >= 1, got {}", o.nproc));
  const char* addr = std::getenv("MASTER_ADDR");
  const char* port = std::getenv("MASTER_PORT");
  const std::string master_addr = addr && *addr ? addr : "127.0.0.1";
  const std::string master_port = port && *port ? port : std::to_string(free_port());

  // Everything execve needs is built before fork: the child only calls async-signal-safe code.
  std::vector<std::string> base_env;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    if (key != "MASTER_ADDR" && key != "MASTER_PORT" && key != "WORLD_SIZE" && key != "RANK" &&
        key != "LOCAL_RANK" && key != "LOCAL_WORLD_SIZE") {
      base_env.push_back(kv);
    }
  }
  std::vector<std::vector<std::string>> envs(o.nproc, base_env);
  for (int r = 0; r < o.nproc; ++r) {
    envs[r].push_back("MASTER_ADDR=" + master_addr);
    envs[r].push_back("MASTER_PORT=" + master_port);
    envs[r].push_back("WORLD_SIZE=" + std::to_string(o.nproc));
    envs[r].push_back("RANK=" + std::to_string(r));
    envs[r].push_back("LOCAL_RANK=" + std::to_string(r));
    envs[r].push_back("LOCAL_WORLD_SIZE=" + std::to_string(o.nproc));
  }
  auto pointers = [](std::vector<std::string>& v) {
    std::vector<char*> p;
    for (auto& s : v) p.push_back(s.data());
    p.push_back(nullptr);
    return p;
  };
  std::vector<std::string> argv_s = args;
  if (argv_s.empty()) argv_s.push_back("neurocore");
  auto argv = pointers(argv_s);
  std::vector<std::vector<char*>> envp;
  for (auto& e : envs) envp.push_back(pointers(e));

  spdlog::info("launching {} workers (MASTER_ADDR {} MASTER_PORT {})", o.nproc, master_addr, master_port);
  const pid_t parent = getpid();
  std::vector<pid_t> pids(o.nproc, -1);
  for (int r = 0; r < o.nproc; ++r) {
    const pid_t pid = fork();
    if (pid < 0) {
      for (pid_t p : pids) if (p > 0) kill(p, SIGKILL);
      throw UserError(std::string("--nproc: fork failed: ") + std::strerror(errno));
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);  // the launcher died before prctl took effect
      execve("/proc/self/exe", argv.data(), envp[r].data());
      _exit(127);
    }
    pids[r] = pid;
  }

  int code = 0, running = o.nproc;
  bool failed = false;
  std::chrono::steady_clock::time_point deadline;
  std::vector<char> done(o.nproc, 0);
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, failed ? WNOHANG : 0);
    if (pid > 0) {
      int r = 0;
      while (r < o.nproc && pids[r] != pid) ++r;
      if (r == o.nproc) continue;
      done[r] = 1;
      --running;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok) {
        spdlog::error("worker rank {} (pid {}) {}", r, pid, describe(status));
        if (!failed) {
          failed = true;
          code = exit_code(status);
          deadline = std::chrono::steady_clock::now() + o.grace;
        }
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (failed && std::chrono::steady_clock::now() >= deadline) {
      for (int r = 0; r < o.nproc; ++r) {
        if (!done[r]) {
          spdlog::error("worker rank {} (pid {}) did not exit {} s after the first failure: killed",
                        r, pids[r], o.grace.count() / 1000.0);
          kill(pids[r], SIGKILL);
        }
      }
      deadline = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return code;
}

}  // namespace nc::dist
