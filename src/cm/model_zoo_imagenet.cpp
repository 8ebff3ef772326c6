// ImageNet-style networks of the model zoo (224x224 inputs), laid out as torchvision builds
// them so that parameter counts can be checked against torchvision's published ones.
#include <string>
#include <vector>

#include "neurocore/cm/model_zoo.h"
#include "neurocore/core/error.h"

namespace nc::cm {

namespace {

std::string str(int64_t v) { return std::to_string(v); }

void check_classes(const char* who, int64_t classes) {
  if (classes <= 0) throw UserError(std::string(who) + ": classes must be positive, got " + str(classes));
}

// Conv (no bias) + BatchNorm: every torchvision conv here is followed by a BN, which
// fold_batch_norms turns into the conv's bias.
ValueId conv_bn(Graph& g, ValueId x, const Conv2dOptions& o, const std::string& conv,
                const std::string& bn, double eps = 1e-5) {
  x = g.conv2d(x, Conv2dOptions(o).bias(false), conv);
  return g.batch_norm(x, BatchNormOptions(o.out_channels()).eps(eps), bn);
}

Conv2dOptions conv(int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t groups = 1) {
  return Conv2dOptions(in, out, k).stride(stride).padding(k / 2).groups(groups);
}

ValueId classifier(Graph& g, ValueId x, int64_t features, int64_t classes) {
  x = g.global_avg_pool(x, "avgpool");
  x = g.flatten(x, "flatten");
  x = g.linear(x, LinearOptions(features, classes), "fc");
  g.mark_output(x);
  return x;
}

// 7x7/2 conv, BN, ReLU, 3x3/2 max pool: 224 -> 56.
ValueId imagenet_stem(Graph& g, ValueId x, int64_t out, const std::string& conv_name,
                      const std::string& bn_name, const std::string& pool_name) {
  x = g.relu(conv_bn(g, x, conv(3, out, 7, 2).padding(3), conv_name, bn_name), conv_name + ".relu");
  return g.max_pool(x, PoolOptions(3).stride(2).padding(1), pool_name);
}

}  // namespace

Graph resnet_imagenet(int64_t depth, int64_t classes) {
  check_classes("resnet_imagenet", classes);
  std::vector<int64_t> blocks;
  bool bottleneck = false;
  switch (depth) {
    case 18: blocks = {2, 2, 2, 2}; break;
    case 34: blocks = {3, 4, 6, 3}; break;
    case 50: blocks = {3, 4, 6, 3}, bottleneck = true; break;
    case 101: blocks = {3, 4, 23, 3}, bottleneck = true; break;
    case 152: blocks = {3, 8, 36, 3}, bottleneck = true; break;
    default:
      throw UserError("resnet_imagenet: depth must be 18, 34, 50, 101 or 152, got " + str(depth));
  }
  const int64_t expansion = bottleneck ? 4 : 1;
  Graph g;
  ValueId x = g.input("input", {3, 224, 224});
  x = imagenet_stem(g, x, 64, "conv1", "bn1", "maxpool");
  int64_t in = 64;
  for (int64_t stage = 0; stage < 4; ++stage) {
    const int64_t planes = 64 << stage;
    for (int64_t b = 0; b < blocks[static_cast<std::size_t>(stage)]; ++b) {
      const std::string p = "layer" + str(stage + 1) + "." + str(b) + ".";
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      ValueId y;
      if (bottleneck) {  // torchvision v1.5: the stride sits on the 3x3 conv
        y = g.relu(conv_bn(g, x, conv(in, planes, 1), p + "conv1", p + "bn1"), p + "relu1");
        y = g.relu(conv_bn(g, y, conv(planes, planes, 3, stride), p + "conv2", p + "bn2"), p + "relu2");
        y = conv_bn(g, y, conv(planes, planes * expansion, 1), p + "conv3", p + "bn3");
      } else {
        y = g.relu(conv_bn(g, x, conv(in, planes, 3, stride), p + "conv1", p + "bn1"), p + "relu1");
        y = conv_bn(g, y, conv(planes, planes, 3), p + "conv2", p + "bn2");
      }
      ValueId sc = x;
      if (stride != 1 || in != planes * expansion) {
        sc = conv_bn(g, x, conv(in, planes * expansion, 1, stride), p + "downsample.0", p + "downsample.1");
      }
      x = g.relu(g.add({y, sc}, p + "add"), p + "relu");
      in = planes * expansion;
    }
  }
  classifier(g, x, in, classes);
  return g;
}

Graph mobilenet_v2(int64_t classes) {
  check_classes("mobilenet_v2", classes);
  auto relu6 = [](Graph& g, ValueId x, const std::string& name) {
    return g.activation(x, ActivationOptions(ActKind::kReLU6), name);
  };
  Graph g;
  ValueId x = g.input("input", {3, 224, 224});
  x = relu6(g, conv_bn(g, x, conv(3, 32, 3, 2), "features.0.0", "features.0.1"), "features.0.2");
  // (expansion t, output channels c, repeats n, first stride s), MobileNetV2 paper Table 2.
  const int64_t setting[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                 {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int64_t in = 32, index = 1;
  for (const auto& row : setting) {
    for (int64_t i = 0; i < row[2]; ++i, ++index) {
      const int64_t stride = i == 0 ? row[3] : 1, out = row[1], hidden = in * row[0];
      const std::string p = "features." + str(index) + ".";
      ValueId y = x;
      if (row[0] != 1) y = relu6(g, conv_bn(g, y, conv(in, hidden, 1), p + "expand", p + "expand.bn"), p + "expand.relu");
      y = relu6(g, conv_bn(g, y, conv(hidden, hidden, 3, stride, hidden), p + "dw", p + "dw.bn"), p + "dw.relu");
      y = conv_bn(g, y, conv(hidden, out, 1), p + "project", p + "project.bn");
      // The inverted residual: only where the block keeps the shape.
      x = (stride == 1 && in == out) ? g.add({y, x}, p + "add") : y;
      in = out;
    }
  }
  const std::string p = "features." + str(index) + ".";
  x = relu6(g, conv_bn(g, x, conv(in, 1280, 1), p + "0", p + "1"), p + "2");
  classifier(g, x, 1280, classes);
  return g;
}

Graph googlenet(int64_t classes) {
  check_classes("googlenet", classes);
  // torchvision's BasicConv2d: conv without bias, BN with eps 1e-3, ReLU.
  auto basic = [](Graph& g, ValueId x, const Conv2dOptions& o, const std::string& name) {
    return g.relu(conv_bn(g, x, o, name + ".conv", name + ".bn", 1e-3), name + ".relu");
  };
  auto pool = [](Graph& g, ValueId x, int64_t k, int64_t s, int64_t pad, const std::string& name) {
    return g.max_pool(x, PoolOptions(k).stride(s).padding(pad).ceil_mode(true), name);
  };
  Graph g;
  ValueId x = g.input("input", {3, 224, 224});
  x = basic(g, x, conv(3, 64, 7, 2).padding(3), "conv1");
  x = pool(g, x, 3, 2, 0, "maxpool1");
  x = basic(g, x, conv(64, 64, 1), "conv2");
  x = basic(g, x, conv(64, 192, 3), "conv3");
  x = pool(g, x, 3, 2, 0, "maxpool2");
  int64_t in = 192;
  // The four parallel branches: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 (torchvision uses 3x3 where
  // the paper has 5x5; kept, so that the parameter count matches torchvision's) | 3x3 max
  // pool -> 1x1, concatenated along channels.
  auto inception = [&](const std::string& n, int64_t c1, int64_t c3r, int64_t c3, int64_t c5r,
                       int64_t c5, int64_t cp) {
    ValueId b1 = basic(g, x, conv(in, c1, 1), n + ".branch1");
    ValueId b2 = basic(g, basic(g, x, conv(in, c3r, 1), n + ".branch2.0"), conv(c3r, c3, 3), n + ".branch2.1");
    ValueId b3 = basic(g, basic(g, x, conv(in, c5r, 1), n + ".branch3.0"), conv(c5r, c5, 3), n + ".branch3.1");
    ValueId b4 = basic(g, pool(g, x, 3, 1, 1, n + ".branch4.0"), conv(in, cp, 1), n + ".branch4.1");
    x = g.concat({b1, b2, b3, b4}, ConcatOptions(), n + ".concat");
    in = c1 + c3 + c5 + cp;
  };
  inception("inception3a", 64, 96, 128, 16, 32, 32);
  inception("inception3b", 128, 128, 192, 32, 96, 64);
  x = pool(g, x, 3, 2, 0, "maxpool3");
  inception("inception4a", 192, 96, 208, 16, 48, 64);
  inception("inception4b", 160, 112, 224, 24, 64, 64);
  inception("inception4c", 128, 128, 256, 24, 64, 64);
  inception("inception4d", 112, 144, 288, 32, 64, 64);
  inception("inception4e", 256, 160, 320, 32, 128, 128);
  x = pool(g, x, 2, 2, 0, "maxpool4");
  inception("inception5a", 256, 160, 320, 32, 128, 128);
  inception("inception5b", 384, 192, 384, 48, 128, 128);
  classifier(g, x, in, classes);
  return g;
}

Graph densenet(int64_t depth, int64_t classes) {
  check_classes("densenet", classes);
  std::vector<int64_t> blocks;
  switch (depth) {
    case 121: blocks = {6, 12, 24, 16}; break;
    case 169: blocks = {6, 12, 32, 32}; break;
    case 201: blocks = {6, 12, 48, 32}; break;
    default: throw UserError("densenet: depth must be 121, 169 or 201, got " + str(depth));
  }
  const int64_t growth = 32, bottleneck = 4 * growth;
  Graph g;
  ValueId x = g.input("input", {3, 224, 224});
  x = imagenet_stem(g, x, 64, "features.conv0", "features.norm0", "features.pool0");
  int64_t channels = 64;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    const std::string bp = "features.denseblock" + str(static_cast<int64_t>(b) + 1) + ".";
    // Every layer reads the concatenation of the block input and all earlier layers' outputs:
    // the concat edges the fabric has to carry.
    std::vector<ValueId> features{x};
    for (int64_t l = 0; l < blocks[b]; ++l) {
      const std::string p = bp + "denselayer" + str(l + 1) + ".";
      ValueId in = features.size() == 1 ? features[0] : g.concat(features, ConcatOptions(), p + "concat");
      const int64_t c = channels + l * growth;
      // Pre-activation: this BN reads the concat, so it stays a digital op (not foldable).
      ValueId y = g.relu(g.batch_norm(in, BatchNormOptions(c), p + "norm1"), p + "relu1");
      y = g.conv2d(y, conv(c, bottleneck, 1).bias(false), p + "conv1");
      y = g.relu(g.batch_norm(y, BatchNormOptions(bottleneck), p + "norm2"), p + "relu2");
      y = g.conv2d(y, conv(bottleneck, growth, 3).bias(false), p + "conv2");
      features.push_back(y);
    }
    channels += blocks[b] * growth;
    x = g.concat(features, ConcatOptions(), bp + "concat");
    if (b + 1 < blocks.size()) {
      const std::string p = "features.transition" + str(static_cast<int64_t>(b) + 1) + ".";
      x = g.relu(g.batch_norm(x, BatchNormOptions(channels), p + "norm"), p + "relu");
      x = g.conv2d(x, conv(channels, channels / 2, 1).bias(false), p + "conv");
      x = g.avg_pool(x, PoolOptions(2).stride(2), p + "pool");
      channels /= 2;
    }
  }
  x = g.relu(g.batch_norm(x, BatchNormOptions(channels), "features.norm5"), "features.relu5");
  classifier(g, x, channels, classes);
  return g;
}

}  // namespace nc::cm
