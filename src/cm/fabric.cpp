#include "neurocore/cm/fabric.h"

#include <algorithm>
#include <deque>
#include <map>
#include <tuple>

#include "neurocore/core/error.h"

namespace nc::cm {

const char* flow_name(FlowKind k) {
  switch (k) {
    case FlowKind::kData: return "data";
    case FlowKind::kPartialSum: return "psum";
    case FlowKind::kResidual: return "residual";
  }
  return "?";
}

int64_t CoreGraph::bits_out(int core) const {
  int64_t s = 0;
  for (const auto& f : flows) if (f.src == core) s += f.bits;
  return s;
}

int64_t CoreGraph::total_bits() const {
  int64_t s = 0;
  for (const auto& f : flows) s += f.bits;
  return s;
}

std::vector<std::pair<int, int>> CoreGraph::pairs() const {
  std::vector<std::pair<int, int>> p;
  for (const auto& f : flows) p.emplace_back(std::min(f.src, f.dst), std::max(f.src, f.dst));
  std::sort(p.begin(), p.end());
  p.erase(std::unique(p.begin(), p.end()), p.end());
  return p;
}

namespace {

// A run of channels of a value that comes from one mapped layer: dst units
// [dst_begin, dst_begin + count) of the value are source channels src_begin + (d - dst_begin) / per.
struct Seg {
  int layer = -1;
  int64_t src_begin = 0, dst_begin = 0, count = 0, per = 1;
};

int64_t channels_of(const Shape& s) { return s.empty() ? 0 : s[0]; }
int64_t pixels_of(const Shape& s) { return s.size() == 3 ? s[1] * s[2] : 1; }

}  // namespace

CoreGraph build_core_graph(const Graph& g, const Mapping& m, const Hardware& hw) {
  const std::size_t nn = g.nodes().size();
  std::vector<int> layer_of(nn, -1);
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto& l = m.layers[i];
    if (l.node < 0 || static_cast<std::size_t>(l.node) >= nn || g.node(l.node).name != l.name || l.tiles.empty()) {
      throw UserError("build_core_graph: the mapping's layer '" + l.name +
                      "' is not a node of this graph (map the same graph)");
    }
    layer_of[static_cast<std::size_t>(l.node)] = static_cast<int>(i);
  }
  CoreGraph cg;
  cg.cores = m.total_cores;
  cg.core_layer.assign(static_cast<std::size_t>(m.total_cores), "");
  for (const auto& l : m.layers)
    for (const auto& t : l.tiles) cg.core_layer[static_cast<std::size_t>(t.core)] = l.name;

  std::map<std::tuple<int, int, int>, int64_t> acc;  // (src, dst, kind) -> bits
  auto emit = [&](int64_t s, int64_t d, FlowKind k, int64_t bits) {
    if (s == d || bits <= 0) return;
    acc[{static_cast<int>(s), static_cast<int>(d), static_cast<int>(k)}] += bits;
  };
  // Flows from the output cores of the segments' layers to core `dst`, for dst units [o0, o1)
  // of the value, `pixels` pixels each.
  auto flows_from = [&](const std::vector<Seg>& segs, int64_t o0, int64_t o1, int64_t dst, int64_t pixels,
                        FlowKind kind, int skip_layer) {
    for (const auto& s : segs) {
      if (s.layer < 0 || s.layer == skip_layer) continue;
      const int64_t a = std::max(o0, s.dst_begin), b = std::min(o1, s.dst_begin + s.count);
      if (a >= b) continue;
      for (const auto& t : m.layers[static_cast<std::size_t>(s.layer)].tiles) {
        if (t.row_block != 0) continue;
        // dst units holding source channels [col_begin, col_end) of this tile.
        const int64_t d0 = s.dst_begin + (t.col_begin - s.src_begin) * s.per;
        const int64_t d1 = s.dst_begin + (t.col_end - s.src_begin) * s.per;
        const int64_t x0 = std::max(a, d0), x1 = std::min(b, d1);
        if (x0 < x1) emit(t.core, dst, kind, pixels * (x1 - x0) * hw.activation_bits);
      }
    }
  };

  std::vector<std::vector<Seg>> prov(g.values().size());
  int host = -1;  // the last mapped layer in node order
  for (std::size_t ni = 0; ni < nn; ++ni) {
    const Node& n = g.nodes()[ni];
    const Shape& out = g.value(n.output).shape;
    auto in_prov = [&](std::size_t k) -> const std::vector<Seg>& {
      return prov[static_cast<std::size_t>(n.inputs.at(k))];
    };
    std::vector<Seg> res;
    switch (n.kind) {
      case OpKind::kInput: break;
      case OpKind::kConv2d:
      case OpKind::kLinear: {
        const int li = layer_of[ni];
        const auto& l = m.layers[static_cast<std::size_t>(li)];
        const Shape& in = g.value(n.inputs[0]).shape;
        const int64_t khkw = n.kind == OpKind::kConv2d ? n.conv().kernel_size().h * n.conv().kernel_size().w : 1;
        const int64_t pin = pixels_of(in), pout = pixels_of(out);
        for (const auto& t : l.tiles) {
          const int64_t c0 = t.row_begin / khkw, c1 = (t.row_end - 1) / khkw + 1;
          flows_from(in_prov(0), c0, c1, t.core, pin, FlowKind::kData, -1);
          if (t.row_block > 0) {
            for (const auto& u : l.tiles) {
              if (u.row_block == 0 && u.col_begin == t.col_begin && u.group_begin == t.group_begin) {
                emit(t.core, u.core, FlowKind::kPartialSum, pout * (t.col_end - t.col_begin) * hw.psum_bits);
              }
            }
          }
        }
        res.push_back({li, 0, 0, channels_of(out), 1});
        host = li;
        break;
      }
      case OpKind::kAdd: {
        const int64_t c = channels_of(out);
        if (host >= 0 && m.layers[static_cast<std::size_t>(host)].cols == c) {
          const auto& l = m.layers[static_cast<std::size_t>(host)];
          for (std::size_t k = 0; k < n.inputs.size(); ++k)
            for (const auto& t : l.tiles)
              if (t.row_block == 0)
                flows_from(in_prov(k), t.col_begin, t.col_end, t.core, pixels_of(out), FlowKind::kResidual, host);
          res.push_back({host, 0, 0, c, 1});
        } else {  // runs on the GCU or on a layer of another width: pass the operands through
          for (std::size_t k = 0; k < n.inputs.size(); ++k)
            res.insert(res.end(), in_prov(k).begin(), in_prov(k).end());
        }
        break;
      }
      case OpKind::kConcat: {
        const bool channels = n.concat().axis() == 0;
        int64_t off = 0;
        for (std::size_t k = 0; k < n.inputs.size(); ++k) {
          for (Seg s : in_prov(k)) {
            if (channels) s.dst_begin += off;
            res.push_back(s);
          }
          off += channels_of(g.value(n.inputs[k]).shape);
        }
        break;
      }
      case OpKind::kPad:
        for (Seg s : in_prov(0)) {
          s.dst_begin += n.pad().channels_before();
          res.push_back(s);
        }
        break;
      case OpKind::kSlice: {
        const auto& o = n.slice();
        const int64_t cin = channels_of(g.value(n.inputs[0]).shape);
        const int64_t start = std::clamp<int64_t>(o.start().at(0), 0, cin);
        const int64_t end = std::clamp<int64_t>(o.end().at(0), 0, cin), step = o.step().at(0);
        int64_t j = 0;
        for (int64_t ch = start; ch < end; ch += step, ++j) {  // one unit at a time (channels are few)
          for (const auto& s : in_prov(0)) {
            if (ch < s.dst_begin || ch >= s.dst_begin + s.count) continue;
            if (s.per != 1) throw InternalError("build_core_graph: slice of a flattened value");
            res.push_back({s.layer, s.src_begin + (ch - s.dst_begin), j, 1, 1});
          }
        }
        break;
      }
      case OpKind::kFlatten: {
        const Shape& in = g.value(n.inputs[0]).shape;
        const int64_t hw_px = pixels_of(in);
        for (Seg s : in_prov(0)) {
          s.dst_begin *= hw_px;
          s.count *= hw_px;
          s.per *= hw_px;
          res.push_back(s);
        }
        break;
      }
      default:  // BatchNorm, activations, pooling: channel-preserving
        res = in_prov(0);
        break;
    }
    prov[static_cast<std::size_t>(n.output)] = std::move(res);
  }
  // Per image: a temporal graph moves every frame's activations, T frames per image.
  const int64_t frames = g.frames_per_sample();
  for (const auto& [key, bits] : acc) {
    cg.flows.push_back({std::get<0>(key), std::get<1>(key), bits * frames, static_cast<FlowKind>(std::get<2>(key))});
  }
  return cg;
}

// ---------------------------------------------------------------------------------------------
// Routing

Router::Router(const Topology& t) : topo_(t) {
  const auto n = static_cast<std::size_t>(t.nodes);
  dist_.resize(n);
  path_.resize(n);
  chan_.resize(n);
}

int Router::channel(int u, int v) const {
  const std::pair<int, int> key(std::min(u, v), std::max(u, v));
  auto it = std::lower_bound(topo_.links.begin(), topo_.links.end(), key);
  if (it == topo_.links.end() || *it != key) return -1;
  return 2 * static_cast<int>(it - topo_.links.begin()) + (u < v ? 0 : 1);
}

const std::vector<int>& Router::dist_from(int s) {
  auto& d = dist_[static_cast<std::size_t>(s)];
  if (d.empty()) d = topo_.distances(s);
  return d;
}

const std::vector<int>& Router::path(int a, int b) {
  if (a < 0 || b < 0 || a >= topo_.nodes || b >= topo_.nodes) {
    throw UserError("route: node outside the topology '" + topo_.name + "' (" + std::to_string(topo_.nodes) + " nodes)");
  }
  auto& row = path_[static_cast<std::size_t>(a)];
  if (row.empty()) row.resize(static_cast<std::size_t>(topo_.nodes));
  auto& p = row[static_cast<std::size_t>(b)];
  if (!p.empty()) return p;
  const int64_t X = topo_.dim_x, Y = topo_.dim_y;
  switch (topo_.kind) {
    case TopologyKind::kMesh:
    case TopologyKind::kTorus: {
      const bool wrap = topo_.kind == TopologyKind::kTorus;
      int64_t x = a % X, y = a / X;
      const int64_t tx = b % X, ty = b / X;
      p.push_back(a);
      auto step = [&](int64_t& c, int64_t target, int64_t size) {
        int64_t dir = target > c ? 1 : -1;
        if (wrap) {
          const int64_t fwd = ((target - c) % size + size) % size;
          dir = fwd <= size - fwd ? 1 : -1;  // shorter way, ties positive
        }
        c = wrap ? (c + dir + size) % size : c + dir;
      };
      while (x != tx) {
        step(x, tx, X);
        p.push_back(static_cast<int>(y * X + x));
      }
      while (y != ty) {
        step(y, ty, Y);
        p.push_back(static_cast<int>(y * X + x));
      }
      break;
    }
    case TopologyKind::kHypercube: {
      int c = a;
      p.push_back(c);
      while (c != b) {
        const int diff = c ^ b;
        c ^= diff & -diff;  // lowest differing bit
        p.push_back(c);
      }
      break;
    }
    default: {
      const auto& d = dist_from(a);
      if (d[static_cast<std::size_t>(b)] < 0) {
        throw UserError("route: node " + std::to_string(b) + " is unreachable from node " + std::to_string(a) +
                        " in topology '" + topo_.name + "' (the fabric is disconnected)");
      }
      std::vector<int> rev{b};
      int c = b;
      while (c != a) {
        for (int v : topo_.adj[static_cast<std::size_t>(c)]) {  // sorted: lowest index first
          if (d[static_cast<std::size_t>(v)] == d[static_cast<std::size_t>(c)] - 1) {
            c = v;
            break;
          }
        }
        rev.push_back(c);
      }
      p.assign(rev.rbegin(), rev.rend());
    }
  }
  return p;
}

const std::vector<int>& Router::channels(int a, int b) {
  auto& row = chan_[static_cast<std::size_t>(a)];
  if (row.empty()) row.resize(static_cast<std::size_t>(topo_.nodes));
  auto& c = row[static_cast<std::size_t>(b)];
  if (c.empty() && a != b) {
    const auto& p = path(a, b);
    for (std::size_t i = 0; i + 1 < p.size(); ++i) {
      const int ch = channel(p[i], p[i + 1]);
      if (ch < 0) throw InternalError("route: path step is not a link");
      c.push_back(ch);
    }
  }
  return c;
}

FabricLoad route_flows(Router& router, const CoreGraph& cg, const std::vector<int>& node_of) {
  const Topology& t = router.topology();
  if (static_cast<int64_t>(node_of.size()) != cg.cores) {
    throw UserError("route_flows: the placement has " + std::to_string(node_of.size()) + " entries, the core graph " +
                    std::to_string(cg.cores) + " cores");
  }
  for (int v : node_of) {
    if (v < 0 || v >= t.nodes) {
      throw UserError("route_flows: placement node " + std::to_string(v) + " is outside [0, " +
                      std::to_string(t.nodes - 1) + "] of topology '" + t.name + "'");
    }
  }
  FabricLoad L;
  L.channel_bits.assign(static_cast<std::size_t>(router.channel_count()), 0);
  for (const auto& f : cg.flows) {
    const auto& ch = router.channels(node_of[static_cast<std::size_t>(f.src)], node_of[static_cast<std::size_t>(f.dst)]);
    for (int c : ch) L.channel_bits[static_cast<std::size_t>(c)] += f.bits;
    const int h = static_cast<int>(ch.size());
    L.hops.push_back(h);
    L.max_hops = std::max(L.max_hops, h);
    L.mean_hops += h;
    L.bit_hops += f.bits * h;
  }
  if (!cg.flows.empty()) L.mean_hops /= static_cast<double>(cg.flows.size());
  int64_t sum = 0;
  for (std::size_t c = 0; c < L.channel_bits.size(); ++c) {
    const int64_t b = L.channel_bits[c];
    if (b == 0) continue;
    ++L.channels_used;
    sum += b;
    L.max_bits = std::max(L.max_bits, b);
  }
  for (std::size_t l = 0; l < t.links.size(); ++l)
    if (L.channel_bits[2 * l] > 0 || L.channel_bits[2 * l + 1] > 0) ++L.links_used;
  if (L.channels_used > 0) L.mean_bits = static_cast<double>(sum) / static_cast<double>(L.channels_used);
  return L;
}

double pipeline_throughput(const Mapping& m, const Hardware& hw) {
  int64_t worst = 1;
  for (const auto& l : m.layers) worst = std::max(worst, l.mvms_per_image);
  return 1e9 / (hw.mvm_ns * static_cast<double>(worst));
}

CoreGraph build_core_graph(const Compiled& c) { return build_core_graph(c.graph(), c.mapping(), c.hardware()); }

}  // namespace nc::cm
