#pragma once
// Gradients of a 2-D convolution that EfQAT's partial backward (partial.cpp) computes itself,
// because LibTorch's CPU kernels (oneDNN) do them slowly for its case:
//   - the weight gradient of a few output channels of a large feature map: oneDNN takes about
//     as long for one channel as for all of them (bound by reading the input activations,
//     docs/results/efqat.md, "Where the remaining time goes");
//   - the bias gradient on its own (oneDNN computes it inside the full weight-gradient pass).
// The direct forms read each input plane once, zero-padded, and correlate it with the selected
// channels' gradient planes while both are in cache: one contiguous dot product per kernel tap.
#include <torch/types.h>

#include <vector>

namespace nc::compress {

/// dW[r] = sum_{b, oh, ow} gy[b, rows[r], oh, ow] * x[b, :, oh + i - p_h, ow + j - p_w]: the
/// weight gradient [rows, C, kh, kw] of the selected output channels of a stride-1, dilation-1,
/// groups-1 convolution with padding (p_h, p_w). gy [B, K, OH, OW] and x [B, C, H, W], float or
/// double, contiguous.
torch::Tensor selected_rows_weight_grad(const torch::Tensor& gy, const torch::Tensor& x,
                                        const torch::Tensor& rows, int64_t kh, int64_t kw,
                                        const std::vector<int64_t>& padding);

/// Whether the direct form above applies and is the faster one: a 3x3 kernel, stride 1,
/// dilation 1, groups 1,
/// at most 7 selected channels of a map at least 28 wide, or 5 of one at least 14 wide
/// (bench/efqat_bench.cpp `layers` measures both forms).
bool prefer_direct_weight_grad(int64_t selected, int64_t out_width, int64_t kh, int64_t kw,
                               const std::vector<int64_t>& stride,
                               const std::vector<int64_t>& dilation, int64_t groups);

/// The bias gradient sum_{b, oh, ow} gy[b, k, oh, ow], [K], plane by plane.
torch::Tensor bias_grad(const torch::Tensor& gy);

}  // namespace nc::compress
