// Saccade schedule, foveated glimpses and the two oddity models (saccade.h, oddity_nets.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/nn/oddity_nets.h"
#include "neurocore/nn/saccade.h"

namespace nc::nn {
namespace {

TEST(Saccade, ScheduleHasSixRTauStepsAndReadsOutTheFinalCycle) {
  SaccadeOptions o;
  o.repeats = 3;
  o.fixation_steps = 2;
  const auto s = saccade_schedule(o, 6);
  ASSERT_EQ(s.frame.size(), 6u * 3 * 2);
  for (size_t t = 0; t < s.frame.size(); ++t) EXPECT_EQ(s.frame[t], static_cast<int64_t>((t / 2) % 6));
  for (int64_t k = 0; k < 6; ++k) EXPECT_EQ(s.readout[k], 24 + 2 * k + 1);  // cycle 2 starts at step 24
  o.random_order = true;
  const auto r = saccade_schedule(o, 6, 7);
  for (int64_t k = 0; k < 6; ++k) {
    const auto t = r.readout[k];
    EXPECT_GE(t, 24);
    EXPECT_EQ(r.frame[t], k);
    EXPECT_TRUE(t + 1 == 36 || r.frame[t + 1] != k);  // the fixation's last step
  }
}

TEST(Saccade, FoveaCropMatchesAHandComputedCrop) {
  // 10 x 10, background 0.5 + 0.001 (10 r + c) (distinct values), ink (0) at rows 2-3, cols 3-4:
  // centroid (3.0, 4.0) in pixel-centre coordinates; a 4 x 4 crop starts at round(1.0) = row 1,
  // round(2.0) = col 2.
  auto f = torch::empty({3, 10, 10});
  for (int r = 0; r < 10; ++r)
    for (int c = 0; c < 10; ++c) f.index_put_({torch::indexing::Slice(), r, c}, 0.5 + 0.001 * (10 * r + c));
  for (int r : {2, 3})
    for (int c : {3, 4}) f.index_put_({0, r, c}, 0.0);
  f.index_put_({1, 9, 9}, 0.0);  // frame 1: ink in the corner: the crop is shifted inside (6, 6)
  // frame 2: no ink: the frame's centre (5, 5) -> corner 3, 3
  const auto thr = torch::full({3}, 0.4);
  const auto corners = fovea_corners(f, 4, thr);
  EXPECT_EQ(corners[0][0].item<int64_t>(), 1);
  EXPECT_EQ(corners[0][1].item<int64_t>(), 2);
  EXPECT_EQ(corners[1][0].item<int64_t>(), 6);
  EXPECT_EQ(corners[1][1].item<int64_t>(), 6);
  EXPECT_EQ(corners[2][0].item<int64_t>(), 3);
  const auto crop = fovea_crop(f, 4, thr);
  ASSERT_EQ(crop.sizes(), (std::vector<int64_t>{3, 4, 4}));
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      EXPECT_FLOAT_EQ(crop[0][i][j].item<float>(), f[0][1 + i][2 + j].item<float>());
      EXPECT_FLOAT_EQ(crop[1][i][j].item<float>(), f[1][6 + i][6 + j].item<float>());
    }
  EXPECT_FLOAT_EQ(crop[0][1][1].item<float>(), 0.0f);  // ink (2, 3)
}

TEST(Saccade, FoveatedGlimpsesHaveTwoChannels) {
  SaccadeOptions o;
  o.glimpse = "foveated";
  const auto g = glimpses(torch::rand({2, 6, 50, 50}), o);
  EXPECT_EQ(g.sizes(), (std::vector<int64_t>{12, 2, 16, 16}));
  o.glimpse = "fovea";
  EXPECT_THROW(o.validate("model"), UserError);
}

TEST(OddityNets, OReNIsPermutationEquivariant) {
  torch::manual_seed(0);
  OReN net(InputShape{6, 50, 50}, OReNOptions{});
  net->eval();
  const auto x = torch::rand({3, 6, 50, 50});
  const auto perm = torch::tensor({3, 0, 5, 1, 4, 2});
  const auto a = net->forward(x), b = net->forward(x.index_select(1, perm));
  EXPECT_TRUE(torch::allclose(a.index_select(1, perm), b, 1e-6, 1e-6));
  // Spec §0: about 0.49 M parameters at 50 x 50.
  EXPECT_NEAR(count_parameters(*net), 490000, 20000);
  EXPECT_EQ(net->conv_side, 4);  // 4 x 4 x 32 flatten
}

TEST(OddityNets, SaccadeSNUScoresEveryPanelAndLearns) {
  torch::manual_seed(0);
  SaccadeSNU net(InputShape{6, 50, 50}, SaccadeSNUOptions{});
  EXPECT_NEAR(count_parameters(*net), 160000, 10000);  // spec §0: about 0.16 M
  const auto x = torch::rand({4, 6, 50, 50});
  const auto y = net->forward(x);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{4, 6}));
  torch::nn::functional::cross_entropy(y, torch::tensor({0, 1, 2, 3})).backward();
  EXPECT_GT(net->embed->weight.grad().abs().sum().item<double>(), 0);
  EXPECT_GT(net->layer1->recurrent_weight.grad().abs().sum().item<double>(), 0);
  // MACs: the encoder once per panel plus 36 SNU steps (hand count of the defaults).
  const int64_t enc = 25 * 25 * 16 * 9 + 13 * 13 * 16 * 16 * 9 + 7 * 7 * 16 * 16 * 9 + 7 * 7 * 16 * 128;
  EXPECT_EQ(net->macs(), 6 * enc + 36 * (128 * 128 * 3) + 6 * 128);
}

TEST(OddityNets, MatchedSaccadeSNUHasOReNsParameterCount) {
  // configs/oddity-snu-saccade-matched.yaml: features = hidden = 292.
  SaccadeSNUOptions o;
  o.features = o.hidden = 292;
  const double snu = count_parameters(*SaccadeSNU(InputShape{6, 50, 50}, o));
  const double oren = count_parameters(*OReN(InputShape{6, 50, 50}, OReNOptions{}));
  EXPECT_NEAR(snu / oren, 1.0, 0.02) << snu << " vs " << oren;
}

TEST(OddityNets, ModelRegistryBuildsBothAndRejectsBadKeys) {
  auto c = Config::from_string("a: {name: snu-saccade, hidden: 32, features: 32, glimpse: foveated}\n"
                               "b: {name: oren, g_width: 0}\nc: {name: snu-saccade, repeats: 0}\n");
  auto m = make_model(c.root().section("a"), InputShape{6, 50, 50}, 6);
  EXPECT_EQ(m->forward(torch::rand({2, 6, 50, 50})).sizes(), (std::vector<int64_t>{2, 6}));
  EXPECT_THROW(make_model(c.root().section("b"), InputShape{6, 50, 50}, 6), UserError);
  EXPECT_THROW(make_model(c.root().section("c"), InputShape{6, 50, 50}, 6), UserError);
}

}  // namespace
}  // namespace nc::nn
