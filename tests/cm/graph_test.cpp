#include "neurocore/cm/graph.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "neurocore/cm/model_zoo.h"
#include "neurocore/core/error.h"

namespace nc::cm {
namespace {

// Brute-force output size: count window positions whose start lies in [-p_before, ...] and
// whose last tap lies inside the padded input.
int64_t brute_out(int64_t n, int64_t k, int64_t s, int64_t pb, int64_t pa, int64_t d) {
  int64_t count = 0;
  for (int64_t start = -pb; start + d * (k - 1) <= n - 1 + pa; start += s) ++count;
  return count;
}

TEST(CmGraph, ConvShapeMatchesBruteForce) {
  for (int64_t n : {5, 8, 11})
    for (int64_t k : {1, 3, 5})
      for (int64_t s : {1, 2, 3})
        for (int64_t p : {0, 1, 2})
          for (int64_t d : {1, 2}) {
            if (d * (k - 1) + 1 > n + 2 * p) continue;
            Graph g;
            auto x = g.input("x", {4, n, n + 1});
            auto y = g.conv2d(x, Conv2dOptions(4, 6, k).stride(s).padding(p).dilation(d));
            const Shape& sh = g.value(y).shape;
            EXPECT_EQ(sh, (Shape{6, brute_out(n, k, s, p, p, d), brute_out(n + 1, k, s, p, p, d)}))
                << "n=" << n << " k=" << k << " s=" << s << " p=" << p << " d=" << d;
          }
}

TEST(CmGraph, AsymmetricPaddingAndRectangularKernel) {
  Graph g;
  auto x = g.input("x", {2, 7, 9});
  auto y = g.conv2d(x, Conv2dOptions(2, 3, Pair(3, 1)).stride(Pair(2, 1)).padding(Pads(0, 1, 1, 0)));
  EXPECT_EQ(g.value(y).shape, (Shape{3, 3, 10}));  // (7+0+1-3)/2+1, (9+1+0-1)/1+1
}

TEST(CmGraph, GroupedAndDepthwiseConv) {
  Graph g;
  auto x = g.input("x", {8, 6, 6});
  auto y = g.conv2d(x, Conv2dOptions(8, 8, 3).groups(8).padding(1), "dw");
  EXPECT_EQ(g.value(y).shape, (Shape{8, 6, 6}));
  auto z = g.conv2d(y, Conv2dOptions(8, 4, 1).groups(2), "grouped");
  EXPECT_EQ(g.value(z).shape, (Shape{4, 6, 6}));
  EXPECT_THROW(g.conv2d(z, Conv2dOptions(4, 6, 1).groups(4)), UserError);  // 6 % 4 != 0
  // Weight size checks the per-group layout [out, in/groups, kh, kw].
  EXPECT_NO_THROW(g.conv2d(y, Conv2dOptions(8, 8, 3).groups(8), "dw2", std::vector<float>(72)));
  EXPECT_THROW(g.conv2d(y, Conv2dOptions(8, 8, 3).groups(8), "dw3", std::vector<float>(576)),
               UserError);
}

TEST(CmGraph, PoolingShapes) {
  Graph g;
  auto x = g.input("x", {3, 7, 7});
  EXPECT_EQ(g.value(g.max_pool(x, PoolOptions(2))).shape, (Shape{3, 3, 3}));
  EXPECT_EQ(g.value(g.max_pool(x, PoolOptions(2).ceil_mode(true))).shape, (Shape{3, 4, 4}));
  EXPECT_EQ(g.value(g.max_pool(x, PoolOptions(3).stride(2).padding(1))).shape, (Shape{3, 4, 4}));
  EXPECT_EQ(g.value(g.max_pool(x, PoolOptions(3).stride(1).dilation(2))).shape, (Shape{3, 3, 3}));
  EXPECT_EQ(g.value(g.avg_pool(x, PoolOptions(3).stride(2))).shape, (Shape{3, 3, 3}));
  // PyTorch: 6x6, k=2, s=2, ceil: the extra window would start in the padding -> dropped.
  auto y = g.input("y", {1, 6, 6});
  EXPECT_EQ(g.value(g.max_pool(y, PoolOptions(2).padding(1).ceil_mode(true))).shape,
            (Shape{1, 4, 4}));
  auto gp = g.global_avg_pool(x);
  EXPECT_EQ(g.value(gp).shape, (Shape{3, 1, 1}));
  EXPECT_EQ(g.value(g.flatten(x)).shape, (Shape{147}));
  EXPECT_EQ(g.value(g.linear(gp, LinearOptions(3, 5))).shape, (Shape{5}));
  EXPECT_THROW(g.max_pool(x, PoolOptions(2).padding(2)), UserError);
}

TEST(CmGraph, AddConcatPadSlice) {
  Graph g;
  auto a = g.input("a", {4, 8, 8});
  auto b = g.input("b", {6, 8, 8});
  EXPECT_EQ(g.value(g.concat({a, b})).shape, (Shape{10, 8, 8}));
  EXPECT_THROW(g.add({a, b}), UserError);
  auto s = g.slice(a, SliceOptions().step({1, 2, 2}));
  EXPECT_EQ(g.value(s).shape, (Shape{4, 4, 4}));
  auto p = g.pad(s, PadOptions().channels_before(2).channels_after(2).spatial(Pads(1, 0)));
  EXPECT_EQ(g.value(p).shape, (Shape{8, 6, 4}));
  auto c = g.input("c", {4, 9, 8});
  EXPECT_EQ(g.value(g.slice(c, SliceOptions().step({1, 2, 2}))).shape, (Shape{4, 5, 4}));
}

TEST(CmGraph, InconsistentShapesNameTheNode) {
  Graph g;
  auto x = g.input("x", {3, 32, 32});
  try {
    g.conv2d(x, Conv2dOptions(16, 16, 3), "conv_bad");
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("conv_bad"), std::string::npos) << m;
    EXPECT_NE(m.find("3 channels"), std::string::npos) << m;
    EXPECT_NE(m.find("in_channels = 16"), std::string::npos) << m;
  }
  EXPECT_THROW(g.conv2d(x, Conv2dOptions(3, 4, 7).dilation(6)), UserError);  // window too big
  EXPECT_THROW(g.conv2d(x, Conv2dOptions(3, 4, 3).stride(0)), UserError);
  EXPECT_THROW(g.conv2d(x, Conv2dOptions(3, 4, 3), "x"), UserError);  // duplicate name
  EXPECT_THROW(g.linear(x, LinearOptions(3, 4)), UserError);           // not flat
  EXPECT_THROW(g.add({x}), UserError);
  EXPECT_THROW(g.find_node("conv"), UserError);
}

// Plain reference convolution (PyTorch semantics) in double precision.
std::vector<double> ref_conv(const std::vector<double>& x, const Shape& in, const Conv2dOptions& o,
                             const std::vector<double>& w, const std::vector<double>& b,
                             const Shape& out) {
  std::vector<double> y(static_cast<std::size_t>(numel(out)));
  const int64_t cin_g = o.in_channels() / o.groups(), cout_g = o.out_channels() / o.groups();
  const auto kh = o.kernel_size().h, kw = o.kernel_size().w;
  for (int64_t k = 0; k < out[0]; ++k)
    for (int64_t oh = 0; oh < out[1]; ++oh)
      for (int64_t ow = 0; ow < out[2]; ++ow) {
        double acc = b.empty() ? 0.0 : b[static_cast<std::size_t>(k)];
        const int64_t grp = k / cout_g;
        for (int64_t c = 0; c < cin_g; ++c)
          for (int64_t i = 0; i < kh; ++i)
            for (int64_t j = 0; j < kw; ++j) {
              const int64_t ih = oh * o.stride().h + i * o.dilation().h - o.padding().top;
              const int64_t iw = ow * o.stride().w + j * o.dilation().w - o.padding().left;
              if (ih < 0 || iw < 0 || ih >= in[1] || iw >= in[2]) continue;
              const int64_t ci = grp * cin_g + c;
              acc += w[static_cast<std::size_t>(((k * cin_g + c) * kh + i) * kw + j)] *
                     x[static_cast<std::size_t>((ci * in[1] + ih) * in[2] + iw)];
            }
        y[static_cast<std::size_t>((k * out[1] + oh) * out[2] + ow)] = acc;
      }
  return y;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

TEST(CmGraph, BatchNormFoldMatchesReference) {
  for (int64_t groups : {1, 2}) {
    for (bool bias : {false, true}) {
      Graph g;
      auto x = g.input("x", {4, 6, 5});
      auto opt = Conv2dOptions(4, 6, 3).stride(2).padding(1).dilation(1).groups(groups).bias(bias);
      auto y = g.conv2d(x, opt, "conv");
      y = g.batch_norm(y, BatchNormOptions(6).eps(1e-3), "bn");
      y = g.relu(y, "relu");
      g.mark_output(y);
      fill_random(g, 7 + static_cast<uint64_t>(groups) + (bias ? 100 : 0));
      const Node conv = g.node(g.find_node("conv"));
      const Node bn = g.node(g.find_node("bn"));
      const Shape out = g.value(conv.output).shape;

      std::vector<double> in(4 * 6 * 5);
      for (std::size_t i = 0; i < in.size(); ++i) in[i] = std::sin(0.37 * static_cast<double>(i));
      // Reference: conv, then batch norm, in double.
      auto ref = ref_conv(in, {4, 6, 5}, opt, to_double(conv.weight), to_double(conv.bias), out);
      const auto per = static_cast<std::size_t>(out[1] * out[2]);
      for (std::size_t k = 0; k < 6; ++k)
        for (std::size_t p = 0; p < per; ++p) {
          double& v = ref[k * per + p];
          v = bn.weight[k] * (v - bn.running_mean[k]) / std::sqrt(bn.running_var[k] + 1e-3) +
              bn.bias[k];
        }

      EXPECT_EQ(g.fold_batch_norms(), 1);
      EXPECT_THROW(g.find_node("bn"), UserError);
      const Node& folded = g.node(g.find_node("conv"));
      EXPECT_TRUE(folded.conv().bias());
      ASSERT_EQ(folded.bias.size(), 6u);
      // relu now reads the conv directly and is still the output.
      const Node& relu = g.node(g.find_node("relu"));
      EXPECT_EQ(g.value(relu.inputs[0]).producer, g.find_node("conv"));
      EXPECT_EQ(g.outputs(), std::vector<ValueId>{relu.output});
      auto got = ref_conv(in, {4, 6, 5}, folded.conv(), to_double(folded.weight),
                          to_double(folded.bias), out);
      double max_err = 0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        max_err = std::max(max_err, std::abs(got[i] - ref[i]) / (1 + std::abs(ref[i])));
      }
      EXPECT_LT(max_err, 1e-5) << "groups=" << groups << " bias=" << bias;  // float weights
    }
  }
}

TEST(CmGraph, BatchNormFoldIntoLinearAndNotAcrossBranches) {
  Graph g;
  auto x = g.input("x", {5});
  auto y = g.linear(x, LinearOptions(5, 3), "fc");
  y = g.batch_norm(y, BatchNormOptions(3), "bn");
  auto z = g.input("z", {2, 4, 4});
  auto c = g.conv2d(z, Conv2dOptions(2, 2, 1), "c");
  auto r = g.relu(c, "r");  // conv output read twice: not foldable
  auto b2 = g.batch_norm(c, BatchNormOptions(2), "bn2");
  g.add({r, b2}, "sum");
  g.mark_output(y);
  fill_random(g, 3);
  const Node fc = g.node(g.find_node("fc"));
  const Node bn = g.node(g.find_node("bn"));
  std::vector<double> in = {0.5, -1, 2, 0.25, -0.75};
  EXPECT_EQ(g.fold_batch_norms(), 1);
  EXPECT_NO_THROW(g.find_node("bn2"));
  const Node& f = g.node(g.find_node("fc"));
  for (std::size_t k = 0; k < 3; ++k) {
    double ref = fc.bias[k], got = f.bias[k];
    for (std::size_t i = 0; i < 5; ++i) {
      ref += fc.weight[k * 5 + i] * in[i];
      got += f.weight[k * 5 + i] * in[i];
    }
    ref = bn.weight[k] * (ref - bn.running_mean[k]) / std::sqrt(bn.running_var[k] + 1e-5) +
          bn.bias[k];
    EXPECT_NEAR(got, ref, 1e-5);
  }
  EXPECT_EQ(g.value(g.outputs()[0]).producer, g.find_node("fc"));
}

TEST(CmGraph, ResNetShapesAndFold) {
  for (auto sc : {Shortcut::kA, Shortcut::kB}) {
    Graph g = resnet_cifar(20, sc);
    EXPECT_EQ(g.value(g.outputs()[0]).shape, (Shape{10}));
    EXPECT_EQ(g.value(g.node(g.find_node("layer3.2.conv2")).output).shape, (Shape{64, 8, 8}));
    const int bns = sc == Shortcut::kA ? 19 : 21;
    EXPECT_EQ(g.fold_batch_norms(), bns);
    for (const auto& n : g.nodes()) EXPECT_NE(n.kind, OpKind::kBatchNorm);
  }
  EXPECT_THROW(resnet_cifar(21), UserError);
}

TEST(CmGraph, PrintDotJson) {
  Graph g;
  auto x = g.input("x", {3, 8, 8});
  auto y = g.conv2d(x, Conv2dOptions(3, 4, 3).padding(1).stride(2), "conv");
  y = g.relu(y, "relu");
  g.mark_output(y);
  const std::string text = g.to_string();
  EXPECT_NE(text.find("conv = Conv2d(x) [3, 8, 8] -> [4, 4, 4] k=3 s=2 p=1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("(output)"), std::string::npos);
  const std::string dot = g.to_dot();
  EXPECT_EQ(dot.rfind("digraph cm {", 0), 0u);
  EXPECT_NE(dot.find("n0 -> n1 [label=\"[3, 8, 8]\"]"), std::string::npos) << dot;
  auto j = nlohmann::json::parse(g.to_json());
  ASSERT_EQ(j["nodes"].size(), 3u);
  EXPECT_EQ(j["nodes"][1]["op"], "Conv2d");
  EXPECT_EQ(j["nodes"][1]["shape"], nlohmann::json::array({4, 4, 4}));
  EXPECT_EQ(j["nodes"][1]["options"]["stride"], nlohmann::json::array({2, 2}));
  EXPECT_EQ(j["outputs"][0], "relu");
}

}  // namespace
}  // namespace nc::cm
