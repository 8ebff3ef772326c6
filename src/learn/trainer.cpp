#include "neurocore/learn/trainer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "neurocore/core/error.h"
#include "neurocore/core/progress.h"
#include "neurocore/core/report.h"
#include "neurocore/core/seed.h"
#include "neurocore/learn/checkpoint.h"
#include "neurocore/learn/loss.h"
#include "neurocore/learn/oddity_metrics.h"
#include "neurocore/nn/net.h"

namespace nc::learn {

namespace {

void set_learning_rate(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}

}  // namespace

Trainer::Trainer(Experiment& experiment, RunDir& run, DataParallel* parallel)
    : exp_(experiment),
      run_(run),
      parallel_(parallel),
      optimizer_(make_optimizer(experiment.train, experiment.model->parameters(),
                                parallel ? std::function<void()>([parallel] {
                                  parallel->synchronize_gradients();
                                })
                                         : std::function<void()>())),
      loss_(resolve_loss(experiment.train.loss, experiment.model->temporal())) {}

bool Trainer::writer() const { return !parallel_ || parallel_->writer(); }

Trainer::~Trainer() = default;

int64_t Trainer::resume() {
  const std::string path = last_checkpoint(run_.checkpoints());
  if (path.empty()) {
    spdlog::warn("{}: no checkpoint yet, starting from epoch 1", run_.path());
    return epochs_done_ = 0;
  }
  epochs_done_ = load_checkpoint(path, *exp_.model, optimizer_.get());
  const int64_t done = epochs_done_;
  if (writer()) run_.filter_metrics([done](const nlohmann::json& r) {
    return r.value("kind", "") != "epoch" || r.value("epoch", int64_t{0}) <= done;
  });
  spdlog::info("resumed {} after epoch {}", path, epochs_done_);
  return epochs_done_;
}

namespace {

// An experiment without a model (the pipeline's ONNX source) takes images like a static one.
bool temporal(const Experiment& exp) { return exp.model && exp.model->temporal(); }

}  // namespace

torch::Tensor model_input(const Experiment& exp, const torch::Tensor& images, at::Generator& gen) {
  if (temporal(exp)) return data::encode(images, exp.encoder, gen);
  return (images - exp.norm.mean) / exp.norm.std;
}

namespace {

// Evaluation's batches of `images`, each handed to `use(first, end, model input)`; a fixed
// encoder stream, so evaluating twice gives the same number.
template <class F>
void for_each_eval_batch(const Experiment& exp, const torch::Tensor& images, F use) {
  auto gen = make_generator(exp.seed, "eval-encode");
  const int64_t n = images.size(0), bs = exp.train.eval_batch_size;
  for (int64_t i = 0; i < n; i += bs) {
    const int64_t end = std::min(n, i + bs);
    use(i, end, model_input(exp, images.slice(0, i, end), gen));
  }
}

}  // namespace

torch::Tensor evaluation_input(const Experiment& exp, const torch::Tensor& images) {
  std::vector<torch::Tensor> parts;
  for_each_eval_batch(exp, images, [&](int64_t, int64_t, torch::Tensor x) { parts.push_back(std::move(x)); });
  return torch::cat(parts, temporal(exp) ? 1 : 0);
}

EvalResult Trainer::evaluate(const data::Dataset& d) {
  torch::NoGradGuard no_grad;
  exp_.model->eval();
  EvalResult r;
  // Data-parallel: rank r evaluates batches r, r + world, ...; every rank still draws every
  // batch's encoding, so each batch sees the spikes a single process would feed it.
  const int rank = parallel_ ? parallel_->rank() : 0, world = parallel_ ? parallel_->world_size() : 1;
  // loss * examples, correct, correct per time step, time steps x examples
  std::vector<double> sums = {0, 0, 0, 0};
  int64_t batch = 0;
  const int64_t n = d.size();
  const bool temporal = exp_.model->temporal();
  for_each_eval_batch(exp_, d.images, [&](int64_t i, int64_t end, const torch::Tensor& x) {
    if (batch++ % world != rank) return;
    auto y = d.labels.slice(0, i, end);
    const auto out = exp_.model->forward(x);
    auto scores = class_scores(out, temporal, loss_);
    sums[0] += classification_loss(scores, y, loss_).item<double>() * (end - i);
    sums[1] += scores.argmax(1).eq(y).sum().item<int64_t>();
    if (temporal) {
      sums[2] += out.argmax(2).eq(y.unsqueeze(0)).sum().item<int64_t>();
      sums[3] += static_cast<double>(out.size(0) * (end - i));
    }
  });
  if (parallel_) parallel_->sum(sums);
  r.examples = n;
  r.loss = n ? sums[0] / n : 0;
  r.accuracy = n ? 100.0 * sums[1] / n : 0;
  if (temporal) r.step_accuracy = sums[3] > 0 ? 100.0 * sums[2] / sums[3] : 0;
  return r;
}

void Trainer::fit() {
  const auto& o = exp_.train;
  const auto& d = exp_.train_set;
  const int64_t n = d.size();
  // train.batch_size is per rank (as in DDP): a step of a data-parallel run takes the next
  // batch_size x world examples of the epoch's order, split over the ranks (shard_range).
  const int world = parallel_ ? parallel_->world_size() : 1, rank = parallel_ ? parallel_->rank() : 0;
  const int64_t global_batch = o.batch_size * world;
  const int64_t steps = (n + global_batch - 1) / global_batch;
  int64_t run_now = 0;
  for (int64_t epoch = epochs_done_; epoch < o.epochs; ++epoch) {
    if (stop_after_ >= 0 && run_now >= stop_after_) break;
    const double lr = learning_rate_at(o, epoch);
    set_learning_rate(*optimizer_, lr);
    auto shuffle_gen = make_generator(exp_.seed, "shuffle", epoch);
    auto encode_gen = make_generator(exp_.seed, "encode", epoch);
    const auto order = torch::randperm(n, shuffle_gen, torch::kLong);
    exp_.rule->start_epoch(exp_.seed, epoch);

    exp_.model->train();
    const auto t0 = std::chrono::steady_clock::now();
    Progress progress(fmt::format("epoch {}/{}", epoch + 1, o.epochs), writer() ? steps : 0, "batch");
    std::vector<double> sums = {0, 0};  // loss * examples, correct (of this rank's shards)
    double& loss_sum = sums[0];
    double& correct = sums[1];
    int64_t seen = 0;
    for (int64_t step = 0; step < steps; ++step) {
      const auto global_idx =
          order.slice(0, step * global_batch, std::min(n, (step + 1) * global_batch));
      // The whole global batch is encoded on every rank from the one stream, so a rank's
      // spikes are exactly those a single process would draw for the same examples.
      auto x = model_input(exp_, d.images.index_select(0, global_idx), encode_gen);
      auto [first, end] = shard_range(global_idx.size(0), rank, world);
      const int64_t local = end - first;
      // A rank left without examples (a last batch smaller than the world) trains on one
      // example with weight 0, so that it still joins every collective of the step.
      if (local == 0) first = 0, end = 1;
      const auto idx = global_idx.slice(0, first, end);
      if (parallel_) {
        x = x.slice(temporal(exp_) ? 1 : 0, first, end);
        parallel_->start_batch(*exp_.model, local, global_idx.size(0));
      }
      auto y = d.labels.index_select(0, idx);
      if (exp_.modulation) exp_.modulation->before_batch(*exp_.model);
      const BatchResult r = exp_.rule->train_batch(*exp_.model, x, y, loss_, *optimizer_);
      const double lv = r.loss;
      if (!std::isfinite(lv)) {
        throw UserError(fmt::format(
            "training diverged: the loss is {} at epoch {}, step {} of {} (learning rate {}); "
            "lower train.learning_rate or resume from the last checkpoint in {}",
            lv, epoch + 1, step + 1, steps, lr, run_.checkpoints()));
      }
      if (local > 0) {
        seen += local;
        loss_sum += lv * local;
        correct += r.scores.argmax(1).eq(y).sum().item<int64_t>();
      }
      progress.advance(1, fmt::format("loss {:.4f}", loss_sum / std::max<int64_t>(seen, 1)));
    }
    if (parallel_) parallel_->sum(sums);
    progress.finish(fmt::format("loss {:.4f}", loss_sum / n));
    const double train_time =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const EvalResult test = evaluate(exp_.test_set);
    epochs_done_ = epoch + 1;
    ++run_now;
    std::string valid_text;
    EvalResult valid;
    if (exp_.valid_set.size() > 0) {  // data.validation: what a sweep selects settings on
      valid = evaluate(exp_.valid_set);
      valid_text = fmt::format(" | valid loss {:.4f} acc {:.2f}%", valid.loss, valid.accuracy);
    }
    rule_metrics_ = exp_.rule->epoch_metrics();  // e.g. ESSOP's operation counts and energy
    if (parallel_) {
      for (auto& m : parallel_->epoch_metrics()) rule_metrics_.push_back(std::move(m));
    }
    if (!writer()) continue;
    save_checkpoint(run_.checkpoints(), *exp_.model, optimizer_.get(), epochs_done_);
    nlohmann::json record = {{"kind", "epoch"},
                             {"epoch", epochs_done_},
                             {"lr", lr},
                             {"train_loss", loss_sum / n},
                             {"train_acc", 100.0 * correct / n},
                             {"test_loss", test.loss},
                             {"test_acc", test.accuracy},
                             {"epoch_time_s", train_time},
                             {"samples_per_s", n / train_time}};
    if (test.step_accuracy >= 0) record["test_step_acc"] = test.step_accuracy;  // temporal models
    if (exp_.valid_set.size() > 0) {
      record["valid_loss"] = valid.loss;
      record["valid_acc"] = valid.accuracy;
      if (valid.step_accuracy >= 0) record["valid_step_acc"] = valid.step_accuracy;
    }
    if (world > 1) record["world_size"] = world;
    for (const auto& [key, value] : rule_metrics_) record[key] = value;
    if (exp_.data.name == "oddity" && epochs_done_ == o.epochs) {
      // The last epoch of an oddity run: accuracy per riddle (docs/oddity.md).
      const auto per = riddle_accuracy(exp_, exp_.test_set);
      nlohmann::json acc = nlohmann::json::array();
      for (double a : per.accuracy) acc.push_back(std::isnan(a) ? nlohmann::json() : nlohmann::json(a));
      run_.log_metrics({{"kind", "riddles"}, {"epoch", epochs_done_}, {"riddle_test_acc", acc}});
      write_riddle_report(run_, per);
    }
    run_.log_metrics(record);
    spdlog::info("epoch {}/{}: train loss {:.4f} acc {:.2f}%{} | test loss {:.4f} acc {:.2f}% | {:.1f} s",
                 epochs_done_, o.epochs, loss_sum / n, 100.0 * correct / n, valid_text, test.loss,
                 test.accuracy, train_time);
    write_report();
  }
}

void Trainer::write_report() const {
  std::vector<std::string> summary = {
      "model: " + exp_.model_name + fmt::format(" ({} trainable parameters)",
                                                   nn::count_parameters(*exp_.model)),
      exp_.valid_set.size() > 0
          ? fmt::format("data: {} ({} train / {} valid / {} test)", exp_.data.name,
                        exp_.train_set.size(), exp_.valid_set.size(), exp_.test_set.size())
          : fmt::format("data: {} ({} train / {} test)", exp_.data.name, exp_.train_set.size(),
                        exp_.test_set.size()),
      fmt::format("training: {} epochs done of {}, rule {}{}, {} lr {}, batch {}, loss {}",
                  epochs_done_, exp_.train.epochs, exp_.rule->name(),
                  exp_.modulation ? " + " + exp_.modulation->name() : "", exp_.train.optimizer,
                  exp_.train.learning_rate, exp_.train.batch_size, loss_),
      parallel_ && parallel_->world_size() > 1
          ? fmt::format("seed {}, {} threads per rank, data-parallel over {} ranks (batch {} per rank)",
                        exp_.seed, exp_.threads, parallel_->world_size(), exp_.train.batch_size)
          : fmt::format("seed {}, {} threads", exp_.seed, exp_.threads),
      "config: [config.yaml](config.yaml), metrics: [metrics.jsonl](metrics.jsonl)"};
  if (std::filesystem::exists(run_.file("riddle_accuracy.md"))) {
    summary.push_back("test accuracy per riddle: [riddle_accuracy.md](riddle_accuracy.md)");
  }
  if (!rule_metrics_.empty()) {
    std::string line = fmt::format("rule metrics of the last epoch ({}):", epochs_done_);
    for (const auto& [key, value] : rule_metrics_) line += fmt::format(" {} {:.4g};", key, value);
    summary.push_back(line);
  }
  if (exp_.model->temporal()) {
    summary.insert(summary.begin() + 2,
                   fmt::format("spike coding: {} over T = {} steps (gain {})",
                               exp_.encoder.coding, exp_.encoder.steps, exp_.encoder.gain));
  }
  write_run_report(run_, "neurocore run " + run_.path(), summary);
}

}  // namespace nc::learn
