#pragma once
// OSTL: online spatio-temporal learning (Bohnstingl et al., IEEE TNNLS 2022; specs/ostl.md).
//
// The gradient of a per-step loss E = sum_t E^t is split into a temporal part, eligibility
// traces e^t = dy^t/dtheta carried forward in time by each recurrent layer without an
// autograd graph over time, and a spatial part, the learning signal L^t = dE^t/dy^t obtained
// by autograd through the layers above at step t only:
//   grad_theta E = sum_t sum_b L_b^t . e_b^t                                  (ostl.md §2)
// Exact (equal to BPTT) for one recurrent layer followed by stateless layers; for stacked
// recurrent layers it drops the paths through earlier steps of the upper layers (§7).
// Memory carried between steps does not depend on the sequence length T. docs/ostl.md.
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "neurocore/core/config.h"
#include "neurocore/learn/rule.h"
#include "neurocore/nn/snu.h"

namespace nc::learn {

/// One recurrent layer trained by OSTL: it steps its cell with the temporal graph cut and
/// carries the eligibility traces and the accumulated gradient G of its parameters.
class OstlLayer {
 public:
  virtual ~OstlLayer() = default;
  /// Starts a sequence of `batch` examples: zero state and zero traces (G is kept).
  virtual void begin(int64_t batch, const torch::TensorOptions& options) = 0;
  /// One step from the layer input x_t [B, in]. Returns y_t [B, out] with the autograd graph
  /// of this step only (x_t's graph is kept, the previous state enters detached), and advances
  /// the traces to step t under NoGradGuard.
  virtual torch::Tensor step(const torch::Tensor& x) = 0;
  /// G += sum_b L_b . e_b^t, with L = dE^t/dy^t [B, out] of the last step; after steps(),
  /// L is [K, B, out], the learning signals of its K steps.
  virtual void accumulate(const torch::Tensor& signal) = 0;
  /// Whether steps() applies (known after begin()).
  virtual bool holds_steps() const { return false; }
  /// K steps at once from x [K, B, in]: y [K, B, out], the numbers of K calls of step(), with
  /// a graph in which y^t reaches only x^t, as step() builds it (so a loss over the K outputs
  /// gives each step its own learning signal). InternalError unless holds_steps().
  virtual torch::Tensor steps(const torch::Tensor& x);
  /// The parameters the traces cover, and G in the same order (same shapes).
  virtual std::vector<torch::Tensor> parameters() const = 0;
  virtual std::vector<torch::Tensor> gradients() const = 0;
  /// G = 0.
  virtual void zero_gradients() = 0;
  /// Bytes of the tensors carried from one step to the next: state, traces and G.
  virtual int64_t carried_bytes() const = 0;
};

/// OSTL traces of one SNU / sSNU cell (ostl.md §4 without recurrent weights, §5 with them;
/// the notation below is the spec's, per batch element b, unit j, input i):
///   alpha_j = g'_j d_j [(1 - y_j^{t-1}) - s_j^{t-1} h'^{t-1}_j]   (reset term dropped when
///             the cell has detach_reset)
///   diagonal: epsW [B, n, m], epsTheta [B, n], epsD [B, n] (trainable decay only);
///   with H:   J [B, n, n], epsW [B, n, n, m], epsH [B, n, n, n], epsTheta, epsD [B, n, n].
/// g' is 1 (identity), [u > 0] (relu) or [u > 0] + g_slope [u <= 0] (leaky_relu); h' is the
/// cell's surrogate derivative (SNU) or y (1 - y) (sSNU); the decay gradient is taken with respect to rho,
/// d = sigmoid(rho), by the factor d (1 - d).
/// Parameters covered: weight, recurrent_weight (when recurrent), threshold, rho (when
/// trainable_decay); those with requires_grad false get no gradient written.
/// Throws UserError for a cell with lateral_inhibition (not supported by OSTL here).
///
/// trace_chunk (diagonal layer, CPU, float or double): the update of epsW, the largest tensor
/// of a step, is held back for up to this many steps and applied in one pass, and the step's
/// other work runs in fused loops (docs/ostl.md, "How a diagonal step runs"); the held steps cost
/// trace_chunk * B * (3n + m) numbers. The held-back steps are applied before G is read
/// (gradients(), zero_gradients()) and before begin() resets the traces, so the results do
/// not depend on it (up to rounding). 0: plain tensor operations, one pass each (any device;
/// the reference the fused path is tested against).
///
/// steps() (held steps only: holds_steps()) runs K steps as the SNU layer's BPTT forward does,
/// one matmul for W x of all K and the fused time loop, and holds them with their per-unit
/// traces until accumulate() brings their K learning signals at once; K above trace_chunk
/// widens the held buffers to K steps.
class SNUOstlLayer : public OstlLayer {
 public:
  static constexpr int64_t kDefaultTraceChunk = 16;
  explicit SNUOstlLayer(nn::SNUCell cell, int64_t trace_chunk = kDefaultTraceChunk);

  void begin(int64_t batch, const torch::TensorOptions& options) override;
  torch::Tensor step(const torch::Tensor& x) override;
  void accumulate(const torch::Tensor& signal) override;
  bool holds_steps() const override { return held_.alpha.defined(); }
  torch::Tensor steps(const torch::Tensor& x) override;
  std::vector<torch::Tensor> parameters() const override;
  std::vector<torch::Tensor> gradients() const override;
  void zero_gradients() override;
  int64_t carried_bytes() const override;

  const nn::SNUCell& cell() const { return cell_; }

 private:
  nn::SNUCell cell_;
  nn::SNUState state_;    // detached {s^{t-1}, y^{t-1}} (after step: {s^t, y^t})
  torch::Tensor hp_;      // h'^t [B, n] (h'^{t-1} before a step; 0 at t = 0: y^0 is constant)
  // Traces epsilon (state derivatives). eps_w_ is [B, n, m]; for held steps (below) it is
  // input-major, [B, m, n], and g_w_ is then stored transposed (kernels::trace_update_contract).
  torch::Tensor eps_w_, eps_h_, eps_th_, eps_d_;
  torch::Tensor g_w_, g_h_, g_th_, g_rho_;  // accumulated gradients G
  // Diagonal layer on CPU: the held-back steps of eps_w_'s update, slot k holding step k's
  // alpha, g' [B, n], x [B, m] and learning signal c = L h' [B, n] (0 until accumulate()).
  // Mutable: applying them changes how the state is stored, not what it is.
  // steps() also keeps each step's epsTheta, epsD and h' for accumulate() (eth, ed, hp).
  struct HeldSteps {
    torch::Tensor alpha, gp, x, c;  // [chunk, B, n] ([B, chunk, m] for x)
    torch::Tensor eth, ed, hp;      // [chunk, B, n]; ed undefined without trainable decay
    int64_t steps = 0;
    int64_t last = 0;    // steps taken by the last step() or steps() call
    bool fresh = false;  // eps_w_ not written yet in this sequence: it is zero (not stored)
  };
  int64_t chunk_;
  mutable HeldSteps held_;
  // Applies the held-back steps to eps_w_ and their contractions to g_w_.
  void apply_held() const;
  // (Re)allocates the held buffers for `capacity` steps of `batch` examples (with those only
  // steps() uses when it has been used).
  void hold(int64_t capacity, int64_t batch, const torch::TensorOptions& options,
            bool steps_used = false);
  void accumulate_steps(const torch::Tensor& signal);
  torch::Tensor step_fused(const torch::Tensor& x);
};

/// When OSTL applies the accumulated gradient (ostl.md §2): after every time step (fully
/// online) or once at the end of the sequence (the gradient of the whole sequence; with it,
/// OSTL and BPTT see identical weights and, for one recurrent layer, equal gradients).
enum class OstlUpdate { step, sequence };

/// The OSTL driver over a stack of recurrent layers (bottom to top) followed by stateless
/// layers whose parameters are `stateless` (e.g. a linear readout). Per step t:
///   y = step(x_t)                       every layer, temporal graph cut
///   E^t = a loss built from y by the caller (through the stateless layers)
///   backward(E^t)                       L_l^t = dE^t/dy_l^t by autograd on step t only;
///                                       G_l += L_l . e_l; G_stateless += dE^t/dphi
/// then write_gradients() adds every G to the parameters' .grad() (any optimizer works).
class Ostl {
 public:
  /// Applied to layer l's output y_l^t before it goes up (to layer l+1 or the readout):
  /// the model's hidden-layer hook, where a modulation such as GRAPES acts. The learning
  /// signal of layer l is taken at y_l^t, below the hook, so the hook's backward reaches
  /// layer l and, through it, the layers below (GRAPES' propagating version).
  using Between = std::function<torch::Tensor(std::size_t layer, const torch::Tensor& y)>;

  Ostl(std::vector<std::shared_ptr<OstlLayer>> layers, std::vector<torch::Tensor> stateless,
       Between between = {});

  /// Starts a sequence (zero states and traces; accumulated G kept).
  void begin(int64_t batch, const torch::TensorOptions& options);
  /// x: [B, in] of the first layer. Returns the top layer's y_t [B, out] (graph of step t).
  torch::Tensor step(const torch::Tensor& x);
  /// Whether steps() applies: every layer holds_steps() (known after begin()).
  bool holds_steps() const;
  /// K steps at once: x [K, B, in] -> the top layer's [K, B, out]. backward() then takes a
  /// loss over the K outputs, sum_t E^t, and gives each step its own learning signal: the
  /// gradients of K step() + backward() calls, with one autograd pass for the K steps (the
  /// per-step overheads of the user's readout and loss are paid once per K steps). Weights
  /// cannot change within the K steps, so it fits an update per sequence (or per K steps).
  /// UserError unless holds_steps().
  torch::Tensor steps(const torch::Tensor& x);
  /// loss: a scalar depending on the last step()'s output. Frees the step's graph.
  /// Throws InternalError when called twice for one step.
  void backward(const torch::Tensor& loss);
  /// p.grad += G for every covered parameter (defined when it was not), then G = 0.
  void write_gradients();
  /// Bytes carried between steps by all layers plus the stateless G buffers.
  int64_t carried_bytes() const;

  const std::vector<std::shared_ptr<OstlLayer>>& layers() const { return layers_; }

 private:
  std::vector<std::shared_ptr<OstlLayer>> layers_;
  std::vector<torch::Tensor> stateless_, g_stateless_;
  Between between_;
  std::vector<torch::Tensor> ys_;  // y_l^t of the current step, with its graph
  // x up through the layers (step() or, when several, steps() of each), keeping each y_l.
  torch::Tensor up(const torch::Tensor& x, bool several);
};

/// Model types and layers OSTL supports, for error messages.
std::string ostl_supported();

/// The `learn: {rule: ostl, ostl: {...}}` rule for `model` (keys in docs/ostl.md):
///   update: sequence (default) | step
///   trace_chunk: 16 (default) | 0 .. 1024   SNU layers: SNUOstlLayer's trace_chunk
///   signal_chunk: trace_chunk (default) | 1 .. 1024   with update: sequence, the steps taken
///                 per Ostl::steps call (one readout, loss and autograd pass for all), where
///                 every layer holds its steps; 1: one step() per time step
/// The Trainer's loss ℓ (on time-averaged scores) becomes the per-step loss
///   E^t = ℓ(o^t, label) / T    (o^t: the model's output at step t; ostl.md §9)
/// and the reported batch loss is ℓ on the time-averaged outputs, as for BPTT.
/// Throws UserError on a bad key or a model/layer OSTL does not support (listing the
/// supported ones).
std::unique_ptr<Rule> make_ostl_rule(ConfigSection section, nn::NetImpl& model);

}  // namespace nc::learn
