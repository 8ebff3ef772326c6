#include <gtest/gtest.h>

#include <cstdlib>

#include "neurocore/cm/topology.h"
#include "neurocore/core/error.h"

namespace nc::cm {
namespace {

TEST(CmFabricTopology, DegreesAndLinkCounts) {
  auto r = Topology::ring(10);
  EXPECT_EQ(r.link_count(), 10);
  for (int v = 0; v < 10; ++v) EXPECT_EQ(r.degree(v), 2);
  auto t = Topology::torus(4, 5);
  EXPECT_EQ(t.nodes, 20);
  EXPECT_EQ(t.link_count(), 40);
  for (int v = 0; v < 20; ++v) EXPECT_EQ(t.degree(v), 4);
  auto m = Topology::mesh(4, 3);
  EXPECT_EQ(m.link_count(), 3 * 3 + 4 * 2);
  EXPECT_EQ(m.max_degree(), 4);
  auto md = Topology::mesh_diag(5, 5);
  EXPECT_EQ(md.max_degree(), 8);
  EXPECT_EQ(md.link_count(), 2 * 5 * 4 + 2 * 4 * 4);
  auto h = Topology::hypercube(5);
  EXPECT_EQ(h.nodes, 32);
  EXPECT_EQ(h.link_count(), 32 * 5 / 2);
  for (int v = 0; v < 32; ++v) EXPECT_EQ(h.degree(v), 5);
  auto k = Topology::full(7);
  EXPECT_EQ(k.link_count(), 21);
  EXPECT_EQ(k.max_degree(), 6);
}

TEST(CmFabricTopology, FivePPReconstructions) {
  auto b = Topology::five_pp_band(20);
  EXPECT_EQ(b.name, "5pp-band");
  EXPECT_EQ(b.max_degree(), 10);
  EXPECT_EQ(b.link_count(), 5 * 20 - 15);  // sum_{k=1..5} (N - k)
  EXPECT_TRUE(b.has_link(3, 8));
  EXPECT_FALSE(b.has_link(3, 9));
  auto p = Topology::five_pp_prism(4);
  EXPECT_EQ(p.nodes, 20);
  EXPECT_EQ(p.max_degree(), 8);
  EXPECT_EQ(p.degree(0), 5);           // first stage: pentagon + 3 forward
  EXPECT_EQ(p.link_count(), 4 * 5 + 3 * 15);
  EXPECT_TRUE(p.has_link(0, 4));       // pentagon wraps
  EXPECT_TRUE(p.has_link(0, 9));       // (0,0) <-> (1,4) lane mod 5
  EXPECT_FALSE(p.has_link(0, 7));
  EXPECT_EQ(Topology::make("5pp", 60).name, "5pp-band");
  EXPECT_EQ(Topology::make("5pp-prism", 41).nodes, 45);
}

TEST(CmFabricTopology, DistancesMatchClosedForms) {
  auto m = Topology::mesh(5, 4), t = Topology::torus(5, 4);
  for (int s : {0, 7, 19}) {
    auto dm = m.distances(s), dt = t.distances(s);
    for (int v = 0; v < 20; ++v) {
      int dx = std::abs(v % 5 - s % 5), dy = std::abs(v / 5 - s / 5);
      EXPECT_EQ(dm[v], dx + dy);
      EXPECT_EQ(dt[v], std::min(dx, 5 - dx) + std::min(dy, 4 - dy));
    }
  }
  auto h = Topology::hypercube(4);
  auto dh = h.distances(5);
  for (int v = 0; v < 16; ++v) EXPECT_EQ(dh[v], __builtin_popcount(v ^ 5));
}

TEST(CmFabricTopology, MakeSizes) {
  EXPECT_EQ(Topology::make("mesh", 60).nodes, 64);
  EXPECT_EQ(Topology::make("torus", 41).nodes, 42);  // 7 x 6
  EXPECT_EQ(Topology::make("hypercube", 60).nodes, 64);
  EXPECT_EQ(Topology::make("ring", 60).nodes, 60);
  EXPECT_EQ(Topology::make("band3", 10).max_degree(), 6);
  EXPECT_THROW(Topology::make("torrus", 10), UserError);
}

TEST(CmFabricTopology, UserYaml) {
  auto t = Topology::from_yaml("name: tri\nnodes: 4\nlinks: [[0, 1], [1, 2], [2, 0], [2, 3]]\n");
  EXPECT_EQ(t.name, "tri");
  EXPECT_EQ(t.link_count(), 4);
  EXPECT_EQ(t.degree(2), 3);
  auto msg = [](const std::string& y) {
    try {
      Topology::from_yaml(y, "f.yaml");
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg("nodes: 3\nlinks: [[0, 3]]\n").find("node id 3 is outside [0, 2]"), std::string::npos);
  EXPECT_NE(msg("nodes: 3\nlinks: [[1, 1]]\n").find("self-loop"), std::string::npos);
  EXPECT_NE(msg("nodes: 3\nlinks: [[0, 1], [1, 0]]\n").find("duplicate link"), std::string::npos);
  EXPECT_NE(msg("nodes: 3\nlinks: [[0, 1, 2]]\n").find("links[0] must be a pair"), std::string::npos);
  EXPECT_NE(msg("nodes: 0\nlinks: []\n").find("nodes must be a positive integer"), std::string::npos);
  EXPECT_NE(msg("nodez: 3\nlinks: []\n").find("did you mean 'nodes'"), std::string::npos);
  EXPECT_NE(msg("nodes: 3\n").find("missing 'links'"), std::string::npos);
}

}  // namespace
}  // namespace nc::cm
