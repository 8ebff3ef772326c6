#include "neurocore/cm/topology.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <fstream>
#include <set>
#include <sstream>

#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"

namespace nc::cm {

namespace {

// Builds the sorted link and adjacency lists from a set of candidate pairs (deduplicated,
// self-loops dropped: generators like a 2-node ring or a 2-wide torus produce them).
Topology finish(Topology t, std::set<std::pair<int, int>> pairs) {
  t.adj.assign(static_cast<std::size_t>(t.nodes), {});
  t.links.clear();
  for (auto [u, v] : pairs) {
    if (u == v) continue;
    if (u > v) std::swap(u, v);
    t.links.emplace_back(u, v);
  }
  std::sort(t.links.begin(), t.links.end());
  t.links.erase(std::unique(t.links.begin(), t.links.end()), t.links.end());
  for (auto [u, v] : t.links) {
    t.adj[static_cast<std::size_t>(u)].push_back(v);
    t.adj[static_cast<std::size_t>(v)].push_back(u);
  }
  for (auto& a : t.adj) std::sort(a.begin(), a.end());
  return t;
}

void check_positive(const std::string& what, int64_t v) {
  if (v < 1) throw UserError("topology: " + what + " must be at least 1, got " + std::to_string(v));
  if (v > (1 << 22)) {
    throw UserError("topology: " + what + " must be at most 4194304, got " + std::to_string(v));
  }
}

Topology grid(TopologyKind kind, const std::string& base, int64_t a, int64_t b, bool diag, bool wrap) {
  check_positive(base + " width", a);
  check_positive(base + " height", b);
  Topology t;
  t.kind = kind;
  t.name = base + " " + std::to_string(a) + "x" + std::to_string(b);
  t.nodes = a * b;
  t.dim_x = a;
  t.dim_y = b;
  std::set<std::pair<int, int>> p;
  auto id = [&](int64_t x, int64_t y) { return static_cast<int>(y * a + x); };
  for (int64_t y = 0; y < b; ++y)
    for (int64_t x = 0; x < a; ++x) {
      for (int64_t dy = -1; dy <= 1; ++dy)
        for (int64_t dx = -1; dx <= 1; ++dx) {
          if (dx == 0 && dy == 0) continue;
          if (dx != 0 && dy != 0 && !diag) continue;
          int64_t nx = x + dx, ny = y + dy;
          if (wrap) {
            nx = (nx + a) % a;
            ny = (ny + b) % b;
          } else if (nx < 0 || ny < 0 || nx >= a || ny >= b) {
            continue;
          }
          p.emplace(id(x, y), id(nx, ny));
        }
    }
  return finish(std::move(t), std::move(p));
}

}  // namespace

int64_t Topology::max_degree() const {
  int64_t m = 0;
  for (const auto& a : adj) m = std::max<int64_t>(m, static_cast<int64_t>(a.size()));
  return m;
}

double Topology::mean_degree() const {
  return nodes == 0 ? 0.0 : 2.0 * static_cast<double>(links.size()) / static_cast<double>(nodes);
}

bool Topology::has_link(int u, int v) const {
  if (u < 0 || v < 0 || u >= nodes || v >= nodes) return false;
  const auto& a = adj[static_cast<std::size_t>(u)];
  return std::binary_search(a.begin(), a.end(), v);
}

std::vector<int> Topology::distances(int src) const {
  std::vector<int> d(static_cast<std::size_t>(nodes), -1);
  std::deque<int> q{src};
  d[static_cast<std::size_t>(src)] = 0;
  while (!q.empty()) {
    const int u = q.front();
    q.pop_front();
    for (int v : adj[static_cast<std::size_t>(u)]) {
      if (d[static_cast<std::size_t>(v)] < 0) {
        d[static_cast<std::size_t>(v)] = d[static_cast<std::size_t>(u)] + 1;
        q.push_back(v);
      }
    }
  }
  return d;
}

Topology Topology::ring(int64_t n) {
  check_positive("ring nodes", n);
  Topology t;
  t.kind = TopologyKind::kRing;
  t.name = "ring";
  t.nodes = n;
  std::set<std::pair<int, int>> p;
  for (int64_t i = 0; i < n; ++i) p.emplace(static_cast<int>(i), static_cast<int>((i + 1) % n));
  return finish(std::move(t), std::move(p));
}

Topology Topology::mesh(int64_t a, int64_t b) { return grid(TopologyKind::kMesh, "mesh", a, b, false, false); }
Topology Topology::mesh_diag(int64_t a, int64_t b) {
  return grid(TopologyKind::kMeshDiag, "mesh-diag", a, b, true, false);
}
Topology Topology::torus(int64_t a, int64_t b) { return grid(TopologyKind::kTorus, "torus", a, b, false, true); }

Topology Topology::hypercube(int64_t d) {
  if (d < 0 || d > 20) throw UserError("topology: hypercube dimension must be in [0, 20], got " + std::to_string(d));
  Topology t;
  t.kind = TopologyKind::kHypercube;
  t.name = "hypercube Q" + std::to_string(d);
  t.nodes = int64_t{1} << d;
  t.dim_x = d;
  std::set<std::pair<int, int>> p;
  for (int64_t i = 0; i < t.nodes; ++i)
    for (int64_t k = 0; k < d; ++k) p.emplace(static_cast<int>(i), static_cast<int>(i ^ (int64_t{1} << k)));
  return finish(std::move(t), std::move(p));
}

Topology Topology::full(int64_t n) {
  check_positive("full nodes", n);
  if (n > 4096) throw UserError("topology: full (K_N) is limited to 4096 nodes, got " + std::to_string(n));
  Topology t;
  t.kind = TopologyKind::kFull;
  t.name = "full";
  t.nodes = n;
  std::set<std::pair<int, int>> p;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) p.emplace(i, j);
  return finish(std::move(t), std::move(p));
}

Topology Topology::band(int64_t n, int64_t w) {
  check_positive("band nodes", n);
  check_positive("band width w", w);
  Topology t;
  t.kind = TopologyKind::kBand;
  t.name = w == 5 ? "5pp-band" : "band" + std::to_string(w);
  t.nodes = n;
  t.dim_x = w;
  std::set<std::pair<int, int>> p;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 1; k <= w && i + k < n; ++k) p.emplace(static_cast<int>(i), static_cast<int>(i + k));
  return finish(std::move(t), std::move(p));
}

Topology Topology::five_pp_prism(int64_t stages) {
  check_positive("5pp-prism stages", stages);
  Topology t;
  t.kind = TopologyKind::kPrism;
  t.name = "5pp-prism";
  t.nodes = 5 * stages;
  t.dim_x = 5;
  t.dim_y = stages;
  std::set<std::pair<int, int>> p;
  auto id = [](int64_t s, int64_t i) { return static_cast<int>(5 * s + ((i % 5) + 5) % 5); };
  for (int64_t s = 0; s < stages; ++s)
    for (int64_t i = 0; i < 5; ++i) {
      p.emplace(id(s, i), id(s, i + 1));  // the pentagon
      if (s + 1 < stages) {
        for (int64_t di = -1; di <= 1; ++di) p.emplace(id(s, i), id(s + 1, i + di));
      }
    }
  return finish(std::move(t), std::move(p));
}

Topology Topology::from_links(int64_t n, const std::vector<std::pair<int64_t, int64_t>>& links,
                              const std::string& name, const std::string& origin) {
  if (n < 1) throw UserError(origin + ": nodes must be a positive integer, got " + std::to_string(n));
  Topology t;
  t.kind = TopologyKind::kUser;
  t.name = name;
  t.nodes = n;
  std::set<std::pair<int, int>> p;
  for (std::size_t k = 0; k < links.size(); ++k) {
    auto [u, v] = links[k];
    const std::string where = origin + ": links[" + std::to_string(k) + "] = [" + std::to_string(u) +
                              ", " + std::to_string(v) + "]";
    for (int64_t x : {u, v}) {
      if (x < 0 || x >= n) {
        throw UserError(where + ": node id " + std::to_string(x) + " is outside [0, " +
                        std::to_string(n - 1) + "] (nodes: " + std::to_string(n) + ")");
      }
    }
    if (u == v) throw UserError(where + ": self-loop (a link must join two different nodes)");
    const std::pair<int, int> key(static_cast<int>(std::min(u, v)), static_cast<int>(std::max(u, v)));
    if (!p.insert(key).second) throw UserError(where + ": duplicate link (links are bidirectional; list each once)");
  }
  return finish(std::move(t), std::move(p));
}

Topology Topology::from_yaml(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw UserError(origin + ": not valid YAML: " + e.what());
  }
  if (!root.IsMap()) throw UserError(origin + ": expected a mapping with keys nodes, links (and optional name)");
  const std::vector<std::string> keys = {"name", "nodes", "links"};
  for (const auto& kv : root) {
    const std::string k = kv.first.as<std::string>();
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      const std::string c = closest_match(k, keys);
      throw UserError(origin + ": unknown key '" + k + "'" + (c.empty() ? "" : " (did you mean '" + c + "'?)") +
                      "; expected nodes, links, name");
    }
  }
  std::string name = "user";
  if (root["name"]) name = root["name"].as<std::string>();
  if (!root["nodes"]) throw UserError(origin + ": missing 'nodes' (the number of nodes, a positive integer)");
  int64_t n = 0;
  try {
    n = root["nodes"].as<int64_t>();
  } catch (const YAML::Exception&) {
    throw UserError(origin + ": nodes must be a positive integer, got '" + root["nodes"].as<std::string>("?") + "'");
  }
  const YAML::Node l = root["links"];
  if (!l || !l.IsSequence()) throw UserError(origin + ": missing 'links' (a list of [u, v] pairs)");
  std::vector<std::pair<int64_t, int64_t>> links;
  for (std::size_t k = 0; k < l.size(); ++k) {
    const YAML::Node e = l[k];
    bool ok = e.IsSequence() && e.size() == 2;
    int64_t u = 0, v = 0;
    if (ok) {
      try {
        u = e[0].as<int64_t>();
        v = e[1].as<int64_t>();
      } catch (const YAML::Exception&) {
        ok = false;
      }
    }
    if (!ok) {
      YAML::Emitter em;
      em << YAML::Flow << e;
      throw UserError(origin + ": links[" + std::to_string(k) + "] must be a pair [u, v] of node ids, got " + em.c_str());
    }
    links.emplace_back(u, v);
  }
  return from_links(n, links, name, origin);
}

Topology Topology::load_yaml(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot read the topology file");
  std::stringstream ss;
  ss << in.rdbuf();
  return from_yaml(ss.str(), path);
}

const std::vector<std::string>& Topology::names() {
  static const std::vector<std::string> n = {"ring", "mesh", "mesh-diag", "torus", "hypercube",
                                             "full", "5pp-band", "5pp-prism"};
  return n;
}

Topology Topology::make(const std::string& name, int64_t min_nodes) {
  check_positive("nodes", min_nodes);
  const int64_t n = min_nodes;
  auto side = [](int64_t v) {
    auto a = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(v))));
    while (a * a < v) ++a;
    while (a > 1 && (a - 1) * (a - 1) >= v) --a;
    return a;
  };
  if (name == "ring") return ring(n);
  if (name == "full") return full(n);
  if (name == "5pp" || name == "5pp-band") return five_pp_band(n);
  if (name == "5pp-prism") return five_pp_prism((n + 4) / 5);
  if (name == "mesh" || name == "mesh-diag" || name == "torus") {
    const int64_t a = side(n), b = (n + a - 1) / a;
    if (name == "mesh") return mesh(a, b);
    if (name == "mesh-diag") return mesh_diag(a, b);
    return torus(a, b);
  }
  if (name == "hypercube") {
    int64_t d = 0;
    while ((int64_t{1} << d) < n) ++d;
    return hypercube(d);
  }
  if (name.size() > 4 && name.compare(0, 4, "band") == 0) {
    const std::string w = name.substr(4);
    if (std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; }) && w.size() < 6) {
      return band(n, std::stoll(w));
    }
  }
  std::string list;
  for (const auto& s : names()) list += (list.empty() ? "" : ", ") + s;
  const std::string c = closest_match(name, names());
  throw UserError("topology: unknown name '" + name + "'" + (c.empty() ? "" : " (did you mean '" + c + "'?)") +
                  "; expected one of " + list + ", 5pp, band<w>");
}

}  // namespace nc::cm
