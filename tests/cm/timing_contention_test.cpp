// Contention in the timing simulator (timing.h, docs/fabric.md "Contention in the timing
// simulator"): closed forms on small graphs, and that a placed fabric never beats the ideal one.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "neurocore/cm/fabric.h"
#include "neurocore/cm/fabric_report.h"
#include "neurocore/cm/link_calendar.h"
#include "neurocore/cm/model_zoo.h"
#include "neurocore/cm/timing.h"
#include "neurocore/core/error.h"

namespace nc::cm {
namespace {

Hardware slow_link_hw() {
  Hardware hw;
  hw.clock_ghz = 1.0;
  hw.mvm_ns = 100;             // T = 100 cycles
  hw.link_bandwidth_gbps = 8;  // 8 bits per cycle: a pixel of C 8-bit channels takes C cycles
  hw.link_latency_ns = 5;      // lambda = 5 cycles
  hw.activation_bits = 8;
  return hw;
}

TimingReport simulate(const Graph& g, const Hardware& hw, int64_t images, const Topology* fabric = nullptr,
                      std::vector<int> node_of = {}) {
  const Mapping m = map_graph(g, hw);
  const PolyModel poly(g);
  TimingOptions o;
  o.images = images;
  o.fabric = fabric;
  o.node_of = std::move(node_of);
  return simulate_timing(g, m, poly, hw, o);
}

TEST(CmLinkCalendar, ServesInTheFreeCyclesAndMergesNeighbours) {
  using P = std::pair<int64_t, int64_t>;
  LinkCalendar c;
  EXPECT_EQ(c.serve(10, 5), P(10, 15));  // [10, 15)
  EXPECT_EQ(c.serve(0, 4), P(0, 4));     // [0, 4): before it
  EXPECT_EQ(c.intervals(), 2u);
  // 7 cycles from cycle 2: the gap [4, 10) takes 6, the last one goes after [10, 15); the
  // channel is then busy [0, 16), one merged interval.
  EXPECT_EQ(c.serve(2, 7), P(4, 16));
  EXPECT_EQ(c.intervals(), 1u);
  EXPECT_EQ(c.serve(20, 3), P(20, 23));
  EXPECT_EQ(c.serve(12, 6), P(16, 25));  // [16, 20) and [23, 25)
  EXPECT_EQ(c.intervals(), 1u);          // [0, 25)
  EXPECT_EQ(c.serve(30, 0), P(30, 30));  // nothing to send reserves nothing
  EXPECT_EQ(c.busy_cycles(), 5 + 4 + 7 + 3 + 6);
  c.forget_before(24);
  EXPECT_EQ(c.intervals(), 1u);  // [0, 25) ends after 24
  c.forget_before(25);
  EXPECT_EQ(c.intervals(), 0u);
}

// input x [c0, 1, 1] -> l1 (c0 -> c1) -> both l2 and l3 (c1 -> c2), both graph outputs: three
// cores, one pixel, so that l1's two transfers are ready at the same cycle.
Graph fan_out(int64_t c0, int64_t c1, int64_t c2) {
  Graph g;
  auto x = g.input("x", {c0, 1, 1});
  auto a = g.conv2d(x, Conv2dOptions(c0, c1, 1), "l1");
  g.mark_output(g.conv2d(a, Conv2dOptions(c1, c2, 1), "l2"));
  g.mark_output(g.conv2d(a, Conv2dOptions(c1, c2, 1), "l3"));
  return g;
}

TEST(CmTimingContention, TwoFlowsOverOneLinkTakeTheSumOfTheirTransferTimes) {
  const int64_t c0 = 4, c1 = 24, c2 = 2, T = 100, lambda = 5;
  const Graph g = fan_out(c0, c1, c2);
  const Hardware hw = slow_link_hw();
  // GCU -> l1 (c0 + lambda), l1 (T), l1 -> l2 and l3 (c1 + lambda each, own channels), l2/l3
  // (T), back to the GCU (c2 + lambda).
  const TimingReport ideal = simulate(g, hw, 1);
  EXPECT_EQ(ideal.first_latency_cycles, c0 + lambda + T + c1 + lambda + T + c2 + lambda);
  // A star: node 1 in the middle; l1 on node 0, l2 on node 2, l3 on node 3. Both flows take
  // 0 -> 1 then their own link: the second waits for the first on 0 -> 1 (c1 more cycles), and
  // both pay a second hop's latency.
  const Topology star = Topology::from_links(4, {{0, 1}, {1, 2}, {1, 3}}, "star");
  const TimingReport shared = simulate(g, hw, 1, &star, {0, 2, 3});
  EXPECT_EQ(shared.fabric, "star");
  EXPECT_EQ(shared.first_latency_cycles, c0 + lambda + T + (c1 + c1) + 2 * lambda + T + c2 + lambda);
  // Fully connected, one link per flow: nothing shared, exactly the ideal fabric.
  const Topology k3 = Topology::full(3);
  const TimingReport direct = simulate(g, hw, 1, &k3, {0, 1, 2});
  EXPECT_EQ(direct.first_latency_cycles, ideal.first_latency_cycles);
}

Graph chain(int64_t h, int64_t w) {
  Graph g;
  auto x = g.input("x", {4, h, w});
  x = g.conv2d(x, Conv2dOptions(4, 8, 1), "l1");
  x = g.conv2d(x, Conv2dOptions(8, 8, 1), "l2");
  x = g.conv2d(x, Conv2dOptions(8, 2, 1), "l3");
  g.mark_output(x);
  return g;
}

TEST(CmTimingContention, ChainOnARingWithoutSharingEqualsTheIdealFabric) {
  const Graph g = chain(4, 5);
  const Hardware hw = slow_link_hw();
  const TimingReport ideal = simulate(g, hw, 6);
  const Topology ring = Topology::ring(3);
  const TimingReport on_ring = simulate(g, hw, 6, &ring, {0, 1, 2});
  EXPECT_EQ(on_ring.image_done, ideal.image_done);
  EXPECT_EQ(on_ring.first_latency_cycles, ideal.first_latency_cycles);
  EXPECT_DOUBLE_EQ(on_ring.throughput_images_per_s, ideal.throughput_images_per_s);
  EXPECT_DOUBLE_EQ(on_ring.energy.comm_pj, ideal.energy.comm_pj);
  // Every other node of a 6-ring: each of the two flows takes 2 hops on links of its own, so
  // only one more latency each; the period is unchanged.
  const Topology ring6 = Topology::ring(6);
  const TimingReport spread = simulate(g, hw, 6, &ring6, {0, 2, 4});
  for (std::size_t n = 0; n < ideal.image_done.size(); ++n) {
    EXPECT_EQ(spread.image_done[n], ideal.image_done[n] + 2 * 5) << "image " << n;
  }
  EXPECT_DOUBLE_EQ(spread.period_cycles, ideal.period_cycles);
  EXPECT_GT(spread.busiest_channel_utilisation, 0.0);
}

TEST(CmTimingContention, NeverFasterThanTheIdealFabric) {
  // ResNet-8 on 64x64 crossbars: row splits (partial-sum flows), residual flows, 3 images;
  // fast and slow links; every topology with its placement, and random placements.
  Graph g = resnet_cifar(8);
  g.fold_batch_norms();
  const PolyModel poly(g);
  for (double gbps : {64.0, 2.0}) {
    Hardware hw;
    hw.crossbar_rows = hw.crossbar_cols = 64;
    hw.link_bandwidth_gbps = gbps;
    const Mapping m = map_graph(g, hw);
    const CoreGraph cg = build_core_graph(g, m, hw);
    TimingOptions o;
    o.images = 3;
    o.check_buffers = false;
    const TimingReport ideal = simulate_timing(g, m, poly, hw, o);
    std::mt19937 rng(7);
    for (const std::string& name : {std::string("ring"), std::string("mesh"), std::string("5pp-band")}) {
      PlacementOptions po;
      po.time_budget_s = 0.2;
      po.anneal_iterations = 500;
      const FabricRun run = run_fabric(name, cg, po);
      std::vector<int> shuffled(static_cast<std::size_t>(run.topology.nodes));
      std::iota(shuffled.begin(), shuffled.end(), 0);
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      shuffled.resize(static_cast<std::size_t>(cg.cores));
      for (const auto& node_of : {run.placement.node_of, shuffled}) {
        SCOPED_TRACE(name + " at " + std::to_string(gbps) + " Gbit/s");
        o.fabric = &run.topology;
        o.node_of = node_of;
        const TimingReport r = simulate_timing(g, m, poly, hw, o);
        EXPECT_LE(r.throughput_images_per_s, ideal.throughput_images_per_s * (1 + 1e-12));
        for (std::size_t n = 0; n < r.image_done.size(); ++n) EXPECT_GE(r.image_done[n], ideal.image_done[n]);
        EXPECT_GE(r.energy.comm_pj, ideal.energy.comm_pj);
      }
    }
  }
}

TEST(CmTimingContention, APlacementOfAnotherMappingIsAUserError) {
  const Graph g = chain(2, 2);
  const Topology ring = Topology::ring(3);
  EXPECT_THROW(simulate(g, slow_link_hw(), 1, &ring, {0, 1}), UserError);
  try {
    simulate(g, slow_link_hw(), 1, &ring, {0, 1, 7});
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("core 2 on node 7"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nc::cm
