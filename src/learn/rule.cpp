#include "neurocore/learn/rule.h"

#include "neurocore/learn/essop_rule.h"
#include "neurocore/learn/grapes.h"
#include "neurocore/learn/loss.h"
#include "neurocore/learn/ostl.h"

namespace nc::learn {

BatchResult BpttRule::train_batch(nn::NetImpl& model, const torch::Tensor& x,
                                  const torch::Tensor& labels, const std::string& loss,
                                  torch::optim::Optimizer& optimizer) {
  optimizer.zero_grad();
  const auto out = model.forward(x);
  auto scores = class_scores(out, model.temporal(), loss);
  auto l = classification_loss(scores, labels, loss);
  if (per_step_ && model.temporal()) {
    torch::Tensor e = torch::zeros({}, out.options());
    for (int64_t t = 0; t < out.size(0); ++t) e = e + classification_loss(out[t], labels, loss);
    (e / static_cast<double>(out.size(0))).backward();
  } else {
    l.backward();
  }
  optimizer.step();
  return {scores.detach(), l.item<double>()};
}

std::unique_ptr<Rule> make_rule(ConfigSection learn, nn::NetImpl& model) {
  const std::string rule = learn.choice("rule", "bptt", {"bptt", "ostl"});
  std::unique_ptr<Rule> r;
  if (rule == "ostl") {
    r = make_ostl_rule(learn.section("ostl"), model);  // docs/ostl.md
  } else {
    auto bptt = learn.section("bptt");
    const bool per_step = bptt.choice("loss", "average", {"average", "per_step"}) == "per_step";
    bptt.finish();
    r = std::make_unique<BpttRule>(per_step);
  }
  return apply_update(learn, std::move(r), model);  // learn.update: exact | essop (docs/essop.md)
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
