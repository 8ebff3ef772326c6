#pragma once
// A fake-quantized view of a neurocore model (docs/quant.md): BatchNorm folded into the
// convolutions, every Conv2d/Linear weight fake-quantized per output channel and every
// Conv2d/Linear input fake-quantized per tensor, for mlp, lenet5 and resnet models.
//
// The wrapped model keeps its modules and parameters (the latent float weights); QuantNet
// runs its own forward over them (the same graph as the model's forward, checked by a test
// that compares both with quantization disabled), because a conv's or linear's forward
// cannot be intercepted from outside and EfQAT needs its own backward for them.
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "neurocore/compress/fake_quant.h"
#include "neurocore/compress/observer.h"
#include "neurocore/nn/net.h"

namespace nc::compress {

/// Bit-widths of "W<b>A<b>" (e.g. W4A8). Throws UserError naming `field` when malformed or
/// a width is outside 2..8.
struct Bits {
  int weights = 8, activations = 8;
};
Bits parse_bits(const std::string& text, const std::string& field = "--bits");
std::string to_string(const Bits& b);

struct QuantConfig {
  Bits bits;
  int first_bits = 8;  ///< weights and input of the first quantized layer
  int last_bits = 8;   ///< weights and input of the last (classifier) layer
  RangeMethod weight_range = RangeMethod::mse;
  RangeMethod act_range = RangeMethod::mse;
  double percentile = 99.99;
  bool restricted = false;  ///< weights on the grid −(2^(b−1)−1) .. 2^(b−1)−1
  bool learnable = true;    ///< LSQ scales (trainable in QAT/EfQAT)
};

/// Folds every BatchNorm2d that follows a Conv2d in a resnet model into the conv:
/// W' = (γ/σ)·W, b' = β + (γ/σ)(b − μ), σ = sqrt(var + eps); the BN becomes the identity
/// (weight 1, bias 0, mean 0, var 1, eps 0) and its parameters stop requiring grad, so the
/// model's own forward in eval mode is unchanged up to rounding. Returns the number of BNs
/// folded (0 for models without BN). Must be called in eval mode semantics: batch statistics
/// of a model in train mode are not folded.
int fold_batchnorm(nn::NetImpl& net);

/// One quantized layer: a Conv2d or Linear of the model and its two quantizers.
struct QuantLayer {
  std::string name;  ///< the module's path in the model, e.g. stage1.0.conv1
  std::shared_ptr<torch::nn::Conv2dImpl> conv;  ///< exactly one of conv / linear is set
  std::shared_ptr<torch::nn::LinearImpl> linear;
  FakeQuantizer weight_q = nullptr, input_q = nullptr;
  /// EfQAT: output channels whose weight gradient is computed (sorted, int64); all of them
  /// unless a selection was applied.
  torch::Tensor rows;
  // Calibration state.
  ActivationObserver observer;
  torch::Tensor input_sum;  ///< Σ over calibration samples of the per-channel input mean
  int64_t input_batches = 0;
  // Shape of the last forward, for the backward-MAC count.
  int64_t m = 0;
  bool input_grad = false;

  torch::Tensor& weight() const;
  torch::Tensor& bias() const;
  int64_t out_channels() const { return weight().size(0); }
  /// K = C_in/groups · kh · kw, or in_features.
  int64_t fan_in() const { return weight()[0].numel(); }
};

class QuantNetImpl : public nn::NetImpl {
 public:
  /// Wraps `net` (mlp, lenet5 or resnet; folded here) with quantizers of `config`.
  /// Throws UserError for other models (temporal/spiking ones) naming the model.
  QuantNetImpl(std::shared_ptr<nn::NetImpl> net, QuantConfig config);

  torch::Tensor forward(const torch::Tensor& x) override;

  /// Float forward with observers on (quantizers off), `batches` of calibration inputs;
  /// then weight ranges from the latent weights and activation ranges from the observers,
  /// and (when bias_correction) b −= (Ŵ − W)·E[x] per layer. Quantization is on afterwards.
  void calibrate(const std::vector<torch::Tensor>& batches, bool bias_correction);

  /// Turns all quantizers on or off (off: the float model with folded BN).
  void set_quantization(bool on);
  /// true: conv/linear run through partial_conv2d/partial_linear (EfQAT); false: LibTorch's
  /// own ops and autograd (plain QAT, the reference).
  void set_partial_backward(bool on) { partial_ = on; }
  /// The LSQ element-count multiplier of every activation quantizer (FakeQuantizerImpl::
  /// numel_scale): global batch / this rank's batch in data-parallel fine-tuning, else 1.
  void set_activation_numel_scale(double k);

  std::vector<QuantLayer>& layers() { return layers_; }
  const QuantConfig& config() const { return config_; }
  std::shared_ptr<nn::NetImpl> net() const { return net_; }

  /// Backward GEMM MACs of the last forward's batch under the current selection (§7).
  int64_t backward_macs() const;
  /// The same with every row selected (full QAT), input gradients as in the last forward.
  int64_t full_backward_macs() const;

  /// Markdown table: layer, kind, weight shape, weight bits, input bits and grid, scales.
  std::string summary() const;

 private:
  torch::Tensor layer(size_t i, const torch::Tensor& x);
  torch::Tensor forward_mlp(const torch::Tensor& x);
  torch::Tensor forward_lenet(const torch::Tensor& x);
  torch::Tensor forward_resnet(const torch::Tensor& x);

  std::shared_ptr<nn::NetImpl> net_;
  QuantConfig config_;
  std::vector<QuantLayer> layers_;
  enum class Kind { mlp, lenet, resnet } kind_;
  bool calibrating_ = false;
  bool partial_ = false;
};
TORCH_MODULE(QuantNet);

}  // namespace nc::compress
