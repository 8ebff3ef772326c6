#include "neurocore/cm/timing.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>

#include "neurocore/cm/model_zoo.h"
#include "neurocore/core/error.h"

namespace nc::cm {
namespace {

// input [c0, h, w] -> three 1x1 convs c0 -> c1 -> c2 -> c3, one core each.
Graph chain(int64_t c0, int64_t c1, int64_t c2, int64_t c3, int64_t h, int64_t w) {
  Graph g;
  auto x = g.input("x", {c0, h, w});
  x = g.conv2d(x, Conv2dOptions(c0, c1, 1), "l1");
  x = g.conv2d(x, Conv2dOptions(c1, c2, 1), "l2");
  x = g.conv2d(x, Conv2dOptions(c2, c3, 1), "l3");
  g.mark_output(x);
  return g;
}

Hardware chain_hw() {
  Hardware hw;
  hw.clock_ghz = 1.0;
  hw.mvm_ns = 100;           // T = 100 cycles
  hw.link_bandwidth_gbps = 8;  // 1 bit per cycle
  hw.link_latency_ns = 5;    // lambda = 5 cycles
  hw.activation_bits = 8;
  return hw;
}

TEST(CmTiming, ThreeLayerChainMatchesClosedForm) {
  const int64_t c0 = 4, c1 = 8, c2 = 8, c3 = 2, h = 4, w = 5, P = h * w;
  const Graph g = chain(c0, c1, c2, c3, h, w);
  const Hardware hw = chain_hw();
  const Mapping m = map_graph(g, hw);
  const PolyModel poly(g);
  TimingOptions opt;
  opt.images = 6;
  const TimingReport r = simulate_timing(g, m, poly, hw, opt);
  // A pixel of C 8-bit channels takes s = C cycles on a link and lambda = 5 to arrive; each layer
  // computes a pixel in T = 100 >= every s. The first image: the GCU sends pixel 0 (s0 +
  // lambda), the three layers each add T, l1 streams its P pixels (P T in all), each link adds
  // s_k + lambda, the last pixel returns to the GCU (s3 + lambda):
  //   latency = s0 + s1 + s2 + s3 + 4 lambda + (P + 2) T.
  // Steady state: l1 is busy all the time (the WAR gate lets the GCU send image n+1's pixel p
  // as soon as l1 finished image n's pixel p), so the period is P T.
  const int64_t T = 100, lambda = 5, s0 = c0, s1 = c1, s2 = c2, s3 = c3;
  const int64_t latency = s0 + s1 + s2 + s3 + 4 * lambda + (P + 2) * T;
  EXPECT_EQ(r.first_latency_cycles, latency);
  ASSERT_EQ(r.image_done.size(), 6u);
  for (int64_t n = 0; n < 6; ++n) EXPECT_EQ(r.image_done[static_cast<std::size_t>(n)], latency + n * P * T);
  EXPECT_DOUBLE_EQ(r.period_cycles, static_cast<double>(P * T));
  EXPECT_DOUBLE_EQ(r.throughput_images_per_s, 1e9 / static_cast<double>(P * T));
  EXPECT_EQ(r.total_cycles, latency + 5 * P * T);
  // Utilisation: every core computes 6 P MVMs of T cycles.
  ASSERT_EQ(r.cores.size(), 3u);  // the GCU runs no node
  for (const auto& c : r.cores) {
    EXPECT_EQ(c.mvm_cycles, 6 * P * T);
    EXPECT_DOUBLE_EQ(c.utilisation, static_cast<double>(6 * P * T) / static_cast<double>(r.total_cycles));
  }
  // Buffers: the GCU delivers a whole image into l1's buffer before l1 frees its first pixel
  // (P pixels of c0 bytes); l2 and l3 receive a pixel exactly when they finish the previous one.
  EXPECT_EQ(r.cores[0].max_buffer_bytes, P * c0);
  EXPECT_EQ(r.cores[1].max_buffer_bytes, c1);
  EXPECT_EQ(r.cores[2].max_buffer_bytes, c2);
  // Energy per image: 3 P MVMs, P (c1 + c2 + c3) ADC conversions, P (c0 + c1 + c2 + c3) 8-bit
  // pixels moved one hop, no digital op.
  EXPECT_DOUBLE_EQ(r.energy.mvm_pj, 3.0 * P * hw.energy_mvm_pj);
  EXPECT_DOUBLE_EQ(r.energy.adc_pj, static_cast<double>(P * (c1 + c2 + c3)) * hw.energy_adc_pj);
  EXPECT_DOUBLE_EQ(r.energy.digital_pj, 0.0);
  EXPECT_NEAR(r.energy.comm_pj, static_cast<double>(P * (c0 + c1 + c2 + c3) * 8) * hw.energy_bit_moved_pj, 1e-9);
  const auto j = nlohmann::json::parse(r.to_json());
  EXPECT_EQ(j["first_latency_cycles"], latency);
  EXPECT_NE(r.report_markdown().find("images/s"), std::string::npos);
}

TEST(CmTiming, ShrunkBufferIsAnErrorNamingTheCoreAndTheSize) {
  const Graph g = chain(4, 8, 8, 2, 4, 5);
  Hardware hw = chain_hw();
  hw.buffer_bytes = 20 * 4 - 1;  // l1 needs a whole image of 4-channel pixels: 80 bytes
  const Mapping m = map_graph(g, hw);
  const PolyModel poly(g);
  TimingOptions opt;
  opt.images = 2;
  try {
    simulate_timing(g, m, poly, hw, opt);
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("core 0 (l1) needs a buffer of 80 bytes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("79"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("core 1"), std::string::npos) << msg;
  }
  hw.buffer_bytes = 80;
  EXPECT_NO_THROW(simulate_timing(g, m, poly, hw, opt));
  hw.buffer_bytes = 10;  // below l1's 80 and l2's 8 + ... : check_buffers = false reports it
  opt.check_buffers = false;
  EXPECT_EQ(simulate_timing(g, m, poly, hw, opt).cores[0].max_buffer_bytes, 80);
}

// A graph with padding, a residual add, a strided conv, pooling, flatten and a split Linear.
Graph mixed() {
  Graph g;
  auto x = g.input("x", {2, 6, 6});
  auto a = g.relu(g.conv2d(x, Conv2dOptions(2, 3, 3).padding(1), "a"), "ra");
  auto b = g.conv2d(a, Conv2dOptions(3, 3, 3).padding(1), "b");
  auto s = g.relu(g.add({b, a}, "add"), "rs");
  auto c = g.conv2d(s, Conv2dOptions(3, 9, 3).stride(2).padding(1), "c");
  auto p = g.max_pool(c, PoolOptions(2).stride(1), "pool");
  auto f = g.flatten(p, "flat");
  g.mark_output(g.linear(f, LinearOptions(36, 5), "fc"));
  return g;
}

// Checks the trace against the raw access relations W and R of every edge: every read sees
// data of its own image that has arrived (RAW), no write of image n lands before the reader
// finished image n-1 at that location (WAR), each node runs its iterations in order, and the
// images leave in order.
void check_trace(const Graph& g, const PolyModel& poly, const TimingReport& r, int64_t images) {
  auto width = [&](NodeId n) {
    const Shape& s = g.value(g.node(n).output).shape;
    return s.size() == 3 ? s[2] : 1;
  };
  for (std::size_t k = 0; k < poly.edges().size(); ++k) {
    const auto& e = poly.edges()[k];
    const auto& wt = r.nodes[static_cast<std::size_t>(e.reader)];
    const int64_t n1 = r.nodes[static_cast<std::size_t>(e.writer)].iterations, n2 = wt.iterations;
    std::map<std::vector<int64_t>, int64_t> writer_of;
    for (const auto& [i1, o] : points(e.dep.write)) writer_of[o] = i1[0] * width(e.writer) + i1[1];
    std::map<int64_t, std::vector<int64_t>> readers_of;  // writer iteration -> reader iterations
    for (const auto& [i2, o] : points(e.dep.read)) {
      auto it = writer_of.find(o);
      if (it == writer_of.end()) continue;  // padding
      const int64_t j2 = i2[0] * width(e.reader) + i2[1];
      readers_of[it->second].push_back(j2);
      for (int64_t n = 0; n < images; ++n) {
        const int64_t arrive = r.arrivals[k][static_cast<std::size_t>(n * n1 + it->second)];
        ASSERT_LE(arrive, wt.start[static_cast<std::size_t>(n * n2 + j2)])
            << e.object << ": image " << n << " reader " << j2 << " reads writer " << it->second
            << " before it arrived";
      }
    }
    for (const auto& [i1, rs] : readers_of)
      for (int64_t j2 : rs)
        for (int64_t n = 1; n < images; ++n) {
          ASSERT_GE(r.arrivals[k][static_cast<std::size_t>(n * n1 + i1)],
                    wt.finish[static_cast<std::size_t>((n - 1) * n2 + j2)])
              << e.object << ": image " << n << " overwrites a location image " << n - 1
              << " still reads";
        }
  }
  for (const auto& t : r.nodes)
    for (std::size_t i = 1; i < t.start.size(); ++i) ASSERT_GE(t.start[i], t.finish[i - 1]);
  for (std::size_t n = 1; n < r.image_done.size(); ++n) EXPECT_GT(r.image_done[n], r.image_done[n - 1]);
}

TEST(CmTiming, StreamedImagesStayInOrderAndRespectEveryDependence) {
  const Graph g = mixed();
  const PolyModel poly(g);
  for (int variant = 0; variant < 3; ++variant) {
    Hardware hw;
    hw.crossbar_rows = 16;  // b and c (27 rows) split over two row blocks, fc over three
    hw.crossbar_cols = 16;
    hw.mvm_ns = variant == 0 ? 100 : 7;
    hw.digital_op_ns = variant == 2 ? 10 : 1;
    hw.link_bandwidth_gbps = variant == 1 ? 0.5 : 64;  // variant 1: links are the bottleneck
    const Mapping m = map_graph(g, hw);
    ASSERT_GT(m.layer("b").row_blocks, 1);
    TimingOptions opt;
    opt.images = 4;
    opt.trace = true;
    const TimingReport r = simulate_timing(g, m, poly, hw, opt);
    SCOPED_TRACE("variant " + std::to_string(variant));
    check_trace(g, poly, r, opt.images);
    EXPECT_LT(r.period_cycles, static_cast<double>(r.first_latency_cycles));
    for (const auto& c : r.cores) EXPECT_LE(c.utilisation, 1.0);
  }
}

TEST(CmTiming, NeedTableEqualsThePrefixMaximum) {
  // The runtime form (max_iter raised by M) must wait for exactly D'(i2).
  const Graph g = mixed();
  const PolyModel poly(g);
  for (const auto& e : poly.edges()) {
    const EdgeSchedule s = edge_schedule(g, e);
    const Shape& w1 = g.value(g.node(e.writer).output).shape;
    const Shape& w2 = g.value(g.node(e.reader).output).shape;
    const int64_t a = w1.size() == 3 ? w1[2] : 1, b = w2.size() == 3 ? w2[2] : 1;
    std::vector<int64_t> expect(static_cast<std::size_t>(s.reader_iterations), -1);
    for (const auto& [i2, i1] : points(e.dep.need_prefix)) {
      expect[static_cast<std::size_t>(i2[0] * b + i2[1])] = i1[0] * a + i1[1];
    }
    EXPECT_EQ(s.need, expect) << e.object;
  }
}

TEST(CmTiming, PlacementFollowsThePartitionRule) {
  const Graph g = resnet_cifar(20);
  const Mapping m = map_graph(g, Hardware());
  const auto core = node_cores(g, m);
  EXPECT_EQ(core[static_cast<std::size_t>(g.find_node("input"))], -1);
  EXPECT_EQ(core[static_cast<std::size_t>(g.find_node("relu1"))],
            m.layer("conv1").tiles[0].core);
  EXPECT_EQ(core[static_cast<std::size_t>(g.find_node("layer2.0.shortcut.pad"))],
            m.layer("layer2.0.conv2").tiles[0].core);
}

TEST(CmTiming, ResNet20Streams) {
  Graph g = resnet_cifar(20);
  g.fold_batch_norms();
  const Hardware hw;
  const Mapping m = map_graph(g, hw);
  const PolyModel poly(g);
  TimingOptions opt;
  opt.images = 3;
  const TimingReport r = simulate_timing(g, m, poly, hw, opt);
  ASSERT_EQ(r.image_done.size(), 3u);
  EXPECT_LT(r.image_done[0], r.image_done[1]);
  EXPECT_LT(r.period_cycles, static_cast<double>(r.first_latency_cycles));
  // conv1 computes 1024 pixels of 100 cycles per image: no period can be shorter.
  EXPECT_GE(r.period_cycles, 1024 * 100.0);
  EXPECT_EQ(static_cast<int64_t>(r.cores.size()), m.total_cores);  // the GCU only streams
  EXPECT_GT(r.energy.total_pj(), 0.0);
}

}  // namespace
}  // namespace nc::cm
