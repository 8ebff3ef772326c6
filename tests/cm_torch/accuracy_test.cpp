// evaluate_accuracy (accuracy.h), shared by `neurocore compile --eval` and the pipeline: with
// labels chosen as a known model's predictions, every accuracy it reports is known exactly.
#include "neurocore/cm/torch/accuracy.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/cm/torch/torch_eval.h"
#include "neurocore/cm/torch/torch_import.h"
#include "neurocore/core/error.h"
#include "neurocore/nn/lenet.h"

namespace {

using namespace nc;

struct Compiled {
  cm::Graph g;
  cm::Hardware hw;
  cm::Mapping m;
  std::unique_ptr<cm::PolyModel> poly;
};

Compiled lenet() {
  torch::manual_seed(3);
  nn::LeNet5 net(nn::InputShape{1, 28, 28}, 10);
  net->eval();
  Compiled c;
  c.g = cm::import_model(*net, {1, 28, 28});
  c.g.fold_batch_norms();
  c.m = cm::map_graph(c.g, c.hw);
  c.poly = std::make_unique<cm::PolyModel>(c.g);
  return c;
}

TEST(CmAccuracy, IdealSimulationScoresAsTheFloatModel) {
  const Compiled c = lenet();
  const auto x = torch::randn({12, 1, 28, 28});
  const auto labels = cm::evaluate_with_torch(c.g, x)[0].argmax(1);
  cm::AccuracyOptions o;
  o.sim_images = 7;
  o.progress = false;
  const cm::AccuracyReport r = cm::evaluate_accuracy(c.g, c.m, *c.poly, c.hw, x, labels, o);
  EXPECT_EQ(r.images, 12);
  EXPECT_EQ(r.sim_images, 7);
  EXPECT_DOUBLE_EQ(r.compiled_accuracy, 100.0);
  EXPECT_DOUBLE_EQ(r.accelerator_accuracy, 100.0);
  EXPECT_DOUBLE_EQ(r.float_accuracy_same_images, 100.0);
  EXPECT_DOUBLE_EQ(r.agreement, 100.0);
  EXPECT_GT(r.mvms, 0);
  const auto j = r.to_json();
  EXPECT_EQ(j.at("accelerator_images").get<int>(), 7);
  EXPECT_NE(j.at("non_idealities").get<std::string>().find("(off)"), std::string::npos);
}

// The simulator runs in chunks; with noise, its predictions must still be those of one run over
// every image (per-tile generators, drawn in program order).
TEST(CmAccuracy, NoisyChunkedRunsEqualOneRun) {
  const Compiled c = lenet();
  const auto x = torch::randn({23, 1, 28, 28});
  cm::AccuracyOptions o;
  o.progress = false;
  o.analog.quantize = true;
  o.analog.programming_noise = 0.3;
  o.analog.read_noise = 0.3;
  o.analog.seed = 9;
  cm::FunctionalOptions fo;
  fo.analog = o.analog;
  cm::FunctionalSimulator sim(c.g, c.m, *c.poly, c.hw, fo);
  std::vector<std::vector<float>> images;
  for (int64_t i = 0; i < 23; ++i) {
    const auto xi = x[i].contiguous();
    images.emplace_back(xi.data_ptr<float>(), xi.data_ptr<float>() + xi.numel());
  }
  const auto out = sim.run(images);
  auto labels = torch::empty({23}, torch::kLong);
  for (int64_t i = 0; i < 23; ++i) {
    const auto& o_i = out[static_cast<std::size_t>(i)];
    labels[i] = std::max_element(o_i.begin(), o_i.end()) - o_i.begin();
  }
  const cm::AccuracyReport r = cm::evaluate_accuracy(c.g, c.m, *c.poly, c.hw, x, labels, o);
  EXPECT_DOUBLE_EQ(r.accelerator_accuracy, 100.0);
  EXPECT_LT(r.agreement, 100.0);  // this much noise changes some predictions
}

TEST(CmAccuracy, WrongImageShapeNamesBoth) {
  const Compiled c = lenet();
  try {
    cm::evaluate_accuracy(c.g, c.m, *c.poly, c.hw, torch::zeros({2, 3, 32, 32}),
                          torch::zeros({2}, torch::kLong), {});
    FAIL() << "no error";
  } catch (const UserError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("[1, 28, 28]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[3, 32, 32]"), std::string::npos) << msg;
  }
}

}  // namespace
