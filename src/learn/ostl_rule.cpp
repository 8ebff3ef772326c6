// The OSTL learning rule for the Trainer (`learn: {rule: ostl}`), docs/ostl.md.
#include <torch/torch.h>

#include "neurocore/core/error.h"
#include "neurocore/learn/loss.h"
#include "neurocore/learn/ostl.h"
#include "neurocore/nn/mlp.h"

namespace nc::learn {
namespace {

class OstlRule : public Rule {
 public:
  OstlRule(nn::SNUMLPImpl& model, OstlUpdate update) : model_(model), update_(update) {}
  std::string name() const override { return "ostl"; }

  BatchResult train_batch(nn::NetImpl& /*model*/, const torch::Tensor& x,
                          const torch::Tensor& labels, const std::string& loss,
                          torch::optim::Optimizer& optimizer) override {
    const int64_t in = model_.options.in();
    if (x.dim() < 3 || x.flatten(2).size(2) != in) {
      throw UserError("ostl: input must be [T, B, ...] with " + std::to_string(in) +
                      " features per step, got " + c10::str(x.sizes()));
    }
    const torch::Tensor xs = x.flatten(2);
    const int64_t T = xs.size(0), B = xs.size(1);

    // The layers are re-read every batch: a checkpoint load may have replaced the tensors.
    std::vector<std::shared_ptr<OstlLayer>> layers;
    std::vector<torch::Tensor> stateless;
    torch::nn::Linear readout = nullptr;
    for (const auto& m : *model_.layers) {
      if (auto* snu = m->as<nn::SNUImpl>()) {
        layers.push_back(std::make_shared<SNUOstlLayer>(snu->cell));
      } else {
        readout = torch::nn::Linear(std::dynamic_pointer_cast<torch::nn::LinearImpl>(m));
        stateless = readout->parameters();
      }
    }
    Ostl ostl(std::move(layers), std::move(stateless));

    optimizer.zero_grad();
    ostl.begin(B, xs.options());
    std::vector<torch::Tensor> outputs;
    outputs.reserve(T);
    for (int64_t t = 0; t < T; ++t) {
      torch::Tensor o = ostl.step(xs[t]);
      if (readout) o = readout->forward(o);
      // ostl.md §9: the per-step form of the configured loss, scaled so that sum_t E^t is
      // the mean over steps of the per-step losses.
      ostl.backward(classification_loss(o, labels, loss) / static_cast<double>(T));
      outputs.push_back(o.detach());
      if (update_ == OstlUpdate::step) {
        ostl.write_gradients();
        optimizer.step();
        optimizer.zero_grad();
      }
    }
    if (update_ == OstlUpdate::sequence) {
      ostl.write_gradients();
      optimizer.step();
    }
    torch::NoGradGuard no_grad;
    const torch::Tensor scores = class_scores(torch::stack(outputs), true, loss);
    return {scores, classification_loss(scores, labels, loss).item<double>()};
  }

 private:
  nn::SNUMLPImpl& model_;
  OstlUpdate update_;
};

}  // namespace

std::string ostl_supported() {
  return "model 'snu-mlp' (SNU and sSNU layers with or without recurrent weights, any g, "
         "trainable threshold and decay, detach_reset; not lateral_inhibition) with readout "
         "'snu' or 'linear'";
}

std::unique_ptr<Rule> make_ostl_rule(ConfigSection section, nn::NetImpl& model) {
  const std::string update = section.choice("update", "sequence", {"sequence", "step"});
  section.finish();
  auto* net = dynamic_cast<nn::SNUMLPImpl*>(&model);
  if (!net) {
    throw UserError("learn.rule: ostl does not support the model " + model.name() +
                    "; supported: " + ostl_supported());
  }
  for (const auto& m : *net->layers) {
    if (auto* snu = m->as<nn::SNUImpl>(); snu && snu->options.lateral_inhibition()) {
      throw UserError("learn.rule: ostl does not support SNU layers with lateral_inhibition; "
                      "supported: " + ostl_supported());
    }
  }
  return std::make_unique<OstlRule>(*net, update == "step" ? OstlUpdate::step
                                                           : OstlUpdate::sequence);
}

}  // namespace nc::learn
