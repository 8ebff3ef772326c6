#pragma once
// ESSOP in training: Linear, Conv2d and SNU weight gradients estimated by the ESSOP kernel
// (essop.h) while the input gradients stay exact; `learn: {update: essop, bitstream: N}`
// (docs/essop.md).
//
// Mechanism: custom autograd functions. EssopProducts implements the model's weight
// products (nn::WeightProducts); for a weight that requires grad, in grad mode, it runs
//   forward:  y = F::linear(x, W, b)  /  conv2d(x, W, b)        (LibTorch, unchanged values)
//   backward: dx = exact (delta W, LibTorch's convolution_backward),
//             dW = essop_outer_sum(x_p, delta_p) over the P = prod(batch dims) rows
//                  (conv: the P = B H_out W_out receptive fields, x_p [C_in kh kw], read
//                  from the input directly for stride 1, from im2col columns otherwise),
//             db = sum_p delta_p (exact).
// The loss reduction (1/B) is already in delta. The estimate lands in .grad, so any optimizer
// (momentum, Adam, weight decay) applies to it unchanged.
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "neurocore/learn/essop.h"
#include "neurocore/learn/essop_energy.h"
#include "neurocore/learn/rule.h"
#include "neurocore/nn/weight_products.h"

namespace nc::learn {

class EssopProducts : public nn::WeightProducts {
 public:
  /// Random streams from make_generator(seed, "essop", 0) until reseed(). Throws UserError
  /// for a bad o.bitstream() (validate_essop).
  explicit EssopProducts(EssopOptions o, uint64_t seed = 0);

  /// linear with dW by ESSOP; plain F::linear when grad mode is off or weight needs no grad.
  torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight,
                       const torch::Tensor& bias) override;
  /// conv.forward(x) with dW by ESSOP (im2col outer products); plain forward otherwise.
  torch::Tensor conv2d(const torch::Tensor& x, torch::nn::Conv2dImpl& conv) override;

  /// Restarts the streams at make_generator(seed, "essop", epoch): a resumed run draws what
  /// an uninterrupted one draws.
  void reseed(uint64_t seed, int64_t epoch);
  /// dW = ESSOP estimate of sum_p delta_p x_p^T (x [P, N], delta [P, M]); counts into stats().
  torch::Tensor weight_gradient(const torch::Tensor& x, const torch::Tensor& delta);
  /// The same for a stride-1, dilation-1 convolution read straight from its input x
  /// [B, C, H, W] with output gradient delta [B, M, Ho, Wo] (essop_outer_sum_conv, no
  /// im2col): [M, C kh kw].
  torch::Tensor weight_gradient_conv(const torch::Tensor& x, const torch::Tensor& delta,
                                     int64_t kh, int64_t kw, int64_t ph, int64_t pw);
  /// The same for a convolution's products laid out as columns (other strides): B samples of L positions,
  /// columns(b0, b1) returns the unfolded input [b1 - b0, N, L] of samples [b0, b1) (it may
  /// reuse one buffer), delta [B, M, L]; product b L + l. The samples are processed in chunks
  /// (essop_outer_sum_columns on each, the streams drawn once for all B L products) and the
  /// chunks' float32 estimates summed.
  torch::Tensor weight_gradient_columns(
      int64_t B, int64_t N, int64_t L,
      const std::function<torch::Tensor(int64_t, int64_t)>& columns, const torch::Tensor& delta);

  const EssopOptions& options() const { return options_; }
  /// Operation counts since the last take_stats().
  EssopStats take_stats();

 private:
  EssopOptions options_;
  at::Generator gen_;
  std::mutex mutex_;  // the backward pass may run on an autograd worker thread
  EssopStats stats_;
  // Draws the streams of P products into this thread's reused buffers.
  EssopStreamPair draw(int64_t P);
};

/// A rule whose weight gradients come from ESSOP: runs `inner` (BPTT) with EssopProducts
/// installed for the forward and backward pass of each batch.
class EssopRule : public Rule {
 public:
  EssopRule(std::unique_ptr<Rule> inner, EssopOptions o, EssopEnergyModel energy = {});
  std::string name() const override { return inner_->name() + "+essop"; }
  BatchResult train_batch(nn::NetImpl& model, const torch::Tensor& x, const torch::Tensor& labels,
                          const std::string& loss, torch::optim::Optimizer& optimizer) override;
  void start_epoch(uint64_t seed, int64_t epoch) override;
  /// Operation counts and energies of the epoch (essop_cost_metrics) plus essop_bitstream.
  std::vector<std::pair<std::string, double>> epoch_metrics() override;

  EssopProducts& products() { return products_; }

 private:
  std::unique_ptr<Rule> inner_;
  EssopProducts products_;
  EssopEnergyModel energy_;
};

/// `learn.update` / `learn.bitstream` / `learn.essop` of a config applied to `rule`: returns
/// `rule` unchanged for update: exact, else an EssopRule around it. Throws UserError naming
/// the field for a bad value, for bitstream without update: essop, for a rule other than
/// bptt, and for a model whose products ESSOP cannot take (LSTM/GRU classifiers).
std::unique_ptr<Rule> apply_update(ConfigSection learn, std::unique_ptr<Rule> rule,
                                   nn::NetImpl& model);

}  // namespace nc::learn
