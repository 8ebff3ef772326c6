#include "neurocore/nn/weight_products.h"
#include "neurocore/nn/lenet.h"

#include <torch/torch.h>

#include <algorithm>
#include <sstream>

#include "neurocore/core/error.h"

namespace nc::nn {

LeNet5Impl::LeNet5Impl(const InputShape& in, int64_t classes, std::vector<int64_t> channels_)
    : input(in), channels(std::move(channels_)) {
  if (channels.size() != 4 || *std::min_element(channels.begin(), channels.end()) < 1) {
    std::ostringstream os;
    os << "lenet5: channels must be 4 widths >= 1 (conv1, conv2, fc1, fc2), got " << channels.size()
       << " values";
    throw UserError(os.str());
  }
  // conv1 keeps H x W (pad 2), pool halves, conv2 (5x5, no pad) removes 4, pool halves.
  const int64_t h = (in.height / 2 - 4) / 2, w = (in.width / 2 - 4) / 2;
  if (in.channels < 1 || classes < 1 || in.height / 2 - 4 < 2 || in.width / 2 - 4 < 2) {
    std::ostringstream os;
    os << "lenet5: needs channels >= 1, classes >= 1 and height, width >= 12, got "
       << in.channels << "x" << in.height << "x" << in.width << ", classes=" << classes;
    throw UserError(os.str());
  }
  namespace F = torch::nn;
  const auto& c = channels;
  conv1 = register_module("conv1", F::Conv2d(F::Conv2dOptions(in.channels, c[0], 5).padding(2)));
  conv2 = register_module("conv2", F::Conv2d(F::Conv2dOptions(c[0], c[1], 5)));
  fc1 = register_module("fc1", F::Linear(c[1] * h * w, c[2]));
  fc2 = register_module("fc2", F::Linear(c[2], c[3]));
  fc3 = register_module("fc3", F::Linear(c[3], classes));
}

torch::Tensor LeNet5Impl::forward(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != input.channels || x.size(2) != input.height ||
      x.size(3) != input.width) {
    std::ostringstream os;
    os << "lenet5: input must be [B, " << input.channels << ", " << input.height << ", "
       << input.width << "], got " << x.sizes();
    throw UserError(os.str());
  }
  // Hidden activations go through hidden() after the ReLU, before pooling (grapes.md §4).
  auto h = torch::max_pool2d(hidden(*conv1, torch::relu(conv2d(*conv1, x))), 2);
  h = torch::max_pool2d(hidden(*conv2, torch::relu(conv2d(*conv2, h))), 2);
  h = hidden(*fc1, torch::relu(linear(*fc1, h.flatten(1))));
  h = hidden(*fc2, torch::relu(linear(*fc2, h)));
  return linear(*fc3, h);
}

std::vector<std::shared_ptr<torch::nn::Module>> LeNet5Impl::hidden_producers() {
  return {conv1.ptr(), conv2.ptr(), fc1.ptr(), fc2.ptr()};
}

}  // namespace nc::nn
