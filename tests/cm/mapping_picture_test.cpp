// The mapping picture (mapping_picture.h): every tile appears once, on its core, with its row
// and column ranges, in the grid of its layer; the DOT source renders with Graphviz.
#include "neurocore/cm/mapping_picture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

namespace nc::cm {
namespace {

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

Graph split_graph() {
  Graph g;
  auto x = g.input("x", {64, 8, 8});
  auto y = g.conv2d(x, Conv2dOptions(64, 64, 3).padding(1), "c576x64");   // 3 x 1 blocks
  auto z = g.conv2d(y, Conv2dOptions(64, 300, 1), "c64x300");              // 1 x 2 blocks
  g.conv2d(z, Conv2dOptions(300, 300, 3).groups(300).padding(1), "dw");   // depthwise, packed
  return g;
}

TEST(CmMappingPicture, EveryTileOnceWithItsCoreAndRanges) {
  const Mapping m = map_graph(split_graph(), Hardware());
  const std::string dot = mapping_dot(m);
  int tiles = 0;
  for (const auto& l : m.layers) tiles += static_cast<int>(l.tiles.size());
  EXPECT_EQ(count(dot, "<BR/>rows "), tiles) << dot;
  for (int64_t c = 0; c < m.total_cores; ++c) {
    const std::string core = ">core " + std::to_string(c);
    EXPECT_EQ(count(dot, core + "<BR/>") + count(dot, core + " acc<BR/>"), 1)
        << "core " << c << "\n" << dot;
  }
  // The row-split layer: three row blocks (three table rows), the first accumulates.
  EXPECT_NE(dot.find("core 0 acc<BR/>rows 0-255<BR/>cols 0-63"), std::string::npos) << dot;
  EXPECT_NE(dot.find("core 2<BR/>rows 512-575<BR/>cols 0-63"), std::string::npos) << dot;
  // The column-split layer: two cells in one row.
  EXPECT_NE(dot.find("core 3<BR/>rows 0-63<BR/>cols 0-255"), std::string::npos) << dot;
  EXPECT_NE(dot.find("core 4<BR/>rows 0-63<BR/>cols 256-299"), std::string::npos) << dot;
  // The depthwise conv: groups packed along the diagonal.
  EXPECT_NE(dot.find("300 groups"), std::string::npos) << dot;
  EXPECT_NE(dot.find("groups 0-"), std::string::npos) << dot;
  EXPECT_EQ(count(dot, "l0 -> l1"), 1);
  EXPECT_EQ(count(dot, "l1 -> l2"), 1);
}

TEST(CmMappingPicture, LargeLayersAreCutAndRowsWrap) {
  const Mapping m = map_graph(split_graph(), Hardware());
  const std::string dot = mapping_dot(m, /*per_row=*/2, /*max_tiles=*/2);
  EXPECT_NE(dot.find("... 1 more tiles"), std::string::npos) << dot;  // the 3-tile layer
  EXPECT_NE(dot.find("subgraph row1 { rank=same; l2; }"), std::string::npos) << dot;
  EXPECT_NE(dot.find("l1 -> l2 [constraint=false]"), std::string::npos) << dot;
}

TEST(CmMappingPicture, RendersWithGraphviz) {
  if (std::system("command -v dot > /dev/null 2>&1") != 0) GTEST_SKIP() << "graphviz not installed";
  const Mapping m = map_graph(split_graph(), Hardware());
  const auto dir = std::filesystem::temp_directory_path() / ("nc_mapping_picture_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "m.dot") << mapping_dot(m);
  const std::string cmd = "dot -Tsvg '" + (dir / "m.dot").string() + "' -o '" + (dir / "m.svg").string() + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_GT(std::filesystem::file_size(dir / "m.svg"), 1000u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nc::cm
