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
  Writer() : m_("NeurocoreFloatNet") {}
  std::string buffer(const torch::Tensor& t) {
    const std::string name = "p" + std::to_string(n_++);
    m_.register_buffer(name, t.detach().clone());
    return "self." + name;
  }
  std::string conv(F::Conv2dImpl& c, const std::string& x) {
    const auto& o = c.options;
    const auto pad = c10::get<torch::ExpandingArray<2>>(o.padding());
    const std::string b = c.bias.defined() ? buffer(c.bias) : "None";
    return fmt::format("torch.conv2d({}, {}, {}, [{}, {}], [{}, {}])", x, buffer(c.weight), b,
                       (*o.stride())[0], (*o.stride())[1], (*pad)[0], (*pad)[1]);
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
  torch::jit::Module m_;
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
  std::string s = fmt::format("    h = torch.relu({})\n", w.bn(*m.bn1, w.conv(*m.conv1, "x")));
  for (const auto* stage : {&m.stage1, &m.stage2, &m.stage3}) {
    for (std::size_t j = 0; j < (*stage)->size(); ++j) {
      auto& b = *(*stage)->ptr<nn::BasicBlockImpl>(j);
      s += fmt::format("    out = torch.relu({})\n", w.bn(*b.bn1, w.conv(*b.conv1, "h")));
      s += fmt::format("    out = {}\n", w.bn(*b.bn2, w.conv(*b.conv2, "out")));
      if (b.projection->size() == 1) {
        s += fmt::format("    sc = {}\n", w.conv(*b.projection[0]->as<F::Conv2d>(), "h"));
      } else if (!b.projection->is_empty()) {
        auto bn = std::dynamic_pointer_cast<F::BatchNorm2dImpl>(b.projection->ptr(1));
        s += fmt::format("    sc = {}\n", w.bn(*bn, w.conv(*b.projection[0]->as<F::Conv2d>(), "h")));
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

void save_float_torchscript(nn::NetImpl& model, const std::string& path) {
  torch::NoGradGuard no_grad;
  Writer w;
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
