// Data-parallel training equals single-process training: W ranks (threads of this process,
// each with its own Gloo process group over loopback, sharing a HashStore for the
// rendezvous; the ResNet-20 test: separate processes, tests/dist/rank_processes.h) with
// per-rank batches that together make the global batch end with the parameters of one
// process trained on the global batch (1e-6). The CLI tests run the same through
// `neurocore train --nproc` (tests/cli/dist_test.cpp).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <exception>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "dist/rank_processes.h"
#include "dist/run_ranks.h"
#include "neurocore/core/config.h"
#include "neurocore/dist/runtime.h"
#include "neurocore/learn/options.h"
#include "neurocore/learn/rule.h"
#include "neurocore/nn/net.h"
#include "neurocore/nn/resnet.h"

namespace nc::dist {
namespace {

using ModelFactory = std::function<std::shared_ptr<nn::NetImpl>()>;

using test::run_ranks;

double max_abs_diff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    m = std::max(m, (a[i] - b[i]).abs().max().item<double>());
  }
  return m;
}

std::vector<torch::Tensor> snapshot(nn::NetImpl& model) {
  std::vector<torch::Tensor> v;
  for (const auto& p : model.parameters()) v.push_back(p.detach().clone());
  return v;
}

learn::TrainOptions sgd() {
  learn::TrainOptions o;
  o.optimizer = "sgd";
  o.learning_rate = 0.1;
  o.momentum = 0.9;
  return o;
}

struct Batches {
  std::vector<torch::Tensor> x, y;  // per step, global
  bool temporal = false;
};

// Rank `rank` of `group` trains `model` on its shards of `data` with `rule_yaml`'s rule;
// returns its final parameters.
std::vector<torch::Tensor> train_rank(int rank, Group& group, const std::shared_ptr<nn::NetImpl>& model,
                                      const std::string& rule_yaml, const Batches& data,
                                      const std::string& loss, int64_t bucket_bytes,
                                      SyncStats* stats = nullptr) {
  const int world = group.size();
  auto cfg = Config::from_string(rule_yaml, "rule.yaml");
  auto rule = learn::make_rule(cfg.root().section("learn"), *model);
  auto modulation = learn::make_modulation(cfg.root().section("learn"), *model);
  Runtime runtime(group, *model, bucket_bytes);
  auto opt = learn::make_optimizer(sgd(), model->parameters(), [&] { runtime.synchronize_gradients(); });
  runtime.broadcast_model(*model);
  for (std::size_t s = 0; s < data.x.size(); ++s) {
    const int64_t n = data.y[s].size(0);
    auto [first, end] = learn::shard_range(n, rank, world);
    runtime.start_batch(*model, end - first, n);
    auto x = data.x[s].slice(data.temporal ? 1 : 0, first, end);
    if (modulation) modulation->before_batch(*model);
    rule->train_batch(*model, x, data.y[s].slice(0, first, end), loss, *opt);
  }
  if (stats) *stats = runtime.gradient_sync().stats();
  return snapshot(*model);
}

// Every rank (a thread) trains its shards of `data`; returns each rank's final parameters.
// The model of every rank starts from the same seed.
std::vector<std::vector<torch::Tensor>> train_parallel(int world, const ModelFactory& make,
                                                       const std::string& rule_yaml,
                                                       const Batches& data, const std::string& loss,
                                                       int64_t bucket_bytes,
                                                       std::vector<SyncStats>* stats = nullptr) {
  std::vector<std::vector<torch::Tensor>> result(world);
  if (stats) stats->assign(world, {});
  std::mutex init;  // the factories seed LibTorch's one global generator: one at a time
  run_ranks(world, [&](int rank, Group& group) {
    std::shared_ptr<nn::NetImpl> model;
    {
      std::lock_guard<std::mutex> lock(init);
      model = make();
    }
    result[rank] = train_rank(rank, group, model, rule_yaml, data, loss, bucket_bytes,
                              stats ? &(*stats)[rank] : nullptr);
  });
  return result;
}

// One process, the same rule, the global batches.
std::vector<torch::Tensor> train_single(const ModelFactory& make, const std::string& rule_yaml,
                                        const Batches& data, const std::string& loss) {
  auto model = make();
  auto cfg = Config::from_string(rule_yaml, "rule.yaml");
  auto rule = learn::make_rule(cfg.root().section("learn"), *model);
  auto modulation = learn::make_modulation(cfg.root().section("learn"), *model);
  auto opt = learn::make_optimizer(sgd(), model->parameters());
  for (std::size_t s = 0; s < data.x.size(); ++s) {
    if (modulation) modulation->before_batch(*model);
    rule->train_batch(*model, data.x[s], data.y[s], loss, *opt);
  }
  return snapshot(*model);
}

Batches random_batches(std::vector<int64_t> shape, int64_t classes, std::vector<int64_t> sizes,
                       int batch_dim) {
  torch::manual_seed(11);
  Batches b;
  b.temporal = batch_dim == 1;
  for (int64_t n : sizes) {
    shape[batch_dim] = n;
    b.x.push_back(b.temporal ? (torch::rand(shape) * 2).floor() : torch::randn(shape));
    b.y.push_back(torch::randint(classes, {n}, torch::kLong));
  }
  return b;
}

ModelFactory from_yaml(const std::string& yaml, nn::InputShape shape, int64_t classes) {
  return [=] {
    torch::manual_seed(3);
    auto cfg = Config::from_string(yaml, "model.yaml");
    return nn::make_model(cfg.root().section("model"), shape, classes);
  };
}

TEST(DataParallel, MlpEqualsOneProcessWithTheGlobalBatch) {
  at::set_num_threads(1);
  const auto make = from_yaml("model: {name: mlp, hidden: [32, 16]}\n", nn::InputShape{1, 4, 4}, 5);
  // Uneven shards (9 = 5 + 4, 7 = 4 + 3): each rank's gradient weighs n_r / N.
  const auto data = random_batches({0, 1, 4, 4}, 5, {8, 9, 7}, 0);
  const std::string rule = "learn: {rule: bptt}\n";
  const auto ref = train_single(make, rule, data, "cross_entropy");
  std::vector<SyncStats> stats;
  // 600-byte buckets: the MLP's 4 tensors spread over several buckets, started by the hooks.
  const auto got = train_parallel(2, make, rule, data, "cross_entropy", 600, &stats);
  for (int r = 0; r < 2; ++r) EXPECT_LT(max_abs_diff(got[r], ref), 1e-6) << "rank " << r;
  EXPECT_EQ(stats[0].steps, 3);
  EXPECT_GT(stats[0].buckets_total, 3);  // more than one bucket per step
  EXPECT_EQ(stats[0].buckets_overlapped, stats[0].buckets_total);  // all started in backward
  // Sanity: training moved the parameters (the comparison is not between two initial states).
  EXPECT_GT(max_abs_diff(ref, snapshot(*make())), 1e-3);
}

TEST(DataParallel, ThreeRanksAndOneBigBucketAgree) {
  at::set_num_threads(1);
  const auto make = from_yaml("model: {name: mlp, hidden: [16]}\n", nn::InputShape{1, 3, 3}, 4);
  const auto data = random_batches({0, 1, 3, 3}, 4, {9, 10}, 0);
  const std::string rule = "learn: {rule: bptt}\n";
  const auto ref = train_single(make, rule, data, "cross_entropy");
  const auto got = train_parallel(3, make, rule, data, "cross_entropy", 25 << 20);
  for (int r = 0; r < 3; ++r) EXPECT_LT(max_abs_diff(got[r], ref), 1e-6) << "rank " << r;
}

TEST(DataParallel, SnuTrainedByOstlEqualsOneProcess) {
  at::set_num_threads(1);
  // OSTL writes its gradients without autograd and updates every time step: the gradients
  // are averaged at each of the T optimizer steps.
  const auto make = from_yaml("model: {name: snu-mlp, hidden: [6], readout: linear}\n",
                              nn::InputShape{1, 2, 3}, 4);
  const auto data = random_batches({5, 0, 1, 2, 3}, 4, {6, 5}, 1);
  const std::string rule = "learn: {rule: ostl, ostl: {update: step}}\n";
  const auto ref = train_single(make, rule, data, "mse_rate");
  std::vector<SyncStats> stats;
  const auto got = train_parallel(2, make, rule, data, "mse_rate", 25 << 20, &stats);
  for (int r = 0; r < 2; ++r) EXPECT_LT(max_abs_diff(got[r], ref), 1e-6) << "rank " << r;
  EXPECT_EQ(stats[0].steps, 2 * 5);  // one all-reduce round per time step
  EXPECT_GT(max_abs_diff(ref, snapshot(*make())), 1e-4);
}

TEST(DataParallel, GrapesModulationEqualsOneProcess) {
  at::set_num_threads(1);
  // GRAPES scales each layer's error by factors computed from the weights, equal on every rank.
  const auto make = from_yaml("model: {name: mlp, hidden: [32, 16]}\n", nn::InputShape{1, 4, 4}, 5);
  const auto data = random_batches({0, 1, 4, 4}, 5, {8, 9, 7}, 0);
  const std::string rule = "learn: {rule: bptt, modulation: grapes}\n";
  const auto ref = train_single(make, rule, data, "cross_entropy");
  const auto plain = train_single(make, "learn: {rule: bptt}\n", data, "cross_entropy");
  EXPECT_GT(max_abs_diff(ref, plain), 1e-4);  // the modulation changed the updates
  const auto got = train_parallel(2, make, rule, data, "cross_entropy", 600);
  for (int r = 0; r < 2; ++r) EXPECT_LT(max_abs_diff(got[r], ref), 1e-6) << "rank " << r;
}

TEST(DataParallel, EssopUpdatesKeepTheRanksIdentical) {
  at::set_num_threads(1);
  // ESSOP's weight gradients are stochastic (bit-streams seeded per rank alike), so they do
  // not equal one process's; what must hold is that every rank applies the same averaged
  // update, and that the update is ESSOP's (not the exact one).
  const auto make = from_yaml("model: {name: mlp, hidden: [32]}\n", nn::InputShape{1, 4, 4}, 5);
  const auto data = random_batches({0, 1, 4, 4}, 5, {8, 8}, 0);
  const std::string rule = "learn: {rule: bptt, update: essop, bitstream: 8}\n";
  const auto got = train_parallel(2, make, rule, data, "cross_entropy", 600);
  EXPECT_EQ(max_abs_diff(got[0], got[1]), 0.0);
  const auto exact = train_parallel(2, make, "learn: {rule: bptt}\n", data, "cross_entropy", 600);
  EXPECT_GT(max_abs_diff(got[0], exact[0]), 1e-6);
}

TEST(DataParallel, ResNet20OnTwoProcessesEqualsOneProcessWithBatchNormPerShard) {
  at::set_num_threads(1);
  // BatchNorm normalises each rank's shard with the shard's statistics (DDP's default), so
  // the single-process reference accumulates the gradient shard by shard, each weighted by
  // its share of the global batch, then steps once. The ranks are separate processes.
  const ModelFactory make = [] {
    torch::manual_seed(5);
    return std::make_shared<nn::ResNetImpl>(nn::ResNetOptions(20, 3).in_channels(1).width(4));
  };
  const auto data = random_batches({0, 1, 6, 6}, 3, {6, 5}, 0);
  if (test::in_rank_process()) {
    test::as_rank_process([&](int rank, Group& group) {
      auto params = train_rank(rank, group, make(), "learn: {rule: bptt}\n", data, "cross_entropy", 64 << 10);
      torch::save(params, (test::rank_output_dir() / ("rank" + std::to_string(rank) + ".pt")).string());
    });
    return;
  }
  const auto dir = std::filesystem::temp_directory_path() /
                   ("nc-dp-resnet-" + std::to_string(static_cast<long>(getpid())));
  std::filesystem::remove_all(dir);
  ASSERT_EQ(test::run_rank_processes(2, dir), 0);
  auto ref_model = make();
  auto opt = learn::make_optimizer(sgd(), ref_model->parameters());
  ref_model->train();
  for (std::size_t s = 0; s < data.x.size(); ++s) {
    opt->zero_grad();
    const int64_t n = data.y[s].size(0);
    for (int r = 0; r < 2; ++r) {
      auto [first, end] = learn::shard_range(n, r, 2);
      auto out = ref_model->forward(data.x[s].slice(0, first, end));
      (torch::cross_entropy_loss(out, data.y[s].slice(0, first, end)) * (double(end - first) / n)).backward();
    }
    opt->step();
  }
  for (int r = 0; r < 2; ++r) {
    std::vector<torch::Tensor> got;
    torch::load(got, (dir / ("rank" + std::to_string(r) + ".pt")).string());
    EXPECT_LT(max_abs_diff(got, snapshot(*ref_model)), 1e-6) << "rank " << r;
  }
  std::filesystem::remove_all(dir);
}

TEST(DataParallel, SecondBackwardBeforeTheUpdateIsReducedFromTheFinalGradients) {
  at::set_num_threads(1);
  // Two backward passes accumulate into .grad before one update: the buckets the first pass
  // started are discarded and finish() reduces the accumulated gradients.
  const auto data = random_batches({0, 6}, 3, {8}, 0);
  auto make = [] {
    torch::manual_seed(9);
    return torch::nn::Linear(6, 3);
  };
  auto ref = make();
  {
    auto l = torch::cross_entropy_loss(ref(data.x[0]), data.y[0]);
    l.backward();
    l = torch::cross_entropy_loss(ref(data.x[0]) * 2, data.y[0]);
    l.backward();
  }
  std::vector<torch::Tensor> grads(2);
  std::mutex init;
  run_ranks(2, [&](int rank, Group& group) {
    torch::nn::Linear m = nullptr;
    {
      std::lock_guard<std::mutex> lock(init);
      m = make();
    }
    GradientSync sync(group, m->parameters(), 1 << 20);
    auto [first, end] = learn::shard_range(8, rank, 2);
    sync.set_weight((end - first) / 8.0);
    auto x = data.x[0].slice(0, first, end);
    auto y = data.y[0].slice(0, first, end);
    torch::cross_entropy_loss(m(x), y).backward();
    torch::cross_entropy_loss(m(x) * 2, y).backward();
    sync.finish();
    grads[rank] = m->weight.grad().clone();
    EXPECT_EQ(sync.stats().buckets_overlapped, 0);
  });
  for (int r = 0; r < 2; ++r) EXPECT_LT((grads[r] - ref->weight.grad()).abs().max().item<double>(), 1e-6);
}

TEST(DataParallel, BucketsFollowReverseRegistrationOrderAndTheSizeCap) {
  run_ranks(1, [](int, Group& group) {
    torch::nn::Sequential net(torch::nn::Linear(10, 10), torch::nn::Linear(10, 2));  // 100+10, 20+2
    GradientSync sync(group, net->parameters(), 30 * 4);
    // Reverse order b2, w2, b1, w1 with a 120-byte cap: {b2, w2} = 88 bytes; b1 would make
    // 128, so it opens a bucket; w1 alone is 400 bytes, over the cap, in a bucket of its own.
    EXPECT_EQ(sync.bucket_sizes(), (std::vector<int64_t>{22, 10, 100}));
  });
}

TEST(DataParallel, MetricSumsAndBroadcastCrossRanks) {
  run_ranks(2, [](int rank, Group& group) {
    auto model = std::make_shared<nn::ResNetImpl>(nn::ResNetOptions(8, 2).in_channels(1).width(2));
    if (rank == 1) {
      torch::NoGradGuard g;
      for (auto& p : model->parameters()) p.fill_(7);
    }
    Runtime rt(group, *model);
    std::vector<double> v = {1.5 * (rank + 1), double(rank)};
    rt.sum(v);
    EXPECT_DOUBLE_EQ(v[0], 4.5);
    EXPECT_DOUBLE_EQ(v[1], 1.0);
    rt.broadcast_model(*model);
    EXPECT_NE(model->parameters()[0].flatten()[0].item<float>(), 7.0f);  // rank 0's init
  });
}

}  // namespace
}  // namespace nc::dist
