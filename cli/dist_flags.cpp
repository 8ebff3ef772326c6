#include "dist_flags.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "neurocore/core/error.h"
#include "neurocore/core/threads.h"
#include "neurocore/dist/launch.h"

namespace nc::cli {

void add_dist_options(CLI::App* cmd, DistArgs& a) {
  cmd->add_option("--nproc", a.nproc,
                  "data-parallel: launch N local worker processes (as torchrun "
                  "--nproc-per-node); the batch size is per worker. Multi-machine jobs set "
                  "MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK instead "
                  "(docs/distributed.md)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--dist-timeout", a.timeout_s,
                  "seconds a data-parallel rank waits for the others (rendezvous and each "
                  "collective) before it exits naming the rank it lost")
      ->check(CLI::Range(0.1, 86400.0));
  cmd->add_option("--bucket-mb", a.bucket_mb,
                  "data-parallel gradient all-reduce bucket size in MiB (DDP's bucket_cap_mb)")
      ->check(CLI::Range(0.001, 4096.0));
}

void share_cores(const dist::World& world) {
  const int share = std::max(1, hardware_threads() / world.local_world_size);
  if (threads() > share) set_threads(share);
}

bool distributed(const DistArgs& a) { return a.nproc > 0 || dist::launched_as_worker(); }

void launch_workers(const DistArgs& a, const Global& g) {
  dist::LaunchOptions lo;
  lo.nproc = a.nproc;
  lo.grace = std::chrono::milliseconds(static_cast<int64_t>(a.timeout_s * 1000) + 10000);
  const int code = dist::launch_local(dist::without_flag(g.argv, "--nproc"), lo);
  if (code != 0) throw ExitCode{code};
}

void as_worker(const DistArgs& a, const Global& g,
               const std::function<void(dist::Group&, const dist::World&)>& body) {
  const auto world = dist::world_from_env();
  if (world.rank != 0 && g.log_level == "info") spdlog::set_level(spdlog::level::warn);
  dist::GroupOptions go;
  go.timeout = std::chrono::milliseconds(static_cast<int64_t>(a.timeout_s * 1000));
  auto group = dist::Group::connect(world, go);
  try {
    body(*group, world);
  } catch (const std::exception& e) {
    const bool user = dynamic_cast<const UserError*>(&e) != nullptr;
    std::fprintf(stderr, "%s: %s\n", user ? "error" : "internal error", e.what());
    std::fflush(stderr);
    spdlog::shutdown();
    std::_Exit(user ? kExitUser : kExitInternal);
  }
}

}  // namespace nc::cli
