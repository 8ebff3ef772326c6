// The per-frame CNN baseline of ST-STDP (cnn.h).
#include "neurocore/nn/cnn.h"

#include <torch/torch.h>

#include <algorithm>
#include <sstream>

#include "neurocore/core/error.h"
#include "neurocore/nn/weight_products.h"

namespace nc::nn {

namespace {

// Side after a 3x3 convolution with `padding` and a 2x2 max-pool (floor).
int64_t after_block(int64_t side, int64_t padding) { return (side + 2 * padding - 2) / 2; }

}  // namespace

CnnImpl::CnnImpl(const InputShape& in, int64_t classes, std::vector<int64_t> channels_,
                 int64_t padding_)
    : input(in), channels(std::move(channels_)), padding(padding_) {
  if (channels.size() != 3 || *std::min_element(channels.begin(), channels.end()) < 1) {
    std::ostringstream os;
    os << "cnn: channels must be 3 widths >= 1 (conv1, conv2, fc1), got " << channels.size() << " values";
    throw UserError(os.str());
  }
  if (padding != 0 && padding != 1) {
    throw UserError("cnn: padding must be 0 or 1, got " + std::to_string(padding));
  }
  // A 3x3 convolution needs a side of at least 3 - 2·padding, and each pool halves.
  const int64_t h1 = after_block(in.height, padding), w1 = after_block(in.width, padding);
  const int64_t h = after_block(h1, padding), w = after_block(w1, padding);
  if (in.channels < 1 || classes < 1 || h1 < 3 - 2 * padding || w1 < 3 - 2 * padding || h < 1 || w < 1) {
    std::ostringstream os;
    os << "cnn: needs channels >= 1, classes >= 1 and an input that survives two conv 3x3 + "
          "pool 2 blocks with padding "
       << padding << ", got " << in.channels << "x" << in.height << "x" << in.width << ", classes=" << classes;
    throw UserError(os.str());
  }
  namespace F = torch::nn;
  const auto& c = channels;
  conv1 = register_module("conv1", F::Conv2d(F::Conv2dOptions(in.channels, c[0], 3).padding(padding)));
  conv2 = register_module("conv2", F::Conv2d(F::Conv2dOptions(c[0], c[1], 3).padding(padding)));
  fc1 = register_module("fc1", F::Linear(c[1] * h * w, c[2]));
  fc2 = register_module("fc2", F::Linear(c[2], classes));
}

torch::Tensor CnnImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != input.channels || x.size(2) != input.height ||
      x.size(3) != input.width) {
    std::ostringstream os;
    os << "cnn: input must be [B, " << input.channels << ", " << input.height << ", " << input.width
       << "], got " << x.sizes();
    throw UserError(os.str());
  }
  // Hidden activations go through hidden() after the ReLU, before pooling, as in LeNet-5.
  auto h = torch::max_pool2d(hidden(*conv1, torch::relu(conv2d(*conv1, x))), 2);
  h = torch::max_pool2d(hidden(*conv2, torch::relu(conv2d(*conv2, h))), 2);
  h = hidden(*fc1, torch::relu(linear(*fc1, h.flatten(1))));
  return linear(*fc2, h);
}

std::vector<std::shared_ptr<torch::nn::Module>> CnnImpl::hidden_producers() {
  return {conv1.ptr(), conv2.ptr(), fc1.ptr()};
}

}  // namespace nc::nn
