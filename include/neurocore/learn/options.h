#pragma once
// Training options read from the `train` section of a config.
#include <torch/optim.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nc {
class ConfigSection;
}

namespace nc::learn {

struct TrainOptions {
  int64_t epochs = 3;
  int64_t batch_size = 128;
  int64_t eval_batch_size = 1000;
  std::string optimizer = "sgd";  // sgd | adam
  double learning_rate = 0.1;
  double momentum = 0.9;          // sgd only
  double weight_decay = 0.0;
  bool nesterov = false;          // sgd only
  std::string schedule = "none";  // none | step | cosine
  int64_t step_size = 10;         // step: multiply the rate by gamma every step_size epochs
  double gamma = 0.1;
  double min_lr = 0.0;            // cosine: rate at the end of the last epoch
  // Loss: auto picks cross_entropy for plain nets and mse_rate for spiking nets.
  std::string loss = "auto";      // auto | cross_entropy | mse_rate | spike_count_ce

  /// Reads the section (keys as above, each range-checked) and calls finish().
  static TrainOptions from_config(ConfigSection section);
};

/// Learning rate at the start of `epoch` (0-based) under the schedule: a pure function
/// of the epoch, so a resumed run uses exactly the rates an uninterrupted run would.
///   step:   lr * gamma^floor(epoch / step_size)
///   cosine: min_lr + (lr - min_lr) * (1 + cos(pi * epoch / epochs)) / 2
double learning_rate_at(const TrainOptions& o, int64_t epoch);

/// The optimizer of o.optimizer over `params`: Adam (learning_rate, weight_decay) or SGD
/// (learning_rate, momentum, weight_decay, nesterov). `before_step`, when set, runs at the
/// start of every step(), before the update: data-parallel training averages the gradients
/// there, so every rule (per batch or per time step) updates with global gradients.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& o,
                                                        std::vector<torch::Tensor> params,
                                                        std::function<void()> before_step = {});

}  // namespace nc::learn
