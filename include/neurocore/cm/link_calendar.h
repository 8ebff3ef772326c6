#pragma once
// The reservations of one directed fabric channel in the timing simulator (docs/fabric.md,
// "Contention in the timing simulator").
//
// The simulator computes event times in causal order (image by image, nodes in topological
// order), not in time order, so a channel cannot be a single "free from" time: a transfer
// computed later may need the channel earlier than one computed before it. The calendar keeps
// every busy interval. A transfer is served in the channel's free cycles from the time it is
// ready on, split over several gaps when no single gap holds it (as a router interleaves the
// flits of several packets), so a transfer never waits while the channel idles. Reservations
// are never moved: where two transfers want the same cycles, the one computed first (earlier
// image, then upstream node) keeps them.
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace nc::cm {

class LinkCalendar {
 public:
  /// Reserves the first `cycles` free cycles at or after `ready` and returns {the first of
  /// them, one past the last}. cycles <= 0 reserves nothing and returns {ready, ready}.
  std::pair<int64_t, int64_t> serve(int64_t ready, int64_t cycles);
  /// Drops the reservations that end at or before `t`. Only valid when no later serve() is
  /// ready before `t` (the simulator's safe time after each image).
  void forget_before(int64_t t);
  /// Cycles reserved so far (forgotten reservations included).
  int64_t busy_cycles() const { return busy_; }
  /// Busy intervals held (adjacent ones are merged).
  std::size_t intervals() const { return busy_at_.size(); }

 private:
  void insert(int64_t b, int64_t e);    // [b, e), free before, merged with its neighbours
  std::map<int64_t, int64_t> busy_at_;  // start -> end: disjoint, never adjacent
  int64_t busy_ = 0;
  std::vector<std::pair<int64_t, int64_t>> pieces_;  // scratch
};

}  // namespace nc::cm
