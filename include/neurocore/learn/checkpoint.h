#pragma once
// Checkpoints: the model's parameters and buffers, the optimizer's state and the number of
// finished epochs, in one LibTorch archive written atomically.
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <string>

namespace nc::learn {

/// Writes `<dir>/epoch-NNNN.pt` and points `<dir>/last.json` at it. Returns the file path.
std::string save_checkpoint(const std::string& dir, torch::nn::Module& model,
                            torch::optim::Optimizer* optimizer, int64_t epochs_done);

/// Path of the newest checkpoint in `dir` (from last.json), or "" when there is none.
/// Throws UserError when last.json is malformed or names a missing file.
std::string last_checkpoint(const std::string& dir);

/// Loads a checkpoint into model (and optimizer when given). Returns the epochs done.
/// Throws UserError naming the file when it is unreadable or does not fit the model.
int64_t load_checkpoint(const std::string& path, torch::nn::Module& model,
                        torch::optim::Optimizer* optimizer);

}  // namespace nc::learn
