#pragma once
// Small networks built directly as cm::Graph (no LibTorch), for mapping, dependency analysis
// and timing tests. Weights are left empty (shape-only) unless `fill_random` is called.
#include <cstdint>
#include <string>
#include <vector>

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

/// ImageNet ResNet as torchvision builds it (224x224 input, depth 18, 34, 50, 101 or 152):
/// 7x7/2 conv + BN + ReLU + 3x3/2 max pool; four stages of basic (18, 34) or bottleneck (50+,
/// stride on the 3x3 conv as in torchvision's v1.5) blocks with 64/128/256/512 planes;
/// projection shortcuts (1x1 conv + BN, "downsample") where the shape changes; global average
/// pooling, Linear -> classes. Convs have no bias, each followed by a BatchNorm.
/// Throws UserError for another depth.
Graph resnet_imagenet(int64_t depth, int64_t classes = 1000);

/// MobileNet-v2 (Sandler et al. 2018, Table 2; torchvision layout, width 1.0, 224x224):
/// inverted residual blocks of 1x1 expansion, 3x3 depthwise and 1x1 linear projection convs,
/// with the residual add where stride is 1 and the channels stay; ReLU6; 1x1 conv to 1280,
/// global average pooling, Linear -> classes.
Graph mobilenet_v2(int64_t classes = 1000);

/// GoogLeNet (Inception v1, Szegedy et al. 2015; torchvision layout without the auxiliary
/// classifiers, 224x224): nine Inception blocks of four parallel branches (1x1 | 1x1 -> 3x3 |
/// 1x1 -> 3x3 | 3x3 max pool -> 1x1) concatenated along channels. As in torchvision, the
/// third branch's conv is 3x3 rather than the paper's 5x5.
Graph googlenet(int64_t classes = 1000);

/// DenseNet-BC (Huang et al. 2017; torchvision layout, growth 32, depth 121, 169 or 201,
/// 224x224): dense blocks where every layer (BN-ReLU-1x1 conv-BN-ReLU-3x3 conv) reads the
/// channel concatenation of all earlier outputs of its block; transitions halve the channels
/// (1x1 conv) and the map (2x2 average pool). Throws UserError for another depth.
Graph densenet(int64_t depth = 121, int64_t classes = 1000);

/// Trainable parameters as PyTorch counts them (module.parameters()): Conv2d and Linear
/// weights and biases, BatchNorm gamma and beta (running statistics are buffers, not counted).
/// Computed from the options, so it works on shape-only graphs.
int64_t parameter_count(const Graph& g);

/// The zoo's networks by name, with their default class count, BatchNorms not folded:
/// resnet20, resnet32, resnet44, resnet56, resnet110 (CIFAR, option-A shortcuts),
/// resnet32b (option B), resnet18, resnet34, resnet50 (ImageNet), mobilenet_v2, googlenet,
/// densenet121. Throws UserError naming the value and the valid names for an unknown one.
Graph zoo_model(const std::string& name);
const std::vector<std::string>& zoo_names();

/// Fills every parameter of `g` with deterministic pseudo-random values in [-scale, scale]
/// (running_var in [0.5, 1.5]), from `seed` (a 64-bit LCG, so the same seed gives the same
/// numbers on every platform).
void fill_random(Graph& g, uint64_t seed, float scale = 0.5f);

}  // namespace nc::cm
