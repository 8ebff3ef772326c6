#pragma once
// Partial backward for EfQAT (efqat.md §7, implementation A made fast): conv2d and linear
// whose backward computes the input gradient in full but the weight gradient only for the
// selected output channels S; the other rows of dW are exactly 0. With dW[S] computed from
// gY[:, S] alone, the weight-gradient GEMM shrinks from M·N·K to M·|S|·K.
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace nc::compress {

struct ConvGeometry {
  std::vector<int64_t> stride{1, 1}, padding{0, 0}, dilation{1, 1};
  int64_t groups = 1;
};

/// y = conv2d(x, w, b) with the partial backward. rows: int64 [|S|] sorted output channels
/// whose weight gradient is computed; rows.numel() == C_out: the full gradient.
/// x [B, C_in, H, W], w [C_out, C_in/groups, kh, kw], b [C_out] or undefined.
/// The input gradient is skipped when x does not require grad (below the lowest trainable
/// layer), the weight gradient when w does not.
torch::Tensor partial_conv2d(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                             const torch::Tensor& rows, const ConvGeometry& g);

/// y = x wᵀ + b with the partial backward. x [B, K], w [N, K], b [N] or undefined.
torch::Tensor partial_linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                             const torch::Tensor& rows);

/// Backward GEMM multiply-accumulates of one layer: dX costs M·N·K when needed, dW
/// |S|·M·K (efqat.md §7: (1 + ρ_L)·M·N·K). M = batch · output pixels, K = C_in/groups·kh·kw.
int64_t backward_macs(int64_t m, int64_t n, int64_t k, int64_t selected, bool input_grad);

}  // namespace nc::compress
