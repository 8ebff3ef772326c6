#include "neurocore/cm/model_zoo.h"

#include <string>

#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"

namespace nc::cm {

namespace {

ValueId conv_bn(Graph& g, ValueId x, int64_t in, int64_t out, int64_t k, int64_t stride,
                const std::string& conv, const std::string& bn) {
  x = g.conv2d(x, Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false), conv);
  return g.batch_norm(x, BatchNormOptions(out), bn);
}

}  // namespace

Graph resnet_cifar(int64_t depth, Shortcut shortcut, int64_t classes) {
  if (depth < 8 || (depth - 2) % 6 != 0) {
    throw UserError("resnet_cifar: depth must be 6n + 2 with n >= 1 (20, 32, 44, 56, 110), got " +
                    std::to_string(depth));
  }
  if (classes <= 0) {
    throw UserError("resnet_cifar: classes must be positive, got " + std::to_string(classes));
  }
  const int64_t n = (depth - 2) / 6;
  Graph g;
  ValueId x = g.input("input", {3, 32, 32});
  x = g.relu(conv_bn(g, x, 3, 16, 3, 1, "conv1", "bn1"), "relu1");
  int64_t in = 16;
  for (int64_t stage = 1; stage <= 3; ++stage) {
    const int64_t planes = 16 << (stage - 1);
    for (int64_t b = 0; b < n; ++b) {
      const std::string p = "layer" + std::to_string(stage) + "." + std::to_string(b) + ".";
      const int64_t stride = (stage > 1 && b == 0) ? 2 : 1;
      ValueId y = g.relu(conv_bn(g, x, in, planes, 3, stride, p + "conv1", p + "bn1"), p + "relu1");
      y = conv_bn(g, y, planes, planes, 3, 1, p + "conv2", p + "bn2");
      ValueId sc = x;
      if (stride != 1 || in != planes) {
        if (shortcut == Shortcut::kA) {
          sc = g.slice(x, SliceOptions().step({1, 2, 2}), p + "shortcut.slice");
          const int64_t extra = planes - in;
          sc = g.pad(sc, PadOptions().channels_before(extra / 2).channels_after(extra - extra / 2),
                     p + "shortcut.pad");
        } else {
          sc = conv_bn(g, x, in, planes, 1, stride, p + "shortcut.0", p + "shortcut.1");
        }
      }
      x = g.relu(g.add({y, sc}, p + "add"), p + "relu2");
      in = planes;
    }
  }
  x = g.global_avg_pool(x, "avgpool");
  x = g.flatten(x, "flatten");
  x = g.linear(x, LinearOptions(64, classes), "fc");
  g.mark_output(x);
  return g;
}

int64_t parameter_count(const Graph& g) {
  int64_t total = 0;
  for (const Node& n : g.nodes()) {
    if (n.kind == OpKind::kConv2d) {
      const auto& o = n.conv();
      total += o.out_channels() * (o.in_channels() / o.groups()) * o.kernel_size().h * o.kernel_size().w;
      if (o.bias()) total += o.out_channels();
    } else if (n.kind == OpKind::kLinear) {
      const auto& o = n.linear();
      total += o.out_features() * o.in_features() + (o.bias() ? o.out_features() : 0);
    } else if (n.kind == OpKind::kBatchNorm) {
      total += 2 * n.batch_norm().num_features();
    }
  }
  return total;
}

const std::vector<std::string>& zoo_names() {
  static const std::vector<std::string> names{
      "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet32b", "resnet18",
      "resnet34", "resnet50", "mobilenet_v2", "googlenet", "densenet121"};
  return names;
}

Graph zoo_model(const std::string& name) {
  for (int64_t d : {20, 32, 44, 56, 110}) {
    if (name == "resnet" + std::to_string(d)) return resnet_cifar(d);
  }
  if (name == "resnet32b") return resnet_cifar(32, Shortcut::kB);
  for (int64_t d : {18, 34, 50}) {
    if (name == "resnet" + std::to_string(d)) return resnet_imagenet(d);
  }
  if (name == "mobilenet_v2") return mobilenet_v2();
  if (name == "googlenet") return googlenet();
  if (name == "densenet121") return densenet(121);
  const std::string c = closest_match(name, zoo_names());
  throw UserError("model zoo: unknown model '" + name + "'" + (c.empty() ? "" : " (did you mean '" + c + "'?)") +
                  "; valid models: " + join(zoo_names()));
}

void fill_random(Graph& g, uint64_t seed, float scale) {
  uint64_t state = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  auto uniform = [&]() {  // in [0, 1)
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<float>((state >> 40) * (1.0 / 16777216.0));
  };
  auto fill = [&](std::vector<float>& v, std::size_t size, float lo, float hi) {
    v.resize(size);
    for (auto& x : v) x = lo + (hi - lo) * uniform();
  };
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    Node& n = g.node(static_cast<NodeId>(i));
    if (n.kind == OpKind::kConv2d) {
      const auto& o = n.conv();
      fill(n.weight, static_cast<std::size_t>(o.out_channels() * (o.in_channels() / o.groups()) *
                                              o.kernel_size().h * o.kernel_size().w),
           -scale, scale);
      if (o.bias()) fill(n.bias, static_cast<std::size_t>(o.out_channels()), -scale, scale);
    } else if (n.kind == OpKind::kLinear) {
      const auto& o = n.linear();
      fill(n.weight, static_cast<std::size_t>(o.out_features() * o.in_features()), -scale, scale);
      if (o.bias()) fill(n.bias, static_cast<std::size_t>(o.out_features()), -scale, scale);
    } else if (n.kind == OpKind::kBatchNorm) {
      const auto c = static_cast<std::size_t>(n.batch_norm().num_features());
      fill(n.weight, c, 1 - scale, 1 + scale);
      fill(n.bias, c, -scale, scale);
      fill(n.running_mean, c, -scale, scale);
      fill(n.running_var, c, 0.5f, 1.5f);
    }
  }
}

}  // namespace nc::cm
