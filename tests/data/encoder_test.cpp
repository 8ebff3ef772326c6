#include "neurocore/data/encoder.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "data/test_util.h"
#include "neurocore/core/config.h"
#include "neurocore/core/seed.h"

namespace {

using nc::data::testing::user_error;

nc::data::EncoderOptions rate(int64_t steps, double gain) {
  nc::data::EncoderOptions o;
  o.coding = "rate";
  o.steps = steps;
  o.gain = gain;
  return o;
}

// specs/snu.md §8.6: over 10^4 draws the mean spike count per pixel is p k within 3 sigma.
TEST(Encoder, RateMeanSpikeCountIsPTimesGain) {
  const int64_t draws = 10000, T = 20;
  const double k = 6.0;
  const std::vector<double> ps = {0.0, 0.05, 0.2, 0.5, 0.8, 1.0};
  const auto x = torch::tensor(ps, torch::kFloat).repeat({draws, 1});  // [draws, pixels]
  const auto spikes = nc::data::encode(x, rate(T, k), nc::make_generator(1, "encoder-test"));
  ASSERT_EQ(spikes.sizes(), (std::vector<int64_t>{T, draws, int64_t(ps.size())}));
  EXPECT_EQ(spikes.scalar_type(), torch::kFloat);
  EXPECT_TRUE((spikes.eq(0) | spikes.eq(1)).all().item<bool>());
  const auto counts = spikes.sum(0).to(torch::kDouble);  // [draws, pixels]
  const auto mean = counts.mean(0);
  for (std::size_t j = 0; j < ps.size(); ++j) {
    const double P = ps[j] * k / T;
    const double sigma = std::sqrt(T * P * (1 - P) / draws);  // of the mean of a Binomial(T, P)
    EXPECT_NEAR(mean[j].item<double>(), ps[j] * k, 3 * sigma + 1e-12) << "p = " << ps[j];
  }
}

TEST(Encoder, RateProbabilityIsClippedToOne) {
  const auto x = torch::tensor({0.5, 0.75, 1.0}, torch::kDouble).view({1, 3});
  // gain 40 over 20 steps: P = min(1, 2 p) = 1 for every pixel here.
  const auto spikes = nc::data::encode(x, rate(20, 40.0), nc::make_generator(2, "encoder-test"));
  EXPECT_EQ(spikes.scalar_type(), torch::kDouble);
  EXPECT_TRUE(spikes.eq(1).all().item<bool>());
  const auto none = nc::data::encode(torch::zeros({4, 5}), rate(20, 40.0), nc::make_generator(2, "e"));
  EXPECT_EQ(none.sum().item<float>(), 0.0f);
}

TEST(Encoder, RateIsReproducibleFromTheSeed) {
  const auto x = torch::rand({8, 1, 28, 28});
  const auto o = rate(20, 6.0);
  const auto a = nc::data::encode(x, o, nc::make_generator(7, "encoder"));
  const auto b = nc::data::encode(x, o, nc::make_generator(7, "encoder"));
  const auto c = nc::data::encode(x, o, nc::make_generator(8, "encoder"));
  EXPECT_EQ(a.sizes(), (std::vector<int64_t>{20, 8, 1, 28, 28}));
  EXPECT_TRUE(a.equal(b));
  EXPECT_FALSE(a.equal(c));
  // The global generator plays no part.
  torch::manual_seed(123);
  const auto d = nc::data::encode(x, o, nc::make_generator(7, "encoder"));
  EXPECT_TRUE(a.equal(d));
}

TEST(Encoder, LatencySpikesOnceBrighterEarlier) {
  nc::data::EncoderOptions o;
  o.coding = "latency";
  o.steps = 21;
  const auto x = torch::tensor({1.0f, 0.5f, 0.0f, 0.05f, 0.26f}).view({1, 5});
  const auto s = nc::data::encode(x, o, nc::make_generator(0, "e"));
  ASSERT_EQ(s.sizes(), (std::vector<int64_t>{21, 1, 5}));
  const auto count = s.sum(0)[0];
  EXPECT_TRUE(count.equal(torch::tensor({1.0f, 1.0f, 0.0f, 1.0f, 1.0f})));
  const auto t = s.argmax(0)[0];
  // t = round((1 - p) (T - 1)): 0, 10, -, round(19) = 19, round(14.8) = 15.
  EXPECT_EQ(t[0].item<int64_t>(), 0);
  EXPECT_EQ(t[1].item<int64_t>(), 10);
  EXPECT_EQ(t[3].item<int64_t>(), 19);
  EXPECT_EQ(t[4].item<int64_t>(), 15);
  o.steps = 1;
  EXPECT_TRUE(nc::data::encode(x, o, nc::make_generator(0, "e"))[0].equal(x.gt(0).to(torch::kFloat)));
}

TEST(Encoder, FramesMakesDimensionOneTheTimeAxis) {
  nc::data::EncoderOptions o;
  o.coding = "frames";
  o.steps = 3;  // ignored: the input has K = 4 frames
  const auto x = torch::rand({2, 4, 5, 6});
  const auto s = nc::data::encode(x, o, nc::make_generator(0, "e"));
  ASSERT_EQ(s.sizes(), (std::vector<int64_t>{4, 2, 1, 5, 6}));
  for (int k = 0; k < 4; ++k)
    for (int b = 0; b < 2; ++b) EXPECT_TRUE(s[k][b][0].equal(x[b][k])) << "frame " << k << " example " << b;
  const auto msg = user_error([&] { nc::data::encode(torch::rand({3}), o, nc::make_generator(0, "e")); });
  EXPECT_NE(msg.find("coding 'frames' needs inputs [B, K, ...]"), std::string::npos) << msg;
}

TEST(Encoder, DirectRepeatsTheInput) {
  nc::data::EncoderOptions o;
  o.coding = "direct";
  o.steps = 4;
  const auto x = torch::rand({3, 2, 5});
  const auto s = nc::data::encode(x, o, nc::make_generator(0, "e"));
  ASSERT_EQ(s.sizes(), (std::vector<int64_t>{4, 3, 2, 5}));
  for (int t = 0; t < 4; ++t) EXPECT_TRUE(s[t].equal(x));
  s[0].fill_(0);  // a real tensor, not a broadcast view of x
  EXPECT_TRUE(s[1].equal(x));
}

TEST(Encoder, FromConfigValidates) {
  auto c = nc::Config::from_string("encoder:\n  coding: latency\n  steps: 8\n  gain: 3\n", "t.yaml");
  const auto o = nc::data::EncoderOptions::from_config(c.root().section("encoder"));
  EXPECT_EQ(o.coding, "latency");
  EXPECT_EQ(o.steps, 8);
  EXPECT_DOUBLE_EQ(o.gain, 3.0);
  auto bad = nc::Config::from_string("encoder:\n  coding: rates\n", "t.yaml");
  auto msg = user_error([&] { nc::data::EncoderOptions::from_config(bad.root().section("encoder")); });
  EXPECT_NE(msg.find("did you mean 'rate'"), std::string::npos) << msg;
  bad = nc::Config::from_string("encoder:\n  steps: 0\n", "t.yaml");
  msg = user_error([&] { nc::data::EncoderOptions::from_config(bad.root().section("encoder")); });
  EXPECT_NE(msg.find("encoder.steps"), std::string::npos) << msg;
  bad = nc::Config::from_string("encoder:\n  stpes: 10\n", "t.yaml");
  msg = user_error([&] { nc::data::EncoderOptions::from_config(bad.root().section("encoder")); });
  EXPECT_NE(msg.find("did you mean 'steps'"), std::string::npos) << msg;
}

TEST(Encoder, RejectsBadInputsAndOptions) {
  const auto gen = nc::make_generator(0, "e");
  auto msg = user_error([&] { nc::data::encode(torch::full({2, 3}, 1.5), rate(20, 6), gen); });
  EXPECT_NE(msg.find("[0,1]"), std::string::npos) << msg;
  msg = user_error([&] { nc::data::encode(torch::ones({2, 3}, torch::kLong), rate(20, 6), gen); });
  EXPECT_NE(msg.find("floating-point"), std::string::npos) << msg;
  msg = user_error([&] { nc::data::encode(torch::ones({2}), rate(0, 6), gen); });
  EXPECT_NE(msg.find("encoder.steps"), std::string::npos) << msg;
  nc::data::EncoderOptions o;
  o.coding = "burst";
  msg = user_error([&] { nc::data::encode(torch::ones({2}), o, gen); });
  EXPECT_NE(msg.find("'burst'"), std::string::npos) << msg;
}

}  // namespace
