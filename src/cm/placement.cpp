#include "neurocore/cm/placement.h"

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/vf2_sub_graph_iso.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>

#include "neurocore/core/error.h"

namespace nc::cm {

const char* mono_status_name(MonoStatus s) {
  switch (s) {
    case MonoStatus::kFound: return "found";
    case MonoStatus::kNone: return "none";
    case MonoStatus::kUnknown: return "unknown (time budget)";
    case MonoStatus::kSkipped: return "skipped";
  }
  return "?";
}

PlacementCheck check_placement(const Topology& t, const CoreGraph& cg, const std::vector<int>& node_of) {
  PlacementCheck c;
  if (static_cast<int64_t>(node_of.size()) != cg.cores) {
    c.in_range = false;
    c.message = "placement has " + std::to_string(node_of.size()) + " entries, the core graph has " +
                std::to_string(cg.cores) + " cores";
    return c;
  }
  std::vector<int> owner(static_cast<std::size_t>(std::max<int64_t>(t.nodes, 0)), -1);
  for (std::size_t k = 0; k < node_of.size(); ++k) {
    const int v = node_of[k];
    if (v < 0 || v >= t.nodes) {
      c.in_range = false;
      if (c.message.empty()) {
        c.message = "core " + std::to_string(k) + " is on node " + std::to_string(v) + ", outside [0, " +
                    std::to_string(t.nodes - 1) + "]";
      }
      continue;
    }
    auto& o = owner[static_cast<std::size_t>(v)];
    if (o >= 0) {
      c.injective = false;
      if (c.message.empty()) {
        c.message = "cores " + std::to_string(o) + " and " + std::to_string(k) + " share node " + std::to_string(v);
      }
    } else {
      o = static_cast<int>(k);
    }
  }
  if (!c.in_range) return c;
  for (auto [u, v] : cg.pairs()) {
    if (t.has_link(node_of[static_cast<std::size_t>(u)], node_of[static_cast<std::size_t>(v)])) {
      ++c.pairs_on_links;
    } else {
      c.routed.emplace_back(u, v);
    }
  }
  return c;
}

std::vector<int> pipeline_order_placement(const Topology& t, int64_t cores) {
  std::vector<int> order;
  switch (t.kind) {
    case TopologyKind::kMesh:
    case TopologyKind::kMeshDiag:
    case TopologyKind::kTorus:
      for (int64_t y = 0; y < t.dim_y; ++y)
        for (int64_t i = 0; i < t.dim_x; ++i) {
          const int64_t x = y % 2 == 0 ? i : t.dim_x - 1 - i;  // boustrophedon
          order.push_back(static_cast<int>(y * t.dim_x + x));
        }
      break;
    case TopologyKind::kHypercube:
      for (int64_t i = 0; i < t.nodes; ++i) order.push_back(static_cast<int>(i ^ (i >> 1)));  // Gray code
      break;
    default:
      for (int64_t i = 0; i < t.nodes; ++i) order.push_back(static_cast<int>(i));
  }
  order.resize(static_cast<std::size_t>(std::min<int64_t>(cores, t.nodes)));
  return order;
}

namespace {

using UG = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS>;
struct Vf2Timeout {};

struct Vf2Shared {
  std::vector<int> result;
  std::vector<int64_t> deg_g, deg_f;
  std::chrono::steady_clock::time_point deadline;
  int64_t calls = 0;
};

struct Vf2Callback {
  Vf2Shared* s;
  template <class M1, class M2>
  bool operator()(const M1& f, const M2&) const {
    for (std::size_t v = 0; v < s->deg_g.size(); ++v) s->result[v] = static_cast<int>(boost::get(f, v));
    return false;  // the first mapping is enough
  }
};

struct Vf2VertexPred {
  Vf2Shared* s;
  template <class A, class B>
  bool operator()(A u, B v) const {
    // Boost's VF2 has no time limit: the equivalence predicate is called for every candidate
    // pair, so it is where the budget is enforced.
    if ((++s->calls & 1023) == 0 && std::chrono::steady_clock::now() > s->deadline) throw Vf2Timeout{};
    return s->deg_g[static_cast<std::size_t>(u)] <= s->deg_f[static_cast<std::size_t>(v)];
  }
};

MonoStatus vf2(const Topology& t, const CoreGraph& cg, double budget_s, std::vector<int>& out) {
  UG small(static_cast<std::size_t>(cg.cores)), large(static_cast<std::size_t>(t.nodes));
  Vf2Shared s;
  s.deg_g.assign(static_cast<std::size_t>(cg.cores), 0);
  for (auto [u, v] : cg.pairs()) {
    boost::add_edge(static_cast<std::size_t>(u), static_cast<std::size_t>(v), small);
    ++s.deg_g[static_cast<std::size_t>(u)];
    ++s.deg_g[static_cast<std::size_t>(v)];
  }
  for (auto [u, v] : t.links) boost::add_edge(static_cast<std::size_t>(u), static_cast<std::size_t>(v), large);
  for (int64_t v = 0; v < t.nodes; ++v) s.deg_f.push_back(t.degree(static_cast<int>(v)));
  s.result.assign(static_cast<std::size_t>(cg.cores), -1);
  s.deadline = std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(budget_s));
  try {
    const bool found = boost::vf2_subgraph_mono(small, large, Vf2Callback{&s}, boost::vertex_order_by_mult(small),
                                                boost::vertices_equivalent(Vf2VertexPred{&s}));
    if (!found) return MonoStatus::kNone;
    out = s.result;
    return MonoStatus::kFound;
  } catch (const Vf2Timeout&) {
    return MonoStatus::kUnknown;
  }
}

// Simulated annealing on J = max channel load + bit_hops / channels (the mean load over all
// channels breaks ties between placements of equal maximum), from T = temp0 * max load down by
// 1e-4 over the iterations; temp0 = 0 is a greedy descent that accepts a move only when it
// keeps the max load and does not raise J. Incremental: a move re-routes only the flows of
// the (at most two) cores it moves.
std::vector<int> anneal(const Topology& t, const CoreGraph& cg, std::vector<int> node_of, const PlacementOptions& o,
                        double temp0) {
  Router router(t);
  const auto nch = static_cast<std::size_t>(router.channel_count());
  if (nch == 0 || cg.flows.empty() || o.anneal_iterations <= 0) return node_of;
  std::vector<int> occ(static_cast<std::size_t>(t.nodes), -1);
  for (std::size_t c = 0; c < node_of.size(); ++c) occ[static_cast<std::size_t>(node_of[c])] = static_cast<int>(c);
  std::vector<std::vector<int>> inc(static_cast<std::size_t>(cg.cores));
  for (std::size_t f = 0; f < cg.flows.size(); ++f) {
    inc[static_cast<std::size_t>(cg.flows[f].src)].push_back(static_cast<int>(f));
    inc[static_cast<std::size_t>(cg.flows[f].dst)].push_back(static_cast<int>(f));
  }
  std::vector<int64_t> load(nch, 0);
  int64_t bit_hops = 0;
  auto apply = [&](int f, int sign) {
    const auto& fl = cg.flows[static_cast<std::size_t>(f)];
    const auto& ch = router.channels(node_of[static_cast<std::size_t>(fl.src)], node_of[static_cast<std::size_t>(fl.dst)]);
    for (int c : ch) load[static_cast<std::size_t>(c)] += sign * fl.bits;
    bit_hops += sign * fl.bits * static_cast<int64_t>(ch.size());
  };
  for (std::size_t f = 0; f < cg.flows.size(); ++f) apply(static_cast<int>(f), +1);
  auto max_load = [&] { return *std::max_element(load.begin(), load.end()); };
  auto objective = [&](int64_t mx) { return static_cast<double>(mx) + static_cast<double>(bit_hops) / static_cast<double>(nch); };

  int64_t cur_max = max_load();
  double cur = objective(cur_max);
  std::vector<int> best = node_of;
  int64_t best_max = cur_max, best_hops = bit_hops;
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int> pick_core(0, static_cast<int>(cg.cores) - 1);
  std::uniform_int_distribution<int> pick_node(0, static_cast<int>(t.nodes) - 1);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  const double t0 = temp0 * static_cast<double>(std::max<int64_t>(cur_max, 1));
  const double cool = std::pow(1e-4, 1.0 / static_cast<double>(o.anneal_iterations));
  double temp = t0;
  std::vector<int> stamp(cg.flows.size(), -1), touched;
  for (int64_t it = 0; it < o.anneal_iterations; ++it, temp *= cool) {
    const int c = pick_core(rng), x = pick_node(rng);
    const int from = node_of[static_cast<std::size_t>(c)];
    if (x == from) continue;
    const int other = occ[static_cast<std::size_t>(x)];
    touched.clear();
    for (int core : {c, other}) {
      if (core < 0) continue;
      for (int f : inc[static_cast<std::size_t>(core)])
        if (stamp[static_cast<std::size_t>(f)] != it) {
          stamp[static_cast<std::size_t>(f)] = static_cast<int>(it);
          touched.push_back(f);
        }
    }
    auto do_move = [&](int a_node, int b_node) {  // c goes to b_node, other (if any) to a_node
      node_of[static_cast<std::size_t>(c)] = b_node;
      occ[static_cast<std::size_t>(b_node)] = c;
      occ[static_cast<std::size_t>(a_node)] = other;
      if (other >= 0) node_of[static_cast<std::size_t>(other)] = a_node;
    };
    for (int f : touched) apply(f, -1);
    do_move(from, x);
    for (int f : touched) apply(f, +1);
    const int64_t mx = max_load();
    const double next = objective(mx);
    const bool accept = temp0 > 0 ? (next <= cur || uni(rng) < std::exp((cur - next) / temp))
                                  : (mx < cur_max || (mx == cur_max && next <= cur));
    if (accept) {
      cur = next;
      cur_max = mx;
      if (mx < best_max || (mx == best_max && bit_hops < best_hops)) {
        best_max = mx;
        best_hops = bit_hops;
        best = node_of;
      }
    } else {
      for (int f : touched) apply(f, -1);
      // undo: c back to `from`, other back to x
      node_of[static_cast<std::size_t>(c)] = from;
      occ[static_cast<std::size_t>(from)] = c;
      occ[static_cast<std::size_t>(x)] = other;
      if (other >= 0) node_of[static_cast<std::size_t>(other)] = x;
      for (int f : touched) apply(f, +1);
    }
  }
  return best;
}

}  // namespace

Placement place(const Topology& t, const CoreGraph& cg, const PlacementOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (cg.cores > t.nodes) {
    throw UserError("place: the network needs " + std::to_string(cg.cores) + " cores, topology '" + t.name +
                    "' has " + std::to_string(t.nodes) + " nodes");
  }
  Placement p;
  auto finish = [&](Placement& r) {
    r.homomorphic = check_placement(t, cg, r.node_of).monomorphism();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
  };
  p.node_of = pipeline_order_placement(t, cg.cores);
  if (check_placement(t, cg, p.node_of).monomorphism()) {
    p.method = "pipeline order";
    p.mono = MonoStatus::kFound;
    return finish(p);
  }
  if (options.try_vf2) {
    std::vector<int> found;
    p.mono = vf2(t, cg, options.time_budget_s, found);
    if (p.mono == MonoStatus::kFound) {
      p.node_of = found;
      p.method = "vf2";
      return finish(p);
    }
  }
  // No single schedule wins everywhere: a hot start (T0 = 0.1 max) escapes the start's
  // bottleneck on meshes but drifts over the max-load plateau and lengthens routes on large
  // graphs, a cool one (0.01) keeps the start's locality; a greedy descent (T0 = 0) polishes
  // each. The best of the three by (max channel load, bit-hops) is kept.
  Router router(t);
  auto score = [&](const std::vector<int>& node_of) {
    const FabricLoad L = route_flows(router, cg, node_of);
    return std::make_pair(L.max_bits, L.bit_hops);
  };
  const std::vector<int> initial = p.node_of;
  auto best_score = std::make_pair(INT64_MAX, INT64_MAX);
  for (double temp0 : {0.1, 0.01, 0.0}) {
    std::vector<int> c = anneal(t, cg, initial, options, temp0);
    if (temp0 > 0) c = anneal(t, cg, c, options, 0.0);
    const auto sc = score(c);
    if (sc < best_score) best_score = sc, p.node_of = c;
  }
  p.method = "annealing";
  return finish(p);
}

}  // namespace nc::cm
