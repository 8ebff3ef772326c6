#include <gtest/gtest.h>

#include <numeric>
#include <random>

#include "neurocore/cm/model_zoo.h"
#include "neurocore/cm/placement.h"

namespace nc::cm {
namespace {

CoreGraph resnet_core_graph(int64_t depth) {
  Graph g = resnet_cifar(depth);
  g.fold_batch_norms();
  Hardware hw;
  Mapping m = map_graph(g, hw);
  return build_core_graph(g, m, hw);
}

TEST(CmFabricRouting, PathsAreShortestAndDimensionOrdered) {
  for (const std::string name : {"ring", "mesh", "mesh-diag", "torus", "hypercube", "5pp-band", "5pp-prism"}) {
    Topology t = Topology::make(name, 30);
    Router r(t);
    for (int a = 0; a < t.nodes; ++a) {
      auto d = t.distances(a);
      for (int b = 0; b < t.nodes; ++b) {
        const auto& p = r.path(a, b);
        ASSERT_EQ(static_cast<int>(p.size()) - 1, d[b]) << name << " " << a << "->" << b;
        EXPECT_EQ(p.front(), a);
        EXPECT_EQ(p.back(), b);
        for (std::size_t i = 0; i + 1 < p.size(); ++i) ASSERT_TRUE(t.has_link(p[i], p[i + 1]));
      }
    }
  }
  // Mesh 4x4: 0 -> 15 goes along X first (0,1,2,3) then Y (7,11,15).
  Router m(Topology::mesh(4, 4));
  EXPECT_EQ(m.path(0, 15), (std::vector<int>{0, 1, 2, 3, 7, 11, 15}));
  // Torus 4x4: x 0 -> 2 is a tie: positive direction.
  Router t(Topology::torus(4, 4));
  EXPECT_EQ(t.path(0, 2), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(t.path(0, 3), (std::vector<int>{0, 3}));
  // Hypercube: lowest differing bit first.
  Router h(Topology::hypercube(3));
  EXPECT_EQ(h.path(0, 7), (std::vector<int>{0, 1, 3, 7}));
}

TEST(CmFabricRouting, ConservesFlow) {
  CoreGraph cg = resnet_core_graph(32);
  ASSERT_EQ(cg.cores, 60);
  for (const std::string& name : Topology::names()) {
    Topology t = Topology::make(name, cg.cores);
    Router r(t);
    std::vector<int> place(static_cast<std::size_t>(t.nodes));
    std::iota(place.begin(), place.end(), 0);
    std::mt19937 rng(7);
    std::shuffle(place.begin(), place.end(), rng);
    place.resize(static_cast<std::size_t>(cg.cores));
    FabricLoad L = route_flows(r, cg, place);
    // Bits on links = sum of volume x hops.
    int64_t on_links = std::accumulate(L.channel_bits.begin(), L.channel_bits.end(), int64_t{0});
    int64_t expect = 0;
    for (std::size_t f = 0; f < cg.flows.size(); ++f) expect += cg.flows[f].bits * L.hops[f];
    EXPECT_EQ(on_links, expect) << name;
    EXPECT_EQ(L.bit_hops, expect) << name;
    // Bits leaving each core's node on its first hop = sum of its flows' volumes.
    for (int c = 0; c < cg.cores; ++c) {
      int64_t first_hop = 0;
      for (const auto& f : cg.flows) {
        if (f.src != c) continue;
        const auto& ch = r.channels(place[f.src], place[f.dst]);
        ASSERT_FALSE(ch.empty());
        first_hop += f.bits;
      }
      EXPECT_EQ(first_hop, cg.bits_out(c));
    }
    // Lower bound (spec §6): max load >= the largest flow.
    int64_t biggest = 0;
    for (const auto& f : cg.flows) biggest = std::max(biggest, f.bits);
    EXPECT_GE(L.max_bits, biggest) << name;
  }
}

TEST(CmFabricRouting, OutflowOfEachNodeEqualsItsFlows) {
  // Per node: bits on the channels leaving a node = bits of flows starting there + bits of
  // flows passing through it (they enter and leave) -- checked as in-out balance.
  CoreGraph cg = resnet_core_graph(20);
  Topology t = Topology::make("mesh", cg.cores);
  Router r(t);
  auto place = pipeline_order_placement(t, cg.cores);
  FabricLoad L = route_flows(r, cg, place);
  std::vector<int64_t> out(static_cast<std::size_t>(t.nodes), 0), in(static_cast<std::size_t>(t.nodes), 0);
  for (std::size_t l = 0; l < t.links.size(); ++l) {
    auto [u, v] = t.links[l];
    out[u] += L.channel_bits[2 * l];
    in[v] += L.channel_bits[2 * l];
    out[v] += L.channel_bits[2 * l + 1];
    in[u] += L.channel_bits[2 * l + 1];
  }
  std::vector<int64_t> src(static_cast<std::size_t>(t.nodes), 0), dst(static_cast<std::size_t>(t.nodes), 0);
  for (const auto& f : cg.flows) {
    src[place[f.src]] += f.bits;
    dst[place[f.dst]] += f.bits;
  }
  for (int v = 0; v < t.nodes; ++v) EXPECT_EQ(out[v] - in[v], src[v] - dst[v]) << v;
}

TEST(CmFabricRouting, MonomorphicPlacementMeetsTheLowerBound) {
  CoreGraph cg = resnet_core_graph(20);
  Topology k = Topology::make("full", cg.cores);
  Placement p = place(k, cg);
  ASSERT_TRUE(p.homomorphic);
  Router r(k);
  FabricLoad L = route_flows(r, cg, p.node_of);
  int64_t biggest = 0;
  for (const auto& f : cg.flows) biggest = std::max(biggest, f.bits);
  EXPECT_EQ(L.max_bits, biggest);
  EXPECT_EQ(L.max_hops, 1);
}

}  // namespace
}  // namespace nc::cm
