#include "neurocore/nn/weight_products.h"

#include <torch/torch.h>



namespace nc::nn {
namespace {

// Thread-local: a rule installs its products around the forward pass it runs; evaluation in
// another thread (or after the guard) uses plain LibTorch.
thread_local WeightProducts* tls_products = nullptr;

}  // namespace

WeightProductsGuard::WeightProductsGuard(WeightProducts* products) : previous_(tls_products) {
  tls_products = products;
}

WeightProductsGuard::~WeightProductsGuard() { tls_products = previous_; }

WeightProducts* current_weight_products() { return tls_products; }

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight,
                     const torch::Tensor& bias) {
  if (tls_products) return tls_products->linear(x, weight, bias);
  return torch::nn::functional::linear(x, weight, bias);
}

torch::Tensor linear(torch::nn::LinearImpl& l, const torch::Tensor& x) {
  if (tls_products) return tls_products->linear(x, l.weight, l.bias);
  return l.forward(x);
}

torch::Tensor conv2d(torch::nn::Conv2dImpl& c, const torch::Tensor& x) {
  const auto& o = c.options;
  const bool plain = o.groups() == 1 && c10::holds_alternative<torch::enumtype::kZeros>(o.padding_mode()) &&
                     !c10::holds_alternative<torch::enumtype::kSame>(o.padding()) &&
                     !c10::holds_alternative<torch::enumtype::kValid>(o.padding());
  if (tls_products && plain) return tls_products->conv2d(x, c);
  return c.forward(x);
}

}  // namespace nc::nn
