#include <gtest/gtest.h>

#include <map>
#include <set>

#include "neurocore/cm/fabric.h"
#include "neurocore/cm/model_zoo.h"

namespace nc::cm {
namespace {

struct Built {
  Graph g;
  Mapping m;
  CoreGraph cg;
};

Built build(int64_t depth, int64_t xbar, Shortcut sc = Shortcut::kA) {
  Built b;
  b.g = resnet_cifar(depth, sc);
  b.g.fold_batch_norms();
  Hardware hw;
  hw.crossbar_rows = hw.crossbar_cols = xbar;
  b.m = map_graph(b.g, hw);
  b.cg = build_core_graph(b.g, b.m, hw);
  return b;
}

TEST(CmFabricCoreGraph, ResNet32CoreCountsFeedTheGraph) {
  EXPECT_EQ(build(32, 256).cg.cores, 60);
  EXPECT_EQ(build(32, 512).cg.cores, 41);
  EXPECT_EQ(build(32, 256, Shortcut::kB).cg.cores, 62);
  EXPECT_EQ(build(32, 512, Shortcut::kB).cg.cores, 43);
}

TEST(CmFabricCoreGraph, EdgeRulesResNet32) {
  Built b = build(32, 256);
  const auto& m = b.m;
  std::map<int64_t, const LayerMapping*> layer_of_core;
  std::map<int64_t, const Tile*> tile_of;
  for (const auto& l : m.layers)
    for (const auto& t : l.tiles) {
      layer_of_core[t.core] = &l;
      tile_of[t.core] = &t;
    }
  int psum = 0, residual = 0, data = 0;
  for (const auto& f : b.cg.flows) {
    const LayerMapping& ls = *layer_of_core[f.src];
    const LayerMapping& ld = *layer_of_core[f.dst];
    if (f.kind == FlowKind::kPartialSum) {
      ++psum;
      EXPECT_EQ(&ls, &ld);
      EXPECT_GT(ls.row_blocks, 1);  // partial sums only for row-split layers
      EXPECT_GT(tile_of[f.src]->row_block, 0);
      EXPECT_EQ(tile_of[f.dst]->row_block, 0);
      // P_out * columns * 16 bits
      EXPECT_EQ(f.bits, ls.mvms_per_image * (tile_of[f.src]->col_end - tile_of[f.src]->col_begin) * 16);
    } else {
      EXPECT_EQ(tile_of[f.src]->row_block, 0);  // data leaves from the output cores
      if (f.kind == FlowKind::kResidual) {
        ++residual;
        EXPECT_EQ(tile_of[f.dst]->row_block, 0);
      } else {
        ++data;
      }
    }
  }
  // Stage-2/3 "other" convs: 9 x 1 + 9 x 2 partial sums, stage-3 first conv: 1.
  EXPECT_EQ(psum, 9 * 1 + 1 + 9 * 2);
  // 15 blocks, each with one residual flow from the block input's producer (stage 3 convs
  // have one output core, so one flow each).
  EXPECT_EQ(residual, 15);
  EXPECT_GT(data, 30);
  // conv1 (27 rows, one core) sends its 32x32x16 output to layer1.0.conv1: 16384 x 8 bits.
  const int64_t c1 = m.layer("conv1").tiles[0].core, l10 = m.layer("layer1.0.conv1").tiles[0].core;
  bool found = false;
  for (const auto& f : b.cg.flows)
    if (f.src == c1 && f.dst == l10 && f.kind == FlowKind::kData) {
      found = true;
      EXPECT_EQ(f.bits, 32 * 32 * 16 * 8);
    }
  EXPECT_TRUE(found);
}

TEST(CmFabricCoreGraph, RowSplitReceivesOnlyItsChannels) {
  // layer3.1.conv1: 576 rows = 64 channels x 9 over 3 row blocks of 256 rows:
  // block 0 holds channels [0, 29), block 1 [28, 57), block 2 [56, 64) (row 256 = channel 28.4).
  Built b = build(32, 256);
  const auto& l = b.m.layer("layer3.1.conv1");
  const auto& prev = b.m.layer("layer3.0.conv2");
  for (const auto& t : l.tiles) {
    int64_t got = 0;
    for (const auto& f : b.cg.flows)
      if (f.dst == t.core && f.src == prev.tiles[0].core && f.kind == FlowKind::kData) got += f.bits;
    const int64_t c0 = t.row_begin / 9, c1 = (t.row_end - 1) / 9 + 1;
    EXPECT_EQ(got, 8 * 8 * (c1 - c0) * 8) << "tile " << t.row_block;
  }
}

TEST(CmFabricCoreGraph, ColumnSplitBroadcastsTheInput) {
  // A 1x1 conv 64 -> 600 at 256 columns: 3 column blocks, each gets the whole input.
  Graph g;
  auto x = g.input("x", {64, 4, 4});
  auto a = g.conv2d(x, Conv2dOptions(64, 64, 1), "a");
  g.conv2d(a, Conv2dOptions(64, 600, 1), "b");
  Hardware hw;
  Mapping m = map_graph(g, hw);
  CoreGraph cg = build_core_graph(g, m, hw);
  ASSERT_EQ(m.layer("b").col_blocks, 3);
  ASSERT_EQ(cg.flows.size(), 3u);
  for (const auto& f : cg.flows) EXPECT_EQ(f.bits, 4 * 4 * 64 * 8);
}

TEST(CmFabricCoreGraph, ConcatIsChannelExact) {
  Graph g;
  auto x = g.input("x", {8, 4, 4});
  auto a = g.conv2d(x, Conv2dOptions(8, 300, 1), "a");  // 2 column blocks: [0,256), [256,300)
  auto b = g.conv2d(x, Conv2dOptions(8, 20, 1), "b");
  auto c = g.concat({a, b});
  g.conv2d(c, Conv2dOptions(320, 4, 1), "d");  // rows 320: block 0 = channels [0,256), block 1 = [256,320)
  Hardware hw;
  Mapping m = map_graph(g, hw);
  CoreGraph cg = build_core_graph(g, m, hw);
  const auto& d = m.layer("d");
  std::map<std::pair<int, int>, int64_t> bits;
  for (const auto& f : cg.flows)
    if (f.kind == FlowKind::kData) bits[{f.src, f.dst}] = f.bits;
  const int a0 = static_cast<int>(m.layer("a").tiles[0].core), a1 = static_cast<int>(m.layer("a").tiles[1].core);
  const int b0 = static_cast<int>(m.layer("b").tiles[0].core);
  const int d0 = static_cast<int>(d.tiles[0].core), d1 = static_cast<int>(d.tiles[1].core);
  EXPECT_EQ(bits[std::make_pair(a0, d0)], 16 * 256 * 8);
  EXPECT_EQ(bits.count(std::make_pair(a0, d1)), 0u);
  EXPECT_EQ(bits[std::make_pair(a1, d1)], 16 * 44 * 8);
  EXPECT_EQ(bits[std::make_pair(b0, d1)], 16 * 20 * 8);
  EXPECT_EQ(bits.count(std::make_pair(b0, d0)), 0u);
}

}  // namespace
}  // namespace nc::cm
