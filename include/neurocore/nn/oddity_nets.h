#pragma once
// The two oddity models of ../shared/specs/oddity.md §7 (docs/oddity.md). Both take a riddle as
// x [B, P, R, R] (P = 6 panels as channels) and return one score per panel, logits [B, P]; the
// trainer's cross-entropy with the odd panel's index is the spec's softmax loss.
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "neurocore/nn/net.h"
#include "neurocore/nn/saccade.h"
#include "neurocore/nn/snu.h"

namespace nc::nn {

/// OReN, the relation-network baseline: a shared per-panel encoder E (4 x [conv 3x3 stride 2
/// pad 1, `channels`, BN, ReLU] -> flatten -> linear -> `embedding`), g (MLP 2 embedding ->
/// g_width x 3, ReLU) on every ordered pair (o_i, o_j), i != j, and
/// score_i = f(sum_j g(o_i, o_j)), f: g_width -> g_width (ReLU) -> 1. Permuting the panels
/// permutes the scores. At 50 x 50 with the defaults: 4 x 4 x 32 after E's convolutions.
struct OReNOptions {
  int64_t channels = 32, embedding = 256, g_width = 256;
};
class OReNImpl : public NetImpl {
 public:
  /// Throws UserError when a width is < 1.
  OReNImpl(const InputShape& in, const OReNOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;
  /// Multiply-accumulates of one forward pass of one riddle (convolutions, linear layers).
  int64_t macs() const;

  InputShape input;
  OReNOptions options;
  torch::nn::Sequential encoder = nullptr;
  torch::nn::Linear embed = nullptr, g1 = nullptr, g2 = nullptr, g3 = nullptr, f1 = nullptr, f2 = nullptr;
  int64_t conv_side = 0;  ///< spatial side after E's convolutions
};
TORCH_MODULE(OReN);

/// The SNU saccade network: the panels are looked at through a saccade schedule (saccade.h);
/// each panel's glimpse is encoded once by a shared CNN (3 x [conv 3x3 stride 2 pad 1,
/// `channels`, ReLU] -> linear -> `features`); a step's input is the encoding of the panel it
/// fixates; two SNU layers of `hidden` units (layer 1 recurrent; sSNU by default) integrate the
/// sequence; score_k = linear(y_2) at panel k's readout step of the final cycle.
struct SaccadeSNUOptions {
  int64_t channels = 16, features = 128, hidden = 128;
  double decay = 0.9;
  bool soft = true;  ///< sSNU (sigmoid h); false: SNU (step h with the tanh surrogate)
  SaccadeOptions saccade;
};
class SaccadeSNUImpl : public NetImpl {
 public:
  /// Throws UserError when a width is < 1, decay is not in (0, 1], or as saccade.validate().
  SaccadeSNUImpl(const InputShape& in, const SaccadeSNUOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;
  /// Multiply-accumulates of one forward pass of one riddle: the encoder once per panel, the
  /// SNU layers at every step (input, recurrent weights), the readouts.
  int64_t macs() const;

  InputShape input;
  SaccadeSNUOptions options;
  SaccadeSchedule schedule;
  torch::nn::Sequential encoder = nullptr;
  torch::nn::Linear embed = nullptr, readout = nullptr;
  SNUCell layer1 = nullptr, layer2 = nullptr;
  int64_t glimpse_side = 0, glimpse_channels = 1, conv_side = 0;
};
TORCH_MODULE(SaccadeSNU);

}  // namespace nc::nn
