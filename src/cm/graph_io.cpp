// The graph IR's text forms: to_string (one line per node), to_dot (Graphviz) and to_json.
#include <nlohmann/json.hpp>

#include <sstream>

#include "neurocore/cm/graph.h"

namespace nc::cm {

namespace {

std::string pads_str(const Pads& p) {
  if (p.top == p.bottom && p.left == p.right) {
    return p.top == p.left ? std::to_string(p.top)
                           : std::to_string(p.top) + "x" + std::to_string(p.left);
  }
  return "(" + std::to_string(p.top) + "," + std::to_string(p.left) + "," +
         std::to_string(p.bottom) + "," + std::to_string(p.right) + ")";
}

std::string pair_str(const Pair& p) {
  return p.h == p.w ? std::to_string(p.h) : std::to_string(p.h) + "x" + std::to_string(p.w);
}

std::string options_str(const Node& n) {
  std::ostringstream s;
  switch (n.kind) {
    case OpKind::kConv2d: {
      const auto& o = n.conv();
      s << "k=" << pair_str(o.kernel_size()) << " s=" << pair_str(o.stride())
        << " p=" << pads_str(o.padding());
      if (!(o.dilation() == Pair(1))) s << " d=" << pair_str(o.dilation());
      if (o.groups() != 1) s << " g=" << o.groups();
      if (!o.bias()) s << " nobias";
      break;
    }
    case OpKind::kLinear:
      if (!n.linear().bias()) s << "nobias";
      break;
    case OpKind::kBatchNorm:
      s << "eps=" << n.batch_norm().eps();
      break;
    case OpKind::kActivation:
      s << act_name(n.activation().kind());
      if (n.activation().kind() == ActKind::kLeakyReLU) s << " alpha=" << n.activation().alpha();
      if (n.activation().kind() == ActKind::kClip) {
        s << " [" << n.activation().min() << ", " << n.activation().max() << "]";
      }
      break;
    case OpKind::kMaxPool:
    case OpKind::kAvgPool: {
      const auto& o = n.pool();
      s << "k=" << pair_str(o.kernel_size()) << " s=" << pair_str(o.stride())
        << " p=" << pads_str(o.padding());
      if (!(o.dilation() == Pair(1))) s << " d=" << pair_str(o.dilation());
      if (o.ceil_mode()) s << " ceil";
      if (n.kind == OpKind::kAvgPool && !o.count_include_pad()) s << " exclude_pad";
      break;
    }
    case OpKind::kConcat:
      s << "axis=" << n.concat().axis();
      break;
    case OpKind::kPad: {
      const auto& o = n.pad();
      s << "c=(" << o.channels_before() << "," << o.channels_after()
        << ") hw=" << pads_str(o.spatial());
      if (o.value() != 0) s << " value=" << o.value();
      break;
    }
    case OpKind::kSlice: {
      const auto& o = n.slice();
      s << "step=(" << o.step()[0] << "," << o.step()[1] << "," << o.step()[2] << ")";
      break;
    }
    case OpKind::kSpiking: {
      const auto& o = n.spiking();
      s << (o.soft() ? "sSNU" : "SNU") << " g=" << act_name(o.g());
      if (o.g() == ActKind::kLeakyReLU) s << " alpha=" << o.alpha();
      break;
    }
    default:
      break;
  }
  return s.str();
}

nlohmann::json options_json(const Node& n) {
  using nlohmann::json;
  auto pair = [](const Pair& p) { return json::array({p.h, p.w}); };
  auto pads = [](const Pads& p) { return json::array({p.top, p.left, p.bottom, p.right}); };
  json j = json::object();
  switch (n.kind) {
    case OpKind::kConv2d: {
      const auto& o = n.conv();
      j = {{"in_channels", o.in_channels()}, {"out_channels", o.out_channels()},
           {"kernel_size", pair(o.kernel_size())}, {"stride", pair(o.stride())},
           {"padding", pads(o.padding())}, {"dilation", pair(o.dilation())},
           {"groups", o.groups()}, {"bias", o.bias()}};
      break;
    }
    case OpKind::kLinear:
      j = {{"in_features", n.linear().in_features()},
           {"out_features", n.linear().out_features()}, {"bias", n.linear().bias()}};
      break;
    case OpKind::kBatchNorm:
      j = {{"num_features", n.batch_norm().num_features()}, {"eps", n.batch_norm().eps()}};
      break;
    case OpKind::kActivation:
      j = {{"kind", act_name(n.activation().kind())}, {"alpha", n.activation().alpha()},
           {"min", n.activation().min()}, {"max", n.activation().max()}};
      break;
    case OpKind::kMaxPool:
    case OpKind::kAvgPool: {
      const auto& o = n.pool();
      j = {{"kernel_size", pair(o.kernel_size())}, {"stride", pair(o.stride())},
           {"padding", pads(o.padding())}, {"dilation", pair(o.dilation())},
           {"ceil_mode", o.ceil_mode()}, {"count_include_pad", o.count_include_pad()}};
      break;
    }
    case OpKind::kConcat:
      j = {{"axis", n.concat().axis()}};
      break;
    case OpKind::kPad:
      j = {{"channels_before", n.pad().channels_before()},
           {"channels_after", n.pad().channels_after()},
           {"spatial", pads(n.pad().spatial())}, {"value", n.pad().value()}};
      break;
    case OpKind::kSlice:
      j = {{"start", n.slice().start()}, {"end", n.slice().end()}, {"step", n.slice().step()}};
      break;
    case OpKind::kSpiking:
      j = {{"soft", n.spiking().soft()}, {"g", act_name(n.spiking().g())},
           {"alpha", n.spiking().alpha()}};
      break;
    default:
      break;
  }
  return j;
}

std::string dot_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string Graph::to_string() const {
  std::ostringstream s;
  if (temporal()) s << "# temporal graph: " << time_steps_ << " time steps per sample\n";
  for (const auto& n : nodes_) {
    const Value& out = values_[static_cast<std::size_t>(n.output)];
    s << n.name << " = " << op_name(n.kind) << "(";
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      s << (i ? ", " : "") << values_[static_cast<std::size_t>(n.inputs[i])].name;
    }
    s << ")";
    if (!n.inputs.empty()) {
      s << " " << shape_str(values_[static_cast<std::size_t>(n.inputs[0])].shape) << " ->";
    }
    s << " " << shape_str(out.shape);
    const std::string opt = options_str(n);
    if (!opt.empty()) s << " " << opt;
    if (std::find(outputs_.begin(), outputs_.end(), n.output) != outputs_.end()) s << " (output)";
    s << "\n";
  }
  return s.str();
}

std::string Graph::to_dot() const {
  std::ostringstream s;
  s << "digraph cm {\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\"];\n";
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const auto& n = nodes_[i];
    std::string label = n.name + "\\n" + op_name(n.kind);
    const std::string opt = options_str(n);
    if (!opt.empty()) label += " " + opt;
    const char* style = n.has_matrix() ? ", style=filled, fillcolor=\"#cfe2f3\"" : "";
    s << "  n" << i << " [label=\"" << dot_escape(label) << "\"" << style << "];\n";
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    for (ValueId v : nodes_[i].inputs) {
      const Value& val = values_[static_cast<std::size_t>(v)];
      s << "  n" << val.producer << " -> n" << i << " [label=\"" << shape_str(val.shape)
        << "\"];\n";
    }
  }
  for (std::size_t k = 0; k < outputs_.size(); ++k) {
    const Value& val = values_[static_cast<std::size_t>(outputs_[k])];
    s << "  out" << k << " [label=\"output\", shape=ellipse];\n  n" << val.producer << " -> out"
      << k << " [label=\"" << shape_str(val.shape) << "\"];\n";
  }
  s << "}\n";
  return s.str();
}

std::string Graph::to_json() const {
  using nlohmann::json;
  json nodes = json::array();
  for (const auto& n : nodes_) {
    json inputs = json::array();
    for (ValueId v : n.inputs) inputs.push_back(values_[static_cast<std::size_t>(v)].name);
    json params = json::object();
    if (!n.weight.empty()) params["weight"] = n.weight.size();
    if (!n.bias.empty()) params["bias"] = n.bias.size();
    if (!n.running_mean.empty()) params["running_mean"] = n.running_mean.size();
    if (!n.running_var.empty()) params["running_var"] = n.running_var.size();
    nodes.push_back({{"name", n.name},
                     {"op", op_name(n.kind)},
                     {"inputs", inputs},
                     {"output", values_[static_cast<std::size_t>(n.output)].name},
                     {"shape", values_[static_cast<std::size_t>(n.output)].shape},
                     {"options", options_json(n)},
                     {"params", params}});
  }
  json outs = json::array();
  for (ValueId v : outputs_) outs.push_back(values_[static_cast<std::size_t>(v)].name);
  json j{{"nodes", nodes}, {"outputs", outs}};
  if (temporal()) j["time_steps"] = time_steps_;
  return j.dump(2) + "\n";
}

}  // namespace nc::cm
