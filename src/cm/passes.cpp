// Graph passes: rewrites of the graph IR that keep what it computes (fold_batch_norms).
#include <algorithm>
#include <cmath>
#include <variant>

#include "graph_internal.h"
#include "neurocore/cm/graph.h"

namespace nc::cm {

using detail::bad;

int Graph::fold_batch_norms() {
  // Decide which BatchNorms fold, then rebuild the graph without them (ids are dense).
  std::vector<bool> drop(nodes_.size(), false);
  int folded = 0;
  for (auto& bn : nodes_) {
    if (bn.kind != OpKind::kBatchNorm) continue;
    const Value& in = values_[static_cast<std::size_t>(bn.inputs[0])];
    Node& layer = nodes_[static_cast<std::size_t>(in.producer)];
    const bool is_output =
        std::find(outputs_.begin(), outputs_.end(), bn.inputs[0]) != outputs_.end();
    if (!layer.has_matrix() || in.consumers.size() != 1 || is_output) continue;
    const bool bn_params = !bn.weight.empty();
    const bool layer_params = !layer.weight.empty();
    if (bn_params != layer_params) {
      bad(bn, std::string("cannot fold into '") + layer.name + "': " +
                  (bn_params ? "the layer has no weights" : "the BatchNorm has no parameters"));
    }
    if (bn_params) {
      const std::size_t c_out = bn.weight.size();
      const std::size_t per = layer.weight.size() / c_out;
      if (layer.bias.empty()) layer.bias.assign(c_out, 0.0f);
      const double eps = bn.batch_norm().eps();
      for (std::size_t k = 0; k < c_out; ++k) {
        const double s = bn.weight[k] / std::sqrt(static_cast<double>(bn.running_var[k]) + eps);
        for (std::size_t i = 0; i < per; ++i) {
          float& w = layer.weight[k * per + i];
          w = static_cast<float>(w * s);
        }
        layer.bias[k] =
            static_cast<float>(s * (layer.bias[k] - bn.running_mean[k]) + bn.bias[k]);
      }
    }
    if (layer.kind == OpKind::kConv2d) {
      std::get<Conv2dOptions>(layer.options).bias(true);
    } else {
      std::get<LinearOptions>(layer.options).bias(true);
    }
    drop[static_cast<std::size_t>(&bn - nodes_.data())] = true;
    ++folded;
  }
  if (!folded) return 0;

  Graph g;
  g.counter_ = counter_;
  std::vector<ValueId> remap(values_.size(), -1);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    Node n = nodes_[i];
    if (drop[i]) {
      // The BatchNorm's output is now its input (the folded layer's output), renamed so that
      // later references by value name still resolve.
      const ValueId src = remap[static_cast<std::size_t>(n.inputs[0])];
      remap[static_cast<std::size_t>(n.output)] = src;
      continue;
    }
    for (auto& id : n.inputs) id = remap[static_cast<std::size_t>(id)];
    n.output = -1;
    if (n.kind == OpKind::kInput) {
      remap[static_cast<std::size_t>(nodes_[i].output)] = g.input(n.name, values_[static_cast<std::size_t>(nodes_[i].output)].shape);
    } else {
      remap[static_cast<std::size_t>(nodes_[i].output)] = g.add_node(std::move(n));
    }
  }
  for (ValueId v : outputs_) g.mark_output(remap[static_cast<std::size_t>(v)]);
  *this = std::move(g);
  return folded;
}

}  // namespace nc::cm
