#pragma once
// RNN transducer loss (Graves 2012; asr.md §5): forward-backward in log space over the
// (T, U+1) lattice, with the analytic gradient, as a LibTorch autograd function.
#include <torch/arg.h>
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace nc::asr {

/// What the loss's input holds. Never a bool: feeding log-probabilities to a loss that expects
/// logits (or the reverse) is the common mistake this enum makes explicit (asr.md §5).
///   Logits:   raw joint outputs z; the loss applies log_softmax over the last axis itself
///             (fused: the gradient is taken with respect to z).
///   LogProbs: already log_softmax(z); the gradient is taken with respect to these values.
enum class RnntInput { Logits, LogProbs };

/// How per-utterance losses L_b = -log P(y_b | x_b) are combined.
///   Mean (default): mean_b L_b.  Sum: sum_b L_b.  None: the vector [B].
///   MeanPerToken:   mean_b L_b / max(U_b, 1).
enum class RnntReduction { Mean, Sum, None, MeanPerToken };

/// Parses "logits" | "log_probs" and "mean" | "sum" | "none" | "mean_per_token"; UserError
/// naming `field` otherwise.
RnntInput parse_rnnt_input(const std::string& s, const std::string& field);
RnntReduction parse_rnnt_reduction(const std::string& s, const std::string& field);

struct RnntLossOptions {
  TORCH_ARG(RnntInput, input) = RnntInput::Logits;
  /// Index of the blank symbol in the last axis.
  TORCH_ARG(int64_t, blank) = 0;
  TORCH_ARG(RnntReduction, reduction) = RnntReduction::Mean;
  /// When > 0, the gradient with respect to the input is clamped to [-clamp, clamp] (per
  /// utterance, before the reduction scales it), as torchaudio's `clamp` does; <= 0: no clamp.
  TORCH_ARG(double, clamp) = -1;
};

/// The RNN-T loss.
///   input          [B, T_max, U_max+1, V] float or double (V counts the blank).
///   targets        [B, U_max] int32 or int64, padded after target_lengths[b].
///   logit_lengths  [B] int, 1 <= T_b <= T_max.   target_lengths [B] int, 0 <= U_b <= U_max.
/// Returns a scalar (or [B] for None) of input's dtype. Alpha and beta are accumulated in
/// float64 whatever the input's dtype (without a float64 copy of the input); the batch is
/// processed with at::parallel_for. Differentiable with respect to `input` (first order, one
/// backward pass: the gradient is computed in the forward pass and scaled in place).
/// Throws UserError for bad shapes, lengths out of range, a target outside [0, V) or equal
/// to the blank, a blank outside [0, V).
torch::Tensor rnnt_loss(const torch::Tensor& input, const torch::Tensor& targets,
                        const torch::Tensor& logit_lengths, const torch::Tensor& target_lengths,
                        const RnntLossOptions& options = {});

/// Per-utterance -log P [B] (float64) and the gradient of sum_b L_b with respect to `input`
/// (same shape and dtype, zero outside each utterance's lattice), without autograd.
/// `need_grad` false skips the gradient (an undefined tensor is returned).
struct RnntCosts {
  torch::Tensor costs;
  torch::Tensor grad;
};
RnntCosts rnnt_costs(const torch::Tensor& input, const torch::Tensor& targets,
                     const torch::Tensor& logit_lengths, const torch::Tensor& target_lengths,
                     RnntInput kind, int64_t blank, double clamp, bool need_grad);

/// One utterance's lattice, for tests and analysis: log_probs [T, U+1, V] (already
/// normalised), labels [U]. Returns alpha and beta [T, U+1] (float64) as asr.md §5 defines them.
struct RnntLattice {
  torch::Tensor alpha;
  torch::Tensor beta;
};
RnntLattice rnnt_lattice(const torch::Tensor& log_probs, const torch::Tensor& labels,
                         int64_t blank = 0);

}  // namespace nc::asr
