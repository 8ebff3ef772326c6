// Local derivatives of torch::nn::GRUCell for the OSTL trace engine (ostl.md §6; the gate
// order r, z, n is PyTorch's: n = tanh(W_in x + b_in + r (W_hn h + b_hn))).
#include <torch/torch.h>

#include "neurocore/learn/ostl_rnn.h"

namespace nc::learn {

GRUOstlLayer::GRUOstlLayer(torch::nn::GRUCell cell)
    : GatedOstlLayer({cell->weight_ih, cell->weight_hh, cell->bias_ih, cell->bias_hh},
                     cell->options.hidden_size(), cell->options.hidden_size(), /*h_offset=*/0),
      cell_(std::move(cell)) {}

GatedOstlLayer::Local GRUOstlLayer::local_step(const torch::Tensor& x, const torch::Tensor& prev) {
  torch::Tensor h = cell_->forward(x, prev);

  torch::NoGradGuard no_grad;
  const auto gi =
      torch::nn::functional::linear(x.detach(), cell_->weight_ih, cell_->bias_ih).chunk(3, 1);
  const auto gh = torch::nn::functional::linear(prev, cell_->weight_hh, cell_->bias_hh).chunk(3, 1);
  const torch::Tensor r = (gi[0] + gh[0]).sigmoid(), z = (gi[1] + gh[1]).sigmoid();
  const torch::Tensor nn = (gi[2] + r * gh[2]).tanh();
  // h^t = (1 - z) n + z h^{t-1}.
  const torch::Tensor dn = (1 - z) * (1 - nn * nn);
  const torch::Tensor dr = dn * gh[2] * r * (1 - r), dz = (prev - nn) * z * (1 - z);
  // The r and z gates see gi + gh; in the n gate gh_n is scaled by r.
  const torch::Tensor Di = per_unit(torch::stack({dr, dz, dn}, 1));
  const torch::Tensor Dh = per_unit(torch::stack({dr, dz, dn * r}, 1));
  return {h, h.detach(), torch::diag_embed(z), Di, Dh};
}

}  // namespace nc::learn
