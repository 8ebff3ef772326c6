#include "neurocore/cm/mapping.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>

#include "neurocore/cm/model_zoo.h"
#include "neurocore/core/error.h"

namespace nc::cm {
namespace {

Hardware xbar(int64_t rows, int64_t cols) {
  Hardware hw;
  hw.crossbar_rows = rows;
  hw.crossbar_cols = cols;
  return hw;
}

TEST(CmMapping, HandComputedLayers) {
  Graph g;
  auto x = g.input("x", {64, 8, 8});
  auto y = g.conv2d(x, Conv2dOptions(64, 64, 3).padding(1), "c576x64");    // 576 x 64
  auto z = g.conv2d(y, Conv2dOptions(64, 300, 1), "c64x300");               // 64 x 300
  auto w = g.conv2d(z, Conv2dOptions(300, 600, 1).stride(2), "c300x600");   // 300 x 600
  auto f = g.flatten(w, "flat");
  g.linear(f, LinearOptions(600 * 16, 10), "fc");                            // 9600 x 10
  const Mapping m = map_graph(g, Hardware());
  const auto& a = m.layer("c576x64");
  EXPECT_EQ(a.rows, 576);
  EXPECT_EQ(a.cols, 64);
  EXPECT_EQ(a.row_blocks, 3);
  EXPECT_EQ(a.col_blocks, 1);
  EXPECT_EQ(a.cores, 3);
  EXPECT_EQ(a.mvms_per_image, 64);
  EXPECT_DOUBLE_EQ(a.utilisation, 576.0 * 64 / (3 * 65536.0));
  ASSERT_EQ(a.tiles.size(), 3u);
  EXPECT_EQ(a.tiles[2].row_begin, 512);
  EXPECT_EQ(a.tiles[2].row_end, 576);
  EXPECT_TRUE(a.tiles[0].accumulates);
  EXPECT_FALSE(a.tiles[1].accumulates);
  const auto& b = m.layer("c64x300");
  EXPECT_EQ(b.row_blocks, 1);
  EXPECT_EQ(b.col_blocks, 2);
  EXPECT_EQ(b.first_core, 3);
  EXPECT_EQ(b.tiles[1].col_begin, 256);
  EXPECT_EQ(b.tiles[1].col_end, 300);
  EXPECT_FALSE(b.tiles[0].accumulates);
  const auto& c = m.layer("c300x600");
  EXPECT_EQ(c.cores, 2 * 3);
  EXPECT_EQ(c.mvms_per_image, 16);
  const auto& d = m.layer("fc");
  EXPECT_EQ(d.cores, 38);  // ceil(9600/256) = 38 row blocks
  EXPECT_EQ(d.mvms_per_image, 1);
  EXPECT_EQ(m.total_cores, 3 + 2 + 6 + 38);
  int64_t cells = 0, cores = 0;
  for (const auto& l : m.layers)
    for (const auto& t : l.tiles) {
      cells += t.cells;
      EXPECT_EQ(t.core, cores++);  // consecutive along the pipeline
      EXPECT_LE(t.row_end - t.row_begin, 256);
      EXPECT_LE(t.col_end - t.col_begin, 256);
    }
  EXPECT_EQ(cells, m.total_cells);
  EXPECT_EQ(m.total_cells, 576 * 64 + 64 * 300 + 300 * 600 + 9600 * 10);
}

TEST(CmMapping, RectangularCrossbar) {
  Graph g;
  auto x = g.input("x", {32, 4, 4});
  g.conv2d(x, Conv2dOptions(32, 100, 3), "c");  // 288 x 100
  const Mapping m = map_graph(g, xbar(128, 64));
  EXPECT_EQ(m.layer("c").row_blocks, 3);
  EXPECT_EQ(m.layer("c").col_blocks, 2);
  EXPECT_EQ(m.total_cores, 6);
}

TEST(CmMapping, GroupedAndDepthwise) {
  Graph g;
  auto x = g.input("x", {64, 8, 8});
  g.conv2d(x, Conv2dOptions(64, 64, 3).groups(64).padding(1), "dw");  // 64 groups of 9 x 1
  g.conv2d(x, Conv2dOptions(64, 128, 3).groups(2), "g2");             // 2 groups of 288 x 64
  g.conv2d(x, Conv2dOptions(64, 64, 1).groups(4), "g4");              // 4 groups of 16 x 16
  const Mapping m = map_graph(g, Hardware());
  const auto& dw = m.layer("dw");
  EXPECT_EQ(dw.groups_per_core, 28);  // floor(256 / 9)
  EXPECT_EQ(dw.cores, 3);             // ceil(64 / 28)
  EXPECT_EQ(dw.cells, 64 * 9);
  EXPECT_EQ(dw.tiles[2].group_begin, 56);
  EXPECT_EQ(dw.tiles[2].group_end, 64);
  EXPECT_EQ(dw.tiles[2].row_begin, 56 * 9);
  EXPECT_EQ(dw.tiles[2].col_begin, 56);
  const auto& g2 = m.layer("g2");  // a group does not fit: each tiled densely, 2 row blocks
  EXPECT_EQ(g2.cores, 4);
  EXPECT_EQ(g2.tiles[2].group_begin, 1);
  EXPECT_EQ(g2.tiles[2].row_begin, 288);
  EXPECT_EQ(g2.tiles[3].row_begin, 288 + 256);
  EXPECT_EQ(g2.tiles[2].col_begin, 64);
  EXPECT_EQ(m.layer("g4").cores, 1);
  EXPECT_EQ(m.layer("g4").groups_per_core, 4);
}

// fabric.md §7: ResNet-32 needs 60 cores at 256x256 and 41 at 512x512 with option-A
// shortcuts, 62 and 43 with option-B projections.
TEST(CmMapping, ResNet32MatchesFabricSpec) {
  const std::map<std::pair<Shortcut, int64_t>, int64_t> expected = {
      {{Shortcut::kA, 256}, 60}, {{Shortcut::kA, 512}, 41},
      {{Shortcut::kB, 256}, 62}, {{Shortcut::kB, 512}, 43}};
  for (const auto& [key, cores] : expected) {
    Graph g = resnet_cifar(32, key.first);
    g.fold_batch_norms();
    const Mapping m = map_graph(g, xbar(key.second, key.second));
    EXPECT_EQ(m.total_cores, cores) << "X=" << key.second;
    EXPECT_EQ(m.layers.size(), key.first == Shortcut::kA ? 32u : 34u);
  }
  // Per-layer-group rows of the fabric table at 256.
  Graph g = resnet_cifar(32);
  const Mapping m = map_graph(g, Hardware());
  EXPECT_EQ(m.layer("conv1").rows, 27);
  EXPECT_EQ(m.layer("layer1.4.conv2").cores, 1);
  EXPECT_EQ(m.layer("layer2.0.conv1").rows, 144);
  EXPECT_EQ(m.layer("layer2.0.conv1").cores, 1);
  EXPECT_EQ(m.layer("layer2.0.conv2").cores, 2);
  EXPECT_EQ(m.layer("layer3.0.conv1").rows, 288);
  EXPECT_EQ(m.layer("layer3.0.conv1").cores, 2);
  EXPECT_EQ(m.layer("layer3.4.conv2").rows, 576);
  EXPECT_EQ(m.layer("layer3.4.conv2").cores, 3);
  EXPECT_EQ(m.layer("fc").cores, 1);
  EXPECT_EQ(m.layer("layer1.0.conv1").mvms_per_image, 1024);
  EXPECT_EQ(m.layer("layer2.0.conv1").mvms_per_image, 256);
  EXPECT_EQ(m.layer("layer3.0.conv1").mvms_per_image, 64);
}

TEST(CmMapping, ResNet20) {
  const Mapping m = map_graph(resnet_cifar(20), Hardware());
  // conv1 1 + stage 1: 6 + stage 2: 1 + 5*2 + stage 3: 2 + 5*3 + fc 1.
  EXPECT_EQ(m.total_cores, 36);
  EXPECT_EQ(map_graph(resnet_cifar(56), Hardware()).total_cores, 1 + 18 + 1 + 17 * 2 + 2 + 17 * 3 + 1);
}

TEST(CmMapping, CapacityAndReports) {
  Hardware hw;
  hw.cores = 32;
  hw.name = "small";
  try {
    map_graph(resnet_cifar(32), hw);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("needs 60 cores of 256x256 but cores = 32"),
              std::string::npos)
        << e.what();
  }
  const Mapping m = map_graph(resnet_cifar(32), hw, false);
  const std::string md = m.report_markdown();
  EXPECT_NE(md.find("| layer3.4.conv2 | Conv2d | 576 x 64 | 1 | 3 x 1 | 3 |"), std::string::npos) << md;
  EXPECT_NE(md.find("60 cores of 32 available"), std::string::npos);
  auto j = nlohmann::json::parse(m.to_json());
  EXPECT_EQ(j["total_cores"], 60);
  EXPECT_EQ(j["layers"].size(), 32u);
  EXPECT_THROW(m.layer("layer9"), UserError);
}

}  // namespace
}  // namespace nc::cm
