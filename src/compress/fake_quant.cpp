#include "neurocore/compress/fake_quant.h"

#include <torch/torch.h>

#include <cmath>

#include "neurocore/core/error.h"

namespace nc::compress {

int64_t QuantSpec::qmin() const {
  if (!is_signed) return 0;
  return restricted ? -((int64_t{1} << (bits - 1)) - 1) : -(int64_t{1} << (bits - 1));
}

int64_t QuantSpec::qmax() const {
  return is_signed ? (int64_t{1} << (bits - 1)) - 1 : (int64_t{1} << bits) - 1;
}

void check_bits(int bits, const std::string& what) {
  if (bits < 2 || bits > 8) {
    throw UserError(what + ": bit-width must be between 2 and 8, got " + std::to_string(bits));
  }
}

namespace {

// Shapes [C] to broadcast along dim 0 of x ([C, 1, 1, ...]); [1] stays a scalar-like tensor.
torch::Tensor along_dim0(const torch::Tensor& p, const torch::Tensor& x) {
  if (p.numel() == 1) return p.reshape({});
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = p.numel();
  return p.reshape(shape);
}

// Forward value v, backward identity: the STE for round().
torch::Tensor round_ste(const torch::Tensor& v) { return v + (torch::round(v) - v).detach(); }

// Forward value s, backward gradient times g (LSQ gradient scaling). Written as
// s + (a − a) with a = s·g, so the forward value is exactly s (a − a is exactly 0): the
// integer export's scale·(code − zero_point) then equals the fake-quantized value bit for bit.
torch::Tensor grad_scale(const torch::Tensor& s, double g) {
  const auto a = s * g;
  return s.detach() + (a - a.detach());
}

}  // namespace

torch::Tensor fake_quantize(const torch::Tensor& x, const torch::Tensor& scale,
                            const torch::Tensor& zero_point, int64_t qmin, int64_t qmax,
                            double grad_factor) {
  // Composed from differentiable ops, so autograd gives exactly the STE/LSQ gradients of
  // efqat.md §3 in any dtype (testable in double).
  const auto s = along_dim0(grad_scale(scale.to(x.scalar_type()), grad_factor), x);
  const auto z = along_dim0(zero_point.to(x.scalar_type()), x);
  // Clamping before rounding (the same value, as the bounds are integers) puts the STE mask
  // on the unrounded x/s + z, as §3 defines it.
  const auto q = round_ste(
      torch::clamp(x / s + z, static_cast<double>(qmin), static_cast<double>(qmax)));
  return (q - z) * s;
}

torch::Tensor quantize_codes(const torch::Tensor& x, const torch::Tensor& scale,
                             const torch::Tensor& zero_point, int64_t qmin, int64_t qmax) {
  torch::NoGradGuard no_grad;
  const auto s = along_dim0(scale.to(x.scalar_type()), x);
  const auto z = along_dim0(zero_point.to(x.scalar_type()), x);
  return torch::clamp(torch::round(x / s + z), static_cast<double>(qmin),
                      static_cast<double>(qmax));
}

FakeQuantizerImpl::FakeQuantizerImpl(QuantSpec spec, int64_t channels) : spec_(spec) {
  check_bits(spec.bits, "quantizer");
  const auto ones = torch::ones({channels});
  if (spec.learnable) {
    scale = register_parameter("scale", ones);
  } else {
    scale = register_buffer("scale", ones);
  }
  zero_point = register_buffer("zero_point", torch::zeros({channels}));
}

void FakeQuantizerImpl::set_range(const torch::Tensor& s, const torch::Tensor& z) {
  torch::NoGradGuard no_grad;
  TORCH_CHECK(s.numel() == scale.numel() && z.numel() == zero_point.numel(),
              "quantizer: range of the wrong size");
  scale.copy_(s.reshape(scale.sizes()).clamp_min(1e-12));
  zero_point.copy_(z.reshape(zero_point.sizes()));
  calibrated = true;
}

double FakeQuantizerImpl::grad_factor(const torch::Tensor& x) const {
  if (!spec_.learnable) return 1.0;
  const double per_scale = static_cast<double>(x.numel()) / static_cast<double>(scale.numel());
  return 1.0 / std::sqrt(per_scale * static_cast<double>(spec_.qmax()));
}

torch::Tensor FakeQuantizerImpl::forward(const torch::Tensor& x) {
  if (!enabled || !calibrated) return x;
  return fake_quantize(x, scale, zero_point, spec_.qmin(), spec_.qmax(), grad_factor(x));
}

}  // namespace nc::compress
