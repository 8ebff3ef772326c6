#include "neurocore/compress/prune/shrink.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "neurocore/core/error.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"

namespace nc::compress::prune {
namespace {

namespace F = torch::nn;

// Original indices of the kept channels of a list of elements (-1 entries are always kept).
torch::Tensor kept(const std::vector<int64_t>& elements, const torch::Tensor& hard) {
  std::vector<int64_t> idx;
  const auto h = hard.to(torch::kFloat).contiguous();
  const float* hp = h.data_ptr<float>();
  for (std::size_t i = 0; i < elements.size(); ++i)
    if (elements[i] < 0 || hp[elements[i]] > 0.5f) idx.push_back(static_cast<int64_t>(i));
  if (idx.empty()) throw InternalError("shrink: a layer would keep no channel");
  return torch::tensor(idx, torch::kLong);
}

void copy_weight(torch::Tensor& dst, const torch::Tensor& src, const torch::Tensor& out,
                 const torch::Tensor& in) {
  dst.copy_(src.index_select(0, out).index_select(1, in));
}

void copy_bn(F::BatchNorm2dImpl& dst, F::BatchNorm2dImpl& src, const torch::Tensor& out) {
  dst.weight.copy_(src.weight.index_select(0, out));
  dst.bias.copy_(src.bias.index_select(0, out));
  dst.running_mean.copy_(src.running_mean.index_select(0, out));
  dst.running_var.copy_(src.running_var.index_select(0, out));
  dst.num_batches_tracked.copy_(src.num_batches_tracked);
}

std::string list(const std::vector<int64_t>& v) {
  std::string s;
  for (auto x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return "[" + s + "]";
}

Shrunk shrink_mlp(nn::MLPImpl& m, const ModelStructure& st, const torch::Tensor& hard) {
  std::vector<int64_t> hidden;
  std::vector<torch::Tensor> outs, ins;
  for (const auto& l : st.layers) {
    outs.push_back(kept(l.out_element, hard));
    ins.push_back(kept(l.in_element, hard));
  }
  for (std::size_t i = 0; i + 1 < outs.size(); ++i) hidden.push_back(outs[i].numel());
  auto o = m.options;
  o.hidden(hidden);
  auto s = std::make_shared<nn::MLPImpl>(o);
  for (std::size_t i = 0; i < st.layers.size(); ++i) {
    auto& src = *m.layers[i]->as<F::Linear>();
    auto& dst = *s->layers[i]->as<F::Linear>();
    copy_weight(dst.weight, src.weight, outs[i], ins[i]);
    dst.bias.copy_(src.bias.index_select(0, outs[i]));
  }
  return {s, {"model.hidden=" + list(hidden)}};
}

Shrunk shrink_lenet(nn::LeNet5Impl& m, const ModelStructure& st, const torch::Tensor& hard) {
  std::vector<torch::Tensor> outs, ins;
  for (const auto& l : st.layers) {
    outs.push_back(kept(l.out_element, hard));
    ins.push_back(kept(l.in_element, hard));
  }
  const std::vector<int64_t> channels{outs[0].numel(), outs[1].numel(), outs[2].numel(), outs[3].numel()};
  auto s = std::make_shared<nn::LeNet5Impl>(m.input, m.fc3->weight.size(0), channels);
  F::LinearImpl* src_fc[] = {m.fc1.get(), m.fc2.get(), m.fc3.get()};
  F::LinearImpl* dst_fc[] = {s->fc1.get(), s->fc2.get(), s->fc3.get()};
  copy_weight(s->conv1->weight, m.conv1->weight, outs[0], ins[0]);
  s->conv1->bias.copy_(m.conv1->bias.index_select(0, outs[0]));
  copy_weight(s->conv2->weight, m.conv2->weight, outs[1], ins[1]);
  s->conv2->bias.copy_(m.conv2->bias.index_select(0, outs[1]));
  for (int i = 0; i < 3; ++i) {
    copy_weight(dst_fc[i]->weight, src_fc[i]->weight, outs[2 + i], ins[2 + i]);
    dst_fc[i]->bias.copy_(src_fc[i]->bias.index_select(0, outs[2 + i]));
  }
  return {s, {"model.channels=" + list(channels)}};
}

Shrunk shrink_resnet(nn::ResNetImpl& m, const ModelStructure& st, const torch::Tensor& hard) {
  if (!st.no_channels.empty()) throw UserError("shrink: " + st.no_channels);
  // Layers in structure order: stem, (conv1, conv2) per block, fc.
  std::vector<torch::Tensor> outs, ins;
  std::vector<int64_t> channels;
  for (const auto& l : st.layers) {
    outs.push_back(kept(l.out_element, hard));
    ins.push_back(kept(l.in_element, hard));
    if (l.weight.dim() == 4) channels.push_back(outs.back().numel());
  }
  auto o = m.options;
  o.channels(channels);
  auto s = std::make_shared<nn::ResNetImpl>(o);
  std::size_t l = 0;
  copy_weight(s->conv1->weight, m.conv1->weight, outs[l], ins[l]);
  copy_bn(*s->bn1, *m.bn1, outs[l]);
  ++l;
  for (int st_i = 0; st_i < 3; ++st_i) {
    auto& a = st_i == 0 ? m.stage1 : st_i == 1 ? m.stage2 : m.stage3;
    auto& b = st_i == 0 ? s->stage1 : st_i == 1 ? s->stage2 : s->stage3;
    for (std::size_t i = 0; i < a->size(); ++i) {
      auto& src = *a->ptr<nn::BasicBlockImpl>(i);
      auto& dst = *b->ptr<nn::BasicBlockImpl>(i);
      copy_weight(dst.conv1->weight, src.conv1->weight, outs[l], ins[l]);
      copy_bn(*dst.bn1, *src.bn1, outs[l]);
      const auto block_in = ins[l];
      ++l;
      copy_weight(dst.conv2->weight, src.conv2->weight, outs[l], ins[l]);
      copy_bn(*dst.bn2, *src.bn2, outs[l]);
      if (dst.projection->size() == 1) {
        // Kept input channel j (original index) went to original output j + before.
        const int64_t before = (src.planes - src.in_planes) / 2;
        auto& w = dst.projection[0]->as<F::Conv2d>()->weight;
        w.zero_();
        const auto out_idx = outs[l].accessor<int64_t, 1>();
        const auto in_idx = block_in.accessor<int64_t, 1>();
        for (int64_t p = 0; p < block_in.numel(); ++p)
          for (int64_t q = 0; q < outs[l].numel(); ++q)
            if (out_idx[q] == in_idx[p] + before) w[q][p] = 1;
      }
      ++l;
    }
  }
  copy_weight(s->fc->weight, m.fc->weight, outs[l], ins[l]);
  s->fc->bias.copy_(m.fc->bias);
  return {s, {"model.channels=" + list(channels)}};
}

}  // namespace

Shrunk shrink(nn::NetImpl& model, const ModelStructure& st, const torch::Tensor& hard) {
  torch::NoGradGuard no_grad;
  Shrunk r;
  if (auto* m = dynamic_cast<nn::MLPImpl*>(&model)) {
    r = shrink_mlp(*m, st, hard);
  } else if (auto* m = dynamic_cast<nn::LeNet5Impl*>(&model)) {
    r = shrink_lenet(*m, st, hard);
  } else if (auto* m = dynamic_cast<nn::ResNetImpl*>(&model)) {
    r = shrink_resnet(*m, st, hard);
  } else {
    throw UserError("shrink: physical shrinking supports mlp, lenet5 and resnet*, not '" +
                    model.name() + "'");
  }
  r.model->eval();
  return r;
}

}  // namespace nc::compress::prune
