// RNN-T loss: explicit alpha/beta loops over tensor data, accumulated in float64, inside a
// custom autograd function that returns the analytic gradient computed in the forward pass
// (asr.md §5). Three parallel phases: (A) per (b, t) row, the log-softmax normaliser and the
// two log-probabilities the lattice needs (blank and next label); (B) per utterance, alpha and
// beta; (C) per (b, t) row, the gradient.
#include "neurocore/asr/rnnt_loss.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "log_math.h"
#include "neurocore/core/error.h"

namespace nc::asr {
namespace {

using detail::kNegInf;
using detail::log_add;

// alpha/beta over one utterance's lattice from lb(t,u) = l(t,u,blank) and
// ly(t,u) = l(t,u,y_{u+1}) (u < U), all [T * (U+1)] row-major. Returns log P.
double alpha_beta(const double* lb, const double* ly, int64_t T, int64_t U, double* alpha,
                  double* beta) {
  const int64_t W = U + 1;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t u = 0; u <= U; ++u) {
      if (t == 0 && u == 0) {
        alpha[0] = 0.0;
        continue;
      }
      const double from_t = t > 0 ? alpha[(t - 1) * W + u] + lb[(t - 1) * W + u] : kNegInf;
      const double from_u = u > 0 ? alpha[t * W + u - 1] + ly[t * W + u - 1] : kNegInf;
      alpha[t * W + u] = log_add(from_t, from_u);
    }
  }
  for (int64_t t = T - 1; t >= 0; --t) {
    for (int64_t u = U; u >= 0; --u) {
      if (t == T - 1 && u == U) {
        beta[t * W + u] = lb[t * W + u];
        continue;
      }
      const double by_t = t + 1 < T ? beta[(t + 1) * W + u] + lb[t * W + u] : kNegInf;
      const double by_u = u < U ? beta[t * W + u + 1] + ly[t * W + u] : kNegInf;
      beta[t * W + u] = log_add(by_t, by_u);
    }
  }
  return beta[0];
}

std::vector<int64_t> to_vector(const torch::Tensor& x) {
  auto c = x.to(torch::kCPU, torch::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

std::string shape_str(const torch::Tensor& x) {
  std::string s = "[";
  for (int64_t i = 0; i < x.dim(); ++i) s += (i ? ", " : "") + std::to_string(x.size(i));
  return s + "]";
}

struct Checked {
  int64_t B, T, W, V;
  std::vector<int64_t> T_b, U_b;
  torch::Tensor targets;  // int64 contiguous [B, U_max]
};

Checked check_inputs(const torch::Tensor& input, const torch::Tensor& targets,
                     const torch::Tensor& logit_lengths, const torch::Tensor& target_lengths,
                     int64_t blank) {
  if (input.dim() != 4 || !input.is_floating_point())
    throw UserError("rnnt_loss: input must be a float tensor [B, T, U+1, V], got " +
                    shape_str(input));
  Checked c;
  c.B = input.size(0), c.T = input.size(1), c.W = input.size(2), c.V = input.size(3);
  if (blank < 0 || blank >= c.V)
    throw UserError("rnnt_loss: blank = " + std::to_string(blank) + " is outside [0, " +
                    std::to_string(c.V) + ")");
  if (targets.dim() != 2 || targets.size(0) != c.B || targets.is_floating_point())
    throw UserError("rnnt_loss: targets must be an integer tensor [B=" + std::to_string(c.B) +
                    ", U_max], got " + shape_str(targets));
  if (targets.size(1) + 1 > c.W)
    throw UserError("rnnt_loss: targets have U_max = " + std::to_string(targets.size(1)) +
                    " but input's third axis is " + std::to_string(c.W) + " (expected >= U_max+1)");
  for (const auto* l : {&logit_lengths, &target_lengths})
    if (l->dim() != 1 || l->size(0) != c.B)
      throw UserError("rnnt_loss: lengths must be [B=" + std::to_string(c.B) + "], got " +
                      shape_str(*l));
  c.T_b = to_vector(logit_lengths);
  c.U_b = to_vector(target_lengths);
  c.targets = targets.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* y = c.targets.data_ptr<int64_t>();
  for (int64_t b = 0; b < c.B; ++b) {
    if (c.T_b[b] < 1 || c.T_b[b] > c.T)
      throw UserError("rnnt_loss: logit_lengths[" + std::to_string(b) + "] = " +
                      std::to_string(c.T_b[b]) + ", expected in [1, " + std::to_string(c.T) + "]");
    if (c.U_b[b] < 0 || c.U_b[b] > targets.size(1))
      throw UserError("rnnt_loss: target_lengths[" + std::to_string(b) + "] = " +
                      std::to_string(c.U_b[b]) + ", expected in [0, " +
                      std::to_string(targets.size(1)) + "]");
    for (int64_t u = 0; u < c.U_b[b]; ++u) {
      const int64_t k = y[b * targets.size(1) + u];
      if (k < 0 || k >= c.V || k == blank)
        throw UserError("rnnt_loss: targets[" + std::to_string(b) + "][" + std::to_string(u) +
                        "] = " + std::to_string(k) + ", expected a non-blank symbol in [0, " +
                        std::to_string(c.V) + ") (blank = " + std::to_string(blank) + ")");
    }
  }
  return c;
}

template <class scalar_t>
void run_kernel(const torch::Tensor& input, const Checked& c, RnntInput kind, int64_t blank,
                double clamp, double* costs, torch::Tensor* grad) {
  const bool logits = kind == RnntInput::Logits;
  const scalar_t* x = input.data_ptr<scalar_t>();
  const int64_t* y = c.targets.data_ptr<int64_t>();
  const int64_t Umax = c.targets.size(1);
  const int64_t V = c.V, W = c.W;
  // Each utterance's lattice arrays live at offset[b] in flat float64 buffers.
  std::vector<int64_t> offset(c.B + 1, 0);
  for (int64_t b = 0; b < c.B; ++b) offset[b + 1] = offset[b] + c.T_b[b] * (c.U_b[b] + 1);
  const int64_t n = offset[c.B];
  std::vector<double> lse(n), lb(n), ly(n, kNegInf), alpha(n), beta(n), logp(c.B);
  auto row = [&](int64_t b, int64_t t, int64_t u) { return x + ((b * c.T + t) * W + u) * V; };
  const int64_t rows = c.B * c.T;
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(1, W * V));

  // (A) normalisers and the lattice's log-probabilities.
  at::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / c.T, t = r % c.T;
      if (t >= c.T_b[b]) continue;
      const int64_t U = c.U_b[b];
      for (int64_t u = 0; u <= U; ++u) {
        const scalar_t* z = row(b, t, u);
        double norm = 0.0;
        if (logits) {
          scalar_t m = z[0];
          for (int64_t k = 1; k < V; ++k) m = std::max(m, z[k]);
          double s = 0.0;
          for (int64_t k = 0; k < V; ++k) s += std::exp(z[k] - m);
          norm = static_cast<double>(m) + std::log(s);
        }
        const int64_t i = offset[b] + t * (U + 1) + u;
        lse[i] = norm;
        lb[i] = static_cast<double>(z[blank]) - norm;
        if (u < U) ly[i] = static_cast<double>(z[y[b * Umax + u]]) - norm;
      }
    }
  });

  // (B) alpha and beta per utterance.
  at::parallel_for(0, c.B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t o = offset[b];
      logp[b] = alpha_beta(&lb[o], &ly[o], c.T_b[b], c.U_b[b], &alpha[o], &beta[o]);
      costs[b] = -logp[b];
    }
  });
  if (grad == nullptr) return;

  // (C) the gradient (asr.md §5): G at blank and next label; with logits, plus the softmax
  // term p(t,u,k) * exp(alpha + beta - log P) (the occupancy of node (t, u)).
  // Uninitialised: every row is written below (zeros outside the utterance's lattice), which
  // saves a pass over a tensor that is B*T*(U+1)*V large.
  *grad = torch::empty_like(input);
  scalar_t* g = grad->data_ptr<scalar_t>();
  at::parallel_for(0, rows, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / c.T, t = r % c.T;
      const int64_t Tb = c.T_b[b], U = c.U_b[b], o = offset[b];
      scalar_t* row_g = g + (b * c.T + t) * W * V;
      if (t >= Tb) {
        std::fill(row_g, row_g + W * V, scalar_t(0));
        continue;
      }
      std::fill(row_g + (U + 1) * V, row_g + W * V, scalar_t(0));
      for (int64_t u = 0; u <= U; ++u) {
        const int64_t i = o + t * (U + 1) + u;
        const double a = alpha[i] - logp[b];
        const double beta_next_t = t + 1 < Tb ? beta[i + U + 1] : (u == U ? 0.0 : kNegInf);
        const double g_blank = -std::exp(a + lb[i] + beta_next_t);
        const double g_label = u < U ? -std::exp(a + ly[i] + beta[i + 1]) : 0.0;
        const scalar_t* z = row(b, t, u);
        scalar_t* gz = g + (z - x);
        if (logits) {
          // p(k) * occupancy = exp(z_k - lse + alpha + beta - log P), in the input's precision
          // (the exponent's offset is computed in float64).
          const scalar_t shift = static_cast<scalar_t>(a + beta[i] - lse[i]);
          for (int64_t k = 0; k < V; ++k) gz[k] = std::exp(z[k] + shift);
        } else {
          std::fill(gz, gz + V, scalar_t(0));
        }
        gz[blank] = static_cast<scalar_t>(gz[blank] + g_blank);
        if (u < U) {
          scalar_t& gy = gz[y[b * Umax + u]];
          gy = static_cast<scalar_t>(gy + g_label);
        }
        if (clamp > 0)
          for (int64_t k = 0; k < V; ++k)
            gz[k] = static_cast<scalar_t>(std::min(std::max<double>(gz[k], -clamp), clamp));
      }
    }
  });
}

// The autograd function: forward returns per-utterance losses [B] and keeps the analytic
// gradient; backward scales it by the incoming gradient of each utterance's loss.
struct RnntFunction : public torch::autograd::Function<RnntFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor input,
                               torch::Tensor targets, torch::Tensor logit_lengths,
                               torch::Tensor target_lengths, int64_t kind, int64_t blank,
                               double clamp, bool need_grad) {
    auto r = rnnt_costs(input, targets, logit_lengths, target_lengths,
                        static_cast<RnntInput>(kind), blank, clamp, need_grad);
    if (need_grad) ctx->saved_data["grad"] = r.grad;
    return r.costs.to(input.scalar_type());
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    // Scaled in place: the saved gradient is used once (no double backward), which saves a
    // second tensor of the input's size.
    auto grad = ctx->saved_data["grad"].toTensor();
    ctx->saved_data.erase("grad");
    auto scale = grad_out[0].to(grad.scalar_type()).view({-1, 1, 1, 1});
    return {grad.mul_(scale), {}, {}, {}, {}, {}, {}, {}};
  }
};

}  // namespace

RnntInput parse_rnnt_input(const std::string& s, const std::string& field) {
  if (s == "logits") return RnntInput::Logits;
  if (s == "log_probs") return RnntInput::LogProbs;
  throw UserError(field + ": '" + s + "' is not an RNN-T input kind (expected logits or log_probs)");
}

RnntReduction parse_rnnt_reduction(const std::string& s, const std::string& field) {
  if (s == "mean") return RnntReduction::Mean;
  if (s == "sum") return RnntReduction::Sum;
  if (s == "none") return RnntReduction::None;
  if (s == "mean_per_token") return RnntReduction::MeanPerToken;
  throw UserError(field + ": '" + s +
                  "' is not a reduction (expected mean, sum, none or mean_per_token)");
}

RnntCosts rnnt_costs(const torch::Tensor& input_, const torch::Tensor& targets,
                     const torch::Tensor& logit_lengths, const torch::Tensor& target_lengths,
                     RnntInput kind, int64_t blank, double clamp, bool need_grad) {
  const Checked c = check_inputs(input_, targets, logit_lengths, target_lengths, blank);
  const torch::Tensor input = input_.detach().to(torch::kCPU).contiguous();
  RnntCosts out;
  out.costs = torch::zeros({c.B}, torch::kDouble);
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "rnnt_loss", [&] {
    run_kernel<scalar_t>(input, c, kind, blank, clamp, out.costs.data_ptr<double>(),
                         need_grad ? &out.grad : nullptr);
  });
  return out;
}

torch::Tensor rnnt_loss(const torch::Tensor& input, const torch::Tensor& targets,
                        const torch::Tensor& logit_lengths, const torch::Tensor& target_lengths,
                        const RnntLossOptions& options) {
  const bool need_grad = torch::GradMode::is_enabled() && input.requires_grad();
  auto costs = RnntFunction::apply(input, targets, logit_lengths, target_lengths,
                                   static_cast<int64_t>(options.input()), options.blank(),
                                   options.clamp(), need_grad);
  switch (options.reduction()) {
    case RnntReduction::None: return costs;
    case RnntReduction::Sum: return costs.sum();
    case RnntReduction::Mean: return costs.mean();
    case RnntReduction::MeanPerToken: {
      auto u = target_lengths.to(costs.device(), costs.scalar_type()).clamp_min(1);
      return (costs / u).mean();
    }
  }
  throw InternalError("rnnt_loss: unknown reduction");
}

RnntLattice rnnt_lattice(const torch::Tensor& log_probs, const torch::Tensor& labels,
                         int64_t blank) {
  TORCH_CHECK(log_probs.dim() == 3 && labels.dim() == 1 &&
              log_probs.size(1) == labels.size(0) + 1);
  const int64_t T = log_probs.size(0), U = labels.size(0);
  auto lp = log_probs.detach().to(torch::kDouble).contiguous();
  auto y = to_vector(labels);
  std::vector<double> lb(T * (U + 1)), ly(T * (U + 1), kNegInf);
  auto acc = lp.accessor<double, 3>();
  for (int64_t t = 0; t < T; ++t)
    for (int64_t u = 0; u <= U; ++u) {
      lb[t * (U + 1) + u] = acc[t][u][blank];
      if (u < U) ly[t * (U + 1) + u] = acc[t][u][y[u]];
    }
  RnntLattice out{torch::empty({T, U + 1}, torch::kDouble), torch::empty({T, U + 1}, torch::kDouble)};
  alpha_beta(lb.data(), ly.data(), T, U, out.alpha.data_ptr<double>(), out.beta.data_ptr<double>());
  return out;
}

}  // namespace nc::asr
