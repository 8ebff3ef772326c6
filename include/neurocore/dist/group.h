#pragma once
// A process group: LibTorch's c10d ProcessGroupGloo over a rendezvous store, plus what a user
// needs when it fails: the rank that died or hung, named, within the timeout.
//
// Failure detection: every rank bumps a heartbeat counter in the store (its own client
// connection) every `heartbeat` interval. When a collective fails (a peer's connection closed:
// it died; or the timeout passed: it hangs), the survivor reads the counters twice, a few
// intervals apart, and names the ranks whose counter did not move; when the store itself does
// not answer, rank 0 (which serves it) is the one lost. The failure is a UserError, and the
// group is then abandoned without joining Gloo's threads (they may be blocked on the lost
// peer's socket), so the process can exit at once.
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#include <torch/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "neurocore/dist/world.h"

namespace nc::dist {

struct GroupOptions {
  /// Bound on every collective and on the rendezvous (docs/distributed.md: `--dist-timeout`).
  std::chrono::milliseconds timeout{std::chrono::seconds(300)};
  std::chrono::milliseconds heartbeat{std::chrono::milliseconds(500)};
};

class Group {
 public:
  /// Rendezvous at w.master_addr:w.master_port (rank 0 serves a TCPStore there) and a Gloo
  /// group over the machine's loopback or the interface that reaches the master. Throws
  /// UserError when the master cannot be reached or the world does not assemble within the
  /// timeout (naming the address and the world size).
  static std::unique_ptr<Group> connect(const World& w, const GroupOptions& options = {});
  /// In-process ranks sharing one store (tests: a c10d::HashStore; every rank is a thread).
  Group(c10::intrusive_ptr<c10d::Store> store, int rank, int world_size,
        const GroupOptions& options = {});
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  const GroupOptions& options() const { return options_; }

  /// Starts a sum all-reduce of `t` in place (contiguous CPU tensor); wait() for it.
  c10::intrusive_ptr<c10d::Work> allreduce_async(torch::Tensor& t);
  /// Waits for `work`; on failure throws the UserError that names the lost rank(s).
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what);
  /// Sum all-reduce of `t` in place, waited for.
  void allreduce(torch::Tensor& t, const std::string& what);
  /// Copies `tensors` of rank `root` to every rank, in place.
  void broadcast(std::vector<torch::Tensor>& tensors, int root, const std::string& what);
  void barrier(const std::string& what);
  /// The rendezvous store (small values: run directory, resume checkpoint).
  c10d::Store& store() { return *store_; }

 private:
  struct Impl;
  Group(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<c10d::Store> heartbeat_client,
        std::function<c10::intrusive_ptr<c10d::Store>()> new_client, const std::string& master_addr,
        int rank, int world_size, const GroupOptions& options);
  [[noreturn]] void fail(const std::string& what, const std::string& cause);
  std::string lost_ranks();
  void start_heartbeat(c10::intrusive_ptr<c10d::Store> own_client);

  int rank_, size_;
  GroupOptions options_;
  c10::intrusive_ptr<c10d::Store> store_;
  std::unique_ptr<Impl> impl_;
  bool failed_ = false;
};

}  // namespace nc::dist
