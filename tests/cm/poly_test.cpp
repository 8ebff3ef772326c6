#include "neurocore/cm/poly.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>

#include "neurocore/cm/model_zoo.h"
#include "neurocore/core/error.h"

namespace nc::cm {
namespace {

using Vec = std::vector<int64_t>;
using Pairs = std::vector<std::pair<Vec, Vec>>;
using Fn = std::map<Vec, Vec>;

// ---- Brute-force oracle: relations (1)-(6) from explicit access lists --------------------

struct Brute {
  std::vector<Vec> s1, s2;  // domains, sorted
  Pairs w, r;               // accesses
  Fn need_prefix, enable, by_location, last_read, war_gate;
};

Pairs sorted(Pairs p) {
  std::sort(p.begin(), p.end());
  p.erase(std::unique(p.begin(), p.end()), p.end());
  return p;
}

void derive(Brute& b) {
  std::map<Vec, Vec> writer_of;  // W^-1
  std::map<Vec, std::vector<Vec>> writes;
  for (const auto& [i1, o] : b.w) {
    writer_of[o] = i1;
    writes[i1].push_back(o);
  }
  std::map<Vec, Vec> need;  // D, already reduced to its lexmax per i2
  for (const auto& [i2, o] : b.r) {
    auto it = writer_of.find(o);
    if (it == writer_of.end()) continue;
    auto& cur = need[i2];
    if (cur.empty() || cur < it->second) cur = it->second;
  }
  std::optional<Vec> run;
  for (const auto& i2 : b.s2) {  // prefix maximum over j2 <= i2, j2 in dom D
    auto it = need.find(i2);
    if (it != need.end() && (!run || *run < it->second)) run = it->second;
    if (run) b.need_prefix[i2] = *run;
  }
  for (const auto& i1 : b.s1) {  // M(i1) = max{ i2 : D'(i2) <= i1 }
    for (const auto& [i2, d] : b.need_prefix)
      if (d <= i1) b.enable[i1] = i2;  // need_prefix iterates in increasing i2
  }
  for (const auto& [i2, d] : b.need_prefix) {  // L(o) = max{ i2 : o in W(D'(i2)) }
    for (const auto& o : writes[d]) b.by_location[o] = i2;
  }
  for (const auto& [i2, o] : b.r) {  // A(o) = max{ i2 : i2 reads o }
    auto& cur = b.last_read[o];
    if (cur.empty() || cur < i2) cur = i2;
  }
  std::optional<Vec> gate;
  for (const auto& i1 : b.s1) {  // Gw(i1) = max{ A(o) : o in W(j1), j1 <= i1 }
    for (const auto& o : writes[i1]) {
      auto it = b.last_read.find(o);
      if (it != b.last_read.end() && (!gate || *gate < it->second)) gate = it->second;
    }
    if (gate) b.war_gate[i1] = *gate;
  }
}

Fn as_function(const isl::map& m) {
  Fn f;
  for (const auto& [a, b] : points(m)) {
    EXPECT_EQ(f.count(a), 0u) << "not single-valued at " << ::testing::PrintToString(a);
    f[a] = b;
  }
  return f;
}

// Streams `images` images through one writer -> reader object, ticking both in lock step
// with writes delivered at the end of the tick, M driving the reader and Gw gating the
// writer. Every read of a written location must see the reader's current image (safety,
// WAR included); the stream must finish (liveness).
void stream_check(const Brute& b, int images) {
  const auto n1 = static_cast<int64_t>(b.s1.size()), n2 = static_cast<int64_t>(b.s2.size());
  std::map<Vec, int64_t> index2;
  for (int64_t i = 0; i < n2; ++i) index2[b.s2[static_cast<std::size_t>(i)]] = i;
  std::map<Vec, std::vector<Vec>> writes, reads;
  for (const auto& [i, o] : b.w) writes[i].push_back(o);
  for (const auto& [i, o] : b.r) reads[i].push_back(o);
  // Reader iterations before the first one with a dependence read only padding.
  int64_t first_dep = n2;
  for (int64_t i = 0; i < n2; ++i)
    if (b.need_prefix.count(b.s2[static_cast<std::size_t>(i)])) {
      first_dep = i;
      break;
    }
  std::map<Vec, int64_t> image_of;  // location -> image of its last write
  int64_t w_img = 0, w_pos = 0, r_img = 0, r_pos = 0;
  std::pair<int64_t, int64_t> max_iter{0, first_dep - 1};  // (image, reader index)
  std::pair<int64_t, int64_t> reader_done{-1, n2 - 1};     // last completed reader iteration
  int64_t ticks = 0;
  while (r_img < images || w_img < images) {
    ASSERT_LT(++ticks, 10 * images * (n1 + n2) + 100) << "deadlock";
    // Reader (sees the state at the start of the tick).
    bool reader_ran = false;
    {
      const std::pair<int64_t, int64_t> me{r_img, r_pos};
      if (r_img < images && (r_pos < first_dep || me <= max_iter)) {
        for (const auto& o : reads[b.s2[static_cast<std::size_t>(r_pos)]]) {
          auto it = image_of.find(o);
          if (it != image_of.end() || [&] {
                for (const auto& wo : b.w) if (wo.second == o) return true;
                return false;
              }()) {
            ASSERT_NE(it, image_of.end()) << "read of an unwritten location";
            ASSERT_EQ(it->second, r_img) << "stale or overwritten data";
          }
        }
        reader_ran = true;
      }
    }
    // Writer (gated by the reader's progress at the start of the tick).
    std::vector<Vec> delivered;
    std::optional<std::pair<int64_t, int64_t>> raise;
    const int64_t written_img = w_img;
    if (w_img < images) {
      const Vec& i1 = b.s1[static_cast<std::size_t>(w_pos)];
      bool open = true;
      if (w_img >= 1) {
        auto g = b.war_gate.find(i1);
        if (g != b.war_gate.end()) {
          open = reader_done >= std::make_pair(w_img - 1, index2.at(g->second));
        }
      }
      if (open) {
        for (const auto& o : writes[i1]) delivered.push_back(o);
        auto m = b.enable.find(i1);
        if (m != b.enable.end()) raise = std::make_pair(w_img, index2.at(m->second));
        if (w_pos == n1 - 1) raise = std::make_pair(w_img, n2 - 1);
        if (++w_pos == n1) w_pos = 0, ++w_img;
      }
    }
    // End of tick: deliver writes, advance control state.
    if (reader_ran) {
      reader_done = {r_img, r_pos};
      if (++r_pos == n2) {
        r_pos = 0, ++r_img;
        if (max_iter < std::make_pair(r_img, first_dep - 1)) max_iter = {r_img, first_dep - 1};
      }
    }
    for (const auto& o : delivered) image_of[o] = written_img;
    if (raise && max_iter < *raise) max_iter = *raise;
  }
  EXPECT_EQ(w_img, images);
}

void compare(const Dependence& d, Brute b, const std::string& what) {
  b.w = sorted(b.w);
  b.r = sorted(b.r);
  b.s1 = points(d.writer_domain);
  b.s2 = points(d.reader_domain);
  ASSERT_EQ(points(d.write), b.w) << what << ": W";
  ASSERT_EQ(points(d.read), b.r) << what << ": R";
  derive(b);
  EXPECT_EQ(as_function(d.need_prefix), b.need_prefix) << what << ": D'";
  EXPECT_EQ(as_function(d.enable), b.enable) << what << ": M";
  EXPECT_EQ(as_function(d.enable_by_location), b.by_location) << what << ": L";
  EXPECT_EQ(as_function(d.last_read), b.last_read) << what << ": A";
  EXPECT_EQ(as_function(d.war_gate), b.war_gate) << what << ": Gw";
  // M is monotone (spec §10.5).
  std::optional<Vec> prev;
  for (const auto& [i1, i2] : b.enable) {
    if (prev) {
      EXPECT_LE(*prev, i2) << what << ": M not monotone";
    }
    prev = i2;
  }
  stream_check(b, 3);
}

// ---- Brute-force accesses of the graph's ops, straight from their parameters -------------

Pads padding_of(const Node& n) {
  if (n.kind == OpKind::kConv2d) return n.conv().padding();
  if (n.kind == OpKind::kMaxPool || n.kind == OpKind::kAvgPool) return n.pool().padding();
  return Pads(0);
}

Pairs brute_write(const Graph& g, const EdgeDependence& e) {
  const Shape& out = g.value(g.node(e.writer).output).shape;
  const Pads p = padding_of(g.node(e.reader));
  Pairs w;
  if (out.size() == 1) {
    for (int64_t f = 0; f < out[0]; ++f) w.push_back({{0, 0}, {f}});
    return w;
  }
  for (int64_t h = 0; h < out[1]; ++h)
    for (int64_t x = 0; x < out[2]; ++x)
      for (int64_t c = 0; c < out[0]; ++c) w.push_back({{h, x}, {c, h + p.top, x + p.left}});
  return w;
}

Pairs brute_read(const Graph& g, const EdgeDependence& e) {
  const Node& n = g.node(e.reader);
  const Shape& out = g.value(n.output).shape;
  const Shape& obj = e.object_shape;
  Pairs r;
  auto all = [&](Vec it) {
    if (obj.size() == 1) {
      for (int64_t f = 0; f < obj[0]; ++f) r.push_back({it, {f}});
    } else {
      for (int64_t c = 0; c < obj[0]; ++c)
        for (int64_t h = 0; h < obj[1]; ++h)
          for (int64_t x = 0; x < obj[2]; ++x) r.push_back({it, {c, h, x}});
    }
  };
  if (out.size() == 1 || n.kind == OpKind::kGlobalAvgPool) {
    all({0, 0});
    return r;
  }
  for (int64_t oh = 0; oh < out[1]; ++oh)
    for (int64_t ow = 0; ow < out[2]; ++ow) {
      auto add = [&](int64_t c, int64_t h, int64_t x) {
        if (h >= 0 && x >= 0 && h < obj[1] && x < obj[2]) r.push_back({{oh, ow}, {c, h, x}});
      };
      if (n.kind == OpKind::kConv2d || n.kind == OpKind::kMaxPool || n.kind == OpKind::kAvgPool) {
        Pair k, s, d;
        if (n.kind == OpKind::kConv2d) {
          k = n.conv().kernel_size(), s = n.conv().stride(), d = n.conv().dilation();
        } else {
          k = n.pool().kernel_size(), s = n.pool().stride(), d = n.pool().dilation();
        }
        for (int64_t c = 0; c < obj[0]; ++c)
          for (int64_t i = 0; i < k.h; ++i)
            for (int64_t j = 0; j < k.w; ++j) add(c, s.h * oh + d.h * i, s.w * ow + d.w * j);
      } else if (n.kind == OpKind::kPad) {
        for (int64_t c = 0; c < obj[0]; ++c) add(c, oh - n.pad().spatial().top, ow - n.pad().spatial().left);
      } else if (n.kind == OpKind::kSlice) {
        const auto& o = n.slice();
        for (int64_t c = 0; c < out[0]; ++c)
          add(o.start()[0] + o.step()[0] * c, o.start()[1] + o.step()[1] * oh,
              o.start()[2] + o.step()[2] * ow);
      } else if (n.kind == OpKind::kConcat && n.concat().axis() != 0) {
        int64_t off = 0;
        for (int k = 0; k < e.input; ++k) off += g.value(n.inputs[static_cast<std::size_t>(k)]).shape[static_cast<std::size_t>(n.concat().axis())];
        for (int64_t c = 0; c < obj[0]; ++c) {
          if (n.concat().axis() == 1) add(c, oh - off, ow);
          else add(c, oh, ow - off);
        }
      } else {  // element-wise, channel concat
        for (int64_t c = 0; c < obj[0]; ++c) add(c, oh, ow);
      }
    }
  return r;
}

void check_graph(const Graph& g, const std::string& what) {
  PolyModel model(g);
  std::size_t expected_edges = 0;
  for (const auto& n : g.nodes()) expected_edges += n.inputs.size();
  ASSERT_EQ(model.edges().size(), expected_edges);
  for (const auto& e : model.edges()) {
    Brute b;
    b.w = brute_write(g, e);
    b.r = brute_read(g, e);
    compare(e.dep, b, what + " edge " + g.node(e.writer).name + "->" + g.node(e.reader).name +
                          "[" + std::to_string(e.input) + "]");
  }
}

// ---- Spec §9 golden values -----------------------------------------------------------------

TEST(CmPoly, Golden1D) {
  PolyContext pc;
  isl::ctx ctx = pc.ctx();
  const isl::set s1(ctx, "{ S1[o1] : 0 <= o1 < 10 }");
  const isl::set s2(ctx, "{ S2[o2] : 0 <= o2 < 9 }");
  const isl::map w(ctx, "{ S1[o1] -> in2[o1 + 1] : 0 <= o1 < 10 }");
  const isl::map r(ctx, "{ S2[o2] -> in2[j] : 0 <= o2 < 9 and o2 <= j < o2 + 3 }");
  const Dependence d = analyze(w, r, s1, s2);
  EXPECT_TRUE(d.enable_by_location.is_equal(isl::map(ctx, "{ in2[j] -> S2[j - 2] : 2 <= j <= 10 }")))
      << to_str(d.enable_by_location);
  EXPECT_TRUE(d.enable.is_equal(isl::map(ctx, "{ S1[o1] -> S2[o1 - 1] : 1 <= o1 <= 9 }")))
      << to_str(d.enable);
  EXPECT_TRUE(d.enable.is_single_valued());
  EXPECT_TRUE(d.enable_by_location.is_single_valued());
  Brute b;
  for (int64_t o1 = 0; o1 < 10; ++o1) b.w.push_back({{o1}, {o1 + 1}});
  for (int64_t o2 = 0; o2 < 9; ++o2)
    for (int64_t j = o2; j < o2 + 3; ++j) b.r.push_back({{o2}, {j}});
  compare(d, b, "golden 1-D");
}

TEST(CmPoly, Golden2D) {
  PolyContext pc;
  isl::ctx ctx = pc.ctx();
  const isl::set s1(ctx, "{ S1[oh, ow] : 0 <= oh < 8 and 0 <= ow < 8 }");
  const isl::set s2(ctx, "{ S2[oh, ow] : 0 <= oh < 8 and 0 <= ow < 8 }");
  const isl::map w(ctx, "{ S1[oh, ow] -> V2[c, oh + 1, ow + 1] : 0 <= c < 2 and 0 <= oh < 8 and 0 <= ow < 8 }");
  const isl::map r(ctx,
                   "{ S2[oh, ow] -> V2[c, h, w] : 0 <= c < 2 and oh <= h < oh + 3 and ow <= w < ow + 3 "
                   "and 0 <= oh < 8 and 0 <= ow < 8 }");
  const Dependence d = analyze(w, r, s1, s2);
  const isl::map expected(
      ctx,
      "{ S1[a, b] -> S2[a - 1, b - 1] : 1 <= a <= 6 and 1 <= b <= 6; "
      "S1[a, 0] -> S2[a - 2, 7] : 2 <= a <= 6; "
      "S1[a, 7] -> S2[a - 1, 7] : 1 <= a <= 6; "
      "S1[7, 0] -> S2[5, 7]; "
      "S1[7, b] -> S2[6, b - 1] : 1 <= b <= 6; "
      "S1[7, 7] -> S2[7, 7] }");
  EXPECT_TRUE(d.enable.is_equal(expected)) << to_str(d.enable);
  EXPECT_TRUE(d.enable.is_single_valued());
  Brute b;
  for (int64_t oh = 0; oh < 8; ++oh)
    for (int64_t ow = 0; ow < 8; ++ow)
      for (int64_t c = 0; c < 2; ++c) {
        b.w.push_back({{oh, ow}, {c, oh + 1, ow + 1}});
        for (int64_t h = oh; h < oh + 3; ++h)
          for (int64_t x = ow; x < ow + 3; ++x) b.r.push_back({{oh, ow}, {c, h, x}});
      }
  compare(d, b, "golden 2-D");
}

// ---- Every relation of small graphs against brute force ------------------------------------

TEST(CmPoly, ConvChainsMatchBruteForce) {
  for (int64_t k : {1, 3, 5})
    for (int64_t s : {1, 2})
      for (int64_t p : {0, 1, 2})
        for (int64_t d : {1, 2}) {
          if (d * (k - 1) + 1 > 6 + 2 * p) continue;
          Graph g;
          auto x = g.input("x", {2, 7, 6});
          auto y = g.conv2d(x, Conv2dOptions(2, 3, k).stride(s).padding(p).dilation(d), "a");
          y = g.conv2d(y, Conv2dOptions(3, 2, 3).padding(1), "b");  // conv -> conv
          g.mark_output(y);
          check_graph(g, "k=" + std::to_string(k) + " s=" + std::to_string(s) + " p=" +
                             std::to_string(p) + " d=" + std::to_string(d));
        }
}

TEST(CmPoly, AsymmetricAndRectangularWindows) {
  Graph g;
  auto x = g.input("x", {2, 6, 7});
  auto y = g.conv2d(x, Conv2dOptions(2, 2, Pair(3, 1)).stride(Pair(2, 1)).padding(Pads(1, 0, 0, 2)), "a");
  y = g.conv2d(y, Conv2dOptions(2, 2, Pair(1, 3)).dilation(Pair(1, 2)).groups(2), "b");
  check_graph(g, "asymmetric");
}

TEST(CmPoly, PoolingMatchesBruteForce) {
  for (int64_t k : {2, 3})
    for (int64_t s : {1, 2})
      for (int64_t p : {0, 1})
        for (bool ceil : {false, true}) {
          Graph g;
          auto x = g.input("x", {2, 7, 7});
          auto y = g.conv2d(x, Conv2dOptions(2, 2, 3).padding(1), "c");
          y = g.max_pool(y, PoolOptions(k).stride(s).padding(p).ceil_mode(ceil), "mp");
          y = g.avg_pool(y, PoolOptions(2).stride(1), "ap");
          y = g.global_avg_pool(y, "gap");
          y = g.flatten(y, "flat");
          y = g.linear(y, LinearOptions(2, 3), "fc");
          check_graph(g, "pool k=" + std::to_string(k) + " s=" + std::to_string(s) +
                             " p=" + std::to_string(p) + (ceil ? " ceil" : ""));
        }
}

TEST(CmPoly, ResidualAddAndConcatHaveOneObjectPerProducer) {
  {
    Graph g;  // conv -> conv -> add (residual), and an option-A shortcut (slice + pad)
    auto x = g.input("x", {2, 6, 6});
    auto a = g.relu(g.conv2d(x, Conv2dOptions(2, 2, 3).padding(1), "c1"), "r1");
    auto b = g.conv2d(a, Conv2dOptions(2, 2, 3).padding(1), "c2");
    auto sum = g.relu(g.add({b, a}, "add"), "r2");
    auto down = g.conv2d(sum, Conv2dOptions(2, 4, 3).stride(2).padding(1), "c3");
    auto sc = g.pad(g.slice(sum, SliceOptions().step({1, 2, 2}), "sl"),
                    PadOptions().channels_before(1).channels_after(1), "pd");
    g.add({down, sc}, "add2");
    check_graph(g, "residual");
    PolyModel m(g);
    const NodeId add = g.find_node("add");
    EXPECT_EQ(m.edge(g.find_node("c2"), add, 0).object, "O_3_4_0");
    EXPECT_NO_THROW(m.edge(g.find_node("r1"), add, 1));
    EXPECT_THROW(m.edge(g.find_node("c1"), add, 0), UserError);
  }
  {
    Graph g;  // two-branch concat, along channels and along height
    auto x = g.input("x", {2, 5, 5});
    auto a = g.conv2d(x, Conv2dOptions(2, 3, 3).padding(1), "a");
    auto b = g.conv2d(x, Conv2dOptions(2, 1, 1), "b");
    auto c = g.concat({a, b}, ConcatOptions(), "cat");
    g.conv2d(c, Conv2dOptions(4, 2, 3).padding(2).stride(2), "d");
    g.concat({a, a, a}, ConcatOptions().axis(1), "cat_h");
    g.concat({b, b}, ConcatOptions().axis(2), "cat_w");
    g.pad(a, PadOptions().spatial(Pads(1, 2, 0, 1)), "padded");
    check_graph(g, "concat");
  }
}

TEST(CmPoly, ResNet20BuildsEveryEdge) {
  Graph g = resnet_cifar(20);
  g.fold_batch_norms();
  PolyModel m(g);
  std::size_t edges = 0;
  for (const auto& n : g.nodes()) edges += n.inputs.size();
  EXPECT_EQ(m.edges().size(), edges);
  for (const auto& e : m.edges()) {
    EXPECT_TRUE(e.dep.enable.is_single_valued()) << e.object;
    EXPECT_FALSE(e.dep.enable.is_empty()) << e.object;
  }
  EXPECT_NE(m.to_string().find("M  = "), std::string::npos);
}

TEST(CmPoly, AnalyzeRejectsDoubleWrites) {
  PolyContext pc;
  isl::ctx ctx = pc.ctx();
  const isl::set s(ctx, "{ S[i] : 0 <= i < 4 }");
  EXPECT_THROW(analyze(isl::map(ctx, "{ S[i] -> O[0] : 0 <= i < 4 }"),
                       isl::map(ctx, "{ S[i] -> O[0] : 0 <= i < 4 }"), s, s),
               UserError);
  EXPECT_THROW(analyze(isl::map(ctx, "{ S[i] -> O[i] : 0 <= i < 5 }"),
                       isl::map(ctx, "{ S[i] -> O[i] : 0 <= i < 4 }"), s, s),
               UserError);
}

}  // namespace
}  // namespace nc::cm
