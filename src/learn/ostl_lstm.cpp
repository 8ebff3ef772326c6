// Local derivatives of torch::nn::LSTMCell for the OSTL trace engine (ostl.md §6; the gate
// order i, f, g, o is PyTorch's).
#include <torch/torch.h>

#include "neurocore/learn/ostl_rnn.h"

namespace nc::learn {

LSTMOstlLayer::LSTMOstlLayer(torch::nn::LSTMCell cell)
    : GatedOstlLayer({cell->weight_ih, cell->weight_hh, cell->bias_ih, cell->bias_hh},
                     cell->options.hidden_size(), 2 * cell->options.hidden_size(),
                     /*h_offset=*/cell->options.hidden_size()),
      cell_(std::move(cell)) {}

GatedOstlLayer::Local LSTMOstlLayer::local_step(const torch::Tensor& x, const torch::Tensor& prev) {
  const int64_t n = cell_->options.hidden_size();
  const torch::Tensor c_prev = prev.narrow(1, 0, n), h_prev = prev.narrow(1, n, n);
  auto [h, c] = cell_->forward(x, std::make_tuple(h_prev, c_prev));

  torch::NoGradGuard no_grad;
  const torch::Tensor gates =
      torch::nn::functional::linear(x.detach(), cell_->weight_ih, cell_->bias_ih) +
      torch::nn::functional::linear(h_prev, cell_->weight_hh, cell_->bias_hh);
  const auto a = gates.chunk(4, 1);
  const torch::Tensor i = a[0].sigmoid(), f = a[1].sigmoid(), g = a[2].tanh(), o = a[3].sigmoid();
  const torch::Tensor cd = c.detach(), phi = cd.tanh();
  // c^t = f c^{t-1} + i g, h^t = o tanh(c^t); the output gate acts on h only.
  const torch::Tensor dc_i = g * i * (1 - i), dc_f = c_prev * f * (1 - f), dc_g = i * (1 - g * g);
  const torch::Tensor k = o * (1 - phi * phi);  // dh/dc at fixed o
  const torch::Tensor D = torch::cat(
      {per_unit(torch::stack({dc_i, dc_f, dc_g, torch::zeros_like(o)}, 1)),
       per_unit(torch::stack({k * dc_i, k * dc_f, k * dc_g, phi * o * (1 - o)}, 1))},
      1);
  // h^{t-1} enters only through the gates (the Dh W_hh part of J), c^{t-1} directly.
  const int64_t B = x.size(0);
  torch::Tensor A = torch::zeros({B, 2 * n, 2 * n}, cd.options());
  A.narrow(1, 0, n).narrow(2, 0, n).copy_(torch::diag_embed(f));
  A.narrow(1, n, n).narrow(2, 0, n).copy_(torch::diag_embed(k * f));
  return {h, torch::cat({cd, h.detach()}, 1), A, D, D};
}

}  // namespace nc::learn
