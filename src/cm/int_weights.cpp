// Integer weights into a graph (see the header).
#include "neurocore/cm/int_weights.h"

#include <fmt/format.h>

#include <set>

#include "neurocore/core/error.h"

namespace nc::cm {

int apply_int_model(Graph& g, const compress::IntModel& m, const std::string& origin) {
  g.fold_batch_norms();
  std::set<std::string> named;
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const compress::IntLayer& l = m.layers[i];
    const std::string field = fmt::format("{}: layers[{}] ({})", origin, i, l.name);
    NodeId id = -1;
    try {
      id = g.find_node(l.name);
    } catch (const UserError& e) {
      throw UserError(field + ": name: " + e.what());
    }
    Node& node = g.node(id);
    const bool conv = l.kind == "conv2d";
    if (node.kind != (conv ? OpKind::kConv2d : OpKind::kLinear)) {
      throw UserError(fmt::format("{}: kind: the graph's node '{}' is a {}, the file says {}", field,
                                  node.name, op_name(node.kind), l.kind));
    }
    Shape expected;
    if (conv) {
      const auto& o = node.conv();
      expected = {o.out_channels(), o.in_channels() / o.groups(), o.kernel_size().h, o.kernel_size().w};
    } else {
      expected = {node.linear().out_features(), node.linear().in_features()};
    }
    if (expected != l.weight.shape) {
      throw UserError(fmt::format("{}: weight.shape: expected {} (the graph's node), got {}", field,
                                  shape_str(expected), shape_str(l.weight.shape)));
    }
    node.weight = l.weight.dequantize();
    node.bias = l.bias;
    node.input_quant = InputQuant{l.input.scale, static_cast<float>(l.input.zero_point),
                                  l.input.qmin, l.input.qmax};
    if (conv) {
      std::get<Conv2dOptions>(node.options).bias(!l.bias.empty());
    } else {
      std::get<LinearOptions>(node.options).bias(!l.bias.empty());
    }
    named.insert(l.name);
  }
  for (const auto& node : g.nodes()) {
    if (node.has_matrix() && !named.count(node.name)) {
      throw UserError(fmt::format("{}: layers: expected a layer named '{}' (a {} of the graph), "
                                  "found none", origin, node.name, op_name(node.kind)));
    }
  }
  return static_cast<int>(m.layers.size());
}

}  // namespace nc::cm
