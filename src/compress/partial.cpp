#include "neurocore/compress/partial.h"

#include <ATen/record_function.h>
#include <torch/torch.h>

#include "neurocore/compress/row_weight_grad.h"

namespace nc::compress {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Full dW when every row is selected (no gather/scatter); dW[S] from gY[:, S] otherwise.
bool all_rows(const torch::Tensor& rows, int64_t n) { return rows.numel() == n; }

// Profiler scopes (free when no profiler runs): bench/efqat_profile.cpp splits the backward
// time by them.
#define NC_SCOPE(name) RECORD_FUNCTION(name, std::vector<c10::IValue>())

class PartialConv2d : public torch::autograd::Function<PartialConv2d> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& w, const torch::Tensor& b,
                               const torch::Tensor& rows, const ConvGeometry& g) {
    ctx->save_for_backward({x, w, rows});
    ctx->saved_data["stride"] = g.stride;
    ctx->saved_data["padding"] = g.padding;
    ctx->saved_data["dilation"] = g.dilation;
    ctx->saved_data["groups"] = g.groups;
    const bool has_bias = b.numel() > 0;
    ctx->saved_data["has_bias"] = has_bias;
    return torch::conv2d(x, w, has_bias ? b : torch::Tensor(), g.stride, g.padding, g.dilation,
                         g.groups);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1], &rows = saved[2];
    const auto gy = grads[0].contiguous();
    const auto stride = ctx->saved_data["stride"].toIntVector();
    const auto padding = ctx->saved_data["padding"].toIntVector();
    const auto dilation = ctx->saved_data["dilation"].toIntVector();
    const int64_t groups = ctx->saved_data["groups"].toInt();
    const bool need_x = ctx->needs_input_grad(0), need_w = ctx->needs_input_grad(1);
    const bool need_b = ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2);
    const std::vector<int64_t> no_out_pad{0, 0};
    // The bias gradient comes from the same convolution_backward call as LibTorch's own
    // backward, so that rho = 1 reproduces plain QAT bit for bit.
    const std::vector<int64_t> bias_sizes{w.size(0)};
    const c10::OptionalIntArrayRef bias_opt =
        need_b ? c10::OptionalIntArrayRef(bias_sizes) : c10::nullopt;
    torch::Tensor dx, dw, db;
    if (need_w && all_rows(rows, w.size(0))) {
      NC_SCOPE("nc::input+weight_grad");
      std::tie(dx, dw, db) =
          at::convolution_backward(gy, x, w, bias_opt, stride, padding, dilation, false,
                                   no_out_pad, groups, {need_x, true, need_b});
    } else {
      if (need_x) {
        NC_SCOPE("nc::input_grad");
        // The bias gradient is not asked of convolution_backward: oneDNN computes it with the
        // weight gradient, so asking for it would run the full weight-gradient pass.
        dx = std::get<0>(at::convolution_backward(gy, x, w, c10::nullopt, stride, padding, dilation,
                                                  false, no_out_pad, groups, {true, false, false}));
      }
      if (need_b) db = bias_grad(gy);
      if (need_w) {
        NC_SCOPE("nc::weight_grad");
        dw = torch::zeros_like(w);
        // Grouped convs would need the selected channels' input groups; the models here use
        // groups = 1.
        TORCH_CHECK(groups == 1 || rows.numel() == 0, "partial_conv2d: groups > 1");
        if (rows.numel() > 0 &&
            prefer_direct_weight_grad(rows.numel(), gy.size(3), w.size(2), w.size(3), stride, dilation, groups)) {
          dw.index_copy_(0, rows, selected_rows_weight_grad(gy, x.contiguous(), rows, w.size(2),
                                                            w.size(3), padding));
        } else if (rows.numel() > 0) {
          const auto gs = gy.index_select(1, rows).contiguous();
          const auto ws = w.index_select(0, rows);
          auto r = at::convolution_backward(gs, x, ws, c10::nullopt, stride, padding, dilation,
                                            false, no_out_pad, groups, {false, true, false});
          dw.index_copy_(0, rows, std::get<1>(r));
        }
      }
    }
    return {dx, dw, db, torch::Tensor(), torch::Tensor()};
  }
};

class PartialLinear : public torch::autograd::Function<PartialLinear> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& w, const torch::Tensor& b,
                               const torch::Tensor& rows) {
    ctx->save_for_backward({x, w, rows});
    const bool has_bias = b.numel() > 0;
    ctx->saved_data["has_bias"] = has_bias;
    return torch::linear(x, w, has_bias ? b : torch::Tensor());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1], &rows = saved[2];
    const auto& gy = grads[0];
    torch::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) {
      NC_SCOPE("nc::input_grad");
      dx = gy.mm(w);
    }
    if (ctx->needs_input_grad(1)) {
      NC_SCOPE("nc::weight_grad");
      if (all_rows(rows, w.size(0))) {
        dw = gy.t().mm(x);
      } else {
        dw = torch::zeros_like(w);
        if (rows.numel() > 0) dw.index_copy_(0, rows, gy.index_select(1, rows).t().mm(x));
      }
    }
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) db = gy.sum(0);
    return {dx, dw, db, torch::Tensor()};
  }
};

// Custom Functions cannot take an undefined tensor as an input; an empty one stands for "no
// bias".
torch::Tensor no_bias_placeholder(const torch::Tensor& b, const torch::Tensor& w) {
  return b.defined() ? b : torch::empty({0}, w.options().requires_grad(false));
}

}  // namespace

torch::Tensor partial_conv2d(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                             const torch::Tensor& rows, const ConvGeometry& g) {
  return PartialConv2d::apply(x, w, no_bias_placeholder(b, w), rows, g);
}

torch::Tensor partial_linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                             const torch::Tensor& rows) {
  TORCH_CHECK(x.dim() == 2, "partial_linear: x must be [B, K]");
  return PartialLinear::apply(x, w, no_bias_placeholder(b, w), rows);
}

int64_t backward_macs(int64_t m, int64_t n, int64_t k, int64_t selected, bool input_grad) {
  return (input_grad ? m * n * k : 0) + selected * m * k;
}

}  // namespace nc::compress
