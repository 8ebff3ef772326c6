#include "transfer_network.h"

#include <algorithm>
#include <string>

#include "neurocore/core/error.h"

namespace nc::cm {

TransferNetwork::TransferNetwork(const Hardware& hw, const Topology* fabric, std::vector<int> node_of,
                                 int64_t cores)
    : latency_(hw.cycles(hw.link_latency_ns)), hw_(hw) {
  if (!fabric) return;
  if (static_cast<int64_t>(node_of.size()) != cores) {
    throw UserError("simulate_timing: the placement puts " + std::to_string(node_of.size()) +
                    " cores on fabric '" + fabric->name + "', the mapping has " + std::to_string(cores) +
                    " (place the same mapping)");
  }
  for (std::size_t c = 0; c < node_of.size(); ++c) {
    if (node_of[c] < 0 || node_of[c] >= fabric->nodes) {
      throw UserError("simulate_timing: the placement puts core " + std::to_string(c) + " on node " +
                      std::to_string(node_of[c]) + ", fabric '" + fabric->name + "' has nodes 0.." +
                      std::to_string(fabric->nodes - 1));
    }
  }
  router_.emplace(*fabric);
  node_of_ = std::move(node_of);
  fabric_channels_ = router_->channel_count();
  calendars_.resize(static_cast<std::size_t>(fabric_channels_));
}

Leg TransferNetwork::leg(int64_t src, int64_t dst, int64_t bits) {
  Leg l;
  l.bits = bits;
  l.ser = hw_.cycles(static_cast<double>(bits) / hw_.link_bandwidth_gbps);
  if (!router_ || src < 0 || dst < 0) {
    // Its sends come in order (a node's iterations finish in order), so a free-from time is
    // the whole calendar.
    l.private_channel = static_cast<int>(private_free_.size());
    private_free_.push_back(0);
    return l;
  }
  l.channels = router_->channels(node_of_[static_cast<std::size_t>(src)], node_of_[static_cast<std::size_t>(dst)]);
  l.hops = static_cast<int>(l.channels.size());
  return l;
}

int64_t TransferNetwork::send(const Leg& leg, int64_t ready) {
  if (leg.private_channel >= 0) {
    int64_t& free = private_free_[static_cast<std::size_t>(leg.private_channel)];
    free = std::max(ready, free) + leg.ser;
    return free + latency_;
  }
  if (leg.channels.empty()) return ready;  // both cores on one node
  int64_t end = ready;
  for (int ch : leg.channels) {
    const auto [first, last] = calendars_[static_cast<std::size_t>(ch)].serve(ready, leg.ser);
    // Cut-through: the head reaches the next router one latency after it left, and the next
    // hop cannot finish before the data has crossed this one (one latency after its end).
    ready = std::max(first, last - leg.ser) + latency_;
    end = last;
  }
  return end + latency_;
}

void TransferNetwork::forget_before(int64_t t) {
  for (auto& c : calendars_) c.forget_before(t);
}

int64_t TransferNetwork::busiest_channel_cycles() const {
  int64_t best = 0;
  for (int64_t c = 0; c < fabric_channels_; ++c) best = std::max(best, calendars_[static_cast<std::size_t>(c)].busy_cycles());
  return best;
}

}  // namespace nc::cm
