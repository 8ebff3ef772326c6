// QuantNet -> TorchScript (see the header). The forward source is generated from the model's
// structure, statement for statement as QuantNetImpl's forward_mlp / forward_lenet /
// forward_resnet, so that the module computes the same values with the same ATen ops.
#include "neurocore/compress/torchscript_export.h"

#include <fmt/format.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "neurocore/compress/fake_quant.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"

namespace nc::compress {

namespace {

// The method every generated module shares: fake_quantize's forward value (the clamp before
// the rounding, as there). Linear layers use addmm, torch::linear's path for 2-D inputs.
const char* kHelpers = R"(
def fq(self, x: Tensor, s: Tensor, z: Tensor, qmin: float, qmax: float) -> Tensor:
    return (torch.round(torch.clamp(x / s + z, qmin, qmax)) - z) * s
)";

std::string ints(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

// The source of layer i applied to the variable `x`.
std::string layer(QuantNetImpl& q, std::size_t i, const std::string& x) {
  const QuantLayer& l = q.layers()[i];
  const auto& as = l.input_q->spec();
  const std::string xq = fmt::format("self.fq({}, self.s{}, self.z{}, {}.0, {}.0)", x, i, i,
                                     as.qmin(), as.qmax());
  if (l.linear) return fmt::format("torch.addmm(self.b{}, {}, self.w{}.t())", i, xq, i);
  const auto& o = l.conv->options;
  const auto pad = c10::get<torch::ExpandingArray<2>>(o.padding());
  return fmt::format("torch.conv2d({}, self.w{}, self.b{}, {}, {}, {}, {})", xq, i, i,
                     ints(torch::IntArrayRef(o.stride()).vec()), ints(torch::IntArrayRef(pad).vec()),
                     ints(torch::IntArrayRef(o.dilation()).vec()), o.groups());
}

std::string forward_mlp(QuantNetImpl& q, const nn::MLPImpl& mlp) {
  std::string act = "torch.relu";
  if (mlp.options.activation() == nn::MLPActivation::tanh) act = "torch.tanh";
  if (mlp.options.activation() == nn::MLPActivation::sigmoid) act = "torch.sigmoid";
  std::string s = "    h = torch.flatten(x, 1)\n";
  const std::size_t n = q.layers().size();
  for (std::size_t i = 0; i < n; ++i) {
    s += i + 1 < n ? fmt::format("    h = {}({})\n", act, layer(q, i, "h"))
                   : fmt::format("    return {}\n", layer(q, i, "h"));
  }
  return s;
}

std::string forward_lenet(QuantNetImpl& q) {
  return fmt::format(
      "    h = torch.max_pool2d(torch.relu({}), [2, 2])\n"
      "    h = torch.max_pool2d(torch.relu({}), [2, 2])\n"
      "    h = torch.relu({})\n    h = torch.relu({})\n    return {}\n",
      layer(q, 0, "x"), layer(q, 1, "h"), layer(q, 2, "torch.flatten(h, 1)"), layer(q, 3, "h"),
      layer(q, 4, "h"));
}

std::string forward_resnet(QuantNetImpl& q, nn::ResNetImpl& res) {
  std::size_t i = 0;
  std::string s = fmt::format("    h = torch.relu({})\n", layer(q, i++, "x"));
  for (const auto* stage : {&res.stage1, &res.stage2, &res.stage3}) {
    for (std::size_t j = 0; j < (*stage)->size(); ++j) {
      auto b = (*stage)->ptr<nn::BasicBlockImpl>(j);
      s += fmt::format("    out = torch.relu({})\n", layer(q, i++, "h"));
      s += fmt::format("    out = {}\n", layer(q, i++, "out"));
      if (!b->projection->is_empty()) {
        s += fmt::format("    sc = {}\n", layer(q, i++, "h"));
      } else if (b->stride != 1 || b->in_planes != b->planes) {
        const int64_t extra = b->planes - b->in_planes, before = extra / 2;
        s += fmt::format("    sc = torch.constant_pad_nd(h[:, :, ::{}, ::{}], [0, 0, 0, 0, {}, {}])\n",
                         b->stride, b->stride, before, extra - before);
      } else {
        s += "    sc = h\n";
      }
      s += "    h = torch.relu(out + sc)\n";
    }
  }
  s += "    h = torch.flatten(torch.adaptive_avg_pool2d(h, [1, 1]), 1)\n";
  return s + fmt::format("    return {}\n", layer(q, i, "h"));
}

}  // namespace

void save_torchscript(QuantNetImpl& q, const std::string& path) {
  torch::NoGradGuard no_grad;
  torch::jit::Module m("NeurocoreFakeQuant");
  for (std::size_t i = 0; i < q.layers().size(); ++i) {
    const QuantLayer& l = q.layers()[i];
    if (!l.weight_q->calibrated || !l.input_q->calibrated) {
      throw UserError("TorchScript export: layer " + l.name +
                      " has no calibrated quantizer (calibrate the model with PTQ first)");
    }
    const auto& ws = l.weight_q->spec();
    const auto w = l.weight().detach();
    m.register_buffer("w" + std::to_string(i),
                      fake_quantize(w, l.weight_q->scale.detach(), l.weight_q->zero_point.detach(),
                                    ws.qmin(), ws.qmax()).clone());
    m.register_buffer("b" + std::to_string(i), l.bias().defined() ? l.bias().detach().clone()
                                                                  : torch::zeros({w.size(0)}, w.options()));
    m.register_buffer("s" + std::to_string(i), l.input_q->scale.detach().reshape({}).clone());
    m.register_buffer("z" + std::to_string(i), l.input_q->zero_point.detach().reshape({}).clone());
  }
  std::string body;
  if (auto* mlp = dynamic_cast<nn::MLPImpl*>(q.net().get())) {
    body = forward_mlp(q, *mlp);
  } else if (dynamic_cast<nn::LeNet5Impl*>(q.net().get())) {
    body = forward_lenet(q);
  } else if (auto* res = dynamic_cast<nn::ResNetImpl*>(q.net().get())) {
    body = forward_resnet(q, *res);
  } else {
    throw InternalError("TorchScript export: QuantNet of an unknown model kind");
  }
  m.define(std::string(kHelpers) + "\ndef forward(self, x: Tensor) -> Tensor:\n" + body);
  write_atomic_with(path, [&](const std::string& tmp) { m.save(tmp); });
}

}  // namespace nc::compress
