#pragma once
// Surrogate gradients of the spike step (snu.md §4).
//
// The forward pass is always the Heaviside step y = [z > 0] (y = 0 at z = 0, snu.md §10);
// the backward pass replaces its derivative (a Dirac delta) by a pseudo-derivative h'(z).
#include <torch/types.h>

#include <string>
#include <vector>

namespace nc::nn {

/// The pseudo-derivatives of snu.md §4, with their parameter p (0 selects the default):
///   tanh:             h'(z) = 1 - tanh^2(z)                         (SNU default, no parameter)
///   fast_sigmoid:     h'(z) = 1 / (1 + k |z|)^2                     (SuperSpike, k = 25)
///   arctan:           h'(z) = (alpha/2) / (1 + (pi alpha z / 2)^2)  (alpha = 2)
///   sigmoid:          h'(z) = k sigma(k z) (1 - sigma(k z))         (k = 4)
///   triangle:         h'(z) = max(0, 1 - |z|/w) / w                 (w = 1)
///   straight_through: h'(z) = 1                                     (no parameter)
enum class SurrogateKind { tanh, fast_sigmoid, arctan, sigmoid, triangle, straight_through };

struct Surrogate {
  SurrogateKind kind = SurrogateKind::tanh;
  /// k, alpha or w of the formula; 0 selects the spec default (k = 25, alpha = 2, k = 4, w = 1).
  double param = 0;
};

/// Config names of the surrogates, in SurrogateKind order:
/// tanh, fast_sigmoid, arctan, sigmoid, triangle, straight_through.
std::vector<std::string> surrogate_names();

/// The surrogate called `name` (one of surrogate_names()) with parameter `param`.
/// Throws UserError on an unknown name (with the closest valid name suggested) or a
/// negative param.
Surrogate parse_surrogate(const std::string& name, double param = 0);

/// The config name of s.kind.
std::string surrogate_name(const Surrogate& s);

/// The parameter actually used: s.param, or the kind's default when s.param is 0.
double surrogate_param(const Surrogate& s);

/// h'(z) elementwise, same shape and dtype as z (formulas above). Differentiable.
torch::Tensor surrogate_derivative(const torch::Tensor& z, const Surrogate& s);

/// The spike step as an autograd function: forward (z > 0) in z's dtype, backward
/// grad_out * surrogate_derivative(z, s). Any shape.
torch::Tensor spike(const torch::Tensor& z, const Surrogate& s);

}  // namespace nc::nn
