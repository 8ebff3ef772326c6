// OReN and the SNU saccade network (oddity_nets.h).
#include "neurocore/nn/oddity_nets.h"

#include <torch/torch.h>

#include "neurocore/core/error.h"

namespace nc::nn {

namespace {

int64_t conv_out(int64_t side) { return (side + 2 - 3) / 2 + 1; }  // 3x3, stride 2, pad 1

// Conv stack on [N, c_in, S, S]; returns the output side; adds MACs to `macs` when given.
torch::nn::Sequential conv_stack(int64_t layers, int64_t c_in, int64_t channels, bool batch_norm,
                                 int64_t& side) {
  torch::nn::Sequential s;
  for (int64_t i = 0; i < layers; ++i) {
    s->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(i == 0 ? c_in : channels, channels, 3).stride(2).padding(1)));
    if (batch_norm) s->push_back(torch::nn::BatchNorm2d(channels));
    s->push_back(torch::nn::ReLU());
    side = conv_out(side);
  }
  return s;
}

int64_t conv_stack_macs(int64_t layers, int64_t c_in, int64_t channels, int64_t side) {
  int64_t m = 0;
  for (int64_t i = 0; i < layers; ++i) {
    side = conv_out(side);
    m += side * side * channels * (i == 0 ? c_in : channels) * 9;
  }
  return m;
}

void check_width(const char* name, int64_t v) {
  if (v < 1) throw UserError(std::string("model.") + name + ": got " + std::to_string(v) + ", expected an integer >= 1");
}

void check_input(const torch::Tensor& x, const InputShape& in, const char* model) {
  if (x.dim() != 4 || x.size(1) != in.channels || x.size(2) != in.height || x.size(3) != in.width) {
    throw UserError(std::string(model) + ": expected input [B, " + std::to_string(in.channels) + ", " +
                    std::to_string(in.height) + ", " + std::to_string(in.width) + "], got " +
                    std::to_string(x.dim()) + "-d tensor");
  }
}

}  // namespace

OReNImpl::OReNImpl(const InputShape& in, const OReNOptions& o) : input(in), options(o) {
  check_width("channels", o.channels);
  check_width("embedding", o.embedding);
  check_width("g_width", o.g_width);
  conv_side = in.height;
  encoder = register_module("encoder", conv_stack(4, 1, o.channels, true, conv_side));
  embed = register_module("embed", torch::nn::Linear(o.channels * conv_side * conv_side, o.embedding));
  g1 = register_module("g1", torch::nn::Linear(2 * o.embedding, o.g_width));
  g2 = register_module("g2", torch::nn::Linear(o.g_width, o.g_width));
  g3 = register_module("g3", torch::nn::Linear(o.g_width, o.g_width));
  f1 = register_module("f1", torch::nn::Linear(o.g_width, o.g_width));
  f2 = register_module("f2", torch::nn::Linear(o.g_width, 1));
}

torch::Tensor OReNImpl::forward(const torch::Tensor& x) {
  check_input(x, input, "oren");
  const int64_t b = x.size(0), p = x.size(1);
  auto o = embed(encoder->forward(x.reshape({b * p, 1, input.height, input.width})).flatten(1));
  o = o.reshape({b, p, -1});  // [B, P, E]
  // All ordered pairs (i, j): g(o_i, o_j); the diagonal i == j is masked out of the sum.
  const auto oi = o.unsqueeze(2).expand({b, p, p, o.size(2)});
  const auto oj = o.unsqueeze(1).expand({b, p, p, o.size(2)});
  auto g = torch::relu(g1(torch::cat({oi, oj}, 3)));
  g = torch::relu(g3(torch::relu(g2(g))));  // [B, P, P, G]
  const auto off_diagonal = (1 - torch::eye(p, x.options())).reshape({1, p, p, 1});
  const auto summed = (g * off_diagonal).sum(2);  // [B, P, G]
  return f2(torch::relu(f1(summed))).squeeze(2);
}

int64_t OReNImpl::macs() const {
  const int64_t p = input.channels, e = options.embedding, w = options.g_width;
  const int64_t per_panel = conv_stack_macs(4, 1, options.channels, input.height) +
                            options.channels * conv_side * conv_side * e;
  const int64_t per_pair = 2 * e * w + 2 * w * w;
  return p * per_panel + p * (p - 1) * per_pair + p * (w * w + w);
}

SaccadeSNUImpl::SaccadeSNUImpl(const InputShape& in, const SaccadeSNUOptions& o) : input(in), options(o) {
  check_width("channels", o.channels);
  check_width("features", o.features);
  check_width("hidden", o.hidden);
  o.saccade.validate("model.saccade");
  schedule = saccade_schedule(o.saccade, in.channels);
  glimpse_channels = o.saccade.glimpse == "frame" ? 1 : 2;
  glimpse_side = o.saccade.glimpse == "frame" ? in.height : std::max<int64_t>(1, std::llround(o.saccade.fovea * in.height));
  conv_side = glimpse_side;
  encoder = register_module("encoder", conv_stack(3, glimpse_channels, o.channels, false, conv_side));
  embed = register_module("embed", torch::nn::Linear(o.channels * conv_side * conv_side, o.features));
  SNUOptions n1(o.features, o.hidden);
  n1.recurrent(true).soft(o.soft).decay(o.decay);
  SNUOptions n2(o.hidden, o.hidden);
  n2.soft(o.soft).decay(o.decay);
  layer1 = register_module("layer1", SNUCell(n1));
  layer2 = register_module("layer2", SNUCell(n2));
  readout = register_module("readout", torch::nn::Linear(o.hidden, 1));
}

torch::Tensor SaccadeSNUImpl::forward(const torch::Tensor& x) {
  check_input(x, input, "snu-saccade");
  const int64_t b = x.size(0), p = x.size(1);
  // Each panel is encoded once; the fixations index the encodings.
  auto v = torch::relu(embed(encoder->forward(glimpses(x, options.saccade)).flatten(1)));
  v = v.reshape({b, p, -1});
  SNUState s1, s2;
  std::vector<torch::Tensor> scores(static_cast<size_t>(p));
  for (size_t t = 0; t < schedule.frame.size(); ++t) {
    torch::Tensor y1, y2;
    std::tie(y1, s1) = layer1->forward(v.select(1, schedule.frame[t]), s1);
    std::tie(y2, s2) = layer2->forward(y1, s2);
    for (int64_t k = 0; k < p; ++k) {
      if (schedule.readout[static_cast<size_t>(k)] == static_cast<int64_t>(t)) scores[static_cast<size_t>(k)] = readout(y2);
    }
  }
  return torch::cat(scores, 1);  // [B, P]
}

int64_t SaccadeSNUImpl::macs() const {
  const int64_t p = input.channels, f = options.features, h = options.hidden;
  const int64_t per_panel = conv_stack_macs(3, glimpse_channels, options.channels, glimpse_side) +
                            options.channels * conv_side * conv_side * f;
  const int64_t steps = static_cast<int64_t>(schedule.frame.size());
  return p * per_panel + steps * (f * h + h * h + h * h) + p * h;
}

}  // namespace nc::nn
