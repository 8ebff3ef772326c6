#include "neurocore/learn/loss.h"

#include <torch/torch.h>

#include "neurocore/core/error.h"

namespace nc::learn {

std::string resolve_loss(const std::string& loss, bool temporal) {
  if (loss != "auto") return loss;
  return temporal ? "mse_rate" : "cross_entropy";
}

torch::Tensor class_scores(const torch::Tensor& output, bool temporal, const std::string& loss) {
  if (!temporal) return output;
  TORCH_CHECK(output.dim() == 3, "temporal output must be [T, B, C], got ", output.sizes());
  return loss == "spike_count_ce" ? output.sum(0) : output.mean(0);
}

torch::Tensor classification_loss(const torch::Tensor& scores, const torch::Tensor& labels,
                                  const std::string& loss) {
  if (loss == "cross_entropy" || loss == "spike_count_ce") {
    return torch::nn::functional::cross_entropy(scores, labels);
  }
  if (loss == "mse_rate") {
    auto target = torch::one_hot(labels, scores.size(1)).to(scores.dtype());
    return (scores - target).pow(2).mean();
  }
  throw InternalError("classification_loss: unknown loss '" + loss + "'");
}

}  // namespace nc::learn
