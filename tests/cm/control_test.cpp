#include "neurocore/cm/control.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <tuple>

#include "neurocore/cm/model_zoo.h"
#include "neurocore/cm/timing.h"

namespace nc::cm {
namespace {

using Vec = std::vector<int64_t>;

Graph conv_conv() {
  Graph g;
  auto x = g.input("x", {2, 6, 7});
  x = g.conv2d(x, Conv2dOptions(2, 3, 3).padding(1), "conv1");
  x = g.conv2d(x, Conv2dOptions(3, 2, 3).stride(2).padding(1), "conv2");
  g.mark_output(x);
  return g;
}

Graph residual() {
  Graph g;
  auto x = g.input("x", {4, 5, 5});
  auto a = g.conv2d(x, Conv2dOptions(4, 4, 3).padding(1), "conv1");
  a = g.relu(a, "relu1");
  auto b = g.conv2d(a, Conv2dOptions(4, 4, 3).padding(1), "conv2");
  auto y = g.add({b, a}, "add");
  y = g.relu(y, "relu2");
  auto p = g.max_pool(y, PoolOptions(2), "pool");
  auto f = g.flatten(p, "flat");
  g.mark_output(g.linear(f, LinearOptions(16, 3), "fc"));
  return g;
}

const CoreProgram& program_of(const std::vector<CoreProgram>& ps, const Graph& g,
                              const std::string& node) {
  const NodeId n = g.find_node(node);
  for (const auto& p : ps) {
    if (std::find(p.nodes.begin(), p.nodes.end(), n) != p.nodes.end()) return p;
  }
  throw std::runtime_error("no program runs " + node);
}

Vec cat(const Vec& a, const Vec& b) {
  Vec r = a;
  r.insert(r.end(), b.begin(), b.end());
  return r;
}

TEST(CmControl, ConvConvProgramEnumeratesThePixelsAndWaitsOnTheLexmax) {
  const Graph g = conv_conv();
  const Mapping m = map_graph(g, Hardware());
  const PolyModel poly(g);
  const auto programs = generate_control(g, m, poly);
  ASSERT_EQ(programs.size(), 3u);  // GCU, conv1's core, conv2's core
  EXPECT_EQ(programs[0].core, -1);

  const NodeId c1 = g.find_node("conv1"), c2 = g.find_node("conv2");
  const CoreProgram& p2 = program_of(programs, g, "conv2");
  const auto steps = p2.run();
  const EdgeDependence& e = poly.edge(c1, c2);
  int edge_index = -1;
  for (std::size_t i = 0; i < poly.edges().size(); ++i) {
    if (&poly.edges()[i] == &e) edge_index = static_cast<int>(i);
  }

  // The computes enumerate exactly conv2's output pixels, in lexicographic order.
  std::vector<Vec> computed, waits;
  for (const auto& st : steps) {
    if (st.kind == ControlStep::kCompute) {
      EXPECT_EQ(st.index, c2);
      computed.push_back(st.args);
    }
    if (st.kind == ControlStep::kWait) {
      EXPECT_EQ(st.index, edge_index);
      waits.push_back(st.args);
    }
  }
  EXPECT_EQ(computed, points(poly.domain(c2)));
  // The waits are the graph of D' = lexmax(LE2 ; D), point for point.
  std::vector<Vec> expected;
  for (const auto& [i2, i1] : points(e.dep.need_prefix)) expected.push_back(cat(i2, i1));
  EXPECT_EQ(waits, expected);
  ASSERT_FALSE(waits.empty());

  // Each wait comes right before the compute of its pixel; the output goes to the GCU after.
  for (std::size_t i = 0; i + 1 < steps.size(); ++i) {
    if (steps[i].kind != ControlStep::kWait) continue;
    EXPECT_EQ(steps[i + 1].kind, ControlStep::kCompute);
    EXPECT_EQ(Vec(steps[i].args.begin(), steps[i].args.begin() + 2), steps[i + 1].args);
  }
  // Reader-side D' agrees with the writer-keyed M: i2 <= M(D'(i2)), and the writer iteration
  // before D'(i2) does not enable i2.
  std::map<Vec, Vec> enable;
  for (const auto& [i1, i2] : points(e.dep.enable)) enable[i1] = i2;
  const auto writer_iters = points(poly.domain(c1));
  for (const Vec& wt : waits) {
    const Vec i2(wt.begin(), wt.begin() + 2), d(wt.begin() + 2, wt.end());
    ASSERT_TRUE(enable.count(d));
    EXPECT_LE(i2, enable[d]);
    const auto it = std::find(writer_iters.begin(), writer_iters.end(), d);
    if (it != writer_iters.begin() && enable.count(*(it - 1))) {
      EXPECT_LT(enable[*(it - 1)], i2);
    }
  }

  // conv1's program: WAR waits are the graph of Gw, every pixel is sent to conv2.
  const auto steps1 = program_of(programs, g, "conv1").run();
  std::vector<Vec> war, sent;
  for (const auto& st : steps1) {
    if (st.kind == ControlStep::kWarWait && st.index == edge_index) war.push_back(st.args);
    if (st.kind == ControlStep::kSend && st.index == edge_index) sent.push_back(st.args);
  }
  std::vector<Vec> gw;
  for (const auto& [i1, i2] : points(e.dep.war_gate)) gw.push_back(cat(i1, i2));
  EXPECT_EQ(war, gw);
  EXPECT_EQ(sent, points(poly.domain(c1)));

  // The readable text: isl's loops around the named statements.
  EXPECT_NE(p2.code.find("void core_"), std::string::npos) << p2.code;
  EXPECT_NE(p2.code.find("for (int h = "), std::string::npos) << p2.code;
  EXPECT_NE(p2.code.find("wait_written(" + e.object + ", n, "), std::string::npos) << p2.code;
  EXPECT_NE(p2.code.find("mvm(conv2"), std::string::npos) << p2.code;
  EXPECT_NE(p2.code.find("send_output(conv2"), std::string::npos) << p2.code;
}

// Runs every core's program for `images` images, round-robin one step at a time, with one
// buffer slot per writer pixel stamped with the image that wrote it. Checks that every compute
// finds each pixel it needs (D) stamped with its own image and that nothing deadlocks.
// Progress counters: writer_done[edge] = last (n, h, w) sent, reader_done[edge] = last
// (n, h, w) computed by the reader node on its own core.
struct Check {
  bool finished = false;
  int bad_reads = 0;
};
Check execute(const Graph& g, const Mapping& m, const PolyModel& poly,
              const std::vector<CoreProgram>& programs, int64_t images, bool war = true) {
  const auto core_of = node_cores(g, m);
  const auto& edges = poly.edges();
  std::vector<std::map<Vec, std::vector<Vec>>> need(edges.size());
  std::vector<std::map<Vec, int64_t>> stamp(edges.size());
  for (std::size_t e = 0; e < edges.size(); ++e) {
    for (const auto& [i2, i1] : points(edges[e].dep.need)) need[e][i2].push_back(i1);
  }
  std::vector<Vec> writer_done(edges.size(), Vec{-1}), reader_done(edges.size(), Vec{-1});
  std::vector<std::vector<ControlStep>> steps;
  for (const auto& p : programs) steps.push_back(p.run());
  std::vector<std::size_t> pc(programs.size(), 0);
  std::vector<int64_t> image(programs.size(), 0);
  Check r;
  auto tri = [](int64_t n, const Vec& v, std::size_t from) { return Vec{n, v[from], v[from + 1]}; };
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t c = 0; c < programs.size(); ++c) {
      if (image[c] == images) continue;
      const ControlStep& st = steps[c][pc[c]];
      const int64_t n = image[c];
      if (st.kind == ControlStep::kWait && writer_done[st.index] < tri(n, st.args, 2)) continue;
      if (st.kind == ControlStep::kWarWait && war && n >= 1 &&
          reader_done[st.index] < tri(n - 1, st.args, 2)) {
        continue;
      }
      if (st.kind == ControlStep::kCompute) {
        for (std::size_t e = 0; e < edges.size(); ++e) {
          if (edges[e].reader != st.index) continue;
          for (const Vec& i1 : need[e][st.args]) r.bad_reads += stamp[e][i1] != n;
          if (core_of[static_cast<std::size_t>(st.index)] == programs[c].core) {
            reader_done[e] = tri(n, st.args, 0);
          }
        }
      }
      if (st.kind == ControlStep::kSend) {
        stamp[st.index][st.args] = n;
        writer_done[st.index] = tri(n, st.args, 0);
      }
      progress = true;
      if (++pc[c] == steps[c].size()) pc[c] = 0, ++image[c];
    }
  }
  r.finished = true;
  for (std::size_t c = 0; c < programs.size(); ++c) r.finished &= image[c] == images;
  return r;
}

TEST(CmControl, ProgramsStreamImagesSafelyAndWithoutDeadlock) {
  for (const Graph& g : {conv_conv(), residual()}) {
    const Mapping m = map_graph(g, Hardware());
    const PolyModel poly(g);
    const auto programs = generate_control(g, m, poly);
    const Check ok = execute(g, m, poly, programs, 3);
    EXPECT_TRUE(ok.finished);
    EXPECT_EQ(ok.bad_reads, 0);
    // Without the WAR waits a fast writer overwrites pixels of the previous image.
    const Check unsafe = execute(g, m, poly, programs, 3, /*war=*/false);
    EXPECT_GT(unsafe.bad_reads, 0);
  }
}

TEST(CmControl, EveryNodeComputesItsWholeDomainOnItsCores) {
  Graph g = resnet_cifar(20);
  g.fold_batch_norms();
  Hardware hw;
  hw.crossbar_rows = 128;  // 3x3x16 = 144 rows: every 16-channel conv is split over 2 row blocks
  const Mapping m = map_graph(g, hw);
  const PolyModel poly(g);
  const auto programs = generate_control(g, m, poly);
  std::map<NodeId, int> runs;
  for (const auto& p : programs) {
    std::map<NodeId, std::vector<Vec>> computed;
    for (const auto& st : p.run()) {
      if (st.kind == ControlStep::kCompute) computed[st.index].push_back(st.args);
    }
    for (NodeId n : p.nodes) {
      EXPECT_EQ(computed[n], points(poly.domain(n))) << g.node(n).name << " on core " << p.core;
      ++runs[n];
    }
  }
  for (const auto& l : m.layers) EXPECT_EQ(runs[l.node], l.cores) << l.name;
  EXPECT_EQ(runs.size(), g.nodes().size());
  const CoreProgram& split = program_of(programs, g, "layer1.0.conv1");
  EXPECT_NE(split.code.find("accumulate_psums(layer1.0.conv1"), std::string::npos) << split.code;
  // The residual add and its ReLU run in the loop nest of the second conv (one stage).
  const CoreProgram& p = program_of(programs, g, "layer1.0.conv2");
  EXPECT_EQ(p.code.find("for (int h", p.code.find("for (int h") + 1), std::string::npos) << p.code;
}

}  // namespace
}  // namespace nc::cm
