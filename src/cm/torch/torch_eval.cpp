// cm::Graph evaluated with LibTorch's kernels (see the header). One case per op kind; the
// semantics are those documented in graph.h, which follow PyTorch's.
#include "neurocore/cm/torch/torch_eval.h"

#include <torch/torch.h>

#include <limits>

#include "neurocore/core/error.h"

namespace nc::cm {

namespace {

torch::Tensor param(const Node& n, const std::vector<float>& v, std::vector<int64_t> shape,
                    const char* what, const torch::Tensor& like) {
  if (v.empty()) {
    throw UserError("graph node '" + n.name + "' has no " + what +
                    " values (a shape-only graph cannot be evaluated)");
  }
  return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat)
      .to(like.dtype())
      .clone();
}

// Spatial pads (left, right, top, bottom) applied explicitly, for ops whose LibTorch kernel
// only takes symmetric padding.
torch::Tensor pad_spatial(const torch::Tensor& x, const Pads& p, double value) {
  if (p == Pads(0)) return x;
  return torch::constant_pad_nd(x, {p.left, p.right, p.top, p.bottom}, value);
}

bool symmetric(const Pads& p) { return p.top == p.bottom && p.left == p.right; }

torch::Tensor eval_conv(const Node& n, const torch::Tensor& x) {
  const auto& o = n.conv();
  const auto w = param(n, n.weight,
                       {o.out_channels(), o.in_channels() / o.groups(), o.kernel_size().h,
                        o.kernel_size().w},
                       "weight", x);
  torch::Tensor b;
  if (o.bias()) b = param(n, n.bias, {o.out_channels()}, "bias", x);
  const std::vector<int64_t> stride{o.stride().h, o.stride().w}, zero{0, 0},
      dilation{o.dilation().h, o.dilation().w};
  return torch::conv2d(pad_spatial(x, o.padding(), 0.0), w, b, stride, zero, dilation,
                       o.groups());
}

torch::Tensor eval_pool(const Node& n, const torch::Tensor& x) {
  const auto& o = n.pool();
  const std::vector<int64_t> k{o.kernel_size().h, o.kernel_size().w},
      s{o.stride().h, o.stride().w}, d{o.dilation().h, o.dilation().w};
  const Pads& p = o.padding();
  if (n.kind == OpKind::kMaxPool) {
    if (symmetric(p)) return torch::max_pool2d(x, k, s, {p.top, p.left}, d, o.ceil_mode());
    return torch::max_pool2d(pad_spatial(x, p, -std::numeric_limits<double>::infinity()), k, s,
                             {0, 0}, d, o.ceil_mode());
  }
  if (!symmetric(p) || !(o.dilation() == Pair(1))) {
    throw UserError("graph node '" + n.name +
                    "': average pooling with asymmetric padding or dilation has no LibTorch "
                    "reference");
  }
  return torch::avg_pool2d(x, k, s, {p.top, p.left}, o.ceil_mode(), o.count_include_pad());
}

torch::Tensor eval_activation(const Node& n, const torch::Tensor& x) {
  const auto& o = n.activation();
  switch (o.kind()) {
    case ActKind::kReLU: return torch::relu(x);
    case ActKind::kReLU6: return torch::clamp(x, 0.0, 6.0);
    case ActKind::kLeakyReLU: return torch::leaky_relu(x, o.alpha());
    case ActKind::kSigmoid: return torch::sigmoid(x);
    case ActKind::kTanh: return torch::tanh(x);
    case ActKind::kClip: return torch::clamp(x, o.min(), o.max());
    case ActKind::kIdentity: return x;
  }
  throw UserError("graph node '" + n.name + "': unknown activation");
}

// A matrix node's input after the node's quantizer, computed in float by InputQuant itself
// (the quantized model's arithmetic), else unchanged.
torch::Tensor quantized_input(const Node& n, const torch::Tensor& x) {
  if (!n.input_quant) return x;
  auto q = x.to(torch::kFloat).contiguous().clone();
  float* p = q.data_ptr<float>();
  for (int64_t i = 0; i < q.numel(); ++i) p[i] = n.input_quant->apply(p[i]);
  return q.to(x.scalar_type());
}

torch::Tensor eval_node(const Node& n, const std::vector<torch::Tensor>& in) {
  switch (n.kind) {
    case OpKind::kConv2d: return eval_conv(n, quantized_input(n, in[0]));
    case OpKind::kLinear: {
      const auto& o = n.linear();
      const auto x = quantized_input(n, in[0]);
      const auto w = param(n, n.weight, {o.out_features(), o.in_features()}, "weight", x);
      torch::Tensor b;
      if (o.bias()) b = param(n, n.bias, {o.out_features()}, "bias", x);
      return torch::linear(x, w, b);
    }
    case OpKind::kBatchNorm: {
      const int64_t c = n.batch_norm().num_features();
      return torch::batch_norm(in[0], param(n, n.weight, {c}, "gamma", in[0]),
                               param(n, n.bias, {c}, "beta", in[0]),
                               param(n, n.running_mean, {c}, "running mean", in[0]),
                               param(n, n.running_var, {c}, "running variance", in[0]),
                               /*training=*/false, 0.0, n.batch_norm().eps(), false);
    }
    case OpKind::kActivation: return eval_activation(n, in[0]);
    case OpKind::kAdd: {
      torch::Tensor s = in[0];
      for (std::size_t i = 1; i < in.size(); ++i) s = s + in[i];
      return s;
    }
    case OpKind::kConcat: return torch::cat(in, n.concat().axis() + 1);
    case OpKind::kMaxPool:
    case OpKind::kAvgPool: return eval_pool(n, in[0]);
    case OpKind::kGlobalAvgPool: return torch::adaptive_avg_pool2d(in[0], {1, 1});
    case OpKind::kFlatten: return in[0].flatten(1);
    case OpKind::kPad: {
      const auto& o = n.pad();
      const Pads& p = o.spatial();
      return torch::constant_pad_nd(
          in[0], {p.left, p.right, p.top, p.bottom, o.channels_before(), o.channels_after()},
          o.value());
    }
    case OpKind::kSlice: {
      const auto& o = n.slice();
      torch::Tensor y = in[0];
      for (int64_t a = 0; a < 3; ++a) {
        const auto i = static_cast<std::size_t>(a);
        y = y.slice(a + 1, o.start()[i], std::min(o.end()[i], y.size(a + 1)), o.step()[i]);
      }
      return y;
    }
    case OpKind::kInput:
    case OpKind::kSpiking:  // stateful: eval_spiking
      break;
  }
  throw UserError("graph node '" + n.name + "': op " + op_name(n.kind) + " cannot be evaluated");
}

// One Spiking node's step on a batch, with LibTorch ops in nn::SNUCell's order; `s`, `y` are
// its state (undefined: zero), updated.
torch::Tensor eval_spiking(const Node& n, const torch::Tensor& x, torch::Tensor& s, torch::Tensor& y) {
  const Shape shape(x.sizes().begin() + 1, x.sizes().end());
  const int64_t c = shape.size() == 3 ? shape[0] : numel(shape);
  Shape per_channel{c};  // broadcast over the pixels of an image-like value
  if (shape.size() == 3) per_channel = {c, 1, 1};
  const auto d = param(n, n.weight, per_channel, "decay", x);
  const auto th = param(n, n.bias, per_channel, "threshold", x);
  if (!s.defined()) s = torch::zeros_like(x), y = torch::zeros_like(x);
  torch::Tensor u = x + d * s * (1 - y);
  const auto& o = n.spiking();
  if (o.g() == ActKind::kReLU) u = torch::relu(u);
  if (o.g() == ActKind::kLeakyReLU) u = torch::leaky_relu(u, o.alpha());
  s = u;
  const torch::Tensor z = u - th;
  y = o.soft() ? torch::sigmoid(z) : z.gt(0).to(z.scalar_type());
  return y;
}

// Every value of one frame; `state` holds the Spiking nodes' (s, y), indexed by NodeId.
std::vector<torch::Tensor> evaluate_frame(const Graph& g, const torch::Tensor& input,
                                          std::vector<std::pair<torch::Tensor, torch::Tensor>>& state) {
  std::vector<torch::Tensor> values(g.values().size());
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    if (n.kind == OpKind::kInput) {
      values[static_cast<std::size_t>(n.output)] = input;
      continue;
    }
    std::vector<torch::Tensor> in;
    for (ValueId v : n.inputs) in.push_back(values[static_cast<std::size_t>(v)]);
    values[static_cast<std::size_t>(n.output)] =
        n.kind == OpKind::kSpiking ? eval_spiking(n, in[0], state[i].first, state[i].second)
                                   : eval_node(n, in);
  }
  return values;
}

}  // namespace

std::vector<torch::Tensor> evaluate_with_torch(const Graph& g, const torch::Tensor& input) {
  const auto graph_inputs = g.inputs();
  if (graph_inputs.size() != 1) {
    throw UserError("evaluate_with_torch: the graph has " + std::to_string(graph_inputs.size()) +
                    " inputs; exactly one is supported");
  }
  const Shape& expected = g.value(graph_inputs[0]).shape;
  const int64_t lead = g.temporal() ? 2 : 1;  // [T, B, ...] or [B, ...]
  if (input.dim() != static_cast<int64_t>(expected.size()) + lead ||
      input.sizes().slice(lead).vec() != expected ||
      (g.temporal() && input.size(0) != g.time_steps())) {
    throw UserError("evaluate_with_torch: input must be [" +
                    (g.temporal() ? std::to_string(g.time_steps()) + " (time steps), " : std::string()) +
                    "B, " + shape_str(expected).substr(1) + ", got " + shape_str(input.sizes().vec()));
  }
  torch::NoGradGuard no_grad;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> state(g.nodes().size());
  std::vector<ValueId> outs = g.outputs();
  if (outs.empty() && !g.nodes().empty()) outs.push_back(g.nodes().back().output);
  std::vector<std::vector<torch::Tensor>> frames(outs.size());  // per output: every frame's value
  for (int64_t t = 0; t < g.frames_per_sample(); ++t) {
    const auto values = evaluate_frame(g, g.temporal() ? input[t] : input, state);
    for (std::size_t k = 0; k < outs.size(); ++k) {
      frames[k].push_back(values[static_cast<std::size_t>(outs[k])]);
    }
  }
  std::vector<torch::Tensor> out;
  for (auto& f : frames) out.push_back(g.temporal() ? torch::stack(f) : f[0]);
  return out;
}

}  // namespace nc::cm
