#pragma once
// One time step of a Spiking node's unit (graph.h, SpikingOptions), shared by the reference
// evaluator and the functional simulator so that both run the same arithmetic. The operations
// and their order are nn::SNUCell's (u = x + (d s) (1 - y)), so a float evaluation of a graph
// imported from an snu-mlp gives the model's own spikes.
#include <cmath>

#include "neurocore/cm/graph.h"

namespace nc::cm {

/// Advances the state (s, y) of one unit by an input x and returns the new output y.
template <class T>
T spiking_step(const SpikingOptions& o, T x, T decay, T threshold, T& s, T& y) {
  T u = x + (decay * s) * (T(1) - y);
  if (o.g() == ActKind::kReLU) u = u > 0 ? u : T(0);
  if (o.g() == ActKind::kLeakyReLU) u = u > 0 ? u : u * static_cast<T>(o.alpha());
  s = u;
  const T z = u - threshold;
  y = o.soft() ? T(1) / (T(1) + std::exp(-z)) : (z > 0 ? T(1) : T(0));
  return y;
}

/// The channel (index into decay and threshold) of unit `unit` of a Spiking node whose value
/// has shape `s`: unit / (H*W) for an image-like [C, H, W] value (units row-major), the unit
/// itself for a flat one.
inline int64_t spiking_channel(const Shape& s, int64_t unit) {
  return s.size() == 3 ? unit / (s[1] * s[2]) : unit;
}

}  // namespace nc::cm
