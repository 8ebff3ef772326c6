#pragma once
// Fake quantization (efqat.md §3): x̂ = s · (clamp(round(x/s) + z, Qn, Qp) − z), with the
// straight-through estimator for x and the LSQ gradient (Esser et al. 2020) for s.
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace nc::compress {

/// How a tensor is quantized.
struct QuantSpec {
  int bits = 8;             ///< 2..8
  bool is_signed = true;    ///< signed [-2^(b-1), 2^(b-1)-1]; unsigned [0, 2^b-1]
  bool symmetric = true;    ///< z = 0; asymmetric keeps a zero point (unsigned grid only)
  bool per_channel = false; ///< one scale per index of dim 0 (output channel of a weight)
  bool restricted = false;  ///< signed only: Qn = -(2^(b-1)-1), so the grid is symmetric
  bool learnable = true;    ///< the scale is an LSQ parameter
  int64_t qmin() const;
  int64_t qmax() const;
};

/// Throws UserError unless 2 <= bits <= 8 (`what` names the field).
void check_bits(int bits, const std::string& what);

/// x̂ for x [C, ...] (per-channel: scale and zero_point [C]) or any shape (per-tensor:
/// scale and zero_point [1]). zero_point holds integers (as x's dtype), never learned.
/// Gradients: ∂x̂/∂x = 1 inside [Qn, Qp] (after + z), 0 outside (STE);
/// ∂x̂/∂s = round(x/s) − x/s inside, Qn − z below, Qp − z above, times grad_factor
/// (LSQ uses g = 1/sqrt(numel_per_scale · Qp)). Any floating dtype (double for tests).
/// One fused pass forward and one backward (an autograd Function, not composed ops).
torch::Tensor fake_quantize(const torch::Tensor& x, const torch::Tensor& scale,
                            const torch::Tensor& zero_point, int64_t qmin, int64_t qmax,
                            double grad_factor = 1.0);

/// Integer codes clamp(round(x/s) + z, Qn, Qp) (no gradient), same layout as fake_quantize.
torch::Tensor quantize_codes(const torch::Tensor& x, const torch::Tensor& scale,
                             const torch::Tensor& zero_point, int64_t qmin, int64_t qmax);

/// A quantizer with its scale (parameter when learnable, else buffer) and zero point
/// (buffer). Disabled, or not yet calibrated, it passes x through unchanged.
class FakeQuantizerImpl : public torch::nn::Module {
 public:
  /// channels: 1 for per-tensor, else the size of dim 0 of the tensors it quantizes.
  FakeQuantizerImpl(QuantSpec spec, int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);
  /// Sets scale and zero point (shape [channels]); marks the quantizer calibrated.
  void set_range(const torch::Tensor& scale, const torch::Tensor& zero_point);
  /// The LSQ gradient factor for tensors shaped like x: 1 / sqrt(n Qp), n = x.numel() x
  /// numel_scale per scale.
  double grad_factor(const torch::Tensor& x) const;
  /// Multiplies the element count of the LSQ factor: a data-parallel rank holding n_r of a
  /// global batch of N sets N / n_r on its activation quantizers, so that its factor is the
  /// one of the global batch, as one process would use.
  double numel_scale = 1.0;
  const QuantSpec& spec() const { return spec_; }
  /// For activations whose sign is known only after calibration (unsigned after ReLU).
  void set_spec(const QuantSpec& s) { spec_ = s; }
  bool enabled = true;
  bool calibrated = false;
  torch::Tensor scale, zero_point;

 private:
  QuantSpec spec_;
};
TORCH_MODULE(FakeQuantizer);

}  // namespace nc::compress
