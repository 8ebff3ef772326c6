// asr.md §0: OSTL does not apply to the RNN-T encoder as a training rule (the loss's gradient
// with respect to f_t exists only after the whole utterance), but in two passes it is exact:
// pass 1 runs the encoder and the RNN-T loss and takes L_t = dLoss/df_t for every frame; pass 2
// steps a one-layer sSNU encoder again with OSTL's eligibility traces and accumulates
// sum_t L_t . e_t. For one recurrent layer that equals BPTT's gradient (ostl.md §2).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/asr/rnnt_loss.h"
#include "neurocore/learn/ostl.h"
#include "neurocore/nn/rnnt.h"
#include "neurocore/nn/snu.h"

namespace nc::asr {
namespace {

TEST(TwoPassOstl, OneLayerSsnuEncoderGradientEqualsBptt) {
  torch::manual_seed(3);
  const int64_t T = 9, B = 2, M = 5, N = 6, V = 4, U = 3;
  nn::RnntModelOptions mo(M, V);
  mo.unit(nn::AsrUnitKind::ssnu).layers(1).hidden(N).embed(4).predictor_hidden(5).joint(7).decay(0.8);
  nn::RnntModel model(mo);
  model->to(torch::kDouble);
  auto* unit = model->encoder[0]->as<nn::AsrUnitImpl>();
  {
    torch::NoGradGuard g;  // away from zero, so that the ReLU and the reset matter
    unit->threshold.uniform_(-0.5, 0.5);
    unit->bias.uniform_(-0.3, 0.3);
  }
  const auto x = torch::randn({T, B, M}, torch::kDouble);
  const auto targets = torch::randint(1, V, {B, U}, torch::kLong);
  const auto t_len = torch::full({B}, T, torch::kLong), u_len = torch::full({B}, U, torch::kLong);
  auto loss_of = [&](const torch::Tensor& f) {
    const auto logits = model->joint(f.transpose(0, 1), model->predict(targets));
    return rnnt_loss(logits, targets, t_len, u_len, RnntLossOptions().reduction(RnntReduction::Sum));
  };

  // BPTT through the encoder.
  model->zero_grad();
  loss_of(model->encode(x, t_len)).backward();
  const auto want_w = unit->weight.grad().clone(), want_b = unit->bias.grad().clone();
  const auto want_h = unit->recurrent_weight.grad().clone(), want_th = unit->threshold.grad().clone();

  // Pass 1: the learning signals L_t = dLoss/df_t.
  auto f = model->encode(x, t_len).detach().requires_grad_();
  const auto signal = torch::autograd::grad({loss_of(f)}, {f})[0];  // [T, B, N]

  // Pass 2: the same unit as an sSNU cell (the bias as the weight of a constant input 1),
  // stepped by OSTL.
  nn::SNUCell cell(nn::SNUOptions(M + 1, N).recurrent(true).g(nn::Activation::relu).soft(true).decay(0.8));
  cell->to(torch::kDouble);
  {
    torch::NoGradGuard g;
    cell->weight.copy_(torch::cat({unit->weight, unit->bias.unsqueeze(1)}, 1));
    cell->recurrent_weight.copy_(unit->recurrent_weight);
    cell->threshold.copy_(unit->threshold);
  }
  learn::SNUOstlLayer layer(cell);
  layer.begin(B, torch::TensorOptions().dtype(torch::kDouble));
  for (int64_t t = 0; t < T; ++t) {
    const auto y = layer.step(torch::cat({x[t], torch::ones({B, 1}, torch::kDouble)}, 1));
    EXPECT_LT((y - f[t]).abs().max().item<double>(), 1e-12) << "pass 2 replays pass 1, step " << t;
    layer.accumulate(signal[t]);
  }
  const auto params = layer.parameters();
  const auto grads = layer.gradients();
  ASSERT_EQ(params.size(), grads.size());
  int checked = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].is_same(cell->weight)) {
      EXPECT_TRUE(torch::allclose(grads[i].slice(1, 0, M), want_w, 1e-9, 1e-11)) << "weight";
      EXPECT_TRUE(torch::allclose(grads[i].select(1, M), want_b, 1e-9, 1e-11)) << "bias";
      checked += 2;
    } else if (params[i].is_same(cell->recurrent_weight)) {
      EXPECT_TRUE(torch::allclose(grads[i], want_h, 1e-9, 1e-11)) << "recurrent weight";
      ++checked;
    } else if (params[i].is_same(cell->threshold)) {
      EXPECT_TRUE(torch::allclose(grads[i], want_th, 1e-9, 1e-11)) << "threshold";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 4);
  EXPECT_GT(want_h.abs().max().item<double>(), 1e-6) << "the recurrent path carries gradient";
}

}  // namespace
}  // namespace nc::asr
