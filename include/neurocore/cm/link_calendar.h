#pragma once
// The reservations of one directed fabric channel in the timing simulator (docs/fabric.md,
// "Contention in the timing simulator").
//
// The simulator computes event times in causal order (image by image, nodes in topological
// order), not in time order, so a channel cannot be a single "free from" time: a transfer
// computed later may need the channel earlier than one computed before it. The calendar keeps
// every busy interval and gives each transfer the earliest gap long enough for it, at or after
// the time it is ready. Reservations are never moved: where two transfers want the same cycles,
// the one computed first (earlier image, then upstream node) keeps them, the other waits.
#include <cstdint>
#include <map>

namespace nc::cm {

class LinkCalendar {
 public:
  /// Reserves [s, s + cycles) for the smallest s >= ready that overlaps no reservation, and
  /// returns s (ready itself when cycles <= 0, reserving nothing).
  int64_t reserve(int64_t ready, int64_t cycles);
  /// Drops the reservations that end at or before `t`. Only valid when no later reserve() is
  /// ready before `t` (the simulator's safe time after each image).
  void forget_before(int64_t t);
  /// Cycles reserved so far (forgotten reservations included).
  int64_t busy_cycles() const { return busy_; }
  /// Busy intervals held (adjacent ones are merged).
  std::size_t intervals() const { return busy_at_.size(); }

 private:
  std::map<int64_t, int64_t> busy_at_;  // start -> end: disjoint, never adjacent
  int64_t busy_ = 0;
};

}  // namespace nc::cm
