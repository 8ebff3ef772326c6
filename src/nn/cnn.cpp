#include "neurocore/nn/cnn.h"

#include <torch/torch.h>

#include <sstream>

#include "neurocore/core/error.h"
#include "neurocore/nn/weight_products.h"

namespace nc::nn {

SmallCNNImpl::SmallCNNImpl(const InputShape& in, int64_t classes, std::vector<int64_t> channels,
                           std::vector<int64_t> hidden, int64_t padding_)
    : input(in), padding(padding_) {
  int64_t c = in.channels, h = in.height, w = in.width, need = 1;
  bool ok = !channels.empty() && in.channels >= 1 && classes >= 1 && (padding == 0 || padding == 1);
  for (auto v : channels) ok = ok && v >= 1;
  for (auto v : hidden) ok = ok && v >= 1;
  // Each conv changes the side by 2 * padding - 2, each pool halves it (floor).
  for (std::size_t i = 0; i < channels.size(); ++i) {
    h = (h + 2 * padding - 2) / 2, w = (w + 2 * padding - 2) / 2;
    need = 2 * need + 2 - 2 * padding;
  }
  if (!ok || h < 1 || w < 1) {
    std::ostringstream os;
    os << "cnn: needs at least one conv width, every width >= 1, classes >= 1, padding 0 or 1 and H, W >= "
       << need << " (one 3x3 conv and one 2x2 pool per conv width), got input " << in.channels << "x"
       << in.height << "x" << in.width << ", " << channels.size() << " conv widths, padding " << padding
       << ", " << classes << " classes";
    throw UserError(os.str());
  }
  namespace F = torch::nn;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    convs.push_back(register_module("conv" + std::to_string(i + 1),
                                    F::Conv2d(F::Conv2dOptions(c, channels[i], 3).padding(padding))));
    c = channels[i];
  }
  int64_t features = c * h * w;
  for (std::size_t i = 0; i <= hidden.size(); ++i) {
    const int64_t out = i < hidden.size() ? hidden[i] : classes;
    fcs.push_back(register_module("fc" + std::to_string(i + 1), F::Linear(features, out)));
    features = out;
  }
}

torch::Tensor SmallCNNImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != input.channels || x.size(2) != input.height ||
      x.size(3) != input.width) {
    std::ostringstream os;
    os << "cnn: input must be [B, " << input.channels << ", " << input.height << ", "
       << input.width << "], got " << x.sizes();
    throw UserError(os.str());
  }
  // Hidden activations go through hidden() after the ReLU, before pooling (as in lenet5).
  torch::Tensor h = x;
  for (auto& conv : convs) h = torch::max_pool2d(hidden(*conv, torch::relu(conv2d(*conv, h))), 2);
  h = h.flatten(1);
  for (std::size_t i = 0; i + 1 < fcs.size(); ++i)
    h = hidden(*fcs[i], torch::relu(linear(*fcs[i], h)));
  return linear(*fcs.back(), h);
}

std::vector<std::shared_ptr<torch::nn::Module>> SmallCNNImpl::hidden_producers() {
  std::vector<std::shared_ptr<torch::nn::Module>> p;
  for (auto& c : convs) p.push_back(c.ptr());
  for (std::size_t i = 0; i + 1 < fcs.size(); ++i) p.push_back(fcs[i].ptr());
  return p;
}

}  // namespace nc::nn
