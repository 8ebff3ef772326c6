#pragma once
// OSTL for gated recurrent cells, LSTM and GRU (ostl.md §6): the generic form of OSTL, exact
// RTRL within one layer. The cells are LibTorch's torch::nn::LSTMCell and GRUCell (PyTorch's
// gate order: i, f, g, o and r, z, n); docs/ostl.md.
#include <torch/nn/modules/rnn.h>
#include <torch/types.h>

#include <vector>

#include "neurocore/learn/ostl.h"

namespace nc::learn {

/// The trace engine shared by the gated cells. A cell with hidden output h (n units), input x
/// (m) and state S (size S_n, h^t one slice of it) has the pre-activations
///   gi = W_ih x^t + b_ih,   gh = W_hh h^{t-1} + b_hh        (both [B, R])
/// and S^t = F(S^{t-1}, gi, gh). With the local derivatives the cell supplies per step,
///   A = dF/dS^{t-1} at fixed gi, gh [B, S_n, S_n],  Di = dF/dgi,  Dh = dF/dgh  [B, S_n, R],
/// the total state Jacobian is J = A + Dh W_hh (on the h columns) and the traces
/// eps_P = dS^t/dP follow
///   eps_Wih[b,s,r,c] <- sum_s' J[b,s,s'] eps_Wih[b,s',r,c] + Di[b,s,r] x[b,c]     [B, S_n, R, m]
///   eps_Whh                      ...                       + Dh[b,s,r] h^{t-1}[b,c]  [B, S_n, R, n]
///   eps_bih, eps_bhh             ...                       + Di, Dh                  [B, S_n, R]
/// and G_P += sum_b sum_j L_bj eps_P[b, h_j, ...] (y = h has no direct parameter dependence).
/// Memory: S_n x (number of parameters) per sample, O(hidden * params); time per step
/// O(B S_n^2 R (m + n)), the RTRL cost. Nothing carried depends on the sequence length.
class GatedOstlLayer : public OstlLayer {
 public:
  void begin(int64_t batch, const torch::TensorOptions& options) override;
  torch::Tensor step(const torch::Tensor& x) override;
  void accumulate(const torch::Tensor& signal) override;
  std::vector<torch::Tensor> parameters() const override;
  std::vector<torch::Tensor> gradients() const override;
  void zero_gradients() override;
  int64_t carried_bytes() const override;

 protected:
  /// One step of the cell, as the cell's own forward computes it.
  struct Local {
    torch::Tensor y;           // h^t [B, n] with the graph of this step (from x and parameters)
    torch::Tensor state;       // S^t [B, S_n], detached
    torch::Tensor a, di, dh;   // the local derivatives above
  };
  /// `params`: weight_ih, weight_hh, bias_ih, bias_hh (the biases may be undefined);
  /// `h_offset`: where h sits in S.
  GatedOstlLayer(std::vector<torch::Tensor> params, int64_t hidden, int64_t state_size,
                 int64_t h_offset);
  /// x [B, m] (its graph kept), prev S^{t-1} [B, S_n] detached.
  virtual Local local_step(const torch::Tensor& x, const torch::Tensor& prev) = 0;
  /// d [B, K, n] (the derivative of unit j's state with respect to gate k's pre-activation of
  /// unit j) -> [B, n, K n], zero off the unit's own rows: a gate pre-activation of unit j acts
  /// on unit j only.
  static torch::Tensor per_unit(const torch::Tensor& d);

 private:
  std::vector<torch::Tensor> params_;  // W_ih, W_hh, b_ih, b_hh
  int64_t hidden_, state_size_, h_offset_;
  torch::Tensor state_;                // S^{t-1}, then S^t
  std::vector<torch::Tensor> eps_, g_;  // per parameter (undefined for an absent bias)
};

/// OSTL of one torch::nn::LSTMCell: S = (c, h), S_n = 2n, R = 4n (i, f, g, o);
///   A = [[diag(f), 0], [diag(o (1 - tanh(c)^2) f), 0]],  Di = Dh = d(c, h)/d(gate pre-activation).
class LSTMOstlLayer : public GatedOstlLayer {
 public:
  explicit LSTMOstlLayer(torch::nn::LSTMCell cell);
  const torch::nn::LSTMCell& cell() const { return cell_; }

 protected:
  Local local_step(const torch::Tensor& x, const torch::Tensor& prev) override;

 private:
  torch::nn::LSTMCell cell_;
};

/// OSTL of one torch::nn::GRUCell: S = h, S_n = n, R = 3n (r, z, n);
///   A = diag(z); Di and Dh differ in the n rows (Dh has the factor r).
class GRUOstlLayer : public GatedOstlLayer {
 public:
  explicit GRUOstlLayer(torch::nn::GRUCell cell);
  const torch::nn::GRUCell& cell() const { return cell_; }

 protected:
  Local local_step(const torch::Tensor& x, const torch::Tensor& prev) override;

 private:
  torch::nn::GRUCell cell_;
};

}  // namespace nc::learn
