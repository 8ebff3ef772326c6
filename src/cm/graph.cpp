#include "neurocore/cm/graph.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"

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

int64_t window_out(int64_t n, int64_t k, int64_t stride, int64_t pad_before, int64_t pad_after,
                   int64_t dilation, bool ceil_mode) {
  const int64_t span = n + pad_before + pad_after - dilation * (k - 1) - 1;
  if (span < 0) return 0;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  // PyTorch: in ceil mode the last window must start inside the input or the leading pad.
  if (ceil_mode && (out - 1) * stride >= n + pad_before) --out;
  return out;
}

namespace {

[[noreturn]] void bad(const Node& n, const std::string& what) {
  throw UserError("node '" + n.name + "' (" + op_name(n.kind) + "): " + what);
}

void need_rank(const Node& n, const Shape& s, std::size_t rank, const char* what) {
  if (s.size() != rank) {
    bad(n, std::string("input must be ") + what + ", got shape " + shape_str(s));
  }
}

void need_positive(const Node& n, const char* field, int64_t v) {
  if (v <= 0) bad(n, std::string(field) + " must be positive, got " + std::to_string(v));
}

void need_nonneg(const Node& n, const char* field, int64_t v) {
  if (v < 0) bad(n, std::string(field) + " must be >= 0, got " + std::to_string(v));
}

void check_window(const Node& n, Pair k, Pair s, const Pads& p, Pair d) {
  need_positive(n, "kernel height", k.h);
  need_positive(n, "kernel width", k.w);
  need_positive(n, "stride height", s.h);
  need_positive(n, "stride width", s.w);
  need_positive(n, "dilation height", d.h);
  need_positive(n, "dilation width", d.w);
  need_nonneg(n, "padding top", p.top);
  need_nonneg(n, "padding left", p.left);
  need_nonneg(n, "padding bottom", p.bottom);
  need_nonneg(n, "padding right", p.right);
}

Shape window_shape(const Node& n, const Shape& in, int64_t c_out, Pair k, Pair s, const Pads& p,
                   Pair d, bool ceil_mode) {
  const int64_t oh = window_out(in[1], k.h, s.h, p.top, p.bottom, d.h, ceil_mode);
  const int64_t ow = window_out(in[2], k.w, s.w, p.left, p.right, d.w, ceil_mode);
  if (oh <= 0 || ow <= 0) {
    bad(n, "a " + std::to_string(k.h) + "x" + std::to_string(k.w) + " window (dilation " +
               std::to_string(d.h) + "x" + std::to_string(d.w) + ") does not fit the input " +
               shape_str(in) + " with padding (" + std::to_string(p.top) + ", " +
               std::to_string(p.left) + ", " + std::to_string(p.bottom) + ", " +
               std::to_string(p.right) + ")");
  }
  return {c_out, oh, ow};
}

}  // namespace

Shape infer_shape(const Node& n, const std::vector<Shape>& in) {
  auto need_inputs = [&](std::size_t k) {
    if (in.size() != k) {
      bad(n, "expects " + std::to_string(k) + " input(s), got " + std::to_string(in.size()));
    }
  };
  switch (n.kind) {
    case OpKind::kInput: {
      need_inputs(0);
      bad(n, "an Input node's shape is given, not inferred");
    }
    case OpKind::kConv2d: {
      need_inputs(1);
      const auto& o = n.conv();
      need_rank(n, in[0], 3, "[C, H, W]");
      need_positive(n, "in_channels", o.in_channels());
      need_positive(n, "out_channels", o.out_channels());
      need_positive(n, "groups", o.groups());
      check_window(n, o.kernel_size(), o.stride(), o.padding(), o.dilation());
      if (in[0][0] != o.in_channels()) {
        bad(n, "input has " + std::to_string(in[0][0]) + " channels (shape " + shape_str(in[0]) +
                   "), expected in_channels = " + std::to_string(o.in_channels()));
      }
      if (o.in_channels() % o.groups() != 0 || o.out_channels() % o.groups() != 0) {
        bad(n, "groups = " + std::to_string(o.groups()) + " must divide in_channels = " +
                   std::to_string(o.in_channels()) + " and out_channels = " +
                   std::to_string(o.out_channels()));
      }
      return window_shape(n, in[0], o.out_channels(), o.kernel_size(), o.stride(), o.padding(),
                          o.dilation(), false);
    }
    case OpKind::kLinear: {
      need_inputs(1);
      const auto& o = n.linear();
      need_positive(n, "in_features", o.in_features());
      need_positive(n, "out_features", o.out_features());
      // A [C, 1, 1] input (after global pooling) is accepted as [C].
      const bool flat = in[0].size() == 1 ||
                        (in[0].size() == 3 && in[0][1] == 1 && in[0][2] == 1);
      if (!flat) bad(n, "input must be [F] or [F, 1, 1], got shape " + shape_str(in[0]));
      if (in[0][0] != o.in_features()) {
        bad(n, "input has " + std::to_string(in[0][0]) + " features, expected in_features = " +
                   std::to_string(o.in_features()));
      }
      return {o.out_features()};
    }
    case OpKind::kBatchNorm: {
      need_inputs(1);
      const auto& o = n.batch_norm();
      if (in[0].empty() || in[0][0] != o.num_features()) {
        bad(n, "input shape " + shape_str(in[0]) + " does not have num_features = " +
                   std::to_string(o.num_features()) + " channels");
      }
      if (!(o.eps() >= 0)) bad(n, "eps must be >= 0, got " + std::to_string(o.eps()));
      return in[0];
    }
    case OpKind::kActivation: {
      need_inputs(1);
      const auto& o = n.activation();
      if (o.kind() == ActKind::kClip && !(o.min() <= o.max())) {
        bad(n, "Clip needs min <= max, got [" + std::to_string(o.min()) + ", " +
                   std::to_string(o.max()) + "]");
      }
      return in[0];
    }
    case OpKind::kSpiking: {
      need_inputs(1);
      const ActKind g = n.spiking().g();
      if (g != ActKind::kIdentity && g != ActKind::kReLU && g != ActKind::kLeakyReLU) {
        bad(n, std::string("the membrane function g must be Identity, ReLU or LeakyReLU, got ") +
                   act_name(g));
      }
      if (in[0].empty()) bad(n, "input must have at least one dimension");
      return in[0];
    }
    case OpKind::kAdd: {
      if (in.size() < 2) bad(n, "expects at least 2 inputs, got " + std::to_string(in.size()));
      for (std::size_t i = 1; i < in.size(); ++i) {
        if (in[i] != in[0]) {
          bad(n, "input " + std::to_string(i) + " has shape " + shape_str(in[i]) +
                     ", expected the shape of input 0, " + shape_str(in[0]));
        }
      }
      return in[0];
    }
    case OpKind::kConcat: {
      if (in.empty()) bad(n, "expects at least 1 input");
      const int64_t rank = static_cast<int64_t>(in[0].size());
      const int64_t axis = n.concat().axis();
      if (axis < 0 || axis >= rank) {
        bad(n, "axis must be in [0, " + std::to_string(rank - 1) + "], got " +
                   std::to_string(axis));
      }
      Shape out = in[0];
      for (std::size_t i = 1; i < in.size(); ++i) {
        bool ok = in[i].size() == in[0].size();
        for (int64_t d = 0; ok && d < rank; ++d) ok = d == axis || in[i][d] == in[0][d];
        if (!ok) {
          bad(n, "input " + std::to_string(i) + " has shape " + shape_str(in[i]) +
                     ", which differs from input 0, " + shape_str(in[0]) +
                     ", outside axis " + std::to_string(axis));
        }
        out[axis] += in[i][axis];
      }
      return out;
    }
    case OpKind::kMaxPool:
    case OpKind::kAvgPool: {
      need_inputs(1);
      const auto& o = n.pool();
      need_rank(n, in[0], 3, "[C, H, W]");
      check_window(n, o.kernel_size(), o.stride(), o.padding(), o.dilation());
      // PyTorch's rule: padding at most half the kernel, so no window lies in padding only.
      if (o.padding().top * 2 > o.kernel_size().h || o.padding().bottom * 2 > o.kernel_size().h ||
          o.padding().left * 2 > o.kernel_size().w || o.padding().right * 2 > o.kernel_size().w) {
        bad(n, "padding must be at most half the kernel size " +
                   std::to_string(o.kernel_size().h) + "x" + std::to_string(o.kernel_size().w));
      }
      if (n.kind == OpKind::kAvgPool && !(o.dilation() == Pair(1))) {
        bad(n, "AvgPool has no dilation, got " + std::to_string(o.dilation().h) + "x" +
                   std::to_string(o.dilation().w));
      }
      return window_shape(n, in[0], in[0][0], o.kernel_size(), o.stride(), o.padding(),
                          o.dilation(), o.ceil_mode());
    }
    case OpKind::kGlobalAvgPool:
      need_inputs(1);
      need_rank(n, in[0], 3, "[C, H, W]");
      return {in[0][0], 1, 1};
    case OpKind::kFlatten:
      need_inputs(1);
      return {numel(in[0])};
    case OpKind::kPad: {
      need_inputs(1);
      const auto& o = n.pad();
      need_rank(n, in[0], 3, "[C, H, W]");
      need_nonneg(n, "channels_before", o.channels_before());
      need_nonneg(n, "channels_after", o.channels_after());
      need_nonneg(n, "padding top", o.spatial().top);
      need_nonneg(n, "padding left", o.spatial().left);
      need_nonneg(n, "padding bottom", o.spatial().bottom);
      need_nonneg(n, "padding right", o.spatial().right);
      return {in[0][0] + o.channels_before() + o.channels_after(),
              in[0][1] + o.spatial().top + o.spatial().bottom,
              in[0][2] + o.spatial().left + o.spatial().right};
    }
    case OpKind::kSlice: {
      need_inputs(1);
      const auto& o = n.slice();
      need_rank(n, in[0], 3, "[C, H, W]");
      if (o.start().size() != 3 || o.end().size() != 3 || o.step().size() != 3) {
        bad(n, "start, end and step need 3 entries (C, H, W)");
      }
      Shape out(3);
      for (int d = 0; d < 3; ++d) {
        const int64_t end = std::min(o.end()[d], in[0][d]);
        if (o.step()[d] <= 0) bad(n, "step must be positive, got " + std::to_string(o.step()[d]));
        if (o.start()[d] < 0 || o.start()[d] >= end) {
          bad(n, "start " + std::to_string(o.start()[d]) + " on axis " + std::to_string(d) +
                     " must be in [0, " + std::to_string(end) + ")");
        }
        out[d] = (end - o.start()[d] + o.step()[d] - 1) / o.step()[d];
      }
      return out;
    }
  }
  throw InternalError("infer_shape: unknown op kind");
}

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

void Graph::infer_shapes() {
  for (auto& n : nodes_) {
    if (n.kind == OpKind::kInput) continue;
    std::vector<Shape> shapes;
    for (ValueId id : n.inputs) shapes.push_back(values_[static_cast<std::size_t>(id)].shape);
    values_[static_cast<std::size_t>(n.output)].shape = infer_shape(n, shapes);
    check_params(n);
  }
}

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
