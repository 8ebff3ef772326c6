#pragma once
// The RNN transducer (asr.md §4): encoder (a stack of AsrUnit layers, unidirectional for
// streaming; a bidirectional LSTM as the non-streaming reference), prediction network
// (embedding + one recurrent layer) and joint network
//   l_{t,u} = W_o tanh(W_f f_t + W_p p_u + b) + b_o  in R^V  (vocabulary and blank).
#include <torch/nn/cloneable.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include "neurocore/nn/asr_units.h"

namespace nc::nn {

struct RnntModelOptions {
  RnntModelOptions(int64_t input_dim, int64_t vocab) : input_dim_(input_dim), vocab_(vocab) {}
  TORCH_ARG(int64_t, input_dim);
  /// Output symbols including the blank (index 0, also the start-of-sequence input).
  TORCH_ARG(int64_t, vocab);
  TORCH_ARG(AsrUnitKind, unit) = AsrUnitKind::ssnu_aa;
  TORCH_ARG(int64_t, layers) = 2;
  TORCH_ARG(int64_t, hidden) = 128;
  /// Each encoder layer reads the sequence both ways (LSTM only; not streaming).
  TORCH_ARG(bool, bidirectional) = false;
  /// Prediction network: the encoder's unit kind (DEFAULT, asr.md §12) or an LSTM.
  TORCH_ARG(bool, predictor_lstm) = false;
  TORCH_ARG(int64_t, embed) = 64;
  TORCH_ARG(int64_t, predictor_hidden) = 64;
  TORCH_ARG(int64_t, joint) = 64;
  /// Unit settings shared by every SNU-family layer (decay, threshold, reset, g, surrogate).
  TORCH_ARG(double, decay) = 0.8;
  TORCH_ARG(bool, trainable_decay) = false;
  TORCH_ARG(double, threshold_init) = 0.0;
  TORCH_ARG(bool, reset_from_y) = false;
};

/// Streaming state: one AsrUnitState per encoder layer.
using EncoderState = std::vector<AsrUnitState>;

class RnntModelImpl : public torch::nn::Cloneable<RnntModelImpl> {
 public:
  /// Throws UserError for sizes < 1, or bidirectional with a unit other than lstm.
  explicit RnntModelImpl(RnntModelOptions options);
  void reset() override;

  /// Encoder: x [T, B, input_dim] with lengths [B] (used by the bidirectional encoder only:
  /// each utterance is reversed within its length) -> f [T, B, E].
  torch::Tensor encode(const torch::Tensor& x, const torch::Tensor& lengths);
  /// One streaming encoder step: x [B, input_dim] -> f [B, E] (unidirectional only).
  torch::Tensor encode_step(const torch::Tensor& x, EncoderState& state);
  /// Prediction network over blank + targets: targets [B, U] (int64) -> p [B, U+1, P].
  torch::Tensor predict(const torch::Tensor& targets);
  /// One prediction step: symbols [B] -> p [B, P].
  torch::Tensor predict_step(const torch::Tensor& symbols, AsrUnitState& state);
  /// Joint logits: f [B, T, E], p [B, U+1, P] -> [B, T, U+1, V]; or f [..., E] and p [..., P]
  /// of equal leading shape -> [..., V] (decoding).
  torch::Tensor joint(const torch::Tensor& f, const torch::Tensor& p);
  torch::Tensor joint_step(const torch::Tensor& f, const torch::Tensor& p);

  int64_t encoder_dim() const;
  /// MACs (asr.md §7): encoder per input frame (the units' formulas, asr.md §3), prediction
  /// network per symbol (embedding lookups are free), joint per (frame, hypothesis)
  /// evaluation (W_f, W_p and W_o).
  int64_t encoder_macs_per_frame() const;
  int64_t predictor_macs_per_symbol() const;
  int64_t joint_macs() const;

  RnntModelOptions options;
  torch::nn::ModuleList encoder{nullptr}, encoder_backward{nullptr};
  torch::nn::Embedding embedding{nullptr};
  AsrUnit predictor{nullptr};
  torch::nn::Linear joint_enc{nullptr}, joint_pred{nullptr}, joint_out{nullptr};
};
TORCH_MODULE(RnntModel);

}  // namespace nc::nn
