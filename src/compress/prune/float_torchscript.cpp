#include "neurocore/compress/prune/float_torchscript.h"

#include <fmt/format.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"

namespace nc::compress::prune {
namespace {

namespace F = torch::nn;

class Writer {
 public:
  explicit Writer(bool fold) : m_("NeurocoreFloatNet"), fold_(fold) {}
  std::string buffer(const torch::Tensor& t) {
    const std::string name = "p" + std::to_string(n_++);
    m_.register_buffer(name, t.detach().clone());
    return "self." + name;
  }
  std::string conv(F::Conv2dImpl& c, const std::string& x) {
    return conv_with(c, c.weight, c.bias.defined() ? buffer(c.bias) : "None", x);
  }
  // bn(conv(x)); folded: one convolution with the BN's per-channel scale in its weights and
  // its shift in the bias (eval mode: running statistics).
  std::string conv_bn(F::Conv2dImpl& c, F::BatchNorm2dImpl& b, const std::string& x) {
    if (!fold_) return bn(b, conv(c, x));
    const auto scale = b.weight / (b.running_var + b.options.eps()).sqrt();
    auto shift = b.bias - b.running_mean * scale;
    if (c.bias.defined()) shift = shift + c.bias * scale;
    return conv_with(c, c.weight * scale.view({-1, 1, 1, 1}), buffer(shift), x);
  }
  std::string bn(F::BatchNorm2dImpl& b, const std::string& x) {
    return fmt::format("torch.batch_norm({}, {}, {}, {}, {}, False, 0.0, {}, False)", x,
                       buffer(b.weight), buffer(b.bias), buffer(b.running_mean),
                       buffer(b.running_var), b.options.eps());
  }
  std::string linear(F::LinearImpl& l, const std::string& x) {
    return fmt::format("torch.addmm({}, {}, {}.t())", buffer(l.bias), x, buffer(l.weight));
  }
  void save(const std::string& body, const std::string& path) {
    m_.define("def forward(self, x: Tensor) -> Tensor:\n" + body);
    write_atomic_with(path, [&](const std::string& tmp) { m_.save(tmp); });
  }

 private:
  // c's convolution (stride, padding) with the given weight and bias expression.
  std::string conv_with(F::Conv2dImpl& c, const torch::Tensor& weight, const std::string& bias,
                        const std::string& x) {
    const auto& o = c.options;
    const auto pad = c10::get<torch::ExpandingArray<2>>(o.padding());
    return fmt::format("torch.conv2d({}, {}, {}, [{}, {}], [{}, {}])", x, buffer(weight), bias,
                       (*o.stride())[0], (*o.stride())[1], (*pad)[0], (*pad)[1]);
  }

  torch::jit::Module m_;
  bool fold_;
  int n_ = 0;
};

std::string mlp_body(Writer& w, nn::MLPImpl& m) {
  std::string act = "torch.relu";
  if (m.options.activation() == nn::MLPActivation::tanh) act = "torch.tanh";
  if (m.options.activation() == nn::MLPActivation::sigmoid) act = "torch.sigmoid";
  std::string s = "    h = torch.flatten(x, 1)\n";
  const std::size_t n = m.layers->size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto y = w.linear(*m.layers[i]->as<F::Linear>(), "h");
    s += i + 1 < n ? fmt::format("    h = {}({})\n", act, y) : fmt::format("    return {}\n", y);
  }
  return s;
}

std::string lenet_body(Writer& w, nn::LeNet5Impl& m) {
  std::string s = fmt::format("    h = torch.max_pool2d(torch.relu({}), [2, 2])\n", w.conv(*m.conv1, "x"));
  s += fmt::format("    h = torch.max_pool2d(torch.relu({}), [2, 2])\n", w.conv(*m.conv2, "h"));
  s += "    h = torch.flatten(h, 1)\n";
  s += fmt::format("    h = torch.relu({})\n", w.linear(*m.fc1, "h"));
  s += fmt::format("    h = torch.relu({})\n", w.linear(*m.fc2, "h"));
  return s + fmt::format("    return {}\n", w.linear(*m.fc3, "h"));
}

std::string resnet_body(Writer& w, nn::ResNetImpl& m) {
  std::string s = fmt::format("    h = torch.relu({})\n", w.conv_bn(*m.conv1, *m.bn1, "x"));
  for (const auto* stage : {&m.stage1, &m.stage2, &m.stage3}) {
    for (std::size_t j = 0; j < (*stage)->size(); ++j) {
      auto& b = *(*stage)->ptr<nn::BasicBlockImpl>(j);
      s += fmt::format("    out = torch.relu({})\n", w.conv_bn(*b.conv1, *b.bn1, "h"));
      s += fmt::format("    out = {}\n", w.conv_bn(*b.conv2, *b.bn2, "out"));
      if (b.projection->size() == 1) {
        s += fmt::format("    sc = {}\n", w.conv(*b.projection[0]->as<F::Conv2d>(), "h"));
      } else if (!b.projection->is_empty()) {
        auto bn = std::dynamic_pointer_cast<F::BatchNorm2dImpl>(b.projection->ptr(1));
        s += fmt::format("    sc = {}\n", w.conv_bn(*b.projection[0]->as<F::Conv2d>(), *bn, "h"));
      } else if (b.stride != 1 || b.in_planes != b.planes) {
        const int64_t extra = b.planes - b.in_planes, before = extra / 2;
        s += fmt::format("    sc = torch.constant_pad_nd(h[:, :, ::{}, ::{}], [0, 0, 0, 0, {}, {}])\n",
                         b.stride, b.stride, before, extra - before);
      } else {
        s += "    sc = h\n";
      }
      s += "    h = torch.relu(out + sc)\n";
    }
  }
  s += "    h = torch.flatten(torch.adaptive_avg_pool2d(h, [1, 1]), 1)\n";
  return s + fmt::format("    return {}\n", w.linear(*m.fc, "h"));
}

}  // namespace

void save_float_torchscript(nn::NetImpl& model, const std::string& path, bool fold_batch_norm) {
  torch::NoGradGuard no_grad;
  Writer w(fold_batch_norm);
  std::string body;
  if (auto* m = dynamic_cast<nn::MLPImpl*>(&model)) {
    body = mlp_body(w, *m);
  } else if (auto* m = dynamic_cast<nn::LeNet5Impl*>(&model)) {
    body = lenet_body(w, *m);
  } else if (auto* m = dynamic_cast<nn::ResNetImpl*>(&model)) {
    body = resnet_body(w, *m);
  } else {
    throw UserError("TorchScript export of a float model supports mlp, lenet5 and resnet*, not '" +
                    model.name() + "'");
  }
  w.save(body, path);
}

}  // namespace nc::compress::prune
