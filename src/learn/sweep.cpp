#include "neurocore/learn/sweep.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "neurocore/core/build_info.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/progress.h"
#include "neurocore/core/strings.h"
#include "neurocore/learn/sweep_report.h"

namespace nc::learn {

namespace fs = std::filesystem;

namespace {

// One child process to run: the arguments after the executable, and where its output goes.
struct Job {
  std::vector<std::string> args;
  std::string log;
};

pid_t spawn(const std::string& exe, const Job& job) {
  std::vector<std::string> strings = {exe};
  strings.insert(strings.end(), job.args.begin(), job.args.end());
  std::vector<char*> argv;
  for (auto& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw InternalError("sweep: fork failed");
  if (pid == 0) {
    // A child dies with the sweep, so that a killed sweep leaves no run writing behind it.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    const int fd = open(job.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// Runs the jobs, at most `parallel` at a time; done(index, exit code, seconds) after each.
void run_jobs(const std::string& exe, const std::vector<Job>& jobs, int64_t parallel,
              const std::function<void(std::size_t, int, double)>& done) {
  using Clock = std::chrono::steady_clock;
  std::map<pid_t, std::pair<std::size_t, Clock::time_point>> running;
  std::size_t next = 0;
  while (next < jobs.size() || !running.empty()) {
    while (next < jobs.size() && static_cast<int64_t>(running.size()) < parallel) {
      running[spawn(exe, jobs[next])] = {next, Clock::now()};
      ++next;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) throw InternalError("sweep: waitpid failed");
    const auto it = running.find(pid);
    if (it == running.end()) continue;  // not one of ours
    const auto [index, start] = it->second;
    running.erase(it);
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    done(index, code, std::chrono::duration<double>(Clock::now() - start).count());
  }
}

// The message of the UserError a child printed ("error: ..." lines), else its last lines.
std::string child_error(const std::string& log) {
  std::string text;
  try {
    text = read_file(log);
  } catch (const UserError&) {
    return "(no output)";
  }
  std::stringstream ss(text);
  std::string line, errors, last;
  while (std::getline(ss, line)) {
    if (line.rfind("error: ", 0) == 0) errors += (errors.empty() ? "" : "; ") + line.substr(7);
    if (!line.empty()) last = line;
  }
  return errors.empty() ? last : errors;
}

std::string describe(const SweepSetting& s) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : s.values) parts.push_back(k + "=" + v);
  return s.id + (parts.empty() ? "" : " (" + join(parts) + ")");
}

}  // namespace

void run_sweep(const SweepSpec& spec_in, const std::string& executable) {
  SweepSpec spec = spec_in;
  spec.finalize();
  const auto settings = sweep_settings(spec);
  // The runs are children of this same executable, so its build commit is theirs (also when
  // the binary was copied out of its checkout to freeze it during a long sweep).
  const std::string commit = build_commit();
  const fs::path out(spec.out), runs_dir = out / "runs", logs_dir = out / "logs";

  struct Planned {
    std::size_t setting;
    int64_t seed;
    std::string name, dir;
    std::vector<std::string> args;
  };
  std::vector<Planned> plan;
  std::vector<std::vector<SweepRunStatus>> status(settings.size());
  for (std::size_t i = 0; i < settings.size(); ++i) {
    for (int64_t k = 0; k < spec.seeds; ++k) {
      const int64_t seed = spec.first_seed + k;
      const std::string name = fmt::format("{}-seed{}", settings[i].id, seed);
      const std::string dir = (runs_dir / name).string();
      plan.push_back({i, seed, name, dir, run_arguments(spec, settings[i], seed, dir)});
      status[i].push_back({name, seed, "pending", (logs_dir / (name + ".log")).string()});
    }
  }

  // Finished runs: their recorded arguments must be this plan's, else the directory holds
  // another sweep and its numbers would be mixed into this one's.
  std::vector<std::size_t> todo;
  for (std::size_t p = 0; p < plan.size(); ++p) {
    const fs::path marker = fs::path(plan[p].dir) / kSweepMarker;
    if (!fs::exists(marker)) {
      todo.push_back(p);
      continue;
    }
    nlohmann::json m;
    try {
      m = nlohmann::json::parse(read_file(marker.string()));
    } catch (const nlohmann::json::exception& e) {
      throw UserError(marker.string() + ": not valid JSON (" + e.what() + "); delete the run to redo it");
    }
    const auto recorded = m.value("args", std::vector<std::string>{});
    if (recorded != plan[p].args) {
      throw UserError(marker.string() + ": this run was made with the arguments '" + join(recorded, " ") +
                      "', the sweep now plans '" + join(plan[p].args, " ") +
                      "': the directory holds another sweep; use another --out or delete it");
    }
    status[plan[p].setting][static_cast<std::size_t>(plan[p].seed - spec.first_seed)].status = "done";
  }

  std::error_code ec;
  fs::create_directories(logs_dir, ec);
  if (ec) throw UserError(logs_dir.string() + ": cannot create the directory (" + ec.message() + ")");

  // 1. Every setting through the command's own validation, before any run starts.
  if (!todo.empty()) {
    std::vector<Job> checks;
    for (std::size_t i = 0; i < settings.size(); ++i) {
      const auto& first = plan[i * static_cast<std::size_t>(spec.seeds)];
      Job job{first.args, (logs_dir / ("check-" + settings[i].id + ".log")).string()};
      job.args.push_back("--dry-run");
      checks.push_back(std::move(job));
    }
    std::vector<std::string> errors;
    run_jobs(executable, checks, spec.jobs, [&](std::size_t i, int code, double) {
      if (code != 0) errors.push_back("setting " + describe(settings[i]) + ": " + child_error(checks[i].log));
    });
    if (!errors.empty()) {
      throw UserError("sweep: " + join(errors, "; ") + " (nothing was run)");
    }
  }

  // 2. The unfinished runs: a partial directory (a killed run) is deleted and run again.
  spdlog::info("sweep {}: {} settings x {} seeds = {} runs, {} finished, {} to run, {} at a time; commit {}",
               spec.out, settings.size(), spec.seeds, plan.size(), plan.size() - todo.size(),
               todo.size(), spec.jobs, commit);
  std::vector<Job> jobs;
  for (std::size_t p : todo) {
    fs::remove_all(plan[p].dir, ec);
    jobs.push_back({plan[p].args, (logs_dir / (plan[p].name + ".log")).string()});
  }
  auto report = [&] { write_sweep_report(spec, settings, summarize_sweep(spec, settings, status, commit)); };
  Progress progress("sweep " + spec.out, static_cast<int64_t>(jobs.size()), "run", 0.0);
  int64_t failed_count = 0;
  std::vector<std::string> failures;
  run_jobs(executable, jobs, spec.jobs, [&](std::size_t j, int code, double seconds) {
    const Planned& r = plan[todo[j]];
    auto& st = status[r.setting][static_cast<std::size_t>(r.seed - spec.first_seed)];
    if (code == 0) {
      fs::create_directories(r.dir, ec);
      const nlohmann::json marker = {{"setting", settings[r.setting].id}, {"seed", r.seed},
                                     {"args", r.args}, {"commit", commit}, {"seconds", seconds},
                                     {"exit_code", code}};
      write_file_atomic((fs::path(r.dir) / kSweepMarker).string(), marker.dump(2) + "\n");
      st.status = "done";
    } else {
      st.status = "failed";
      ++failed_count;
      failures.push_back(fmt::format("{} (exit code {}: {}; log {})", r.name, code,
                                     child_error(st.log), st.log));
    }
    progress.advance(1, fmt::format("{} {} in {}; {} failed", r.name, code == 0 ? "done" : "FAILED",
                                    format_duration(seconds), failed_count));
    report();
  });
  progress.finish(fmt::format("{} failed", failed_count));
  report();  // also when nothing was left to run
  spdlog::info("sweep report: {}", (out / "report.md").string());
  if (!failures.empty()) {
    throw UserError(fmt::format("sweep: {} of {} runs failed: {}; run the sweep again to retry them",
                                failures.size(), jobs.size(), join(failures, "; ")));
  }
}

}  // namespace nc::learn
