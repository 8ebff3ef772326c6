// EfQAT data-parallel: two ranks (threads with their own Gloo groups) with half the batch each
// end with the quantized network of one process with the whole batch, the critical-channel
// selection, the frozen rows and the weight decay included.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <mutex>

#include "dist/run_ranks.h"
#include "neurocore/compress/efqat.h"
#include "neurocore/compress/quant_net.h"
#include "neurocore/dist/runtime.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"

namespace nc::dist {
namespace {

using namespace nc::compress;

struct Toy {
  std::shared_ptr<QuantNetImpl> net;
  torch::Tensor images, labels;
};

Toy toy(const std::string& model) {
  torch::manual_seed(21);
  Toy t;
  std::shared_ptr<nn::NetImpl> m;
  if (model == "lenet5") {
    m = std::make_shared<nn::LeNet5Impl>(nn::InputShape{1, 16, 16}, 4);
    t.images = torch::randn({40, 1, 16, 16});
  } else {
    m = std::make_shared<nn::MLPImpl>(nn::MLPOptions(16, 4).hidden({24, 12}));
    t.images = torch::randn({40, 1, 4, 4});
  }
  t.labels = torch::randint(0, 4, {40}, torch::kLong);
  m->eval();
  QuantConfig cfg;
  cfg.bits = parse_bits("W4A4");
  t.net = std::make_shared<QuantNetImpl>(m, cfg);
  t.net->calibrate({t.images.slice(0, 0, 20), t.images.slice(0, 20, 40)}, false);
  // Double precision: fake quantization is discontinuous, so a float rounding difference
  // between a batch of 12 and two of 6 (LibTorch picks kernels by shape) can flip a code.
  t.net->to(torch::kDouble);
  t.images = t.images.to(torch::kDouble);
  return t;
}

QatOptions options(bool efqat, int64_t batch) {
  QatOptions o;
  o.epochs = 2;
  o.batch_size = batch;
  o.learning_rate = 0.05;
  o.weight_decay = 1e-3;  // would move frozen rows if their gradients were made zeros
  o.efqat = efqat;
  o.efqat_options.mode = SelectMode::cwpl;
  o.efqat_options.rho = 0.25;
  o.efqat_options.reselect_every = 3;
  return o;
}

std::vector<torch::Tensor> snapshot(QuantNetImpl& net) {
  std::vector<torch::Tensor> v;
  for (const auto& p : quant_parameters(net)) v.push_back(p.detach().clone());
  return v;
}

TEST(DataParallelEfqat, TwoRanksEqualOneProcessWithTheGlobalBatch) {
  at::set_num_threads(1);
  // Not covered: LeNet-5 under plain QAT ends 2.2e-4 away after 8 steps (equal to 3e-17 for
  // 7): a straight-through clip decision flips on the reduction-order difference, and such
  // runs are chaotic at that scale even in one process (docs/distributed.md).
  for (const auto& [model, efqat] : std::vector<std::pair<std::string, bool>>{
           {"mlp", true}, {"mlp", false}, {"lenet5", true}}) {
    {
      auto ref = toy(model);
      // 40 images, global batch 12: the last step of each epoch is 4 = 2 + 2.
      train_quantized(*ref.net, ref.images, ref.labels, options(efqat, 12));
      const auto want = snapshot(*ref.net);
      std::vector<std::vector<torch::Tensor>> got(2);
      std::mutex init;
      test::run_ranks(2, [&](int r, Group& group) {
        Toy t;
        {
          std::lock_guard<std::mutex> lock(init);  // one global generator
          t = toy(model);
        }
        Runtime runtime(group, quant_parameters(*t.net), 1 << 10);
        train_quantized(*t.net, t.images, t.labels, options(efqat, 6), {}, &runtime);
        got[r] = snapshot(*t.net);
      });
      for (int r = 0; r < 2; ++r) {
        ASSERT_EQ(got[r].size(), want.size());
        double diff = 0;
        for (std::size_t i = 0; i < want.size(); ++i) {
          diff = std::max(diff, (got[r][i] - want[i]).abs().max().item<double>());
        }
        EXPECT_LT(diff, 1e-6) << model << (efqat ? " efqat" : " qat") << " rank " << r;
      }
    }
  }
}

}  // namespace
}  // namespace nc::dist
