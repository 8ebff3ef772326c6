// Physical shrinking: the shrunk model computes what the masked model computes (spec dtp.md §7.7).
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <unistd.h>

#include "neurocore/cm/torch/torch_eval.h"
#include "neurocore/cm/torch/torch_import.h"
#include "neurocore/compress/prune/float_torchscript.h"
#include "neurocore/compress/prune/pruner.h"
#include "neurocore/compress/prune/shrink.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"

namespace nc::compress::prune {
namespace {

// Random BN statistics and affine parameters, so that a pruned channel's BN shift is not zero.
void randomise_bn(nn::NetImpl& net) {
  torch::NoGradGuard g;
  for (auto& m : net.modules(false)) {
    if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.5, 0.5);
      bn->running_mean.uniform_(-0.2, 0.2);
      bn->running_var.uniform_(0.5, 2);
    }
  }
}

TEST(Shrink, ResNet20ShrunkEqualsMaskedInEveryStage) {
  torch::manual_seed(1);
  nn::ResNetImpl net(nn::ResNetOptions(20, 10));
  randomise_bn(net);
  net.eval();
  const nn::InputShape in{3, 16, 16};
  const auto x = torch::randn({4, 3, 16, 16});
  const auto st = model_structure(net, in);
  torch::Tensor masked, hard;
  {
    Masker m(net, st, Granularity::channel);
    hard = hard_masks(m, Method::dtp, torch::rand({m.size()}, torch::kDouble), 0.35, BudgetKind::params);
    m.set(hard);
    torch::NoGradGuard g;
    masked = net.forward(x);
  }
  const auto s = shrink(net, st, hard);
  auto& small = dynamic_cast<nn::ResNetImpl&>(*s.model);
  // Every residual stage and every block lost channels.
  EXPECT_LT(small.stage1->ptr<nn::BasicBlockImpl>(0)->planes, 16);
  EXPECT_LT(small.stage2->ptr<nn::BasicBlockImpl>(0)->planes, 32);
  EXPECT_LT(small.stage3->ptr<nn::BasicBlockImpl>(0)->planes, 64);
  EXPECT_EQ(small.stage2->ptr<nn::BasicBlockImpl>(0)->projection->size(), 1u);
  torch::NoGradGuard g;
  EXPECT_TRUE(torch::allclose(small.forward(x), masked, 1e-5, 1e-5))
      << (small.forward(x) - masked).abs().max();
  // An independent count on the shrunk model equals the linearised cost of the hard masks.
  const auto sst = model_structure(small, in);
  for (auto kind : {BudgetKind::params, BudgetKind::flops})
    EXPECT_EQ(dense_cost(sst, kind), channel_cost(st, hard, kind));
  EXPECT_LE(channel_cost(st, hard, BudgetKind::params), 0.35 * dense_cost(st, BudgetKind::params));
  // The compiler imports it (select shortcut as a 1x1 convolution) and computes the same.
  const auto graph = cm::import_model(small, in);
  const auto y = cm::evaluate_with_torch(graph, x).at(0);
  EXPECT_TRUE(torch::allclose(y, masked, 1e-4, 1e-4)) << (y - masked).abs().max();
  // And as TorchScript.
  const auto path = std::filesystem::temp_directory_path() / ("nc_shrunk_" + std::to_string(getpid()) + ".pt");
  save_float_torchscript(small, path.string());
  auto jit = torch::jit::load(path.string());
  const auto z = jit.forward({x}).toTensor();
  std::filesystem::remove(path);
  EXPECT_TRUE(torch::allclose(z, masked, 1e-5, 1e-5)) << (z - masked).abs().max();
}

// The shift a pruned channel would emit if its mask acted on the filter only: BN's beta (ResNet)
// or the conv / linear bias (LeNet-5), set to +2 on every pruned channel so that ReLU passes it.
void shift_pruned_channels(nn::NetImpl& net, const ModelStructure& st, const torch::Tensor& hard) {
  torch::NoGradGuard g;
  auto modules = net.named_modules("", /*include_self=*/false);
  for (const auto& l : st.layers) {
    torch::Tensor bias;
    const auto pos = l.name.rfind("conv");
    if (pos != std::string::npos) {  // ResNet: convN is followed by bnN
      auto bn_name = l.name;
      bn_name.replace(pos, 4, "bn");
      if (const auto* bn = modules.find(bn_name)) bias = (*bn)->as<torch::nn::BatchNorm2dImpl>()->bias;
    }
    if (!bias.defined()) {
      if (auto* c = l.module->as<torch::nn::Conv2dImpl>()) bias = c->bias;
      if (auto* f = l.module->as<torch::nn::LinearImpl>()) bias = f->bias;
    }
    ASSERT_TRUE(bias.defined()) << l.name;
    for (int64_t o = 0; o < l.out; ++o)
      if (l.out_element[o] >= 0 && hard[l.out_element[o]].item<float>() == 0) bias[o] = 2.0;
  }
}

// The masks act on each hidden layer's output (ResNet: BN's output including beta, before the
// residual add; LeNet-5: after ReLU), so a pruned channel emits exactly 0 and its BN beta or
// bias reaches nothing: the shrunk model (channel and its shift removed) equals the masked one.
// Masking only the filters would leak the shift into the next layer; the check below that such a
// model differs shows the test sees a leak.
TEST(Shrink, PrunedChannelsWithNonZeroShiftsLeakNothing) {
  torch::manual_seed(5);
  nn::ResNetImpl res(nn::ResNetOptions(20, 10));
  nn::LeNet5Impl lenet(nn::InputShape{1, 28, 28}, 10);
  randomise_bn(res);
  for (nn::NetImpl* net : {static_cast<nn::NetImpl*>(&res), static_cast<nn::NetImpl*>(&lenet)}) {
    net->eval();
    const nn::InputShape in = net == &res ? nn::InputShape{3, 16, 16} : nn::InputShape{1, 28, 28};
    const auto x = torch::randn({4, in.channels, in.height, in.width});
    const auto st = model_structure(*net, in);
    torch::Tensor masked, hard;
    {
      Masker m(*net, st, Granularity::channel);
      hard = hard_masks(m, Method::dtp, torch::rand({m.size()}, torch::kDouble), 0.3, BudgetKind::params);
      shift_pruned_channels(*net, st, hard);
      m.set(hard);
      torch::NoGradGuard g;
      masked = net->forward(x);
    }
    const auto s = shrink(*net, st, hard);
    torch::NoGradGuard g;
    const auto y = s.model->forward(x);
    EXPECT_TRUE(torch::allclose(y, masked, 1e-5, 1e-5)) << net->name() << " " << (y - masked).abs().max();
    // Filters masked, activations not: the shifts of the pruned channels reach the next layers.
    Masker filters(*net, st, Granularity::weight);
    std::vector<torch::Tensor> w;
    for (const auto& l : st.layers) {
      auto out_only = torch::ones(l.weight.sizes());
      for (int64_t o = 0; o < l.out; ++o)
        if (l.out_element[o] >= 0 && hard[l.out_element[o]].item<float>() == 0) out_only[o].zero_();
      w.push_back(out_only.flatten());
    }
    filters.set(torch::cat(w));
    EXPECT_GT((net->forward(x) - masked).abs().max().item<float>(), 1e-2) << net->name();
  }
}

TEST(Shrink, MlpShrunkEqualsMasked) {
  torch::manual_seed(2);
  nn::MLPImpl net(nn::MLPOptions(12, 3).hidden({20, 10}));
  const auto x = torch::randn({5, 1, 3, 4});
  const auto st = model_structure(net, {1, 3, 4});
  torch::Tensor masked, hard;
  {
    Masker m(net, st, Granularity::channel);
    hard = hard_masks(m, Method::magnitude, {}, 0.4, BudgetKind::params);
    m.set(hard);
    masked = net.forward(x);
  }
  const auto s = shrink(net, st, hard);
  EXPECT_EQ(s.config_sets.size(), 1u);
  EXPECT_TRUE(torch::allclose(s.model->forward(x), masked, 1e-6, 1e-6));
}

TEST(Shrink, LeNet5ShrunkEqualsMasked) {
  torch::manual_seed(4);
  nn::LeNet5Impl net(nn::InputShape{1, 28, 28}, 10);
  const auto x = torch::randn({3, 1, 28, 28});
  const auto st = model_structure(net, {1, 28, 28});
  torch::Tensor masked, hard;
  {
    Masker m(net, st, Granularity::channel);
    hard = hard_masks(m, Method::l1, {}, 0.3, BudgetKind::flops);
    m.set(hard);
    masked = net.forward(x);
  }
  const auto s = shrink(net, st, hard);
  auto& small = dynamic_cast<nn::LeNet5Impl&>(*s.model);
  EXPECT_LT(small.channels[0], 6);
  EXPECT_LT(small.channels[1], 16);
  EXPECT_TRUE(torch::allclose(small.forward(x), masked, 1e-5, 1e-5));
  EXPECT_EQ(dense_cost(model_structure(small, {1, 28, 28}), BudgetKind::flops),
            channel_cost(st, hard, BudgetKind::flops));
}

TEST(FloatTorchScript, LeNet5AndMlpComputeTheModel) {
  torch::manual_seed(3);
  nn::LeNet5Impl lenet(nn::InputShape{1, 28, 28}, 10);
  nn::MLPImpl mlp(nn::MLPOptions(784, 10).hidden({20}).activation(nn::MLPActivation::tanh));
  const auto x = torch::randn({3, 1, 28, 28});
  const auto path = std::filesystem::temp_directory_path() / ("nc_float_ts_" + std::to_string(getpid()) + ".pt");
  for (nn::NetImpl* net : {static_cast<nn::NetImpl*>(&lenet), static_cast<nn::NetImpl*>(&mlp)}) {
    save_float_torchscript(*net, path.string());
    auto jit = torch::jit::load(path.string());
    torch::NoGradGuard g;
    EXPECT_TRUE(torch::allclose(jit.forward({x}).toTensor(), net->forward(x), 1e-5, 1e-5));
  }
  std::filesystem::remove(path);
}

// The exported TorchScript with every BatchNorm folded into its convolution computes what the
// unfolded export and the shrunk model compute (1e-5), on a shrunk ResNet-20 with random BN
// statistics and a projection (B) shortcut ResNet, and has no batch_norm left.
TEST(FloatTorchScript, FoldedBatchNormEqualsUnfolded) {
  torch::manual_seed(4);
  nn::ResNetImpl net(nn::ResNetOptions(20, 10));
  randomise_bn(net);
  net.eval();
  const nn::InputShape in{3, 16, 16};
  const auto st = model_structure(net, in);
  torch::Tensor hard;
  {
    Masker m(net, st, Granularity::channel);
    hard = hard_masks(m, Method::dtp, torch::rand({m.size()}, torch::kDouble), 0.35, BudgetKind::flops);
  }
  const auto shrunk = shrink(net, st, hard).model;
  nn::ResNetImpl proj(nn::ResNetOptions(8, 10).shortcut(nn::Shortcut::B));
  randomise_bn(proj);
  proj.eval();
  const auto x = torch::randn({4, 3, 16, 16});
  const auto path = std::filesystem::temp_directory_path() / ("nc_fold_" + std::to_string(getpid()) + ".pt");
  for (nn::NetImpl* model : {shrunk.get(), static_cast<nn::NetImpl*>(&proj)}) {
    save_float_torchscript(*model, path.string(), /*fold_batch_norm=*/false);
    auto plain = torch::jit::load(path.string());
    save_float_torchscript(*model, path.string(), /*fold_batch_norm=*/true);
    auto folded = torch::jit::load(path.string());
    torch::NoGradGuard g;
    const auto y = model->forward(x), a = plain.forward({x}).toTensor(), b = folded.forward({x}).toTensor();
    EXPECT_TRUE(torch::allclose(a, y, 1e-5, 1e-5)) << (a - y).abs().max();
    EXPECT_TRUE(torch::allclose(b, a, 1e-5, 1e-5)) << (b - a).abs().max();
    EXPECT_NE(plain.get_method("forward").graph()->toString().find("batch_norm"), std::string::npos);
    EXPECT_EQ(folded.get_method("forward").graph()->toString().find("batch_norm"), std::string::npos);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace nc::compress::prune
