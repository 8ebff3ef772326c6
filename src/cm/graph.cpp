#include "neurocore/cm/graph.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "graph_internal.h"
#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"

// The graph IR core: node and op names, building a graph node by node (each checked as it is
// added), lookups. Shape inference: shape_inference.cpp; passes: passes.cpp; text, DOT and
// JSON forms: graph_io.cpp.

namespace nc::cm {

float InputQuant::apply(float x) const {
  const float v = x / scale + zero_point;
  const float lo = static_cast<float>(qmin), hi = static_cast<float>(qmax);
  const float c = v < lo ? lo : (v > hi ? hi : v);
  return (std::nearbyint(c) - zero_point) * scale;
}

void InputQuant::apply(std::vector<float>& xs) const {
  for (float& x : xs) x = apply(x);
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

const char* op_name(OpKind k) {
  switch (k) {
    case OpKind::kInput: return "Input";
    case OpKind::kConv2d: return "Conv2d";
    case OpKind::kLinear: return "Linear";
    case OpKind::kBatchNorm: return "BatchNorm";
    case OpKind::kActivation: return "Activation";
    case OpKind::kAdd: return "Add";
    case OpKind::kConcat: return "Concat";
    case OpKind::kMaxPool: return "MaxPool";
    case OpKind::kAvgPool: return "AvgPool";
    case OpKind::kGlobalAvgPool: return "GlobalAvgPool";
    case OpKind::kFlatten: return "Flatten";
    case OpKind::kPad: return "Pad";
    case OpKind::kSlice: return "Slice";
    case OpKind::kSpiking: return "Spiking";
  }
  return "?";
}

const char* act_name(ActKind k) {
  switch (k) {
    case ActKind::kReLU: return "ReLU";
    case ActKind::kReLU6: return "ReLU6";
    case ActKind::kLeakyReLU: return "LeakyReLU";
    case ActKind::kSigmoid: return "Sigmoid";
    case ActKind::kTanh: return "Tanh";
    case ActKind::kClip: return "Clip";
    case ActKind::kIdentity: return "Identity";
  }
  return "?";
}

namespace detail {

void bad(const Node& n, const std::string& what) {
  throw UserError("node '" + n.name + "' (" + op_name(n.kind) + "): " + what);
}

}  // namespace detail

using detail::bad;

std::string Graph::unique_name(const std::string& base) {
  std::string lower = base;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (;;) {
    std::string name = lower + "_" + std::to_string(counter_++);
    bool used = false;
    for (const auto& n : nodes_) used = used || n.name == name;
    if (!used) return name;
  }
}

void Graph::check_params(const Node& n) const {
  auto need = [&](const std::vector<float>& v, int64_t size, const char* what) {
    if (!v.empty() && static_cast<int64_t>(v.size()) != size) {
      bad(n, std::string(what) + " has " + std::to_string(v.size()) + " values, expected " +
                 std::to_string(size));
    }
  };
  if (n.kind == OpKind::kConv2d) {
    const auto& o = n.conv();
    need(n.weight, o.out_channels() * (o.in_channels() / o.groups()) * o.kernel_size().h *
                       o.kernel_size().w, "weight [out, in/groups, kh, kw]");
    need(n.bias, o.out_channels(), "bias [out]");
    if (!o.bias() && !n.bias.empty()) bad(n, "has a bias but bias = false");
  } else if (n.kind == OpKind::kLinear) {
    const auto& o = n.linear();
    need(n.weight, o.out_features() * o.in_features(), "weight [out, in]");
    need(n.bias, o.out_features(), "bias [out]");
    if (!o.bias() && !n.bias.empty()) bad(n, "has a bias but bias = false");
  } else if (n.kind == OpKind::kBatchNorm) {
    const int64_t c = n.batch_norm().num_features();
    need(n.weight, c, "gamma");
    need(n.bias, c, "beta");
    need(n.running_mean, c, "running_mean");
    need(n.running_var, c, "running_var");
    const bool any = !n.weight.empty() || !n.bias.empty() || !n.running_mean.empty() ||
                     !n.running_var.empty();
    const bool all = !n.weight.empty() && !n.bias.empty() && !n.running_mean.empty() &&
                     !n.running_var.empty();
    if (any && !all) bad(n, "needs all of gamma, beta, running_mean, running_var, or none");
    for (float v : n.running_var) {
      if (!(v >= 0)) bad(n, "running_var must be >= 0, got " + std::to_string(v));
    }
  } else if (n.kind == OpKind::kSpiking) {
    const Shape& s = values_[static_cast<std::size_t>(n.inputs.at(0))].shape;
    const int64_t c = s.size() == 3 ? s[0] : numel(s);
    need(n.weight, c, "decay [C]");
    need(n.bias, c, "threshold [C]");
    if (n.weight.empty() != n.bias.empty()) bad(n, "needs both decay and threshold, or neither");
    if (!temporal()) {
      bad(n, "a Spiking node needs a temporal graph (set_time_steps before adding it)");
    }
  } else if (!n.weight.empty() || !n.bias.empty()) {
    bad(n, "this op has no parameters");
  }
}

ValueId Graph::finish_node(Node n) {
  for (const auto& other : nodes_) {
    if (other.name == n.name) throw UserError("duplicate node name '" + n.name + "'");
  }
  Value v;
  v.name = n.name;
  if (n.kind == OpKind::kInput) {
    if (!n.inputs.empty()) bad(n, "an Input node has no inputs");
    if (n.options.index() != 0) bad(n, "an Input node has no options");
    if (values_.size() > static_cast<std::size_t>(INT32_MAX)) throw InternalError("graph too large");
    if (n.running_mean.size() || n.running_var.size()) bad(n, "this op has no parameters");
  } else {
    std::vector<Shape> shapes;
    for (ValueId id : n.inputs) {
      if (id < 0 || id >= static_cast<ValueId>(values_.size())) {
        bad(n, "input value id " + std::to_string(id) + " does not exist");
      }
      shapes.push_back(values_[static_cast<std::size_t>(id)].shape);
    }
    v.shape = infer_shape(n, shapes);
  }
  check_params(n);
  const NodeId nid = static_cast<NodeId>(nodes_.size());
  const ValueId vid = static_cast<ValueId>(values_.size());
  v.producer = nid;
  n.output = vid;
  for (ValueId id : n.inputs) values_[static_cast<std::size_t>(id)].consumers.push_back(nid);
  nodes_.push_back(std::move(n));
  values_.push_back(std::move(v));
  return vid;
}

ValueId Graph::add_node(Node n) {
  if (n.name.empty()) n.name = unique_name(op_name(n.kind));
  if (n.kind == OpKind::kInput) {
    throw UserError("node '" + n.name + "': use Graph::input to add an Input node");
  }
  return finish_node(std::move(n));
}

ValueId Graph::input(const std::string& name, const Shape& shape) {
  Node n;
  n.name = name.empty() ? unique_name("input") : name;
  n.kind = OpKind::kInput;
  if (shape.empty()) bad(n, "shape must not be empty");
  for (auto d : shape) {
    if (d <= 0) bad(n, "every dimension must be positive, got shape " + shape_str(shape));
  }
  const ValueId vid = finish_node(std::move(n));
  values_.back().shape = shape;
  return vid;
}

namespace {
Node make(OpKind kind, std::vector<ValueId> inputs, NodeOptions opt, const std::string& name) {
  Node n;
  n.kind = kind;
  n.inputs = std::move(inputs);
  n.options = std::move(opt);
  n.name = name;
  return n;
}
}  // namespace

ValueId Graph::conv2d(ValueId x, const Conv2dOptions& o, const std::string& name,
                      std::vector<float> weight, std::vector<float> bias) {
  Node n = make(OpKind::kConv2d, {x}, o, name);
  n.weight = std::move(weight);
  n.bias = std::move(bias);
  return add_node(std::move(n));
}

ValueId Graph::linear(ValueId x, const LinearOptions& o, const std::string& name,
                      std::vector<float> weight, std::vector<float> bias) {
  Node n = make(OpKind::kLinear, {x}, o, name);
  n.weight = std::move(weight);
  n.bias = std::move(bias);
  return add_node(std::move(n));
}

ValueId Graph::batch_norm(ValueId x, const BatchNormOptions& o, const std::string& name,
                          std::vector<float> gamma, std::vector<float> beta,
                          std::vector<float> mean, std::vector<float> var) {
  Node n = make(OpKind::kBatchNorm, {x}, o, name);
  n.weight = std::move(gamma);
  n.bias = std::move(beta);
  n.running_mean = std::move(mean);
  n.running_var = std::move(var);
  return add_node(std::move(n));
}

ValueId Graph::spiking(ValueId x, const SpikingOptions& o, const std::string& name,
                       std::vector<float> decay, std::vector<float> threshold) {
  Node n = make(OpKind::kSpiking, {x}, o, name);
  n.weight = std::move(decay);
  n.bias = std::move(threshold);
  return add_node(std::move(n));
}

void Graph::set_time_steps(int64_t steps) {
  if (steps < 1) {
    throw UserError("graph: time steps must be at least 1, got " + std::to_string(steps));
  }
  time_steps_ = steps;
}

ValueId Graph::activation(ValueId x, const ActivationOptions& o, const std::string& name) {
  return add_node(make(OpKind::kActivation, {x}, o, name));
}
ValueId Graph::add(const std::vector<ValueId>& xs, const std::string& name) {
  return add_node(make(OpKind::kAdd, xs, {}, name));
}
ValueId Graph::concat(const std::vector<ValueId>& xs, const ConcatOptions& o,
                      const std::string& name) {
  return add_node(make(OpKind::kConcat, xs, o, name));
}
ValueId Graph::max_pool(ValueId x, const PoolOptions& o, const std::string& name) {
  return add_node(make(OpKind::kMaxPool, {x}, o, name));
}
ValueId Graph::avg_pool(ValueId x, const PoolOptions& o, const std::string& name) {
  return add_node(make(OpKind::kAvgPool, {x}, o, name));
}
ValueId Graph::global_avg_pool(ValueId x, const std::string& name) {
  return add_node(make(OpKind::kGlobalAvgPool, {x}, {}, name));
}
ValueId Graph::flatten(ValueId x, const std::string& name) {
  return add_node(make(OpKind::kFlatten, {x}, {}, name));
}
ValueId Graph::pad(ValueId x, const PadOptions& o, const std::string& name) {
  return add_node(make(OpKind::kPad, {x}, o, name));
}
ValueId Graph::slice(ValueId x, const SliceOptions& o, const std::string& name) {
  return add_node(make(OpKind::kSlice, {x}, o, name));
}

void Graph::mark_output(ValueId v) {
  if (v < 0 || v >= static_cast<ValueId>(values_.size())) {
    throw UserError("mark_output: value id " + std::to_string(v) + " does not exist");
  }
  if (std::find(outputs_.begin(), outputs_.end(), v) == outputs_.end()) outputs_.push_back(v);
}

std::vector<ValueId> Graph::inputs() const {
  std::vector<ValueId> out;
  for (const auto& n : nodes_)
    if (n.kind == OpKind::kInput) out.push_back(n.output);
  return out;
}

NodeId Graph::find_node(const std::string& name) const {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].name == name) return static_cast<NodeId>(i);
    names.push_back(nodes_[i].name);
  }
  const std::string hint = closest_match(name, names);
  throw UserError("no node named '" + name + "'" +
                  (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
}

}  // namespace nc::cm
