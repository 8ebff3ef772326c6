#include "neurocore/learn/essop_rule.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "neurocore/core/error.h"
#include "neurocore/core/seed.h"
#include "neurocore/nn/rnn.h"

namespace nc::learn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

EssopProducts* products_of(AutogradContext* ctx) {
  // The products object outlives every graph it builds: backward runs inside train_batch.
  return reinterpret_cast<EssopProducts*>(ctx->saved_data["products"].toInt());
}

struct EssopLinearFunction : torch::autograd::Function<EssopLinearFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               EssopProducts* products) {
    ctx->saved_data["products"] = reinterpret_cast<int64_t>(products);
    ctx->saved_data["has_bias"] = bias.numel() > 0;
    ctx->save_for_backward({x, weight});
    return torch::nn::functional::linear(x, weight, bias.numel() ? bias : torch::Tensor());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1];
    const auto& g = grad[0];
    const int64_t M = w.size(0), N = w.size(1);
    torch::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) dx = g.matmul(w);
    const auto g2 = g.reshape({-1, M});
    if (ctx->needs_input_grad(1)) {
      dw = products_of(ctx)->weight_gradient(x.reshape({-1, N}), g2).to(w.dtype());
    }
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) db = g2.sum(0);
    return {dx, dw, db, torch::Tensor()};
  }
};

struct EssopConv2dFunction : torch::autograd::Function<EssopConv2dFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               std::vector<int64_t> stride, std::vector<int64_t> padding,
                               std::vector<int64_t> dilation, EssopProducts* products) {
    ctx->saved_data["products"] = reinterpret_cast<int64_t>(products);
    ctx->saved_data["has_bias"] = bias.numel() > 0;
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["padding"] = padding;
    ctx->saved_data["dilation"] = dilation;
    ctx->save_for_backward({x, weight});
    return torch::conv2d(x, weight, bias.numel() ? bias : torch::Tensor(), stride, padding,
                         dilation, 1);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &w = saved[1];
    const auto& g = grad[0].contiguous();
    const auto stride = ctx->saved_data["stride"].toIntVector();
    const auto padding = ctx->saved_data["padding"].toIntVector();
    const auto dilation = ctx->saved_data["dilation"].toIntVector();
    torch::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) {
      dx = std::get<0>(at::convolution_backward(g, x, w, c10::nullopt, stride, padding, dilation,
                                                false, {0, 0}, 1, {true, false, false}));
    }
    const bool direct = stride[0] == 1 && stride[1] == 1 && dilation[0] == 1 && dilation[1] == 1;
    if (ctx->needs_input_grad(1) && direct) {
      // Stride 1: the receptive fields read straight from the (zero-padded) input, no im2col.
      dw = products_of(ctx)
               ->weight_gradient_conv(x, g, w.size(2), w.size(3), padding[0], padding[1])
               .view(w.sizes())
               .to(w.dtype());
    } else if (ctx->needs_input_grad(1)) {
      // im2col: one outer product per (sample, output position), x_p [C_in kh kw], delta_p
      // [C_out], unfolded chunk by chunk of samples (EssopProducts::weight_gradient_columns).
      const int64_t B = x.size(0), M = w.size(0), N = w.size(1) * w.size(2) * w.size(3);
      const int64_t L = g.size(2) * g.size(3);
      // The unfolded input lives in a buffer this thread reuses from step to step: a fresh
      // allocation costs a page fault per 4 KiB on every step. The kernel reads it and the
      // output gradient [b, M, L] in place (no transposed copies).
      thread_local torch::Tensor cols_buf;
      if (!cols_buf.defined() || cols_buf.dtype() != x.dtype()) {
        cols_buf = torch::empty({0}, x.options());
      }
      auto unfold = [&](int64_t b0, int64_t b1) {
        cols_buf.resize_({b1 - b0, N, L});
        at::im2col_out(cols_buf, x.slice(0, b0, b1), {w.size(2), w.size(3)},
                       {dilation[0], dilation[1]}, {padding[0], padding[1]},
                       {stride[0], stride[1]});  // [b, N, L]
        return cols_buf;
      };
      const auto sum = products_of(ctx)->weight_gradient_columns(B, N, L, unfold, g.view({B, M, L}));
      dw = sum.view(w.sizes()).to(w.dtype());
    }
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) db = g.sum({0, 2, 3});
    return {dx, dw, db, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

std::vector<int64_t> pair_of(const torch::ExpandingArray<2>& a) { return {(*a)[0], (*a)[1]}; }

// Function::apply records every tensor input and rejects an undefined one: a layer without
// bias passes an empty tensor instead.
torch::Tensor bias_or_empty(const torch::Tensor& b, const torch::Tensor& w) {
  return b.defined() ? b : torch::empty({0}, w.options().requires_grad(false));
}

}  // namespace

EssopProducts::EssopProducts(EssopOptions o, uint64_t seed)
    : options_(o), gen_(make_generator(seed, "essop", 0)) {
  validate_essop(o);
}

void EssopProducts::reseed(uint64_t seed, int64_t epoch) {
  std::lock_guard<std::mutex> lock(mutex_);
  gen_ = make_generator(seed, "essop", static_cast<uint64_t>(epoch));
}

EssopStreamPair EssopProducts::draw(int64_t P) {
  // Streams in buffers reused by this thread (no fresh allocation per layer and step: for a
  // convolution they hold 2 BL numbers per output position).
  thread_local std::vector<float> rbuf, qbuf;
  const int64_t n = (options_.streams() == EssopStreams::fresh ? P : 1) * options_.bitstream();
  if (static_cast<int64_t>(rbuf.size()) < n) {
    rbuf.resize(static_cast<std::size_t>(n));
    qbuf.resize(static_cast<std::size_t>(n));
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    essop_draw_streams_into(P, options_, gen_, rbuf.data(), qbuf.data());
  }
  return {torch::from_blob(rbuf.data(), {n / options_.bitstream(), options_.bitstream()}),
          torch::from_blob(qbuf.data(), {n / options_.bitstream(), options_.bitstream()})};
}

torch::Tensor EssopProducts::weight_gradient(const torch::Tensor& x, const torch::Tensor& delta) {
  EssopStats s;
  auto dw = essop_outer_sum(x, delta, draw(x.size(0)), options_.scaling(), &s);
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.add(s);
  return dw;
}

torch::Tensor EssopProducts::weight_gradient_conv(const torch::Tensor& x,
                                                  const torch::Tensor& delta, int64_t kh,
                                                  int64_t kw, int64_t ph, int64_t pw) {
  EssopStats s;
  auto dw = essop_outer_sum_conv(x, delta, kh, kw, ph, pw,
                                 draw(delta.size(0) * delta.size(2) * delta.size(3)),
                                 options_.scaling(), &s);
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.add(s);
  return dw;
}

torch::Tensor EssopProducts::weight_gradient_columns(
    int64_t B, int64_t N, int64_t L,
    const std::function<torch::Tensor(int64_t, int64_t)>& columns, const torch::Tensor& delta) {
  // The streams of all B L products at once (fresh: row b L + l; shared: one pair for the
  // layer and mini-batch), then the samples in chunks whose unfolded input stays in the L2
  // cache (~256 KiB) while the kernel reads it: the unfolded batch of a first layer is
  // megabytes, and reading it from memory with the kernel's strided pattern cost more than
  // the kernel. Per-tensor scaling takes one exponent per call, so it keeps large chunks
  // (~64 MB) as before.
  const int64_t P = B * L;
  const auto streams = draw(P);
  const bool fresh = options_.streams() == EssopStreams::fresh;
  const int64_t budget = options_.scaling() == EssopScaling::per_tensor ? int64_t{1} << 24
                                                                        : int64_t{1} << 16;
  const int64_t chunk = std::max<int64_t>(1, budget / std::max<int64_t>(1, L * N));
  torch::Tensor sum;
  EssopStats s;
  for (int64_t b0 = 0; b0 < B; b0 += chunk) {
    const int64_t b1 = std::min(B, b0 + chunk);
    const EssopStreamPair part_streams =
        fresh ? EssopStreamPair{streams.r.slice(0, b0 * L, b1 * L), streams.q.slice(0, b0 * L, b1 * L)}
              : streams;
    auto part = essop_outer_sum_columns(columns(b0, b1), delta.slice(0, b0, b1), part_streams,
                                        options_.scaling(), &s);
    sum = sum.defined() ? sum.add_(part) : part;
  }
  // One call, and the numbers drawn once (a shared pair is not drawn again per chunk).
  s.calls = 1;
  s.random_numbers = streams.r.numel() + streams.q.numel();
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.add(s);
  return sum;
}

EssopStats EssopProducts::take_stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  EssopStats s = stats_;
  stats_ = {};
  return s;
}

torch::Tensor EssopProducts::linear(const torch::Tensor& x, const torch::Tensor& weight,
                                    const torch::Tensor& bias) {
  if (!torch::GradMode::is_enabled() || !weight.requires_grad()) {
    return torch::nn::functional::linear(x, weight, bias);
  }
  return EssopLinearFunction::apply(x, weight, bias_or_empty(bias, weight), this);
}

torch::Tensor EssopProducts::conv2d(const torch::Tensor& x, torch::nn::Conv2dImpl& conv) {
  if (!torch::GradMode::is_enabled() || !conv.weight.requires_grad()) return conv.forward(x);
  const auto& o = conv.options;
  const auto& pad = c10::get<torch::ExpandingArray<2>>(o.padding());
  return EssopConv2dFunction::apply(x, conv.weight, bias_or_empty(conv.bias, conv.weight), pair_of(o.stride()), pair_of(pad),
                                    pair_of(o.dilation()), this);
}

EssopRule::EssopRule(std::unique_ptr<Rule> inner, EssopOptions o, EssopEnergyModel energy)
    : inner_(std::move(inner)), products_(o), energy_(energy) {}

BatchResult EssopRule::train_batch(nn::NetImpl& model, const torch::Tensor& x,
                                   const torch::Tensor& labels, const std::string& loss,
                                   torch::optim::Optimizer& optimizer) {
  nn::WeightProductsGuard guard(&products_);
  return inner_->train_batch(model, x, labels, loss, optimizer);
}

void EssopRule::start_epoch(uint64_t seed, int64_t epoch) {
  inner_->start_epoch(seed, epoch);
  products_.reseed(seed, epoch);
  products_.take_stats();
}

std::vector<std::pair<std::string, double>> EssopRule::epoch_metrics() {
  auto m = essop_cost_metrics(essop_cost(products_.take_stats(), energy_));
  m.insert(m.begin(), {"essop_bitstream", static_cast<double>(products_.options().bitstream())});
  return m;
}

std::unique_ptr<Rule> apply_update(ConfigSection learn, std::unique_ptr<Rule> rule,
                                   nn::NetImpl& model) {
  const std::string update = learn.choice("update", "exact", {"exact", "essop"});
  if (update == "exact") {
    if (learn.has("bitstream") || learn.has("essop")) {
      throw UserError(learn.path() + ": bitstream and essop are read only with update: essop, "
                      "got update: exact; set " + learn.path() + ".update: essop");
    }
    return rule;
  }
  EssopOptions o;
  o.bitstream(learn.integer("bitstream", 16));
  validate_essop(o, learn.path() + ".bitstream");
  if (rule->name() != "bptt") {
    throw UserError(learn.path() + ".update: essop replaces the weight gradients of "
                    "backpropagation and needs rule: bptt, got rule: " + rule->name());
  }
  if (dynamic_cast<nn::RNNClassifierImpl*>(&model)) {
    throw UserError(learn.path() + ".update: essop supports models made of Linear, Conv2d and "
                    "SNU layers (mlp, snu-mlp, lenet5, resnet*), got an LSTM/GRU classifier");
  }
  auto s = learn.section("essop");
  o.streams(s.choice("streams", "fresh", {"fresh", "shared"}) == "shared" ? EssopStreams::shared
                                                                         : EssopStreams::fresh);
  o.scaling(s.choice("scaling", "per_product", {"per_product", "per_tensor"}) == "per_tensor"
                ? EssopScaling::per_tensor
                : EssopScaling::per_product);
  EssopEnergyModel e;
  auto pj = s.section("energy_pj");
  e.and_gate = pj.number("and_gate", e.and_gate, 0);
  e.counter = pj.number("counter", e.counter, 0);
  e.comparator = pj.number("comparator", e.comparator, 0);
  e.random_number = pj.number("random_number", e.random_number, 0);
  e.shift = pj.number("shift", e.shift, 0);
  e.int32_add = pj.number("int32_add", e.int32_add, 0);
  pj.finish();
  s.finish();
  return std::make_unique<EssopRule>(std::move(rule), o, e);
}

}  // namespace nc::learn
