#include "neurocore/nn/weight_products.h"
#include "neurocore/nn/resnet.h"

#include <torch/torch.h>

#include <sstream>

#include "neurocore/core/error.h"

namespace nc::nn {
namespace {

namespace F = torch::nn;

F::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return F::Conv2d(F::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in_planes_, int64_t planes_, int64_t stride_,
                               Shortcut shortcut, int64_t mid_, bool select_)
    : in_planes(in_planes_), planes(planes_), stride(stride_), mid(mid_ < 0 ? planes_ : mid_),
      shortcut_kind(shortcut), select(select_) {
  reset();
}

void BasicBlockImpl::reset() {
  conv1 = register_module("conv1", conv3x3(in_planes, mid, stride));
  bn1 = register_module("bn1", F::BatchNorm2d(mid));
  conv2 = register_module("conv2", conv3x3(mid, planes, 1));
  bn2 = register_module("bn2", F::BatchNorm2d(planes));
  projection = register_module("projection", F::Sequential());
  if (stride == 1 && in_planes == planes) return;
  if (shortcut_kind == Shortcut::B) {
    projection->push_back(
        F::Conv2d(F::Conv2dOptions(in_planes, planes, 1).stride(stride).bias(false)));
    projection->push_back(F::BatchNorm2d(planes));
  } else if (select) {
    // Option A as a frozen 0/1 matrix: input channel j goes where the zero padding puts it.
    F::Conv2d c(F::Conv2dOptions(in_planes, planes, 1).stride(stride).bias(false));
    torch::NoGradGuard no_grad;
    c->weight.zero_();
    const int64_t before = (planes - in_planes) / 2;
    for (int64_t j = 0; j < in_planes; ++j)
      if (j + before >= 0 && j + before < planes) c->weight[j + before][j] = 1;
    c->weight.set_requires_grad(false);
    projection->push_back(c);
  }
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) { return forward_with(x, {}); }

torch::Tensor BasicBlockImpl::forward_with(const torch::Tensor& x,
                                           const NetImpl::HiddenHook& hook) {
  auto pass = [&hook](const torch::nn::Module& m, const torch::Tensor& a) {
    return hook ? hook(m, a) : a;
  };
  auto out = pass(*conv1, torch::relu(bn1->forward(conv2d(*conv1, x))));
  out = pass(*conv2, bn2->forward(conv2d(*conv2, out)));
  torch::Tensor shortcut = x;
  if (projection->size() == 1) {
    // Select shortcut: a frozen 0/1 1x1 convolution (a shrunk option A).
    shortcut = projection[0]->as<F::Conv2d>()->forward(x);
  } else if (!projection->is_empty()) {
    // Projection (option B): 1x1 conv + BatchNorm, the conv through the weight products.
    shortcut = projection[1]->as<F::BatchNorm2d>()->forward(
        conv2d(*projection[0]->as<F::Conv2d>(), x));
  } else if (stride != 1 || in_planes != planes) {
    // Option A: take every stride-th pixel, zero-pad the missing channels on both sides.
    using torch::indexing::None;
    using torch::indexing::Slice;
    shortcut = x.index({Slice(), Slice(), Slice(None, None, stride), Slice(None, None, stride)});
    const int64_t extra = planes - in_planes, before = extra / 2;
    shortcut = torch::constant_pad_nd(shortcut, {0, 0, 0, 0, before, extra - before});
  }
  return torch::relu(out + shortcut);
}

ResNetImpl::ResNetImpl(ResNetOptions options_) : options(std::move(options_)) {
  const int64_t depth = options.depth();
  if (depth < 8 || (depth - 2) % 6 != 0) {
    throw UserError("resnet: depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), "
                    "got " + std::to_string(depth));
  }
  if (options.in_channels() < 1 || options.width() < 1 || options.classes() < 1) {
    throw UserError("resnet: in_channels, width and classes must be >= 1, got " +
                    std::to_string(options.in_channels()) + ", " +
                    std::to_string(options.width()) + ", " + std::to_string(options.classes()));
  }
  const int64_t n = (depth - 2) / 6, w = options.width();
  const auto& ch = options.channels();
  const bool explicit_widths = !ch.empty();
  if (explicit_widths && static_cast<int64_t>(ch.size()) != 1 + 6 * n) {
    throw UserError("resnet: channels must list 1 + 6n = " + std::to_string(1 + 6 * n) +
                    " widths (the stem, then conv1 and conv2 of each block), got " +
                    std::to_string(ch.size()));
  }
  for (auto c : ch)
    if (c < 1) throw UserError("resnet: every value of channels must be >= 1, got " + std::to_string(c));
  std::size_t next = 0;
  auto width = [&](int64_t uniform) { return explicit_widths ? ch[next++] : uniform; };
  const int64_t stem = width(w);
  conv1 = register_module("conv1", conv3x3(options.in_channels(), stem, 1));
  bn1 = register_module("bn1", F::BatchNorm2d(stem));
  int64_t in = stem;
  auto stage = [&](int64_t planes, int64_t stride) {
    F::Sequential s;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t mid = width(planes), out = width(planes);
      s->push_back(BasicBlock(in, out, i == 0 ? stride : 1, options.shortcut(), mid,
                              explicit_widths));
      in = out;
    }
    return s;
  };
  stage1 = register_module("stage1", stage(w, 1));
  stage2 = register_module("stage2", stage(2 * w, 2));
  stage3 = register_module("stage3", stage(4 * w, 2));
  fc = register_module("fc", F::Linear(in, options.classes()));

  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    auto* c = m->as<F::Conv2dImpl>();
    if (c && c->weight.requires_grad()) F::init::kaiming_normal_(c->weight);  // not a select
    if (auto* l = m->as<F::LinearImpl>()) F::init::kaiming_normal_(l->weight);
  }
}

torch::Tensor ResNetImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != options.in_channels()) {
    std::ostringstream os;
    os << "resnet: input must be [B, " << options.in_channels() << ", H, W], got " << x.sizes();
    throw UserError(os.str());
  }
  auto h = hidden(*conv1, torch::relu(bn1->forward(conv2d(*conv1, x))));
  for (const auto* stage : {&stage1, &stage2, &stage3}) {
    for (std::size_t i = 0; i < (*stage)->size(); ++i)
      h = (*stage)->ptr<BasicBlockImpl>(i)->forward_with(h, hidden_hook());
  }
  h = torch::adaptive_avg_pool2d(h, {1, 1}).flatten(1);
  return linear(*fc, h);
}

std::vector<std::shared_ptr<torch::nn::Module>> ResNetImpl::hidden_producers() {
  std::vector<std::shared_ptr<torch::nn::Module>> p{conv1.ptr()};
  for (const auto* stage : {&stage1, &stage2, &stage3}) {
    for (std::size_t i = 0; i < (*stage)->size(); ++i) {
      auto b = (*stage)->ptr<BasicBlockImpl>(i);
      p.push_back(b->conv1.ptr());
      p.push_back(b->conv2.ptr());
    }
  }
  return p;
}

}  // namespace nc::nn
