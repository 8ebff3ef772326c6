// The fabric reports: comparison row, per-link load table and the Graphviz placement picture.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "neurocore/cm/fabric_report.h"
#include "neurocore/cm/graphviz.h"
#include "neurocore/cm/model_zoo.h"
#include "neurocore/core/error.h"

namespace nc::cm {
namespace {

CoreGraph resnet20_core_graph() {
  Graph g = resnet_cifar(20);
  g.fold_batch_norms();
  Hardware hw;
  return build_core_graph(g, map_graph(g, hw), hw);
}

int64_t count(const std::string& text, const std::string& what) {
  int64_t n = 0;
  for (std::size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(CmFabricReport, RowAndLinkTableAgreeWithTheLoad) {
  const CoreGraph cg = resnet20_core_graph();
  const FabricRun r = run_fabric("torus", cg);
  EXPECT_EQ(r.topology.name, "torus 6x6");
  const std::string row = fabric_table_row(r, cg);
  EXPECT_EQ(row.rfind("| torus 6x6 | 36 | 72 | 2.00 | 4 | 36 |", 0), 0u) << row;
  EXPECT_NE(row.find("| " + std::to_string(r.load.max_bits) + " |"), std::string::npos) << row;
  const std::string header = fabric_table_header();
  EXPECT_EQ(count(header.substr(0, header.find('\n')), "|"), count(row, "|"));

  const std::string links = link_load_table(r, cg);
  EXPECT_EQ(count(links, "\n"), 2 + r.load.links_used);  // header, rule, one row per used link
  // Busiest first: the first data row carries the maximum load in one of its directions.
  const std::string first = links.substr(links.find('\n', links.find('\n') + 1) + 1);
  EXPECT_NE(first.substr(0, first.find('\n')).find(" " + std::to_string(r.load.max_bits) + " |"), std::string::npos)
      << first.substr(0, 300);
  // Every flow appears once per hop.
  int64_t hops = 0;
  for (int h : r.load.hops) hops += h;
  EXPECT_EQ(count(links, " data") + count(links, " psum") + count(links, " residual"), hops);
}

TEST(CmFabricReport, SpeedColumnsCompareTheFabricWithTheIdealOne) {
  Graph g = resnet_cifar(8);
  g.fold_batch_norms();
  Hardware hw;
  hw.link_bandwidth_gbps = 1;  // slow enough for the ring's shared channels to bind
  const Mapping m = map_graph(g, hw);
  const CoreGraph cg = build_core_graph(g, m, hw);
  const PolyModel poly(g);
  TimingOptions o;
  o.images = 3;
  o.check_buffers = false;
  const TimingReport ideal = simulate_timing(g, m, poly, hw, o);
  PlacementOptions po;
  po.time_budget_s = 0.1;
  const FabricRun r = run_fabric("ring", cg, po);
  const TimingReport placed = simulate_on_fabric(g, m, poly, hw, r, o);
  EXPECT_EQ(placed.fabric, "ring");
  const FabricSpeed sp = fabric_speed(ideal, placed);
  EXPECT_DOUBLE_EQ(sp.ideal_throughput, ideal.throughput_images_per_s);
  EXPECT_DOUBLE_EQ(sp.throughput, placed.throughput_images_per_s);
  EXPECT_LE(sp.throughput, sp.ideal_throughput);
  EXPECT_GE(sp.latency_us, sp.ideal_latency_us);
  EXPECT_GT(sp.busiest_channel, 0.0);
  EXPECT_LE(sp.busiest_channel, 1.0);
  const std::string header = fabric_table_header(true), row = fabric_table_row(r, cg, &sp);
  EXPECT_NE(header.find("| throughput / ideal | latency / ideal |"), std::string::npos);
  EXPECT_EQ(count(header.substr(0, header.find('\n')), "|"), count(row, "|"));
  char cell[32];
  std::snprintf(cell, sizeof cell, "| %.4f |", sp.throughput / sp.ideal_throughput);
  EXPECT_NE(row.find(cell), std::string::npos) << row;
}

TEST(CmFabricReport, RenderSvgDrawsThePictureOrSaysGraphvizIsMissing) {
  const CoreGraph cg = resnet20_core_graph();
  PlacementOptions po;
  po.time_budget_s = 0.1;
  const FabricRun r = run_fabric("mesh", cg, po);
  const auto dir = std::filesystem::temp_directory_path() / ("nc-render-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string dot = (dir / "p.dot").string(), svg = (dir / "p.svg").string();
  std::ofstream(dot) << placement_dot(r, cg);
  EXPECT_EQ(render_svg(dot, svg), have_graphviz());
  EXPECT_EQ(std::filesystem::exists(svg), have_graphviz());
  EXPECT_FALSE(render_svg((dir / "missing.dot").string(), svg + "2"));  // a bad file: false, no SVG
  EXPECT_FALSE(std::filesystem::exists(svg + "2"));
  std::filesystem::remove_all(dir);
}

TEST(CmFabricReport, PlacementPictureColoursLinksByLoad) {
  const CoreGraph cg = resnet20_core_graph();
  const FabricRun r = run_fabric("mesh", cg);
  const std::string dot = placement_dot(r, cg);
  EXPECT_EQ(dot.rfind("graph fabric {", 0), 0u);
  EXPECT_EQ(count(dot, "pos=\""), r.topology.nodes);
  EXPECT_EQ(count(dot, " -- "), r.topology.link_count());
  EXPECT_NE(dot.find("#f00000"), std::string::npos);  // the busiest link is red
  EXPECT_NE(dot.find("conv1"), std::string::npos);    // nodes name their layer
  // Idle links are dropped above the limit: only the used ones remain.
  const std::string sparse = placement_dot(r, cg, 0);
  EXPECT_EQ(count(sparse, " -- "), r.load.links_used);
  EXPECT_NE(sparse.find("idle links not drawn"), std::string::npos);
}

TEST(CmFabricReport, UnknownTopologyIsAUserError) {
  const CoreGraph cg = resnet20_core_graph();
  EXPECT_THROW(run_fabric("moebius", cg), UserError);
}

}  // namespace
}  // namespace nc::cm
