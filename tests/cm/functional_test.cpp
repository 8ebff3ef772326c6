#include "neurocore/cm/functional.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "neurocore/cm/model_zoo.h"
#include "neurocore/cm/onnx_import.h"
#include "neurocore/cm/reference_eval.h"
#include "neurocore/core/error.h"

namespace nc::cm {
namespace {

std::vector<float> random_image(const Graph& g, uint64_t seed) {
  int64_t size = 0;
  for (ValueId v : g.inputs()) size += numel(g.value(v).shape);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<std::size_t>(size));
  for (float& v : x) v = u(rng);
  return x;
}

// Streams `images` images through the functional simulator and compares each output with the
// reference evaluator of the same image. Returns the worst error.
double stream_vs_reference(const Graph& g, const Hardware& hw, int images, uint64_t seed = 7) {
  const Mapping m = map_graph(g, hw);
  const PolyModel poly(g);
  FunctionalSimulator sim(g, m, poly, hw);
  std::vector<std::vector<float>> in;
  for (int i = 0; i < images; ++i) in.push_back(random_image(g, seed + static_cast<uint64_t>(i)));
  const auto out = sim.run(in);
  EXPECT_EQ(out.size(), in.size());
  double worst = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const auto ref = evaluate(g, in[i]);
    const double err = max_relative_error(out[i], ref);
    EXPECT_LT(err, 1e-4) << "image " << i;
    worst = std::max(worst, err);
    // In order: image i's output is not its neighbour's.
    if (i > 0) {
      EXPECT_GT(max_relative_error(out[i], evaluate(g, in[i - 1])), 1e-3) << "image " << i;
    }
  }
  return worst;
}

Graph conv_conv() {
  Graph g;
  auto x = g.input("x", {3, 9, 8});
  x = g.conv2d(x, Conv2dOptions(3, 5, 3).padding(1), "conv1");
  x = g.conv2d(x, Conv2dOptions(5, 4, 3).stride(2).padding(1), "conv2");
  g.mark_output(x);
  fill_random(g, 11);
  return g;
}

Graph residual_block() {
  Graph g;
  auto x = g.input("x", {8, 8, 8});
  auto a = g.conv2d(x, Conv2dOptions(8, 8, 3).padding(1), "conv1");
  a = g.relu(a, "relu1");
  auto b = g.conv2d(a, Conv2dOptions(8, 8, 3).padding(1), "conv2");
  auto y = g.relu(g.add({b, x}, "add"), "relu2");
  g.mark_output(y);
  fill_random(g, 12);
  return g;
}

Graph lenet5() {
  Graph g;
  auto x = g.input("x", {1, 32, 32});
  x = g.relu(g.conv2d(x, Conv2dOptions(1, 6, 5), "c1"));
  x = g.max_pool(x, PoolOptions(2), "s2");
  x = g.relu(g.conv2d(x, Conv2dOptions(6, 16, 5), "c3"));
  x = g.avg_pool(x, PoolOptions(2), "s4");
  x = g.flatten(x, "flat");
  x = g.relu(g.linear(x, LinearOptions(400, 120), "f5"));
  x = g.relu(g.linear(x, LinearOptions(120, 84), "f6"));
  g.mark_output(g.linear(x, LinearOptions(84, 10), "f7"));
  fill_random(g, 13);
  return g;
}

// Grouped and depthwise convs, ceil-mode average pooling without padded counts, max pooling,
// channel concat, channel and spatial Pad, strided Slice, LeakyReLU, an unfolded BatchNorm,
// global pooling and two outputs.
Graph misc_ops() {
  Graph g;
  auto x = g.input("x", {4, 9, 9});
  auto c = g.conv2d(x, Conv2dOptions(4, 6, 3).padding(1).groups(2), "grouped");
  auto a = g.avg_pool(c, PoolOptions(3).stride(2).padding(1).ceil_mode(true).count_include_pad(false), "avg");
  a = g.conv2d(a, Conv2dOptions(6, 6, 3).groups(6).dilation(2).padding(2), "depthwise");
  auto b = g.max_pool(c, PoolOptions(3).stride(2).padding(1), "max");
  auto y = g.concat({a, b}, ConcatOptions(), "cat");
  y = g.batch_norm(y, BatchNormOptions(12), "bn");
  y = g.pad(y, PadOptions().channels_after(2).spatial(Pads(1)), "pad");
  y = g.slice(y, SliceOptions().step({1, 2, 2}), "slice");
  y = g.activation(y, ActivationOptions(ActKind::kLeakyReLU).alpha(0.1), "leaky");
  g.mark_output(y);
  auto f = g.flatten(g.global_avg_pool(y, "gap"), "flat");
  g.mark_output(g.linear(f, LinearOptions(14, 5), "fc"));
  fill_random(g, 14);
  return g;
}

Hardware small_crossbars() {
  Hardware hw;  // forces row and column splits everywhere
  hw.crossbar_rows = 16;
  hw.crossbar_cols = 3;
  return hw;
}

TEST(CmFunctional, ConvConvEqualsReference) {
  stream_vs_reference(conv_conv(), Hardware(), 3);
  stream_vs_reference(conv_conv(), small_crossbars(), 3);
}

TEST(CmFunctional, ResidualBlockEqualsReference) {
  stream_vs_reference(residual_block(), Hardware(), 3);
  stream_vs_reference(residual_block(), small_crossbars(), 2);
}

TEST(CmFunctional, LeNet5EqualsReference) {
  stream_vs_reference(lenet5(), Hardware(), 3);
  Hardware hw;
  hw.crossbar_rows = hw.crossbar_cols = 64;  // 400 x 120: 7 x 2 tiles
  stream_vs_reference(lenet5(), hw, 2);
}

TEST(CmFunctional, GroupedPoolingConcatPadSliceEqualReference) {
  stream_vs_reference(misc_ops(), Hardware(), 3);
  stream_vs_reference(misc_ops(), small_crossbars(), 2);
}

TEST(CmFunctional, DigitalOpsBeforeTheFirstLayerRunOnTheGcu) {
  Graph g;
  auto x = g.input("x", {2, 5, 5});
  x = g.pad(g.activation(x, ActivationOptions(ActKind::kTanh), "tanh"), PadOptions().spatial(Pads(1, 0, 0, 1)), "pad");
  g.mark_output(g.conv2d(x, Conv2dOptions(2, 3, 2), "conv"));
  fill_random(g, 15);
  stream_vs_reference(g, Hardware(), 3);
}

TEST(CmFunctional, ResNet20RandomWeightsStreamsFiveImagesInOrder) {
  Graph g = resnet_cifar(20);
  fill_random(g, 20);
  g.fold_batch_norms();
  stream_vs_reference(g, Hardware(), 5);
}

TEST(CmFunctional, ImportedResNet20OnnxEqualsReference) {
  OnnxImport r = import_onnx(std::string(NC_SOURCE_DIR) + "/tests/cm/data/resnet20-cifar.onnx");
  stream_vs_reference(r.graph, Hardware(), 2);
}

// x [256] -> Linear 256 -> 64 without bias: the output error of the noise models has a closed
// form, std = sigma * w_max * ||x||_2.
struct OneLayer {
  Graph g;
  Mapping m;
  std::unique_ptr<PolyModel> poly;
  std::vector<float> x;
  double w_max = 0, x_norm = 0;
  OneLayer() {
    auto in = g.input("x", {256});
    g.mark_output(g.linear(in, LinearOptions(256, 64).bias(false), "fc"));
    fill_random(g, 3);
    m = map_graph(g, Hardware());
    poly = std::make_unique<PolyModel>(g);
    x = random_image(g, 5);
    for (float w : g.node(g.find_node("fc")).weight) w_max = std::max(w_max, static_cast<double>(std::fabs(w)));
    for (float v : x) x_norm += static_cast<double>(v) * v;
    x_norm = std::sqrt(x_norm);
  }
  std::vector<std::vector<float>> run(const AnalogOptions& a, int images, const Hardware& hw = {}) {
    FunctionalOptions o;
    o.analog = a;
    FunctionalSimulator sim(g, m, *poly, hw, o);
    return sim.run(std::vector<std::vector<float>>(static_cast<std::size_t>(images), x));
  }
};

double error_std(const std::vector<std::vector<float>>& outs, const std::vector<float>& ideal) {
  double s2 = 0;
  std::size_t n = 0;
  for (const auto& o : outs) {
    for (std::size_t i = 0; i < o.size(); ++i, ++n) s2 += (o[i] - ideal[i]) * (o[i] - ideal[i]);
  }
  return std::sqrt(s2 / static_cast<double>(n));
}

TEST(CmFunctional, AnalogWithoutNoiseAndEnoughBitsEqualsIdeal) {
  OneLayer l;
  const auto ideal = evaluate(l.g, l.x);
  AnalogOptions a;
  a.quantize = true;
  a.out_bound = 64;  // |y| reaches ~16 w_max max|x| here: the default 12 saturates the ADC
  Hardware hw;
  hw.dac_bits = hw.adc_bits = 24;
  EXPECT_LT(max_relative_error(l.run(a, 1, hw)[0], ideal), 1e-4);
  // Few bits are visible, and bounded by the quantization steps.
  hw.dac_bits = hw.adc_bits = 4;
  const double err = max_relative_error(l.run(a, 1, hw)[0], ideal);
  EXPECT_GT(err, 1e-3);
  EXPECT_LT(err, 1.0);
  // And the whole of ResNet-20 with 24 bits.
  Graph g = resnet_cifar(20);
  fill_random(g, 21);
  g.fold_batch_norms();
  const Mapping m = map_graph(g, hw);
  const PolyModel poly(g);
  hw.dac_bits = hw.adc_bits = 24;
  FunctionalOptions o;
  o.analog.quantize = true;
  FunctionalSimulator sim(g, m, poly, hw, o);
  const auto img = random_image(g, 9);
  EXPECT_LT(max_relative_error(sim.run({img})[0], evaluate(g, img)), 1e-4);
}

TEST(CmFunctional, NoiseHasTheExpectedMagnitudeAndIsSeeded) {
  OneLayer l;
  const auto ideal = evaluate(l.g, l.x);
  const double sigma = 0.05, expected = sigma * l.w_max * l.x_norm;
  // Programming noise: drawn once, so 40 seeds give 40 x 64 samples.
  std::vector<std::vector<float>> outs;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    AnalogOptions a;
    a.programming_noise = sigma;
    a.seed = seed;
    outs.push_back(l.run(a, 1)[0]);
  }
  EXPECT_NEAR(error_std(outs, ideal) / expected, 1.0, 0.1);
  // Read noise: fresh on every MVM, so one seed and 40 streamed images.
  AnalogOptions r;
  r.read_noise = sigma;
  const auto reads = l.run(r, 40);
  EXPECT_NEAR(error_std(reads, ideal) / expected, 1.0, 0.1);
  EXPECT_NE(reads[0], reads[1]);
  // Seeded: the same seed gives the same outputs, another seed others.
  EXPECT_EQ(l.run(r, 2), l.run(r, 2));
  r.seed = 2;
  EXPECT_NE(l.run(r, 2), reads.size() ? std::vector<std::vector<float>>(reads.begin(), reads.begin() + 2) : reads);
}

TEST(CmFunctional, BadInputsAreUserErrors) {
  Graph g = conv_conv();
  const Mapping m = map_graph(g, Hardware());
  const PolyModel poly(g);
  FunctionalSimulator sim(g, m, poly, Hardware());
  EXPECT_THROW(sim.run({std::vector<float>(5)}), UserError);
  FunctionalOptions o;
  o.analog.read_noise = -1;
  EXPECT_THROW(FunctionalSimulator(g, m, poly, Hardware(), o), UserError);
  Graph empty;  // shape only
  empty.mark_output(empty.conv2d(empty.input("x", {2, 4, 4}), Conv2dOptions(2, 2, 3), "c"));
  const Mapping me = map_graph(empty, Hardware());
  const PolyModel pe(empty);
  EXPECT_THROW(FunctionalSimulator(empty, me, pe, Hardware()), UserError);
  EXPECT_THROW(evaluate(g, std::vector<float>(3)), UserError);
}

}  // namespace
}  // namespace nc::cm
