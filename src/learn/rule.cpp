#include "neurocore/learn/rule.h"

#include "neurocore/learn/grapes.h"
#include "neurocore/learn/loss.h"
#include "neurocore/learn/ostl.h"

namespace nc::learn {

BatchResult BpttRule::train_batch(nn::NetImpl& model, const torch::Tensor& x,
                                  const torch::Tensor& labels, const std::string& loss,
                                  torch::optim::Optimizer& optimizer) {
  optimizer.zero_grad();
  auto scores = class_scores(model.forward(x), model.temporal(), loss);
  auto l = classification_loss(scores, labels, loss);
  l.backward();
  optimizer.step();
  return {scores.detach(), l.item<double>()};
}

std::unique_ptr<Rule> make_rule(ConfigSection learn, nn::NetImpl& model) {
  const std::string rule = learn.choice("rule", "bptt", {"bptt", "ostl"});
  if (rule == "ostl") return make_ostl_rule(learn.section("ostl"), model);  // docs/ostl.md
  return std::make_unique<BpttRule>();
}

std::unique_ptr<Modulation> make_modulation(ConfigSection learn, nn::NetImpl& model) {
  const std::string modulation = learn.choice("modulation", "none", {"none", "grapes"});
  if (modulation == "none") return nullptr;
  // modulation == "grapes": options in learn.grapes (docs/grapes.md).
  auto s = learn.section("grapes");
  GrapesOptions o;
  o.version(s.choice("version", "propagating", {"propagating", "local"}) == "local"
                ? GrapesVersion::local
                : GrapesVersion::propagating);
  o.clip(s.boolean("clip", true));
  s.finish();
  return std::make_unique<Grapes>(model, o);
}

}  // namespace nc::learn
