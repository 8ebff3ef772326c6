#pragma once
// EfQAT (efqat.md §5-§8): importance-ranked selection of the trainable output channels (or
// layers) of a QuantNet, and quantization-aware training that updates only them.
#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "neurocore/compress/quant_net.h"

namespace nc::learn {
class DataParallel;
}

namespace nc::compress {

enum class SelectMode { cwpn, cwpl, lwpn };
/// "cwpn", "cwpl" or "lwpn"; throws UserError naming `field` otherwise.
SelectMode parse_select_mode(const std::string& name, const std::string& field = "--mode");
std::string to_string(SelectMode m);

/// Importance of each output channel of each layer: I_c = mean |W[c, ...]| (latent weights).
std::vector<torch::Tensor> channel_importance(const QuantNetImpl& net);

/// The selected rows (sorted int64 tensors, one per layer) for importances `imp` (per layer,
/// [C_L] each) and the unfrozen fraction rho in [0, 1]:
///   cwpn: the top ⌈ρ·Σ C_L⌉ channels over the network (one global ranking);
///   cwpl: the top ⌈ρ·C_L⌉ channels of each layer;
///   lwpn: whole layers in decreasing mean |W| (I_L = mean of the layer's weights, i.e. the
///         channel importances weighted by `params` per channel) until their weight count
///         reaches ≥ ρ·Σ params (the smallest such prefix).
/// Ranking is by importance, descending; ties go to the lower (layer, channel) index.
/// params[L] is layer L's weight element count. Throws UserError unless 0 <= rho <= 1.
std::vector<torch::Tensor> select_channels(const std::vector<torch::Tensor>& imp,
                                           const std::vector<int64_t>& params, SelectMode mode,
                                           double rho);

struct EfqatOptions {
  SelectMode mode = SelectMode::cwpn;
  double rho = 0.1;
  int64_t reselect_every = 4096;  ///< optimiser steps between selections (efqat.md §6)
  bool train_quant_params = true; ///< activation scales, and weight scales of selected rows
  bool train_biases = true;       ///< conv/linear biases (BN is folded into them)
};

/// Applies selections to a QuantNet and keeps the frozen part frozen.
class Efqat {
 public:
  Efqat(QuantNetImpl& net, EfqatOptions options);
  /// Recomputes importances and the selection, sets requires_grad (a layer without selected
  /// rows gets none on its weight and weight scale) and snapshots the frozen rows. When an
  /// optimizer is given, zeroes the SGD momentum / Adam moments of rows whose status changed.
  void reselect(torch::optim::Optimizer* optimizer);
  /// After optimizer.step(): puts the frozen rows (and their weight scales) back to the
  /// snapshot, so optimiser momentum or weight decay cannot move them.
  void restore_frozen();
  /// Calls reselect when `step` is a multiple of reselect_every.
  void maybe_reselect(int64_t step, torch::optim::Optimizer* optimizer);
  const EfqatOptions& options() const { return options_; }
  int64_t selected_channels() const;
  int64_t total_channels() const;

 private:
  QuantNetImpl& net_;
  EfqatOptions options_;
  std::vector<torch::Tensor> frozen_, frozen_w_, frozen_s_;
};

/// Parameters a QAT/EfQAT optimiser should hold: latent weights, biases, quantizer scales
/// (not BN, which is folded).
std::vector<torch::Tensor> quant_parameters(QuantNetImpl& net);

struct QatOptions {
  int64_t epochs = 1;
  int64_t max_steps = -1;  ///< stop after this many steps (tests); -1: whole epochs
  int64_t batch_size = 128;
  double learning_rate = 1e-3;
  double momentum = 0.9;
  double weight_decay = 0.0;
  uint64_t seed = 42;
  bool efqat = true;  ///< false: plain QAT (every weight, LibTorch's own backward)
  EfqatOptions efqat_options;
};

struct QatStats {
  int64_t steps = 0;
  double mean_loss = 0;
  double backward_seconds = 0;
  int64_t backward_macs = 0, full_backward_macs = 0;  ///< summed over steps
};

/// QAT or EfQAT from the current (calibrated) state of `net` on images [N, ...] (already
/// normalised) and labels [N], SGD with momentum, cross-entropy, shuffled each epoch from
/// `seed`. `on_step(step, loss)` is called after each step when set. `parallel`: this rank of a
/// data-parallel job (learn/data_parallel.h): each step takes batch_size x world examples and
/// this rank trains its part; the gradients are averaged before every update (nullptr: one
/// process). Returned statistics are this rank's.
QatStats train_quantized(QuantNetImpl& net, const torch::Tensor& images,
                         const torch::Tensor& labels, const QatOptions& options,
                         const std::function<void(int64_t, double)>& on_step = {},
                         learn::DataParallel* parallel = nullptr);

}  // namespace nc::compress
