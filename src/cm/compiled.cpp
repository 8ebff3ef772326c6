// A compiled model, validated once (see the header).
#include "neurocore/cm/compiled.h"

#include <fmt/format.h>

#include <chrono>
#include <mutex>

#include "neurocore/cm/int_weights.h"
#include "neurocore/compress/int_model.h"
#include "neurocore/core/error.h"

namespace nc::cm {

namespace {

// The consistency every consumer relied on: each mapped layer is the graph's node of that
// index and name, with the matrix the mapping tiled, and every matrix node is mapped.
void check_mapping(const Graph& g, const Hardware& hw, const Mapping& m) {
  if (m.crossbar_rows != hw.crossbar_rows || m.crossbar_cols != hw.crossbar_cols) {
    throw UserError(fmt::format("compiled model: the mapping is for {}x{} crossbars, the hardware '{}' has {}x{} "
                                "(map the graph onto this hardware)", m.crossbar_rows, m.crossbar_cols,
                                hw.name, hw.crossbar_rows, hw.crossbar_cols));
  }
  std::vector<bool> mapped(g.nodes().size(), false);
  for (const auto& l : m.layers) {
    const bool valid = l.node >= 0 && static_cast<std::size_t>(l.node) < g.nodes().size() &&
                       g.node(l.node).name == l.name && g.node(l.node).kind == l.kind &&
                       g.node(l.node).has_matrix() && !l.tiles.empty();
    if (!valid) {
      throw UserError("compiled model: the mapping's layer '" + l.name + "' (node " + std::to_string(l.node) +
                      ") is not a Conv2d/Linear node of this graph (map the same graph)");
    }
    mapped[static_cast<std::size_t>(l.node)] = true;
  }
  for (std::size_t n = 0; n < g.nodes().size(); ++n) {
    const Node& node = g.nodes()[n];
    if (node.has_matrix() && !mapped[n]) {
      throw UserError("compiled model: node '" + node.name + "' (" + op_name(node.kind) +
                      ") has no mapping (map the same graph)");
    }
  }
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

struct Compiled::State {
  Graph graph;
  Hardware hw;
  Mapping mapping;
  std::once_flag poly_once;  // the isl model is built on first use (placement alone needs none)
  std::unique_ptr<PolyModel> poly;
  double poly_s = 0;
};

Compiled::Compiled(Graph graph, Hardware hw, Mapping mapping) : s_(std::make_unique<State>()) {
  check_mapping(graph, hw, mapping);
  s_->graph = std::move(graph);
  s_->hw = std::move(hw);
  s_->mapping = std::move(mapping);
}

Compiled::~Compiled() = default;
Compiled::Compiled(Compiled&&) noexcept = default;
Compiled& Compiled::operator=(Compiled&&) noexcept = default;

const Graph& Compiled::graph() const { return s_->graph; }
const Hardware& Compiled::hardware() const { return s_->hw; }
const Mapping& Compiled::mapping() const { return s_->mapping; }
double Compiled::poly_seconds() const { return s_->poly_s; }

const PolyModel& Compiled::poly() const {
  std::call_once(s_->poly_once, [this] {
    const auto t = std::chrono::steady_clock::now();
    s_->poly = std::make_unique<PolyModel>(s_->graph);
    s_->poly_s = seconds_since(t);
  });
  return *s_->poly;
}

namespace {

// Fold, map, analyse: shared by both entry points. `times.import_s` is the caller's.
Compiled finish(Graph graph, int folded_before, const Hardware& hw, const std::string& int_model,
                const CompileOptions& options, CompileTimes times) {
  int folded = folded_before + graph.fold_batch_norms();
  if (!int_model.empty()) {
    apply_int_model(graph, compress::read_int_model(int_model), int_model);
  }
  const auto t = std::chrono::steady_clock::now();
  Mapping m = map_graph(graph, hw, options.check_capacity);
  times.map_s = seconds_since(t);
  Compiled c(std::move(graph), hw, std::move(m));
  c.times = times;
  c.folded_batch_norms = folded;
  if (options.dependency_analysis) c.poly();  // its errors now
  return c;
}

}  // namespace

Compiled compile(const ModelSource& source, const Hardware& hw, const CompileOptions& options) {
  const auto t = std::chrono::steady_clock::now();
  LoadedGraph loaded = load_graph(source);
  CompileTimes times;
  times.import_s = seconds_since(t);
  Compiled c = finish(std::move(loaded.graph), loaded.folded_batch_norms, hw, "", options, times);
  c.kind = loaded.kind;
  c.source = source.path;
  c.opset = loaded.opset;
  c.notes = std::move(loaded.notes);
  c.input = loaded.input;
  c.data_name = loaded.data_name;
  return c;
}

Compiled compile_graph(Graph graph, const Hardware& hw, const std::string& int_model,
                       const CompileOptions& options) {
  return finish(std::move(graph), 0, hw, int_model, options, {});
}

}  // namespace nc::cm
