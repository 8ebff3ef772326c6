#include "neurocore/nn/weight_products.h"
#include "neurocore/nn/mlp.h"

#include <torch/torch.h>

#include <sstream>

#include "neurocore/core/error.h"

namespace nc::nn {
namespace {

void check_sizes(const char* model, int64_t in, int64_t classes,
                 const std::vector<int64_t>& hidden) {
  bool ok = in >= 1 && classes >= 1;
  for (auto h : hidden) ok = ok && h >= 1;
  if (!ok) {
    std::ostringstream os;
    os << model << ": in, classes and hidden sizes must be >= 1, got in=" << in
       << ", classes=" << classes << ", hidden=" << torch::IntArrayRef(hidden);
    throw UserError(os.str());
  }
}

// Flattens the trailing dimensions from `from` on; they must hold `in` features.
torch::Tensor flatten_features(const torch::Tensor& x, int64_t from, int64_t in,
                               const char* model, const char* layout) {
  if (x.dim() > from) {
    const auto f = x.flatten(from);
    if (f.size(from) == in) return f;
  }
  std::ostringstream os;
  os << model << ": input must be " << layout << " with " << in
     << " features per sample, got " << x.sizes();
  throw UserError(os.str());
}

}  // namespace

MLPImpl::MLPImpl(MLPOptions options_) : options(std::move(options_)) {
  check_sizes("mlp", options.in(), options.classes(), options.hidden());
  layers = register_module("layers", torch::nn::ModuleList());
  int64_t in = options.in();
  for (auto h : options.hidden()) {
    layers->push_back(torch::nn::Linear(in, h));
    in = h;
  }
  layers->push_back(torch::nn::Linear(in, options.classes()));
}

torch::Tensor MLPImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = flatten_features(x, 1, options.in(), "mlp", "[B, C, H, W]");
  const std::size_t n = layers->size();
  for (std::size_t i = 0; i < n; ++i) {
    h = linear(*layers[i]->as<torch::nn::Linear>(), h);
    if (i + 1 == n) break;
    switch (options.activation()) {
      case MLPActivation::relu: h = torch::relu(h); break;
      case MLPActivation::tanh: h = torch::tanh(h); break;
      case MLPActivation::sigmoid: h = torch::sigmoid(h); break;
    }
    h = hidden(*layers[i], h);
  }
  return h;
}

std::vector<std::shared_ptr<torch::nn::Module>> MLPImpl::hidden_producers() {
  std::vector<std::shared_ptr<torch::nn::Module>> p;
  for (std::size_t i = 0; i + 1 < layers->size(); ++i) p.push_back(layers->ptr(i));
  return p;
}

SNUMLPImpl::SNUMLPImpl(SNUMLPOptions options_) : options(std::move(options_)) {
  check_sizes("snu-mlp", options.in(), options.classes(), options.hidden());
  if (options.readout() == Readout::linear && options.hidden().empty()) {
    throw UserError("snu-mlp: readout 'linear' needs at least one hidden SNU layer");
  }
  layers = register_module("layers", torch::nn::ModuleList());
  auto layer = [&](int64_t in, int64_t out) {
    SNUOptions o = options.neuron();
    o.in(in).out(out);
    return SNU(o);
  };
  int64_t in = options.in();
  for (auto h : options.hidden()) {
    layers->push_back(layer(in, h));
    in = h;
  }
  if (options.readout() == Readout::snu) {
    layers->push_back(layer(in, options.classes()));
  } else {
    layers->push_back(torch::nn::Linear(in, options.classes()));
  }
}

torch::Tensor SNUMLPImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = flatten_features(x, 2, options.in(), "snu-mlp", "[T, B, C, H, W]");
  for (std::size_t i = 0; i < layers->size(); ++i) {
    if (auto* snu = layers[i]->as<SNUImpl>()) {
      h = snu->forward(h);
    } else {
      h = linear(*layers[i]->as<torch::nn::Linear>(), h);
    }
    // The whole output sequence: the hook acts on the layer's output at every step.
    if (i + 1 < layers->size()) h = hidden(*layers[i], h);
  }
  return h;
}

std::vector<std::shared_ptr<torch::nn::Module>> SNUMLPImpl::hidden_producers() {
  std::vector<std::shared_ptr<torch::nn::Module>> p;
  for (std::size_t i = 0; i + 1 < layers->size(); ++i) p.push_back(layers->ptr(i));
  return p;
}

}  // namespace nc::nn
