// The direct gradient forms of EfQAT's partial convolution (row_weight_grad.h) against
// LibTorch's convolution backward.
#include "neurocore/compress/row_weight_grad.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/compress/partial.h"

namespace nc::compress {
namespace {

// LibTorch's weight gradient of a stride-1 convolution.
torch::Tensor reference_dw(const torch::Tensor& gy, const torch::Tensor& x, const torch::Tensor& w,
                           int64_t p0, int64_t p1) {
  return std::get<1>(at::convolution_backward(gy, x, w, c10::nullopt, {1, 1}, {p0, p1}, {1, 1}, false,
                                              {0, 0}, 1, {false, true, false}));
}

TEST(RowWeightGrad, SelectedRowsEqualLibTorchsWeightGradient) {
  struct Case {
    torch::ScalarType dtype;
    int64_t kh, kw, p0, p1, h, w;
  };
  // float 3x3: the nine-tap kernel; double and other kernels: the generic loop; odd sizes and
  // asymmetric padding check the padded layout's edges.
  for (const Case& c : {Case{torch::kFloat, 3, 3, 1, 1, 28, 28}, Case{torch::kFloat, 3, 3, 0, 0, 13, 11},
                        Case{torch::kDouble, 3, 3, 1, 1, 9, 14}, Case{torch::kFloat, 5, 5, 2, 2, 12, 17},
                        Case{torch::kDouble, 1, 3, 0, 1, 7, 7}}) {
    torch::manual_seed(3);
    const auto o = torch::TensorOptions().dtype(c.dtype);
    const auto x = torch::randn({3, 4, c.h, c.w}, o), w = torch::randn({6, 4, c.kh, c.kw}, o);
    const auto y = torch::conv2d(x, w, {}, 1, torch::IntArrayRef{c.p0, c.p1});
    const auto gy = torch::randn(y.sizes(), o);
    const auto rows = torch::tensor({0, 3, 5}, torch::kLong);
    const auto got = selected_rows_weight_grad(gy, x, rows, c.kh, c.kw, {c.p0, c.p1});
    const auto want = reference_dw(gy, x, w, c.p0, c.p1).index_select(0, rows);
    const double tol = c.dtype == torch::kFloat ? 1e-4 : 1e-11;
    EXPECT_TRUE(torch::allclose(got, want, tol, tol)) << c.kh << "x" << c.kw << " " << (got - want).abs().max();
  }
}

TEST(RowWeightGrad, BiasGradientIsTheSumOverBatchAndPixels) {
  torch::manual_seed(4);
  const auto gy = torch::randn({5, 7, 6, 9});
  EXPECT_TRUE(torch::allclose(bias_grad(gy), gy.sum({0, 2, 3}), 1e-5, 1e-5));
}

// A stride-1 layer on a 28-wide map with two selected channels takes the direct form inside the
// partial convolution: the same gradients as autograd.
TEST(RowWeightGrad, PartialConvTakesTheDirectFormWithTheSameGradients) {
  ASSERT_TRUE(prefer_direct_weight_grad(2, 28, 3, 3, {1, 1}, {1, 1}, 1));
  ASSERT_FALSE(prefer_direct_weight_grad(2, 28, 3, 3, {2, 2}, {1, 1}, 1));
  ASSERT_FALSE(prefer_direct_weight_grad(2, 28, 5, 5, {1, 1}, {1, 1}, 1));
  ASSERT_FALSE(prefer_direct_weight_grad(2, 7, 3, 3, {1, 1}, {1, 1}, 1));
  ASSERT_FALSE(prefer_direct_weight_grad(12, 28, 3, 3, {1, 1}, {1, 1}, 1));
  torch::manual_seed(5);
  const auto x = torch::randn({4, 16, 28, 28}).requires_grad_(true);
  const auto w = torch::randn({16, 16, 3, 3}).requires_grad_(true);
  const auto b = torch::randn({16}).requires_grad_(true);
  const auto gy = torch::randn({4, 16, 28, 28});
  ConvGeometry g;
  g.padding = {1, 1};
  torch::conv2d(x, w, b, 1, 1).backward(gy);
  const auto rw = w.grad().clone(), rb = b.grad().clone(), rx = x.grad().clone();
  w.mutable_grad().reset();
  b.mutable_grad().reset();
  x.mutable_grad().reset();
  const auto rows = torch::tensor({2, 9}, torch::kLong);
  partial_conv2d(x, w, b, rows, g).backward(gy);
  EXPECT_TRUE(torch::allclose(w.grad().index_select(0, rows), rw.index_select(0, rows), 1e-4, 1e-4));
  EXPECT_EQ(w.grad().index_select(0, torch::tensor({0, 1, 3, 15}, torch::kLong)).abs().max().item<float>(), 0.0f);
  EXPECT_TRUE(torch::allclose(b.grad(), rb, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(x.grad(), rx, 1e-4, 1e-4));
}

}  // namespace
}  // namespace nc::compress
