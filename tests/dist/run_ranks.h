#pragma once
// In-process ranks for the data-parallel tests: each a thread with its own Gloo process group
// over loopback, all sharing one HashStore for the rendezvous.
#include <torch/csrc/distributed/c10d/HashStore.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

#include "neurocore/dist/group.h"

namespace nc::dist::test {

// Runs f(rank, group) on `world` threads, one process group each; rethrows the first failure.
inline void run_ranks(int world, const std::function<void(int, Group&)>& f) {
  auto store = c10::make_intrusive<c10d::HashStore>();
  std::vector<std::exception_ptr> errors(world);
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        GroupOptions o;
        o.timeout = std::chrono::seconds(30);
        Group g(store, r, world, o);
        f(r, g);
        g.barrier("test end");
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace nc::dist::test
