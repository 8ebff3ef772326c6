#include "neurocore/compress/quant_net.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <map>
#include <regex>
#include <sstream>

#include "neurocore/compress/partial.h"
#include "neurocore/core/error.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"

namespace nc::compress {

Bits parse_bits(const std::string& text, const std::string& field) {
  static const std::regex re("[Ww]([0-9]+)[Aa]([0-9]+)");
  std::smatch m;
  if (!std::regex_match(text, m, re)) {
    throw UserError(field + ": expected W<bits>A<bits> such as W8A8, W4A8 or W4A4, got '" +
                    text + "'");
  }
  Bits b{std::stoi(m[1].str()), std::stoi(m[2].str())};
  check_bits(b.weights, field + " (weights)");
  check_bits(b.activations, field + " (activations)");
  return b;
}

std::string to_string(const Bits& b) {
  return "W" + std::to_string(b.weights) + "A" + std::to_string(b.activations);
}

namespace {

namespace F = torch::nn;

void fold_pair(F::Conv2dImpl& conv, F::BatchNorm2dImpl& bn) {
  torch::NoGradGuard no_grad;
  const auto sigma = torch::sqrt(bn.running_var + bn.options.eps());
  const auto gain = bn.weight / sigma;  // γ/σ per output channel
  const auto old_bias = conv.bias.defined() ? conv.bias.clone() : torch::zeros_like(bn.bias);
  conv.weight.mul_(gain.reshape({-1, 1, 1, 1}));
  const auto new_bias = bn.bias + gain * (old_bias - bn.running_mean);
  if (conv.bias.defined()) {
    conv.bias.copy_(new_bias);
  } else {
    // Conv2dImpl's forward reads the member. The conv already registered an undefined
    // "bias" that cannot be replaced; QuantNet registers the new tensor under its own name.
    conv.bias = new_bias.detach().clone().set_requires_grad(true);
  }
  bn.weight.fill_(1);
  bn.bias.fill_(0);
  bn.running_mean.fill_(0);
  bn.running_var.fill_(1);
  bn.options.eps(0);
  bn.weight.set_requires_grad(false);
  bn.bias.set_requires_grad(false);
}

}  // namespace

int fold_batchnorm(nn::NetImpl& net) {
  auto* res = dynamic_cast<nn::ResNetImpl*>(&net);
  if (!res) return 0;
  int folded = 0;
  fold_pair(*res->conv1, *res->bn1);
  ++folded;
  for (const auto* stage : {&res->stage1, &res->stage2, &res->stage3}) {
    for (size_t i = 0; i < (*stage)->size(); ++i) {
      auto b = (*stage)->ptr<nn::BasicBlockImpl>(i);
      fold_pair(*b->conv1, *b->bn1);
      fold_pair(*b->conv2, *b->bn2);
      folded += 2;
      if (b->projection->size() == 2) {  // option B (a select shortcut has no BN)
        // Sequential::ptr<T> cannot name BatchNorm2dImpl (its forward is inherited).
        fold_pair(*std::dynamic_pointer_cast<F::Conv2dImpl>(b->projection->ptr(0)),
                  *std::dynamic_pointer_cast<F::BatchNorm2dImpl>(b->projection->ptr(1)));
        ++folded;
      }
    }
  }
  return folded;
}

torch::Tensor& QuantLayer::weight() const { return conv ? conv->weight : linear->weight; }
torch::Tensor& QuantLayer::bias() const { return conv ? conv->bias : linear->bias; }

QuantNetImpl::QuantNetImpl(std::shared_ptr<nn::NetImpl> net, QuantConfig config)
    : net_(std::move(net)), config_(config) {
  check_bits(config_.first_bits, "first layer bits");
  check_bits(config_.last_bits, "last layer bits");
  std::vector<std::shared_ptr<torch::nn::Module>> order;
  if (auto* mlp = dynamic_cast<nn::MLPImpl*>(net_.get())) {
    kind_ = Kind::mlp;
    for (size_t i = 0; i < mlp->layers->size(); ++i) order.push_back(mlp->layers->ptr(i));
  } else if (auto* le = dynamic_cast<nn::LeNet5Impl*>(net_.get())) {
    kind_ = Kind::lenet;
    order = {le->conv1.ptr(), le->conv2.ptr(), le->fc1.ptr(), le->fc2.ptr(), le->fc3.ptr()};
  } else if (auto* res = dynamic_cast<nn::ResNetImpl*>(net_.get())) {
    kind_ = Kind::resnet;
    order.push_back(res->conv1.ptr());
    for (const auto* stage : {&res->stage1, &res->stage2, &res->stage3}) {
      for (size_t i = 0; i < (*stage)->size(); ++i) {
        auto b = (*stage)->ptr<nn::BasicBlockImpl>(i);
        order.push_back(b->conv1.ptr());
        order.push_back(b->conv2.ptr());
        if (!b->projection->is_empty()) order.push_back(b->projection->ptr(0));
      }
    }
    order.push_back(res->fc.ptr());
  } else {
    throw UserError("quantize: supported models are mlp, lenet5 and resnet*; this model (" +
                    std::string(net_->temporal() ? "temporal/spiking" : "unknown type") +
                    ") is not");
  }
  fold_batchnorm(*net_);
  register_module("net", net_);
  std::map<const torch::nn::Module*, std::string> names;
  for (const auto& item : net_->named_modules()) names[item.value().get()] = item.key();

  for (size_t i = 0; i < order.size(); ++i) {
    QuantLayer l;
    l.name = names[order[i].get()];
    l.conv = std::dynamic_pointer_cast<torch::nn::Conv2dImpl>(order[i]);
    l.linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(order[i]);
    TORCH_CHECK(l.conv || l.linear, "quant: layer ", l.name, " is neither Conv2d nor Linear");
    const bool edge = i == 0 || i + 1 == order.size();
    const int wb = i == 0 ? config_.first_bits
                          : (i + 1 == order.size() ? config_.last_bits : config_.bits.weights);
    const int ab = edge ? (i == 0 ? config_.first_bits : config_.last_bits)
                        : config_.bits.activations;
    QuantSpec ws;
    ws.bits = wb;
    ws.per_channel = true;
    ws.restricted = config_.restricted;
    ws.learnable = config_.learnable;
    QuantSpec as;
    as.bits = ab;
    as.learnable = config_.learnable;
    l.weight_q = register_module("wq" + std::to_string(i), FakeQuantizer(ws, l.out_channels()));
    l.input_q = register_module("aq" + std::to_string(i), FakeQuantizer(as, 1));
    l.rows = torch::arange(l.out_channels(), torch::kLong);
    const auto own = order[i]->named_parameters(false);
    const auto* registered = own.find("bias");
    if (l.bias().defined() && !(registered && registered->defined())) {
      // A bias created by BN folding: saved and loaded with the QuantNet.
      register_parameter("folded_bias" + std::to_string(i), l.bias());
    }
    layers_.push_back(std::move(l));
  }
}

torch::Tensor QuantNetImpl::layer(size_t i, const torch::Tensor& x_in) {
  QuantLayer& l = layers_[i];
  if (calibrating_) {
    l.observer.observe(x_in);
    torch::NoGradGuard no_grad;
    const auto mean = l.conv ? x_in.mean({0, 2, 3}) : x_in.mean(0);
    l.input_sum = l.input_sum.defined() ? l.input_sum + mean : mean.clone();
    ++l.input_batches;
  }
  const auto x = l.input_q->forward(x_in);
  const auto w = l.weight_q->forward(l.weight());
  const auto& b = l.bias();
  torch::Tensor y;
  if (l.conv) {
    const auto& o = l.conv->options;
    if (partial_) {
      ConvGeometry g;
      g.stride = torch::IntArrayRef(o.stride()).vec();
      g.padding = torch::IntArrayRef(c10::get<torch::ExpandingArray<2>>(o.padding())).vec();
      g.dilation = torch::IntArrayRef(o.dilation()).vec();
      g.groups = o.groups();
      y = partial_conv2d(x, w, b, l.rows, g);
    } else {
      y = torch::conv2d(x, w, b, o.stride(), c10::get<torch::ExpandingArray<2>>(o.padding()),
                        o.dilation(), o.groups());
    }
  } else {
    y = partial_ ? partial_linear(x, w, b, l.rows) : torch::linear(x, w, b);
  }
  l.m = y.numel() / std::max<int64_t>(1, y.size(1));
  l.input_grad = x.requires_grad();
  return y;
}

torch::Tensor QuantNetImpl::forward_mlp(const torch::Tensor& x) {
  auto* mlp = static_cast<nn::MLPImpl*>(net_.get());
  if (x.dim() < 2 || x.flatten(1).size(1) != mlp->options.in()) {
    std::ostringstream os;
    os << "mlp: input must be [B, C, H, W] with " << mlp->options.in()
       << " features per sample, got " << x.sizes();
    throw UserError(os.str());
  }
  auto h = x.flatten(1);
  for (size_t i = 0; i < layers_.size(); ++i) {
    h = layer(i, h);
    if (i + 1 == layers_.size()) break;
    switch (mlp->options.activation()) {
      case nn::MLPActivation::relu: h = torch::relu(h); break;
      case nn::MLPActivation::tanh: h = torch::tanh(h); break;
      case nn::MLPActivation::sigmoid: h = torch::sigmoid(h); break;
    }
  }
  return h;
}

torch::Tensor QuantNetImpl::forward_lenet(const torch::Tensor& x) {
  auto h = torch::max_pool2d(torch::relu(layer(0, x)), 2);
  h = torch::max_pool2d(torch::relu(layer(1, h)), 2);
  h = torch::relu(layer(2, h.flatten(1)));
  h = torch::relu(layer(3, h));
  return layer(4, h);
}

torch::Tensor QuantNetImpl::forward_resnet(const torch::Tensor& x) {
  auto* res = static_cast<nn::ResNetImpl*>(net_.get());
  if (x.dim() != 4 || x.size(1) != res->options.in_channels()) {
    std::ostringstream os;
    os << "resnet: input must be [B, " << res->options.in_channels() << ", H, W], got "
       << x.sizes();
    throw UserError(os.str());
  }
  // BN is folded into each conv (the bn modules are identities and are skipped).
  size_t i = 0;
  auto h = torch::relu(layer(i++, x));
  for (const auto* stage : {&res->stage1, &res->stage2, &res->stage3}) {
    for (size_t j = 0; j < (*stage)->size(); ++j) {
      auto b = (*stage)->ptr<nn::BasicBlockImpl>(j);
      auto out = torch::relu(layer(i++, h));
      out = layer(i++, out);
      torch::Tensor shortcut = h;
      if (!b->projection->is_empty()) {
        shortcut = layer(i++, h);
      } else if (b->stride != 1 || b->in_planes != b->planes) {
        using torch::indexing::None;
        using torch::indexing::Slice;
        shortcut = h.index({Slice(), Slice(), Slice(None, None, b->stride),
                            Slice(None, None, b->stride)});
        const int64_t extra = b->planes - b->in_planes, before = extra / 2;
        shortcut = torch::constant_pad_nd(shortcut, {0, 0, 0, 0, before, extra - before});
      }
      h = torch::relu(out + shortcut);
    }
  }
  h = torch::adaptive_avg_pool2d(h, {1, 1}).flatten(1);
  return layer(i, h);
}

torch::Tensor QuantNetImpl::forward(const torch::Tensor& x) {
  switch (kind_) {
    case Kind::mlp: return forward_mlp(x);
    case Kind::lenet: return forward_lenet(x);
    case Kind::resnet: return forward_resnet(x);
  }
  return {};
}

void QuantNetImpl::set_quantization(bool on) {
  for (auto& l : layers_) {
    l.weight_q->enabled = on;
    l.input_q->enabled = on;
  }
}

void QuantNetImpl::calibrate(const std::vector<torch::Tensor>& batches, bool bias_correction) {
  TORCH_CHECK(!batches.empty(), "calibrate: no batches");
  torch::NoGradGuard no_grad;
  const bool was_training = is_training();
  eval();
  set_quantization(false);
  for (auto& l : layers_) {
    l.observer = ActivationObserver();
    l.input_sum = torch::Tensor();
    l.input_batches = 0;
  }
  calibrating_ = true;
  for (const auto& x : batches) forward(x);
  calibrating_ = false;
  for (auto& l : layers_) {
    auto ws = l.weight_q->spec();
    auto [s, z] = compute_range(l.weight(), ws, config_.weight_range, config_.percentile);
    l.weight_q->set_range(s, z);
    // Inputs that are never negative (after ReLU, pooling) use the unsigned grid with z = 0;
    // others (the normalised image) the unsigned grid with a zero point.
    auto as = l.input_q->spec();
    as.is_signed = false;
    as.symmetric = l.observer.min() >= 0;
    l.input_q->set_spec(as);
    auto [as_s, as_z] = l.observer.range(as, config_.act_range, config_.percentile);
    l.input_q->set_range(as_s, as_z);
    if (bias_correction && l.bias().defined() && l.input_batches > 0) {
      // Weight quantization shifts each output's mean by (Ŵ − W)·E[x] (Nagel et al. 2019,
      // empirical form: E[x] per input channel, assumed constant over a conv's positions).
      const auto dw = fake_quantize(l.weight(), l.weight_q->scale, l.weight_q->zero_point,
                                    ws.qmin(), ws.qmax()) - l.weight();
      const auto ex = l.input_sum / static_cast<double>(l.input_batches);
      const auto per_in = l.conv ? dw.sum({2, 3}) : dw;  // [C_out, C_in]
      l.bias().sub_(per_in.matmul(ex));
    }
  }
  set_quantization(true);
  train(was_training);
}

int64_t QuantNetImpl::backward_macs() const {
  int64_t total = 0;
  for (const auto& l : layers_) {
    const bool w_grad = l.weight().requires_grad();
    total += compress::backward_macs(l.m, l.out_channels(), l.fan_in(), w_grad ? l.rows.numel() : 0,
                              l.input_grad);
  }
  return total;
}

int64_t QuantNetImpl::full_backward_macs() const {
  int64_t total = 0;
  for (const auto& l : layers_) {
    total += compress::backward_macs(l.m, l.out_channels(), l.fan_in(), l.out_channels(),
                                     l.input_grad);
  }
  return total;
}

std::string QuantNetImpl::summary() const {
  std::string s =
      "| # | layer | kind | weight shape | weight bits | input bits | input grid | "
      "selected channels |\n|---|---|---|---|---|---|---|---|\n";
  for (size_t i = 0; i < layers_.size(); ++i) {
    const auto& l = layers_[i];
    std::string shape;
    for (auto d : l.weight().sizes()) shape += (shape.empty() ? "" : "x") + std::to_string(d);
    const auto& as = l.input_q->spec();
    const std::string grid = !l.input_q->calibrated
                                 ? "not calibrated"
                                 : fmt::format("{}{}, s={:.4g}", as.symmetric ? "[0, Qp]" : "asym, z=",
                                               as.symmetric ? "" : std::to_string(l.input_q->zero_point.item<int64_t>()),
                                               l.input_q->scale.item<double>());
    s += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {}/{} |\n", i, l.name,
                     l.conv ? "Conv2d" : "Linear", shape, l.weight_q->spec().bits, as.bits, grid,
                     l.rows.numel(), l.out_channels());
  }
  return s;
}

void QuantNetImpl::set_activation_numel_scale(double k) {
  for (auto& l : layers_) {
    if (l.input_q) l.input_q->numel_scale = k;
  }
}

}  // namespace nc::compress
