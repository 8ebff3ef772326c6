#include "neurocore/learn/charlm.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/plot.h"
#include "neurocore/core/progress.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/learn/data_parallel.h"
#include "neurocore/learn/options.h"
#include "neurocore/learn/ostl_rnn.h"

namespace nc::learn {

namespace {

constexpr double kLn2 = 0.69314718055994530942;
// OSTL of a layer with recurrent weights or of a gated cell keeps RTRL traces of
// hidden x parameters per stream; beyond this the run is refused before it starts.
constexpr int64_t kMaxOstlBytes = int64_t{16} << 30;

bool is_snu(const std::string& cell) { return cell == "snu" || cell == "ssnu"; }

// The streams of a text: codes [N] -> inputs and next-character targets, each [L, B].
std::pair<torch::Tensor, torch::Tensor> streams(const torch::Tensor& codes, int64_t b) {
  const int64_t len = (codes.size(0) - 1) / b;
  if (len < 1) {
    throw UserError("lm: a text of " + std::to_string(codes.size(0)) + " characters is too short for " +
                    std::to_string(b) + " streams (needs at least " + std::to_string(b + 1) + ")");
  }
  auto x = codes.narrow(0, 0, b * len).view({b, len}).t().contiguous();
  auto y = codes.narrow(0, 1, b * len).view({b, len}).t().contiguous();
  return {x, y};
}

// The gradient-norm clip runs inside the optimizer's step (lm_optimizer), after a
// data-parallel run has averaged the gradients: it clips the global gradient.
void clip_and_step(CharLm&, torch::optim::Optimizer& opt, double) {
  opt.step();
  opt.zero_grad();
}

class BpttLearner : public LmLearner {
 public:
  explicit BpttLearner(CharLm model) : model_(std::move(model)) {}
  void begin(int64_t) override { state_ = {}; }
  double train_window(const torch::Tensor& codes, const torch::Tensor& targets,
                      torch::optim::Optimizer* opt) override {
    const auto logits = model_->forward(codes, state_);
    const auto loss = torch::nn::functional::cross_entropy(
        logits.reshape({-1, model_->vocabulary}), targets.reshape({-1}));
    loss.backward();
    state_ = state_.detached();  // truncation: the next window starts from this state
    if (opt) clip_and_step(model_, *opt, model_->options.clip);
    return loss.item<double>();
  }

 private:
  CharLm model_;
  LmState state_;
};

class OstlLearner : public LmLearner {
 public:
  explicit OstlLearner(CharLm model)
      : model_(std::move(model)), ostl_({model_->ostl_layer()}, model_->readout->parameters()) {}
  void begin(int64_t batch) override {
    ostl_.begin(batch, model_->readout->weight.options());
  }
  double train_window(const torch::Tensor& codes, const torch::Tensor& targets,
                      torch::optim::Optimizer* opt) override {
    const int64_t w = codes.size(0);
    const bool every_step = model_->options.update == "step";
    if (!every_step && ostl_.holds_steps()) return train_window_in_chunks(codes, targets, opt);
    double sum = 0;
    for (int64_t t = 0; t < w; ++t) {
      const auto logits = model_->readout->forward(ostl_.step(model_->one_hot(codes[t])));
      const auto loss = torch::nn::functional::cross_entropy(logits, targets[t]);
      sum += loss.item<double>();
      // The window's loss is the mean over its steps, as BPTT's: E^t = loss_t / W.
      ostl_.backward(every_step ? loss : loss / static_cast<double>(w));
      if (every_step && opt) {
        ostl_.write_gradients();
        clip_and_step(model_, *opt, model_->options.clip);
      }
    }
    if (!every_step || !opt) ostl_.write_gradients();
    if (!every_step && opt) clip_and_step(model_, *opt, model_->options.clip);
    return sum / static_cast<double>(w);
  }
  int64_t carried_bytes() const override { return ostl_.carried_bytes(); }

 private:
  // The same window, the held chunk's steps per Ostl::steps call (a diagonal SNU layer, the
  // update per window): one readout, loss and learning-signal pass per chunk, the same
  // gradient. The cross-entropy over a chunk's rows is the mean of its steps' losses.
  double train_window_in_chunks(const torch::Tensor& codes, const torch::Tensor& targets,
                                torch::optim::Optimizer* opt) {
    const int64_t w = codes.size(0), K = SNUOstlLayer::kDefaultTraceChunk;
    double sum = 0;
    for (int64_t t = 0; t < w; t += K) {
      const int64_t k = std::min(K, w - t);
      const auto logits = model_->readout->forward(
          ostl_.steps(model_->one_hot(codes.narrow(0, t, k))));
      const auto loss = torch::nn::functional::cross_entropy(
          logits.reshape({-1, model_->vocabulary}), targets.narrow(0, t, k).reshape({-1}));
      sum += loss.item<double>() * static_cast<double>(k);
      ostl_.backward(loss * (static_cast<double>(k) / static_cast<double>(w)));
    }
    ostl_.write_gradients();
    if (opt) clip_and_step(model_, *opt, model_->options.clip);
    return sum / static_cast<double>(w);
  }

  CharLm model_;
  Ostl ostl_;
};

std::unique_ptr<torch::optim::Optimizer> lm_optimizer(CharLm& model, const LmOptions& o,
                                                      DataParallel* parallel) {
  TrainOptions t;
  t.optimizer = o.optimizer;
  t.learning_rate = o.learning_rate;
  t.momentum = 0.0;
  auto params = model->parameters();
  const double clip = o.clip;
  return make_optimizer(t, params, [params, clip, parallel] {
    if (parallel) parallel->synchronize_gradients();
    if (clip > 0) torch::nn::utils::clip_grad_norm_(params, clip);
  });
}

std::string fmt_bpc(double v) { return fmt::format("{:.4f}", v); }

void write_report(RunDir& run, const LmOptions& o, const data::TextCorpus& corpus,
                  const std::vector<nlohmann::json>& evals, const nlohmann::json& final, bool plotted) {
  std::ostringstream md;
  md << "# Character-level language model\n\n"
     << "- cell " << o.cell << ", " << o.hidden << " units" << (o.recurrent ? ", recurrent" : "")
     << ", vocabulary " << corpus.vocabulary.size() << " characters\n"
     << "- rule " << o.rule << (o.rule == "ostl" ? " (update per " + o.update + ")" : "")
     << ", window " << o.window << ", batch " << o.batch_size << " streams, " << o.optimizer
     << " lr " << o.learning_rate << ", clip " << o.clip << ", " << o.epochs << " epoch(s)\n"
     << "- text " << corpus.source << " (split by " << corpus.split_rule << "): train "
     << corpus.train.size() << ", valid " << corpus.valid.size() << ", test " << corpus.test.size()
     << " characters\n\n"
     << "| | bits per character |\n|---|---|\n"
     << "| test | " << fmt_bpc(final["test_bpc"].get<double>()) << " |\n"
     << "| valid (last) | " << fmt_bpc(final["valid_bpc"].get<double>()) << " |\n"
     << "| train (last epoch, running mean) | " << fmt_bpc(final["train_bpc"].get<double>()) << " |\n\n"
     << "Training time " << final["train_time_s"].get<double>() << " s ("
     << final["chars_per_s"].get<double>() << " characters/s)";
  if (o.rule == "ostl") md << "; OSTL carried " << final["ostl_carried_bytes"].get<int64_t>() << " bytes between steps";
  md << ".\n\n| characters seen | train bpc (running) | valid bpc |\n|---|---|---|\n";
  for (const auto& e : evals) {
    md << "| " << e["chars"].get<int64_t>() << " | " << fmt_bpc(e["train_bpc"].get<double>())
       << " | " << fmt_bpc(e["valid_bpc"].get<double>()) << " |\n";
  }
  if (plotted) md << "\n![bits per character](bpc.svg)\n";
  write_file_atomic(run.file("report.md"), md.str());
}

}  // namespace

LmOptions lm_options(ConfigSection model, ConfigSection learn, ConfigSection train) {
  LmOptions o;
  o.cell = model.choice("cell", o.cell, {"snu", "ssnu", "lstm", "gru"});
  o.hidden = model.integer("hidden", o.hidden, 1, 1 << 16);
  o.recurrent = model.boolean("recurrent", o.recurrent);
  o.decay = model.number("decay", o.decay, 1e-6, 1.0);
  o.trainable_decay = model.boolean("trainable_decay", o.trainable_decay);
  model.finish();
  if (!is_snu(o.cell) && (o.recurrent)) {
    throw UserError("model.recurrent applies to snu and ssnu cells only (lstm and gru are "
                    "recurrent by construction), got cell " + o.cell);
  }
  if (is_snu(o.cell) && o.trainable_decay && o.decay >= 1.0) {
    throw UserError("model.decay must be < 1 with trainable_decay (d = sigmoid(rho)), got 1");
  }
  o.rule = learn.choice("rule", o.rule, {"bptt", "ostl"});
  o.window = learn.integer("window", o.window, 1, 1 << 20);
  o.update = learn.choice("update", o.update, {"window", "step"});
  learn.finish();
  o.epochs = train.integer("epochs", o.epochs, 1, 100000);
  o.batch_size = train.integer("batch_size", o.batch_size, 1, 1 << 20);
  o.optimizer = train.choice("optimizer", o.optimizer, {"adam", "sgd"});
  o.learning_rate = train.number("learning_rate", o.learning_rate, 0.0);
  o.clip = train.number("clip", o.clip, 0.0);
  o.eval_every = train.integer("eval_every", o.eval_every, 0);
  o.eval_streams = train.integer("eval_streams", o.eval_streams, 1, 1 << 20);
  train.finish();
  return o;
}

LmState LmState::detached() const {
  LmState s;
  if (snu.s.defined()) s.snu = {snu.s.detach(), snu.y.detach()};
  if (h.defined()) s.h = h.detach();
  if (c.defined()) s.c = c.detach();
  return s;
}

CharLmImpl::CharLmImpl(int64_t vocab, const LmOptions& o) : vocabulary(vocab), options(o) {
  if (is_snu(o.cell)) {
    snu = register_module("snu", nn::SNU(nn::SNUOptions(vocab, o.hidden)
                                             .soft(o.cell == "ssnu")
                                             .recurrent(o.recurrent)
                                             .decay(o.decay)
                                             .trainable_decay(o.trainable_decay)));
  } else if (o.cell == "lstm") {
    lstm = register_module("lstm", torch::nn::LSTMCell(vocab, o.hidden));
  } else {
    gru = register_module("gru", torch::nn::GRUCell(vocab, o.hidden));
  }
  readout = register_module("readout", torch::nn::Linear(o.hidden, vocab));
}

torch::Tensor CharLmImpl::one_hot(const torch::Tensor& codes) const {
  return torch::nn::functional::one_hot(codes, vocabulary).to(readout->weight.scalar_type());
}

torch::Tensor CharLmImpl::forward(const torch::Tensor& codes, LmState& state) {
  const auto x = one_hot(codes);  // [W, B, V]
  torch::Tensor y;
  if (snu) {
    std::tie(y, state.snu) = snu->unroll(x, state.snu);
  } else {
    std::vector<torch::Tensor> ys;
    for (int64_t t = 0; t < x.size(0); ++t) {
      if (lstm) {
        auto hc = state.h.defined() ? lstm->forward(x[t], std::make_tuple(state.h, state.c))
                                    : lstm->forward(x[t]);
        std::tie(state.h, state.c) = hc;
      } else {
        state.h = state.h.defined() ? gru->forward(x[t], state.h) : gru->forward(x[t]);
      }
      ys.push_back(state.h);
    }
    y = torch::stack(ys);
  }
  return readout->forward(y);
}

std::shared_ptr<OstlLayer> CharLmImpl::ostl_layer() const {
  if (snu) return std::make_shared<SNUOstlLayer>(snu->cell);
  if (lstm) return std::make_shared<LSTMOstlLayer>(lstm);
  return std::make_shared<GRUOstlLayer>(gru);
}

int64_t CharLmImpl::ostl_bytes(int64_t batch) const {
  const int64_t n = options.hidden, m = vocabulary;
  int64_t per_stream;
  if (snu) {
    per_stream = options.recurrent ? n * n * (m + n) : n * m;
  } else {
    per_stream = (lstm ? 8 : 3) * n * n * (m + n + 2);
  }
  return batch * per_stream * static_cast<int64_t>(readout->weight.element_size());
}

std::unique_ptr<LmLearner> make_lm_learner(CharLm model) {
  if (model->options.rule == "ostl") {
    const int64_t bytes = model->ostl_bytes(model->options.batch_size);
    if (bytes > kMaxOstlBytes) {
      throw UserError("lm: OSTL traces of a " + model->options.cell + " layer of " +
                      std::to_string(model->options.hidden) + " units" +
                      (model->options.recurrent ? " with recurrent weights" : "") + " and " +
                      std::to_string(model->options.batch_size) + " streams need " +
                      std::to_string(bytes >> 20) + " MiB (limit " +
                      std::to_string(kMaxOstlBytes >> 20) +
                      " MiB): use fewer units (model.hidden) or streams (train.batch_size); "
                      "docs/ostl.md gives the trace sizes");
    }
    return std::make_unique<OstlLearner>(std::move(model));
  }
  return std::make_unique<BpttLearner>(std::move(model));
}

double evaluate_bpc(CharLm& model, const torch::Tensor& codes, int64_t streams_n) {
  torch::NoGradGuard no_grad;
  const int64_t b = std::max<int64_t>(1, std::min(streams_n, (codes.size(0) - 1)));
  const auto [x, y] = streams(codes, b);
  LmState state;
  double sum = 0;
  const int64_t chunk = 256;
  for (int64_t t = 0; t < x.size(0); t += chunk) {
    const int64_t w = std::min(chunk, x.size(0) - t);
    const auto logits = model->forward(x.narrow(0, t, w), state);
    sum += torch::nn::functional::cross_entropy(
               logits.reshape({-1, model->vocabulary}), y.narrow(0, t, w).reshape({-1}),
               torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
               .item<double>();
  }
  return sum / static_cast<double>(x.numel()) / kLn2;
}

double run_lm(CharLm& model, const LmOptions& o, const data::TextCorpus& corpus, RunDir& run,
              DataParallel* parallel) {
  const auto train_codes = data::encode_text(corpus.train, corpus.vocabulary);
  const auto valid_codes = data::encode_text(corpus.valid, corpus.vocabulary);
  const auto test_codes = data::encode_text(corpus.test, corpus.vocabulary);
  auto learner = make_lm_learner(model);
  auto opt = lm_optimizer(model, o, parallel);
  // Data-parallel: the text is cut into batch_size x world streams, and rank r trains the
  // r-th batch_size of them: one process with batch_size x world streams, split by columns.
  const int world = parallel ? parallel->world_size() : 1, rank = parallel ? parallel->rank() : 0;
  const bool writer = !parallel || parallel->writer();
  auto [x, y] = streams(train_codes, o.batch_size * world);
  const auto [first, end] = shard_range(x.size(1), rank, world);
  x = x.slice(1, first, end);
  y = y.slice(1, first, end);
  const int64_t windows = (x.size(0) + o.window - 1) / o.window;
  spdlog::info("lm: {} {} units, {} rule, {} streams of {} characters, {} windows of {} per epoch",
               o.cell, o.hidden, o.rule, o.batch_size, x.size(0), windows, o.window);

  std::vector<nlohmann::json> evals;
  double train_seconds = 0, train_bpc = 0, valid_bpc = 0;
  int64_t chars = 0;
  for (int64_t epoch = 1; epoch <= o.epochs; ++epoch) {
    learner->begin(o.batch_size);
    Progress progress("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs), writer ? windows : 0, "window");
    double sum = 0;
    int64_t count = 0;
    for (int64_t w = 0; w < windows; ++w) {
      const int64_t t0 = w * o.window, len = std::min(o.window, x.size(0) - t0);
      if (parallel) parallel->start_batch(*model, o.batch_size, o.batch_size * world);
      const auto start = std::chrono::steady_clock::now();
      const double loss = learner->train_window(x.narrow(0, t0, len), y.narrow(0, t0, len), opt.get());
      train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!std::isfinite(loss)) {
        throw UserError("lm: the training loss became " + std::to_string(loss) + " in epoch " +
                        std::to_string(epoch) + ", window " + std::to_string(w + 1) +
                        "; lower train.learning_rate or set train.clip");
      }
      sum += loss * static_cast<double>(len);
      count += len;
      chars += len * o.batch_size * world;
      train_bpc = sum / static_cast<double>(count) / kLn2;
      progress.advance(1, "train bpc " + fmt_bpc(train_bpc));
      const bool last = w + 1 == windows;
      if (last || (o.eval_every > 0 && (w + 1) % o.eval_every == 0)) {
        if (parallel) {  // the running mean over every rank's streams
          std::vector<double> s = {sum, static_cast<double>(count)};
          parallel->sum(s);
          train_bpc = s[0] / s[1] / kLn2;
        }
        valid_bpc = evaluate_bpc(model, valid_codes, o.eval_streams);
        nlohmann::json rec = {{"kind", "valid"}, {"epoch", epoch}, {"window", w + 1},
                              {"chars", chars}, {"train_bpc", train_bpc}, {"valid_bpc", valid_bpc}};
        if (writer) run.log_metrics(rec);
        evals.push_back(rec);
      }
    }
    progress.finish("train bpc " + fmt_bpc(train_bpc) + ", valid bpc " + fmt_bpc(valid_bpc));
  }
  const double test_bpc = evaluate_bpc(model, test_codes, o.eval_streams);
  nlohmann::json final = {{"kind", "test"}, {"test_bpc", test_bpc}, {"valid_bpc", valid_bpc},
                          {"train_bpc", train_bpc}, {"train_time_s", train_seconds},
                          {"chars_per_s", static_cast<double>(chars) / std::max(train_seconds, 1e-9)},
                          {"vocabulary", corpus.vocabulary.size()}};
  if (o.rule == "ostl") final["ostl_carried_bytes"] = learner->carried_bytes();
  if (world > 1) final["world_size"] = world;
  if (!writer) return test_bpc;
  run.log_metrics(final);
  spdlog::info("lm: test {:.4f} bpc, valid {:.4f} bpc", test_bpc, valid_bpc);

  PlotSpec plot{"bits per character", "characters seen", "bpc", {}, false};
  Series tr{"train (running mean)", {}, {}}, va{"valid", {}, {}};
  for (const auto& e : evals) {
    tr.x.push_back(static_cast<double>(e["chars"].get<int64_t>()));
    tr.y.push_back(e["train_bpc"].get<double>());
    va.x.push_back(tr.x.back());
    va.y.push_back(e["valid_bpc"].get<double>());
  }
  plot.series = {tr, va};
  const bool plotted = plot_lines(run.file("bpc"), plot);
  write_atomic_with(run.file("model.pt"), [&](const std::string& tmp) {
    torch::serialize::OutputArchive archive;
    model->save(archive);
    archive.save_to(tmp);
  });
  write_report(run, o, corpus, evals, final, plotted);
  return test_bpc;
}

}  // namespace nc::learn
