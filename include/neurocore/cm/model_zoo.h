#pragma once
// Small networks built directly as cm::Graph (no LibTorch), for mapping, dependency analysis
// and timing tests. Weights are left empty (shape-only) unless `fill_random` is called.
#include <cstdint>

#include "neurocore/cm/graph.h"

namespace nc::cm {

enum class Shortcut {
  kA,  // parameter-free: strided subsample x[:, ::2, ::2] + zero channel padding (He et al. option A)
  kB,  // 1x1 stride-2 projection conv + BatchNorm (option B)
};

/// CIFAR ResNet (He et al. 2016, §4.2): depth = 6n + 2 (20, 32, 44, 56, 110).
/// conv1 3 -> 16 (3x3) + BN + ReLU; 3 stages of n basic blocks with 16/32/64 channels on
/// 32x32 / 16x16 / 8x8 maps, the first conv of stages 2 and 3 with stride 2; global average
/// pooling, Flatten, Linear 64 -> classes. Every conv has no bias and is followed by a
/// BatchNorm (fold them with Graph::fold_batch_norms). Node names follow PyTorch's CIFAR
/// ResNet: conv1, layer2.0.conv1, layer2.0.shortcut, fc, ...
/// Throws UserError when depth is not 6n + 2 with n >= 1.
Graph resnet_cifar(int64_t depth, Shortcut shortcut = Shortcut::kA, int64_t classes = 10);

/// Fills every parameter of `g` with deterministic pseudo-random values in [-scale, scale]
/// (running_var in [0.5, 1.5]), from `seed` (a 64-bit LCG, so the same seed gives the same
/// numbers on every platform).
void fill_random(Graph& g, uint64_t seed, float scale = 0.5f);

}  // namespace nc::cm
