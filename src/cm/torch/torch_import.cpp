// neurocore model -> cm::Graph (see the header). Each model kind is walked in the order of its
// forward(), so the graph computes exactly what forward() computes in eval mode.
#include "neurocore/cm/torch/torch_import.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <filesystem>

#include "neurocore/cm/int_weights.h"
#include "neurocore/core/config.h"
#include "neurocore/core/error.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/learn/checkpoint.h"
#include "neurocore/learn/experiment.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"
#include "neurocore/nn/snu.h"

namespace nc::cm {

namespace {

std::vector<float> values_of(const torch::Tensor& t) {
  if (!t.defined()) return {};
  const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

Pair pair_of(const torch::ExpandingArray<2>& a) { return Pair((*a)[0], (*a)[1]); }

ValueId add_conv(Graph& g, ValueId x, torch::nn::Conv2dImpl& conv, const std::string& name) {
  const auto& o = conv.options;
  const auto* pad = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
  if (pad == nullptr || o.padding_mode().index() != 0) {
    throw UserError(name + ": only explicit zero padding can be imported (not 'same'/'valid' "
                    "or reflect/replicate/circular modes)");
  }
  Conv2dOptions co(o.in_channels(), o.out_channels(), pair_of(o.kernel_size()));
  co.stride(pair_of(o.stride()))
      .padding(Pads((**pad)[0], (**pad)[1]))
      .dilation(pair_of(o.dilation()))
      .groups(o.groups())
      .bias(o.bias());
  return g.conv2d(x, co, name, values_of(conv.weight), values_of(conv.bias));
}

ValueId add_linear(Graph& g, ValueId x, torch::nn::LinearImpl& lin, const std::string& name) {
  LinearOptions lo(lin.options.in_features(), lin.options.out_features());
  lo.bias(lin.options.bias());
  return g.linear(x, lo, name, values_of(lin.weight), values_of(lin.bias));
}

ValueId add_bn(Graph& g, ValueId x, torch::nn::BatchNorm2dImpl& bn, const std::string& name) {
  if (!bn.options.track_running_stats()) {
    throw UserError(name + ": a BatchNorm without running statistics cannot be imported");
  }
  BatchNormOptions bo(bn.options.num_features());
  bo.eps(bn.options.eps());
  const int64_t c = bn.options.num_features();
  const auto ones = torch::ones({c}), zeros = torch::zeros({c});
  return g.batch_norm(x, bo, name, values_of(bn.options.affine() ? bn.weight : ones),
                      values_of(bn.options.affine() ? bn.bias : zeros),
                      values_of(bn.running_mean), values_of(bn.running_var));
}

Graph import_mlp(nn::MLPImpl& m, const nn::InputShape& in) {
  Graph g;
  ValueId h = g.flatten(g.input("input", {in.channels, in.height, in.width}), "flatten");
  const std::size_t n = m.layers->size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::string name = "layers." + std::to_string(i);
    h = add_linear(g, h, *m.layers[i]->as<torch::nn::Linear>(), name);
    if (i + 1 == n) break;
    ActKind kind = ActKind::kReLU;
    if (m.options.activation() == nn::MLPActivation::tanh) kind = ActKind::kTanh;
    if (m.options.activation() == nn::MLPActivation::sigmoid) kind = ActKind::kSigmoid;
    h = g.activation(h, ActivationOptions(kind), name + ".act");
  }
  g.mark_output(h);
  return g;
}

Graph import_lenet(nn::LeNet5Impl& m, const nn::InputShape& in) {
  Graph g;
  ValueId h = g.input("input", {in.channels, in.height, in.width});
  h = g.max_pool(g.relu(add_conv(g, h, *m.conv1, "conv1"), "relu1"), PoolOptions(2), "pool1");
  h = g.max_pool(g.relu(add_conv(g, h, *m.conv2, "conv2"), "relu2"), PoolOptions(2), "pool2");
  h = g.flatten(h, "flatten");
  h = g.relu(add_linear(g, h, *m.fc1, "fc1"), "relu3");
  h = g.relu(add_linear(g, h, *m.fc2, "fc2"), "relu4");
  g.mark_output(add_linear(g, h, *m.fc3, "fc3"));
  return g;
}

ValueId import_block(Graph& g, ValueId x, nn::BasicBlockImpl& b, const std::string& p) {
  ValueId out = g.relu(add_bn(g, add_conv(g, x, *b.conv1, p + "conv1"), *b.bn1, p + "bn1"),
                       p + "relu1");
  out = add_bn(g, add_conv(g, out, *b.conv2, p + "conv2"), *b.bn2, p + "bn2");
  ValueId shortcut = x;
  if (b.projection->size() == 1) {  // a shrunk option A: a frozen 0/1 1x1 convolution
    shortcut = add_conv(g, x, *b.projection[0]->as<torch::nn::Conv2d>(), p + "projection.0");
  } else if (!b.projection->is_empty()) {
    auto* conv = b.projection[0]->as<torch::nn::Conv2d>();
    auto* bn = b.projection[1]->as<torch::nn::BatchNorm2d>();
    if (b.projection->size() != 2 || conv == nullptr || bn == nullptr) {
      throw UserError(p + "projection: expected a 1x1 convolution followed by a BatchNorm");
    }
    shortcut = add_bn(g, add_conv(g, x, *conv, p + "projection.0"), *bn, p + "projection.1");
  } else if (b.stride != 1 || b.in_planes != b.planes) {
    // Option A, as BasicBlockImpl::forward_with: every stride-th pixel, zero channels padded.
    SliceOptions so;
    so.step({1, b.stride, b.stride});
    shortcut = g.slice(x, so, p + "shortcut.subsample");
    const int64_t extra = b.planes - b.in_planes, before = extra / 2;
    PadOptions po;
    po.channels_before(before).channels_after(extra - before);
    shortcut = g.pad(shortcut, po, p + "shortcut.pad");
  }
  return g.relu(g.add({out, shortcut}, p + "add"), p + "relu2");
}

Graph import_resnet(nn::ResNetImpl& m, const nn::InputShape& in) {
  Graph g;
  ValueId h = g.input("input", {in.channels, in.height, in.width});
  h = g.relu(add_bn(g, add_conv(g, h, *m.conv1, "conv1"), *m.bn1, "bn1"), "relu");
  const std::pair<const char*, torch::nn::Sequential*> stages[] = {
      {"stage1", &m.stage1}, {"stage2", &m.stage2}, {"stage3", &m.stage3}};
  for (const auto& [name, stage] : stages) {
    for (std::size_t i = 0; i < (*stage)->size(); ++i) {
      const std::string prefix = std::string(name) + "." + std::to_string(i) + ".";
      h = import_block(g, h, *(*stage)->ptr<nn::BasicBlockImpl>(i), prefix);
    }
  }
  h = g.flatten(g.global_avg_pool(h, "avgpool"), "flatten");
  g.mark_output(add_linear(g, h, *m.fc, "fc"));
  return g;
}

// An SNU layer: its feed-forward weights on a crossbar (a Linear without bias), its neurons
// a Spiking node. Recurrent weights and lateral inhibition read the layer's own previous
// output, a cycle the per-step graph cannot hold: refused.
ValueId add_snu(Graph& g, ValueId x, nn::SNUImpl& snu, const std::string& name) {
  const nn::SNUOptions& o = snu.options;
  if (o.recurrent() || o.lateral_inhibition()) {
    throw UserError(name + ": an SNU layer with " +
                    (o.recurrent() ? "recurrent weights" : "lateral inhibition") +
                    " cannot be compiled for a CM accelerator (the per-step graph has no "
                    "cycles); compile layers without recurrent/lateral_inhibition");
  }
  nn::SNUCellImpl& cell = *snu.cell;
  const ValueId wx = g.linear(x, LinearOptions(o.in(), o.out()).bias(false), name,
                              values_of(cell.weight));
  SpikingOptions so;
  so.soft(o.soft()).alpha(o.g_slope());
  if (o.g() == nn::Activation::relu) so.g(ActKind::kReLU);
  if (o.g() == nn::Activation::leaky_relu) so.g(ActKind::kLeakyReLU);
  return g.spiking(wx, so, name + ".neurons", values_of(cell.decay()), values_of(cell.threshold));
}

Graph import_snu_mlp(nn::SNUMLPImpl& m, const nn::InputShape& in, int64_t steps) {
  Graph g;
  g.set_time_steps(steps);
  ValueId h = g.flatten(g.input("input", {in.channels, in.height, in.width}), "flatten");
  for (std::size_t i = 0; i < m.layers->size(); ++i) {
    const std::string name = "layers." + std::to_string(i);
    if (auto* snu = m.layers[i]->as<nn::SNUImpl>()) {
      h = add_snu(g, h, *snu, name);
    } else {
      h = add_linear(g, h, *m.layers[i]->as<torch::nn::Linear>(), name);
    }
  }
  g.mark_output(h);
  return g;
}

}  // namespace

Graph import_model(nn::NetImpl& model, const nn::InputShape& in, int64_t time_steps) {
  if (auto* m = dynamic_cast<nn::MLPImpl*>(&model)) return import_mlp(*m, in);
  if (auto* m = dynamic_cast<nn::LeNet5Impl*>(&model)) return import_lenet(*m, in);
  if (auto* m = dynamic_cast<nn::ResNetImpl*>(&model)) return import_resnet(*m, in);
  if (auto* m = dynamic_cast<nn::SNUMLPImpl*>(&model)) {
    if (time_steps < 1) {
      throw UserError("import of the spiking model '" + model.name() +
                      "': give the time steps per sample (the encoder's steps), got " +
                      std::to_string(time_steps));
    }
    return import_snu_mlp(*m, in, time_steps);
  }
  throw UserError("cannot import the model '" + model.name() +
                  "': supported models are mlp, lenet5, the resnets and snu-mlp (or any ONNX "
                  "file)");
}

RunImport import_run_dir(const std::string& run_dir) {
  RunDir run = RunDir::open(run_dir);
  Config config = Config::load(run.file("config.yaml"));
  learn::Experiment exp = learn::Experiment::build(config);
  // A run of `neurocore quantize` has no checkpoint of its own but its integer model.
  const std::string int_model = run.file(compress::kIntModelFile);
  const bool quantized = std::filesystem::exists(int_model);
  const std::string ckpt = quantized ? "" : learn::last_checkpoint(run.checkpoints());
  if (!quantized && ckpt.empty()) {
    throw UserError(run.path() + ": no checkpoint yet (train at least one epoch)");
  }
  RunImport r;
  if (!quantized) r.epochs = learn::load_checkpoint(ckpt, *exp.model, nullptr);
  exp.model->eval();
  r.model_name = exp.model_name;
  r.data_name = exp.data.name;
  const auto& sizes = exp.test_set.images.sizes();
  r.input = {sizes[1], sizes[2], sizes[3]};
  r.norm = exp.norm;
  r.encoder = exp.encoder;
  r.graph = import_model(*exp.model, r.input, exp.model->temporal() ? exp.encoder.steps : 0);
  if (quantized) {
    apply_int_model(r.graph, compress::read_int_model(int_model), int_model);
    r.int_model = int_model;
  }
  return r;
}

}  // namespace nc::cm
