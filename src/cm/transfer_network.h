#pragma once
// The channels the timing simulator's transfers travel on (internal to timing.cpp; the model
// is documented in timing.h and docs/fabric.md, "Contention in the timing simulator").
#include <cstdint>
#include <optional>
#include <vector>

#include "neurocore/cm/fabric.h"
#include "neurocore/cm/hardware.h"
#include "neurocore/cm/link_calendar.h"
#include "neurocore/cm/topology.h"

namespace nc::cm {

/// One transfer between two cores: its serialisation time and the channels it holds in turn.
struct Leg {
  int64_t bits = 0, ser = 0;
  int hops = 1;               // 1 on a private channel, the route's length on the fabric
  int private_channel = -1;   // >= 0: a channel only this leg uses, in order (a free-from time)
  std::vector<int> channels;  // otherwise the fabric channels of its route, in order
};

class TransferNetwork {
 public:
  /// The ideal fabric when `fabric` is nullptr; otherwise core c on node_of[c] of *fabric.
  /// Throws UserError when node_of does not hold `cores` nodes of the fabric.
  TransferNetwork(const Hardware& hw, const Topology* fabric, std::vector<int> node_of, int64_t cores);

  bool ideal() const { return !router_; }
  /// A transfer of `bits` from core `src` to core `dst` (-1: the GCU). On the ideal fabric, or
  /// when one end is the GCU, it gets a private channel; otherwise the route's channels (none
  /// when both cores share a node).
  Leg leg(int64_t src, int64_t dst, int64_t bits);
  /// Sends `leg`, ready at cycle `ready`, hop by hop; returns the cycle it has arrived.
  int64_t send(const Leg& leg, int64_t ready);
  /// See LinkCalendar::forget_before.
  void forget_before(int64_t t);
  /// Busy cycles of the busiest fabric channel (0 on the ideal fabric).
  int64_t busiest_channel_cycles() const;

 private:
  int64_t latency_;
  const Hardware& hw_;
  std::optional<Router> router_;
  std::vector<int> node_of_;
  int64_t fabric_channels_ = 0;
  std::vector<LinkCalendar> calendars_;  // per fabric channel
  std::vector<int64_t> private_free_;    // per private channel: free from this cycle
};

}  // namespace nc::cm
