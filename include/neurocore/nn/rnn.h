#pragma once
// Recurrent classifiers: one LibTorch LSTM, GRU or Elman (tanh) cell and a linear readout at
// every step (the OSTL spec's LSTM/GRU models, ostl.md §6, trainable by BPTT or `learn.rule:
// ostl`; the Elman RNN is the ST-STDP spec's RNN baseline, st-stdp.md §7, BPTT only).
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>

#include "neurocore/nn/net.h"

namespace nc::nn {

enum class RNNCellKind { lstm, gru, rnn };

/// "lstm", "gru" or "rnn".
const char* cell_name(RNNCellKind cell);

struct RNNClassifierOptions {
  RNNClassifierOptions(int64_t in, int64_t classes) : in_(in), classes_(classes) {}
  TORCH_ARG(int64_t, in);
  TORCH_ARG(int64_t, classes);
  TORCH_ARG(RNNCellKind, cell) = RNNCellKind::lstm;
  TORCH_ARG(int64_t, hidden) = 128;
};

/// Temporal: x [T, B, ...] flattened to [T, B, in] -> torch::nn::LSTMCell, GRUCell or RNNCell
/// (tanh: h_t = tanh(W x_t + b + U h_{t-1} + b')) from a zero state (PyTorch's gate order and initialisation) -> Linear (with bias) on h^t at every
/// step -> [T, B, classes]. Throws UserError when a size is < 1 (constructor) or when x does
/// not flatten to `in` features per step (forward).
class RNNClassifierImpl : public NetImpl {
 public:
  explicit RNNClassifierImpl(RNNClassifierOptions options);
  torch::Tensor forward(const torch::Tensor& x) override;
  bool temporal() const override { return true; }

  RNNClassifierOptions options;
  torch::nn::LSTMCell lstm = nullptr;  // exactly one of the three cells is set
  torch::nn::GRUCell gru = nullptr;
  torch::nn::RNNCell rnn = nullptr;
  torch::nn::Linear readout = nullptr;
};
TORCH_MODULE(RNNClassifier);

}  // namespace nc::nn
