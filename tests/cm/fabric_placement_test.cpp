#include <gtest/gtest.h>

#include "neurocore/cm/model_zoo.h"
#include "neurocore/cm/placement.h"

namespace nc::cm {
namespace {

CoreGraph from_pairs(int64_t n, const std::vector<std::pair<int, int>>& pairs, int64_t bits = 100) {
  CoreGraph cg;
  cg.cores = n;
  cg.core_layer.assign(static_cast<std::size_t>(n), "x");
  for (auto [u, v] : pairs) cg.flows.push_back({u, v, bits, FlowKind::kData});
  return cg;
}

CoreGraph grid_graph(int a, int b) {
  std::vector<std::pair<int, int>> p;
  for (int y = 0; y < b; ++y)
    for (int x = 0; x < a; ++x) {
      if (x + 1 < a) p.emplace_back(y * a + x, y * a + x + 1);
      if (y + 1 < b) p.emplace_back(y * a + x, (y + 1) * a + x);
    }
  return from_pairs(a * b, p);
}

TEST(CmFabricPlacement, ValidityChecker) {
  Topology ring = Topology::ring(4);
  CoreGraph cg = from_pairs(3, {{0, 1}, {1, 2}, {0, 2}});
  auto ok = check_placement(ring, cg, {0, 1, 2});
  EXPECT_TRUE(ok.valid());
  EXPECT_FALSE(ok.monomorphism());  // 0-2 is two hops on C_4
  ASSERT_EQ(ok.routed.size(), 1u);
  EXPECT_EQ(ok.routed[0], std::make_pair(0, 2));
  EXPECT_EQ(ok.pairs_on_links, 2);
  auto dup = check_placement(ring, cg, {0, 1, 1});
  EXPECT_FALSE(dup.injective);
  EXPECT_NE(dup.message.find("share node 1"), std::string::npos);
  auto out = check_placement(ring, cg, {0, 1, 4});
  EXPECT_FALSE(out.in_range);
  EXPECT_FALSE(check_placement(ring, cg, {0, 1}).valid());
  EXPECT_TRUE(check_placement(Topology::full(3), cg, {2, 0, 1}).monomorphism());
}

TEST(CmFabricPlacement, ChainEmbedsInRing) {
  std::vector<std::pair<int, int>> p;
  for (int i = 0; i + 1 < 12; ++i) p.emplace_back(i, i + 1);
  CoreGraph chain = from_pairs(12, p);
  // Scrambled core numbering so that the pipeline-order placement is not already the answer.
  for (auto& f : chain.flows) { f.src = (f.src * 5) % 12; f.dst = (f.dst * 5) % 12; }
  Placement pl = place(Topology::ring(12), chain);
  EXPECT_TRUE(pl.homomorphic);
  EXPECT_EQ(pl.mono, MonoStatus::kFound);
  EXPECT_EQ(pl.method, "vf2");
  EXPECT_TRUE(check_placement(Topology::ring(12), chain, pl.node_of).monomorphism());
}

TEST(CmFabricPlacement, GridEmbedsInMesh) {
  CoreGraph g = grid_graph(4, 3);
  Topology mesh = Topology::mesh(4, 3);
  PlacementOptions o;
  Placement pl = place(mesh, g, o);
  EXPECT_TRUE(pl.homomorphic);
  EXPECT_TRUE(check_placement(mesh, g, pl.node_of).monomorphism());
  // A 3x3 grid into a 4x4 mesh needs the search (boustrophedon order breaks the columns).
  CoreGraph g3 = grid_graph(3, 3);
  Topology m4 = Topology::mesh(4, 4);
  Placement p3 = place(m4, g3, o);
  EXPECT_EQ(p3.method, "vf2");
  EXPECT_TRUE(check_placement(m4, g3, p3.node_of).monomorphism());
}

TEST(CmFabricPlacement, K5DoesNotEmbedInRingAndIsRouted) {
  std::vector<std::pair<int, int>> p;
  for (int i = 0; i < 5; ++i)
    for (int j = i + 1; j < 5; ++j) p.emplace_back(i, j);
  CoreGraph k5 = from_pairs(5, p);
  Topology ring = Topology::ring(8);
  Placement pl = place(ring, k5);
  EXPECT_EQ(pl.mono, MonoStatus::kNone);  // exhaustive search completed: impossible
  EXPECT_FALSE(pl.homomorphic);
  EXPECT_EQ(pl.method, "annealing");
  auto c = check_placement(ring, k5, pl.node_of);
  EXPECT_TRUE(c.valid());
  EXPECT_FALSE(c.routed.empty());
  Router r(ring);
  auto load = route_flows(r, k5, pl.node_of);
  EXPECT_GT(load.max_hops, 1);
}

TEST(CmFabricPlacement, AnnealingIsSeededAndNoWorseThanStart) {
  Graph g = resnet_cifar(20);
  g.fold_batch_norms();
  Hardware hw;
  Mapping m = map_graph(g, hw);
  CoreGraph cg = build_core_graph(g, m, hw);
  Topology mesh = Topology::make("mesh", cg.cores);
  PlacementOptions o;
  o.try_vf2 = false;
  o.anneal_iterations = 5000;
  Placement a = place(mesh, cg, o), b = place(mesh, cg, o);
  EXPECT_EQ(a.node_of, b.node_of);
  EXPECT_TRUE(check_placement(mesh, cg, a.node_of).valid());
  Router r(mesh);
  const auto start = route_flows(r, cg, pipeline_order_placement(mesh, cg.cores));
  const auto end = route_flows(r, cg, a.node_of);
  EXPECT_LE(end.max_bits, start.max_bits);
}

}  // namespace
}  // namespace nc::cm
