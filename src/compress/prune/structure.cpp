#include "neurocore/compress/prune/structure.h"

#include <torch/torch.h>

#include <map>

#include "neurocore/core/error.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"
#include "neurocore/nn/weight_products.h"

namespace nc::compress::prune {
namespace {

// Records H_out * W_out of every conv (keyed by its weight) during one forward pass.
class PositionRecorder : public nn::WeightProducts {
 public:
  std::map<const void*, int64_t> positions;
  torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w,
                       const torch::Tensor& b) override {
    return torch::nn::functional::linear(x, w, b);
  }
  torch::Tensor conv2d(const torch::Tensor& x, torch::nn::Conv2dImpl& conv) override {
    auto y = conv.forward(x);
    positions[conv.weight.unsafeGetTensorImpl()] = y.size(2) * y.size(3);
    return y;
  }
};

class Builder {
 public:
  explicit Builder(nn::NetImpl& model) {
    for (const auto& item : model.named_modules("", /*include_self=*/false))
      names_[item.value().get()] = item.key();
  }
  std::vector<int64_t> fresh(int64_t n) {
    std::vector<int64_t> ids(n);
    for (auto& id : ids) id = st.elements++;
    return ids;
  }
  void add(torch::nn::Module& m, std::vector<int64_t> in_el, std::vector<int64_t> out_el) {
    PrunableLayer l;
    l.name = names_.at(&m);
    l.module = &m;
    if (auto* c = m.as<torch::nn::Conv2dImpl>()) {
      l.weight = c->weight;
      l.kernel = c->weight.size(2) * c->weight.size(3);
    } else {
      l.weight = m.as<torch::nn::LinearImpl>()->weight;
    }
    l.out = l.weight.size(0);
    l.in = l.weight.size(1);
    l.out_element = out_el.empty() ? std::vector<int64_t>(l.out, -1) : std::move(out_el);
    l.in_element = in_el.empty() ? std::vector<int64_t>(l.in, -1) : std::move(in_el);
    st.layers.push_back(std::move(l));
  }
  ModelStructure st;

 private:
  std::map<const torch::nn::Module*, std::string> names_;
};

void build_mlp(Builder& b, nn::MLPImpl& m) {
  std::vector<int64_t> prev;
  for (std::size_t i = 0; i < m.layers->size(); ++i) {
    auto& l = *m.layers[i]->as<torch::nn::LinearImpl>();
    auto out = i + 1 < m.layers->size() ? b.fresh(l.weight.size(0)) : std::vector<int64_t>{};
    b.add(l, prev, out);
    prev = out;
  }
}

void build_lenet(Builder& b, nn::LeNet5Impl& m) {
  const auto c1 = b.fresh(m.conv1->weight.size(0));
  b.add(*m.conv1, {}, c1);
  const auto c2 = b.fresh(m.conv2->weight.size(0));
  b.add(*m.conv2, c1, c2);
  // The flatten of [16, h, w] is channel-major: feature f comes from channel f / (h w).
  const int64_t features = m.fc1->weight.size(1), per = features / c2.size();
  std::vector<int64_t> flat(features);
  for (int64_t f = 0; f < features; ++f) flat[f] = c2[f / per];
  const auto f1 = b.fresh(m.fc1->weight.size(0));
  b.add(*m.fc1, flat, f1);
  const auto f2 = b.fresh(m.fc2->weight.size(0));
  b.add(*m.fc2, f1, f2);
  b.add(*m.fc3, f2, {});
}

void build_resnet(Builder& b, nn::ResNetImpl& m) {
  auto res = b.fresh(m.conv1->weight.size(0));
  b.add(*m.conv1, {}, res);
  for (const auto* stage : {&m.stage1, &m.stage2, &m.stage3}) {
    for (std::size_t i = 0; i < (*stage)->size(); ++i) {
      auto& blk = *(*stage)->ptr<nn::BasicBlockImpl>(i);
      const int64_t planes = blk.conv2->weight.size(0), in = blk.conv1->weight.size(1);
      const auto inner = b.fresh(blk.conv1->weight.size(0));
      b.add(*blk.conv1, res, inner);
      std::vector<int64_t> next = res;
      if (blk.projection->size() == 1) {
        // A shrunk network's frozen select shortcut: not a weight layer to prune.
        next = b.fresh(planes);
        b.st.no_channels = "the network is already shrunk (select shortcuts); prune the dense run";
      } else if (!blk.projection->is_empty()) {
        next = b.fresh(planes);
        b.st.no_channels =
            "a projection shortcut (shortcut B) adds unmasked channels to the residual sum; "
            "channel pruning supports shortcut A";
        b.add(*blk.projection[0], res, next);
      } else if (blk.stride != 1 || in != planes) {
        // Option A: stage channel j carries the previous stage's channel j - before (zero pad
        // on both sides): it joins that element; the padded channels start new ones.
        const int64_t before = (planes - in) / 2;
        next.assign(planes, -1);
        for (int64_t j = 0; j < planes; ++j)
          next[j] = j >= before && j < before + in ? res[j - before] : b.fresh(1)[0];
      }
      b.add(*blk.conv2, inner, next);
      res = next;
    }
  }
  b.add(*m.fc, res, {});
}

}  // namespace

int64_t ModelStructure::layer_of(const torch::nn::Module& module) const {
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (layers[i].module == &module) return static_cast<int64_t>(i);
  return -1;
}

ModelStructure model_structure(nn::NetImpl& model, const nn::InputShape& in) {
  if (model.temporal()) {
    throw UserError("prune: temporal (spiking) models cannot be pruned; supported models are "
                    "mlp, lenet5 and resnet*");
  }
  Builder b(model);
  if (auto* m = dynamic_cast<nn::MLPImpl*>(&model)) {
    build_mlp(b, *m);
  } else if (auto* m = dynamic_cast<nn::LeNet5Impl*>(&model)) {
    build_lenet(b, *m);
  } else if (auto* m = dynamic_cast<nn::ResNetImpl*>(&model)) {
    build_resnet(b, *m);
  } else {
    throw UserError("prune: the model '" + model.name() +
                    "' is not supported; supported models are mlp, lenet5 and resnet*");
  }
  // H_out * W_out of every conv from one forward pass of a zero image (eval mode).
  PositionRecorder rec;
  {
    const bool training = model.is_training();
    model.eval();
    torch::NoGradGuard no_grad;
    nn::WeightProductsGuard guard(&rec);
    model.forward(torch::zeros({1, in.channels, in.height, in.width}));
    model.train(training);
  }
  for (auto& l : b.st.layers) {
    const auto it = rec.positions.find(l.weight.unsafeGetTensorImpl());
    if (it != rec.positions.end()) l.positions = it->second;
  }
  return std::move(b.st);
}

double dense_cost(const ModelStructure& st, BudgetKind kind) {
  double total = 0;
  for (const auto& l : st.layers)
    total += static_cast<double>(l.out) * l.in * l.kernel * l.unit_cost(kind);
  return total;
}

namespace {
double kept(const std::vector<int64_t>& elements, const double* m) {
  double k = 0;
  for (auto e : elements) k += e < 0 ? 1.0 : m[e];
  return k;
}
torch::Tensor contiguous_double(const torch::Tensor& m) {
  return m.detach().to(torch::kDouble).contiguous();
}
}  // namespace

double channel_cost(const ModelStructure& st, const torch::Tensor& m_in, BudgetKind kind) {
  const auto m = contiguous_double(m_in);
  const double* mp = m.data_ptr<double>();
  double total = 0;
  for (const auto& l : st.layers)
    total += kept(l.out_element, mp) * kept(l.in_element, mp) * l.kernel * l.unit_cost(kind);
  return total;
}

torch::Tensor channel_cost_grad(const ModelStructure& st, const torch::Tensor& m_in, BudgetKind kind) {
  const auto m = contiguous_double(m_in);
  const double* mp = m.data_ptr<double>();
  auto grad = torch::zeros({st.elements}, torch::kDouble);
  double* gp = grad.data_ptr<double>();
  for (const auto& l : st.layers) {
    const double w = static_cast<double>(l.kernel) * l.unit_cost(kind);
    const double per_out = kept(l.in_element, mp) * w, per_in = kept(l.out_element, mp) * w;
    for (auto e : l.out_element)
      if (e >= 0) gp[e] += per_out;
    for (auto e : l.in_element)
      if (e >= 0) gp[e] += per_in;
  }
  return grad;
}

torch::Tensor weight_costs(const ModelStructure& st, BudgetKind kind) {
  std::vector<torch::Tensor> parts;
  for (const auto& l : st.layers)
    parts.push_back(torch::full({l.weight.numel()}, static_cast<double>(l.unit_cost(kind)),
                                torch::kDouble));
  return torch::cat(parts);
}

}  // namespace nc::compress::prune
