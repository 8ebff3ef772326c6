#pragma once
// Physical shrinking after channel pruning (docs/prune.md; spec dtp.md §5): a smaller dense
// model whose output equals the masked model's.
#include <memory>
#include <string>
#include <vector>

#include "neurocore/compress/prune/structure.h"
#include "neurocore/nn/net.h"

namespace nc::compress::prune {

struct Shrunk {
  std::shared_ptr<nn::NetImpl> model;  // eval mode
  /// The config overrides that build this model's shape ("model.hidden=[...]" for mlp,
  /// "model.channels=[...]" for lenet5 and resnet), for the shrunk run's config.yaml.
  std::vector<std::string> config_sets;
};

/// The model with only the channels whose element is kept in `hard` ([elements] 0/1): conv,
/// linear and BN shapes reduced, each weight the kept rows and columns of the original;
/// ResNet residual stages keep their tied channels, and a stage change becomes a frozen 1x1
/// select convolution mapping each kept channel to its position (ResNetOptions::channels).
/// `model` is the masked model (its hidden-layer hook is not copied). Supported: mlp, lenet5
/// (model.channels), resnet (shortcut A). Throws UserError for other models;
/// InternalError when a layer would keep no channel.
Shrunk shrink(nn::NetImpl& model, const ModelStructure& st, const torch::Tensor& hard);

}  // namespace nc::compress::prune
