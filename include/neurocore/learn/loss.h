#pragma once
// Losses and predictions for plain and spiking classifiers (specs/snu.md §6).
#include <torch/types.h>

#include <string>

namespace nc::learn {

/// Resolves "auto": mse_rate for temporal (spiking) nets, cross_entropy otherwise.
std::string resolve_loss(const std::string& loss, bool temporal);

/// The per-example class scores: logits [B,C] as they are; for temporal outputs [T,B,C]
/// the time average ybar = (1/T) sum_t y_t (spike_count_ce: the sum over t).
torch::Tensor class_scores(const torch::Tensor& output, bool temporal, const std::string& loss);

/// Mean loss over the batch. labels: [B] int64.
///   cross_entropy, spike_count_ce: CE(softmax(scores), label)
///   mse_rate: mean over classes and batch of (ybar - onehot)^2 (Keras' MSE convention)
torch::Tensor classification_loss(const torch::Tensor& scores, const torch::Tensor& labels,
                                  const std::string& loss);

}  // namespace nc::learn
