#pragma once
// What the pruner sees of a model: its weight layers (Conv2d, Linear) with their shapes, costs
// and, for channel pruning, the dependency groups that tie channels together (docs/prune.md;
// spec dtp.md §5).
//
// Channel elements: every output channel (or hidden neuron) a pruner may remove is mapped to
// an element id; channels joined by a residual addition share one element (one mask). For each
// layer, out_element[o] is the element of output channel o (-1: not prunable, the classifier's
// outputs) and in_element[i] the element of input feature i (-1: a fixed input, the image).
// The pruned layer keeps (sum_o m[out_element[o]]) x (sum_i m[in_element[i]]) weight rows x
// columns; with hard masks this is exactly the shrunk layer's shape.
#include <torch/nn/module.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "neurocore/nn/net.h"

namespace nc::compress::prune {

enum class BudgetKind { params, flops };
enum class Granularity { weight, channel };

struct PrunableLayer {
  std::string name;                  // module path, e.g. "stage1.0.conv1"
  torch::nn::Module* module = nullptr;  // a Conv2dImpl or LinearImpl of the model
  torch::Tensor weight;              // the module's weight (same storage)
  int64_t out = 0, in = 0;           // output channels, input features (channels for conv)
  int64_t kernel = 1;                // kh * kw (1 for linear)
  int64_t positions = 1;             // H_out * W_out per sample (1 for linear)
  std::vector<int64_t> out_element, in_element;  // channel elements (see above)

  /// Parameters (weights only) or MACs of one weight of this layer per sample.
  int64_t unit_cost(BudgetKind kind) const { return kind == BudgetKind::flops ? positions : 1; }
};

struct ModelStructure {
  std::vector<PrunableLayer> layers;
  int64_t elements = 0;  // channel elements (0 when the model cannot be channel-pruned)
  /// Why channel pruning is not possible ("" when it is).
  std::string no_channels;
  /// The layer whose output the hidden-layer hook of `module` sees, or -1.
  int64_t layer_of(const torch::nn::Module& module) const;
};

/// The weight layers of `model` (mlp, lenet5, resnet*) for inputs of shape `in`, with
/// H_out * W_out measured by one forward pass of a zero batch, and the channel elements:
/// MLP and LeNet-5 hidden units each their own element (LeNet-5's flatten maps fc1's input
/// feature f to conv2's channel f / (h w)); ResNet (shortcut A): the stem and every block's
/// conv2 of a stage share the stage's elements, and a stage's channel at the zero-pad offset
/// joins the previous stage's element (spec §5, "Option-A shortcuts"); each block's conv1 has
/// its own. Throws UserError for a temporal model or a model it does not know.
ModelStructure model_structure(nn::NetImpl& model, const nn::InputShape& in);

/// Dense weight parameters or MACs per sample of the conv and linear layers (bias and BN are
/// not counted).
double dense_cost(const ModelStructure& st, BudgetKind kind);

/// Exact cost of the channel-pruned network for element masks m ([elements], any values;
/// hard masks give the shrunk network's count): sum_l (sum_o m_out) (sum_i m_in) kernel
/// [positions]; -1 entries count as 1.
double channel_cost(const ModelStructure& st, const torch::Tensor& m, BudgetKind kind);

/// The gradient of channel_cost with respect to the element masks at m ([elements] double):
/// for every layer, each of an element's output channels adds (kept inputs) x kernel
/// [x positions], each of its input features (kept outputs) x kernel [x positions].
torch::Tensor channel_cost_grad(const ModelStructure& st, const torch::Tensor& m, BudgetKind kind);

/// Per-weight costs, all layers' weights concatenated in layer order ([sum numel] double):
/// 1 (params) or H_out * W_out (flops, conv; 1 for linear).
torch::Tensor weight_costs(const ModelStructure& st, BudgetKind kind);

}  // namespace nc::compress::prune
