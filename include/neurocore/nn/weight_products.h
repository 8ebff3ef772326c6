#pragma once
// The weight products of every model, as one replaceable point.
//
// Models compute their Linear, Conv2d and SNU products y = W x (+ b) through the functions
// below instead of calling LibTorch directly. By default they are exactly
// torch::nn::functional::linear / Conv2dImpl::forward. A learning rule that changes how the
// weight gradient of these products is computed (ESSOP, docs/essop.md) installs a
// WeightProducts object for the current thread with WeightProductsGuard around the forward
// pass; the model's code stays unchanged, as with the hidden-layer hook of NetImpl.
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

namespace nc::nn {

/// An implementation of the weight products (forward values must equal LibTorch's; only the
/// backward pass may differ).
class WeightProducts {
 public:
  virtual ~WeightProducts() = default;
  /// y = x W^T + b. x [..., in], weight [out, in], bias [out] or undefined -> [..., out].
  virtual torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias) = 0;
  /// conv.forward(x) for x [B, C, H, W] (zero padding, groups 1).
  virtual torch::Tensor conv2d(const torch::Tensor& x, torch::nn::Conv2dImpl& conv) = 0;
};

/// Installs `products` for the current thread until destruction (then the previous one, or
/// none, is restored). Guards nest. `products` must outlive the guard.
class WeightProductsGuard {
 public:
  explicit WeightProductsGuard(WeightProducts* products);
  ~WeightProductsGuard();
  WeightProductsGuard(const WeightProductsGuard&) = delete;
  WeightProductsGuard& operator=(const WeightProductsGuard&) = delete;

 private:
  WeightProducts* previous_;
};

/// The installed WeightProducts of this thread, or nullptr.
WeightProducts* current_weight_products();

/// y = x W^T + b through the installed products (LibTorch's linear when none).
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight,
                     const torch::Tensor& bias = {});
/// l.forward(x) through the installed products.
torch::Tensor linear(torch::nn::LinearImpl& l, const torch::Tensor& x);
/// c.forward(x) through the installed products; convolutions they cannot take (groups > 1,
/// padding modes other than zeros) always use LibTorch's forward.
torch::Tensor conv2d(torch::nn::Conv2dImpl& c, const torch::Tensor& x);

}  // namespace nc::nn
