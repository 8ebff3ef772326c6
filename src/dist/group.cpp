// Compiled with USE_C10D_GLOO and USE_DISTRIBUTED (src/dist/CMakeLists.txt): without them
// Debian's ProcessGroupGloo.hpp declares nothing (specs/scaleout.md §1).
#include "neurocore/dist/group.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "neurocore/core/error.h"

namespace nc::dist {

struct Group::Impl {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  // A fresh store client for the failure diagnosis (the heartbeat's may be stuck).
  std::function<c10::intrusive_ptr<c10d::Store>()> new_client;
  std::thread heartbeat;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::atomic<bool> heartbeat_stuck{false};
};

namespace {

std::string heartbeat_key(int rank) { return "nc/heartbeat/" + std::to_string(rank); }

bool is_loopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

// The Gloo device: loopback for a local job; GLOO_SOCKET_IFNAME when set (PyTorch's
// convention); otherwise the interface this machine's host name resolves to.
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  }
  if (is_loopback(master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

c10d::TCPStoreOptions store_options(const World& w, const GroupOptions& o, bool main_client) {
  c10d::TCPStoreOptions s;
  s.port = static_cast<std::uint16_t>(w.master_port);
  s.isServer = main_client && w.rank == 0;
  s.numWorkers = main_client ? c10::optional<std::size_t>(w.world_size) : c10::nullopt;
  s.waitWorkers = main_client;  // extra clients must not count as workers
  s.timeout = o.timeout;
  return s;
}

double seconds(std::chrono::milliseconds t) { return t.count() / 1000.0; }

// LibTorch's errors carry a C++ backtrace in what(): a user needs the message only.
std::string message(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

}  // namespace

std::unique_ptr<Group> Group::connect(const World& w, const GroupOptions& o) {
  validate(w);
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(w.master_addr, store_options(w, o, true));
  } catch (const std::exception& e) {
    throw UserError(fmt::format(
        "rank {} of {}: the rendezvous at MASTER_ADDR {} MASTER_PORT {} (served by rank 0) did "
        "not complete within {} s: the master is unreachable, the port is taken, or not all {} "
        "ranks started; cause: {}",
        w.rank, w.world_size, w.master_addr, w.master_port, seconds(o.timeout), w.world_size,
        message(e)));
  }
  // The heartbeat and the failure diagnosis get their own connections: the main one serves
  // this process's other store traffic from another thread.
  auto new_client = [w, o]() -> c10::intrusive_ptr<c10d::Store> {
    return c10::make_intrusive<c10d::TCPStore>(w.master_addr, store_options(w, o, false));
  };
  return std::unique_ptr<Group>(
      new Group(store, new_client(), new_client, w.master_addr, w.rank, w.world_size, o));
}

Group::Group(c10::intrusive_ptr<c10d::Store> store, int rank, int world_size, const GroupOptions& o)
    : Group(store, store, [store] { return store; }, "127.0.0.1", rank, world_size, o) {}

Group::Group(c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<c10d::Store> heartbeat_client,
             std::function<c10::intrusive_ptr<c10d::Store>()> new_client,
             const std::string& master_addr, int rank, int world_size, const GroupOptions& o)
    : rank_(rank), size_(world_size), options_(o), store_(std::move(store)), impl_(std::make_unique<Impl>()) {
  World w;
  w.world_size = world_size;
  w.rank = rank;
  w.local_world_size = world_size;
  validate(w);
  auto go = c10d::ProcessGroupGloo::Options::create(o.timeout);
  go->devices.push_back(gloo_device(master_addr));
  try {
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, rank, world_size, go);
  } catch (const std::exception& e) {
    throw UserError(fmt::format("rank {} of {}: the Gloo process group did not connect within {} s: {}",
                                rank, world_size, seconds(o.timeout), message(e)));
  }
  impl_->new_client = std::move(new_client);
  start_heartbeat(std::move(heartbeat_client));
}

void Group::start_heartbeat(c10::intrusive_ptr<c10d::Store> client) {
  impl_->heartbeat = std::thread([impl = impl_.get(), client, key = heartbeat_key(rank_),
                                  period = options_.heartbeat] {
    std::unique_lock<std::mutex> lock(impl->mu);
    while (!impl->stop) {
      lock.unlock();
      try {
        impl->heartbeat_stuck = true;
        client->add(key, 1);
        impl->heartbeat_stuck = false;
      } catch (const std::exception&) {  // the store is gone: the job is ending or failed
        return;
      }
      lock.lock();
      impl->cv.wait_for(lock, period, [impl] { return impl->stop; });
    }
  });
}

Group::~Group() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->heartbeat.joinable()) {
    if (failed_ || impl_->heartbeat_stuck) {
      impl_->heartbeat.detach();
    } else {
      impl_->heartbeat.join();
    }
  }
  if (failed_) {
    // Gloo's threads may wait on a dead peer's socket, and its destructor would join them:
    // leave the group (and the store it uses) to the process's exit instead.
    impl_->pg.release();
    store_.release();
    impl_.release();
  }
}

// Starting a collective only checks its arguments (a failure there is a bug, thrown as is);
// the transport's failures surface in wait().
c10::intrusive_ptr<c10d::Work> Group::allreduce_async(torch::Tensor& t) {
  std::vector<torch::Tensor> v{t};
  return impl_->pg->allreduce(v);
}

void Group::wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  try {
    work->wait();
  } catch (const std::exception& e) {
    fail(what, message(e));
  }
}

void Group::allreduce(torch::Tensor& t, const std::string& what) { wait(allreduce_async(t), what); }

void Group::broadcast(std::vector<torch::Tensor>& tensors, int root, const std::string& what) {
  // Gloo broadcasts one tensor per call (a list means one per device): flatten each dtype's
  // tensors into one message, then copy back.
  std::vector<torch::ScalarType> dtypes;
  for (const auto& t : tensors) {
    if (std::find(dtypes.begin(), dtypes.end(), t.scalar_type()) == dtypes.end()) dtypes.push_back(t.scalar_type());
  }
  c10d::BroadcastOptions bo;
  bo.rootRank = root;
  for (auto dtype : dtypes) {
    std::vector<torch::Tensor> parts;
    for (const auto& t : tensors) {
      if (t.scalar_type() == dtype) parts.push_back(t.detach().reshape(-1));
    }
    std::vector<torch::Tensor> flat{torch::cat(parts)};
    wait(impl_->pg->broadcast(flat, bo), what);
    int64_t offset = 0;
    for (auto& t : tensors) {
      if (t.scalar_type() != dtype) continue;
      torch::NoGradGuard no_grad;
      t.copy_(flat[0].narrow(0, offset, t.numel()).view_as(t));
      offset += t.numel();
    }
  }
}

void Group::barrier(const std::string& what) { wait(impl_->pg->barrier(), what); }

std::string Group::lost_ranks() {
  // Run where a stuck store cannot hold us past the deadline.
  const auto period = options_.heartbeat;
  auto result = std::make_shared<std::promise<std::string>>();
  auto diagnose = result->get_future();
  auto work = [period, size = size_, self = rank_, make = impl_->new_client]() -> std::string {
    auto client = make();
    auto read = [&] {
      std::vector<int64_t> v(size, 0);
      for (int r = 0; r < size; ++r) {
        if (r != self) v[r] = client->add(heartbeat_key(r), 0);
      }
      return v;
    };
    const auto before = read();
    std::this_thread::sleep_for(3 * period);
    const auto after = read();
    std::string lost;
    for (int r = 0; r < size; ++r) {
      if (r != self && after[r] == before[r]) lost += (lost.empty() ? "" : ", ") + std::to_string(r);
    }
    return lost;
  };
  // Detached: a store that does not answer must not hold this rank past the deadline.
  std::thread([result, work] {
    try {
      result->set_value(work());
    } catch (...) {
      result->set_exception(std::current_exception());
    }
  }).detach();
  if (diagnose.wait_for(5 * period + std::chrono::seconds(2)) != std::future_status::ready) {
    return "0 (it serves the rendezvous store, which no longer answers)";
  }
  try {
    const std::string lost = diagnose.get();
    return lost.empty() ? "" : lost + " (its heartbeat stopped: it died or hangs)";
  } catch (const std::exception&) {
    return "0 (it serves the rendezvous store, which no longer answers)";
  }
}

void Group::fail(const std::string& what, const std::string& cause) {
  failed_ = true;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  const std::string lost = lost_ranks();
  throw UserError(fmt::format(
      "rank {} of {}: the {} failed: {}; Gloo: {} (collective timeout {} s). Every rank of the "
      "job stops; continue from the last checkpoint with `neurocore train --resume RUN_DIR` "
      "(any number of ranks)",
      rank_, size_, what, lost.empty() ? "every other rank is still alive" : "lost rank " + lost,
      cause, seconds(options_.timeout)));
}

}  // namespace nc::dist
