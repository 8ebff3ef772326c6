#include "neurocore/learn/options.h"

#include <cmath>

#include "neurocore/core/config.h"

namespace nc::learn {

namespace {

// A LibTorch optimizer whose step() first runs a hook. Subclassing keeps it the genuine
// optimizer (its state, param_groups and serialization are the base class's), so checkpoints
// of a data-parallel run load into a single-process one and back.
template <class Base>
class HookedOptimizer : public Base {
 public:
  template <class Options>
  HookedOptimizer(std::vector<torch::Tensor> params, Options options, std::function<void()> hook)
      : Base(std::move(params), std::move(options)), hook_(std::move(hook)) {}
  torch::Tensor step(torch::optim::Optimizer::LossClosure closure = nullptr) override {
    hook_();
    return Base::step(std::move(closure));
  }

 private:
  std::function<void()> hook_;
};

template <class Base, class Options>
std::unique_ptr<torch::optim::Optimizer> optimizer(std::vector<torch::Tensor> params, Options options,
                                                   std::function<void()> before_step) {
  if (!before_step) return std::make_unique<Base>(std::move(params), std::move(options));
  return std::make_unique<HookedOptimizer<Base>>(std::move(params), std::move(options),
                                                 std::move(before_step));
}

}  // namespace

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& o,
                                                        std::vector<torch::Tensor> params,
                                                        std::function<void()> before_step) {
  if (o.optimizer == "adam") {
    return optimizer<torch::optim::Adam>(
        std::move(params), torch::optim::AdamOptions(o.learning_rate).weight_decay(o.weight_decay),
        std::move(before_step));
  }
  return optimizer<torch::optim::SGD>(std::move(params),
                                      torch::optim::SGDOptions(o.learning_rate)
                                          .momentum(o.momentum)
                                          .weight_decay(o.weight_decay)
                                          .nesterov(o.nesterov),
                                      std::move(before_step));
}

TrainOptions TrainOptions::from_config(ConfigSection s) {
  TrainOptions o;
  o.epochs = s.integer("epochs", o.epochs, 1, 100000);
  o.batch_size = s.integer("batch_size", o.batch_size, 1, 1 << 20);
  o.eval_batch_size = s.integer("eval_batch_size", o.eval_batch_size, 1, 1 << 20);
  o.optimizer = s.choice("optimizer", o.optimizer, {"sgd", "adam"});
  o.learning_rate = s.number("learning_rate", o.learning_rate, 0.0, 1e3);
  o.momentum = s.number("momentum", o.momentum, 0.0, 1.0);
  o.weight_decay = s.number("weight_decay", o.weight_decay, 0.0, 1.0);
  o.nesterov = s.boolean("nesterov", o.nesterov);
  o.schedule = s.choice("schedule", o.schedule, {"none", "step", "cosine"});
  o.step_size = s.integer("step_size", o.step_size, 1, 100000);
  o.gamma = s.number("gamma", o.gamma, 0.0, 1.0);
  o.min_lr = s.number("min_lr", o.min_lr, 0.0, 1e3);
  o.loss = s.choice("loss", o.loss, {"auto", "cross_entropy", "mse_rate", "spike_count_ce"});
  s.finish();
  return o;
}

double learning_rate_at(const TrainOptions& o, int64_t epoch) {
  if (o.schedule == "step") {
    return o.learning_rate * std::pow(o.gamma, static_cast<double>(epoch / o.step_size));
  }
  if (o.schedule == "cosine") {
    const double pi = std::acos(-1.0);
    return o.min_lr + (o.learning_rate - o.min_lr) *
                          (1 + std::cos(pi * static_cast<double>(epoch) / o.epochs)) / 2;
  }
  return o.learning_rate;
}

}  // namespace nc::learn
