#pragma once
// Ranks as separate processes for the data-parallel tests: the test binary runs the current
// test again as WORLD_SIZE workers through the same launcher `--nproc` uses, each worker one
// rank of a Gloo group over loopback (a TCPStore rendezvous, as real jobs have). The workers
// write their results into a folder the parent reads once they have all exited.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "neurocore/dist/group.h"
#include "neurocore/dist/launch.h"
#include "neurocore/dist/world.h"

namespace nc::dist::test {

// True in a worker: the test body then runs its rank and returns without checking.
inline bool in_rank_process() { return launched_as_worker(); }

// Where every rank writes its results (set by the parent for its workers).
inline std::filesystem::path rank_output_dir() {
  const char* d = std::getenv("NC_TEST_RANK_OUT");
  return d ? std::filesystem::path(d) : std::filesystem::path();
}

// Parent: runs the current test in `world` worker processes writing into `out`; returns the
// launcher's exit code (0 when every worker passed).
inline int run_rank_processes(int world, const std::filesystem::path& out) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::create_directories(out);
  setenv("NC_TEST_RANK_OUT", out.c_str(), 1);
  LaunchOptions o;
  o.nproc = world;
  o.grace = std::chrono::seconds(10);
  const int code = launch_local(
      {"test", std::string("--gtest_filter=") + info->test_suite_name() + "." + info->name()}, o);
  unsetenv("NC_TEST_RANK_OUT");
  return code;
}

// Worker: joins the job the environment describes and runs f(rank, group).
inline void as_rank_process(const std::function<void(int, Group&)>& f) {
  GroupOptions o;
  o.timeout = std::chrono::seconds(60);
  auto group = Group::connect(world_from_env(), o);
  f(group->rank(), *group);
  group->barrier("test end");
}

}  // namespace nc::dist::test
