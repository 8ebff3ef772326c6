// The ASR training loop (include/neurocore/asr/train.h).
#include "neurocore/asr/train.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "neurocore/asr/wer.h"
#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/progress.h"
#include "neurocore/core/report.h"
#include "neurocore/core/seed.h"
#include "neurocore/data/speech_text.h"
#include "neurocore/learn/checkpoint.h"

namespace nc::asr {

bool is_asr_config(const Config& config) {
  auto data = config.root().section("data");
  return data.has("name") && data.string("name", "") == "speech";
}

AsrExperiment AsrExperiment::build(Config& config) {
  AsrExperiment e;
  auto root = config.root();
  e.keys = RunKeys::from_config(root);
  auto d = root.section("data");
  d.choice("name", "speech", {"speech"});
  e.corpus = data::SpeechCorpusOptions::from_config(d);
  const std::string kind = d.choice("features", "logmel", {"logmel", "mfcc"});
  e.features.features.n_mels = d.integer("n_mels", 40, 8, 128);
  if (kind == "mfcc") e.features.features.mfcc = d.integer("n_mfcc", 13, 1, e.features.features.n_mels);
  e.features.features.stack = d.integer("stack", 3, 1, 10);
  e.features.per_utterance =
      d.choice("normalization", "global", {"global", "utterance"}) == "utterance";
  d.finish();

  auto m = root.section("model");
  const auto unit = nn::parse_asr_unit(m.string("unit", "ssnu_aa"), config.origin() + ": model.unit");
  e.model = nn::RnntModelOptions(e.features.features.dim(), data::kSpeechVocabSize)
                .unit(unit)
                .layers(m.integer("layers", 2, 1, 16))
                .hidden(m.integer("hidden", 128, 1, 4096))
                .bidirectional(m.boolean("bidirectional", false))
                .predictor_lstm(m.choice("predictor", "same", {"same", "lstm"}) == "lstm")
                .embed(m.integer("embed", 64, 1, 4096))
                .predictor_hidden(m.integer("predictor_hidden", 64, 1, 4096))
                .joint(m.integer("joint", 64, 1, 4096))
                .decay(m.number("decay", 0.8, 1e-6, 1.0))
                .trainable_decay(m.boolean("trainable_decay", false))
                .threshold_init(m.number("threshold_init", 0.0))
                .reset_from_y(m.choice("reset", "z", {"z", "y"}) == "y");
  if (e.model.bidirectional() && unit != nn::AsrUnitKind::lstm)
    throw UserError(config.origin() + ": model.bidirectional: only unit lstm can be bidirectional, got " +
                    nn::asr_unit_name(unit));
  if (e.model.trainable_decay() && e.model.decay() >= 1.0)
    throw UserError(config.origin() + ": model.decay must be < 1 with trainable_decay");
  m.finish();

  auto t = root.section("train");
  auto& o = e.train;
  o.epochs = t.integer("epochs", o.epochs, 0, 100000);
  o.batch_size = t.integer("batch_size", o.batch_size, 1, 4096);
  o.learning_rate = t.number_above("learning_rate", o.learning_rate, 0, "a positive number");
  o.weight_decay = t.number("weight_decay", o.weight_decay, 0, 10);
  o.clip = t.number("clip", o.clip, 0, 1e9);
  o.one_cycle = t.choice("schedule", "one_cycle", {"one_cycle", "constant"}) == "one_cycle";
  o.reduction = parse_rnnt_reduction(t.string("loss_reduction", "mean"), config.origin() + ": train.loss_reduction");
  o.decoding.beam = t.integer("beam", 0, 0, 64);
  o.decoding.method = parse_beam_method(t.choice("search", "modified", {"modified", "graves", "alsd"}),
                               config.origin() + ": train.search");
  o.decoding.length_norm = t.boolean("length_norm", false);
  o.decoding.max_sym_per_frame = t.integer("max_sym_per_frame", 3, 1, 100);
  o.limit_train = t.integer("limit_train", 0, 0);
  o.limit_valid = t.integer("limit_valid", 0, 0);
  o.limit_test = t.integer("limit_test", 0, 0);
  e.features.spec_augment = t.boolean("spec_augment", false);
  e.features.noise = t.boolean("noise", false);
  e.features.reverb = t.boolean("reverb", false);
  t.finish();
  root.finish();
  e.effective_yaml = config.effective_yaml();
  return e;
}

PredictorOutput ModelTransducer::predict(int64_t symbol, const PredictorOutput* prev) {
  ++predictor_calls;
  PredictorOutput out;
  if (prev != nullptr) out.state = prev->state;
  out.out = model_->predict_step(torch::tensor({symbol}, torch::kLong), out.state)[0];
  return out;
}

torch::Tensor ModelTransducer::joint(const torch::Tensor& f_t, const torch::Tensor& p) {
  ++joint_calls;
  return model_->joint_step(f_t, p);
}

std::string transcribe_features(nn::RnntModel& model, const torch::Tensor& x, const BeamOptions& decoder,
                                ModelTransducer* counter) {
  torch::NoGradGuard no_grad;
  auto f = model->encode(x.unsqueeze(1), torch::tensor({x.size(0)})).select(1, 0);
  ModelTransducer local(model);
  ModelTransducer& t = counter ? *counter : local;
  auto codes = decode(t, f, decoder);
  return data::decode_transcript(codes);
}

torch::Tensor rnnt_batch_loss(nn::RnntModel& model, const AsrBatch& b, RnntReduction reduction) {
  auto f = model->encode(b.x, b.x_lengths).transpose(0, 1);  // [B, T, E]
  auto p = model->predict(b.y);                              // [B, U+1, P]
  auto logits = model->joint(f, p);
  return rnnt_loss(logits, b.y, b.x_lengths, b.y_lengths, RnntLossOptions().reduction(reduction));
}

namespace {

double lr_at(const AsrTrainOptions& o, int64_t step, int64_t total) {
  if (!o.one_cycle || total <= 1) return o.learning_rate;
  const double x = static_cast<double>(step) / (total - 1);
  const double warm = 0.3;
  if (x < warm) return o.learning_rate * (0.04 + 0.96 * x / warm);
  return o.learning_rate * (0.5 * (1 + std::cos(M_PI * (x - warm) / (1 - warm)))) + 1e-6;
}

// Median wall time of one streaming step (encoder + prediction + joint) at batch 1.
double step_latency_ms(nn::RnntModel& model, int64_t dim) {
  if (model->options.bidirectional()) return std::nan("");
  torch::NoGradGuard no_grad;
  nn::EncoderState es;
  nn::AsrUnitState ps;
  auto x = torch::randn({1, dim});
  std::vector<double> ms;
  for (int i = 0; i < 60; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto f = model->encode_step(x, es);
    auto p = model->predict_step(torch::zeros({1}, torch::kLong), ps);
    auto l = model->joint_step(f, p);
    (void)l.argmax().item<int64_t>();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin() + 10, ms.end());
  return ms[10 + (ms.size() - 10) / 2];
}

}  // namespace

AsrEvaluation evaluate(nn::RnntModel& model, const AsrSplit& split,
                       const data::FeatureStats& stats, const AsrExperiment& e, const BeamOptions& decoder) {
  torch::NoGradGuard no_grad;
  model->eval();
  AsrEvaluation r;
  ErrorRates rates;
  ModelTransducer counter(model);
  double loss_sum = 0;
  const auto batches = length_batches(split, e.train.batch_size, nullptr);
  for (const auto& idx : batches) {
    const AsrBatch b = make_batch(split, idx, stats, e.features);
    loss_sum += rnnt_batch_loss(model, b, RnntReduction::Sum).item<double>();
    auto f = model->encode(b.x, b.x_lengths);
    for (size_t j = 0; j < idx.size(); ++j) {
      const int64_t T = b.x_lengths[j].item<int64_t>();
      auto fj = f.slice(0, 0, T).select(1, static_cast<int64_t>(j));
      auto codes = decode(counter, fj, decoder);
      const std::string hyp = data::decode_transcript(codes);
      rates.add(split.texts[idx[j]], hyp);
      if (r.examples.size() < 5) r.examples.emplace_back(split.texts[idx[j]], hyp);
      r.audio_seconds += static_cast<double>(split.features[idx[j]].size(0)) * e.features.features.hop /
                         e.features.features.sample_rate;
    }
  }
  r.loss = loss_sum / std::max<int64_t>(1, split.size());
  r.wer = rates.wer();
  r.cer = rates.cer();
  r.decode_macs = static_cast<double>(counter.predictor_calls * model->predictor_macs_per_symbol() +
                                      counter.joint_calls * model->joint_macs());
  model->train();
  return r;
}

void run_asr(const AsrExperiment& e, RunDir& run) {
  seed_everything(e.keys.seed);
  const auto corpus = data::load_speech_corpus(e.corpus);
  const auto& fo = e.features.features;
  const AsrSplit train = load_split(corpus, "train", fo, e.train.limit_train);
  const AsrSplit valid = load_split(corpus, "valid", fo, e.train.limit_valid);
  const AsrSplit test = load_split(corpus, "test", fo, e.train.limit_test);
  const data::FeatureStats stats = data::feature_stats(train.features);
  write_atomic_with(run.file("features.pt"), [&](const std::string& tmp) {
    torch::save(std::vector<torch::Tensor>{stats.mean, stats.std}, tmp);
  });

  nn::RnntModel model(e.model);
  auto params = model->parameters();
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(e.train.learning_rate)
                                      .weight_decay(e.train.weight_decay));
  int64_t done = 0;
  if (const auto last = learn::last_checkpoint(run.checkpoints()); !last.empty()) {
    done = learn::load_checkpoint(last, *model, &opt);
    run.filter_metrics([&](const nlohmann::json& r) {
      return r.value("kind", "") == "epoch" && r.value("epoch", int64_t{0}) <= done;
    });
    spdlog::info("asr: resumed after epoch {} from {}", done, last);
  }
  std::mt19937_64 rng(derive_seed(e.keys.seed, "asr-batches"));
  for (int64_t i = 0; i < done; ++i) length_batches(train, e.train.batch_size, &rng);  // same order as unbroken
  const int64_t per_epoch = (train.size() + e.train.batch_size - 1) / e.train.batch_size;
  const int64_t total = per_epoch * e.train.epochs;
  spdlog::info("asr: {} encoder, {} x {}, {} train / {} valid / {} test utterances, {} batches per epoch",
               nn::asr_unit_name(e.model.unit()), e.model.layers(), e.model.hidden(), train.size(),
               valid.size(), test.size(), per_epoch);
  double train_seconds = 0;
  for (int64_t epoch = done + 1; epoch <= e.train.epochs; ++epoch) {
    model->train();
    Progress progress(fmt::format("epoch {}/{}", epoch, e.train.epochs), per_epoch, "batch");
    double sum = 0;
    int64_t count = 0, step = (epoch - 1) * per_epoch;
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& idx : length_batches(train, e.train.batch_size, &rng)) {
      const AsrBatch b = make_batch(train, idx, stats, e.features, &rng);
      for (auto& g : opt.param_groups())
        static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr_at(e.train, step, total));
      opt.zero_grad();
      auto loss = rnnt_batch_loss(model, b, e.train.reduction);
      const double l = loss.item<double>();
      if (!std::isfinite(l))
        throw UserError(fmt::format("asr: the training loss became {} in epoch {}; lower "
                                    "train.learning_rate or set train.clip", l, epoch));
      loss.backward();
      if (e.train.clip > 0) torch::nn::utils::clip_grad_norm_(params, e.train.clip);
      opt.step();
      sum += l;
      ++count, ++step;
      progress.advance(1, fmt::format("loss {:.3f}", sum / count));
    }
    train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto v = evaluate(model, valid, stats, e, e.train.decoder(0));
    progress.finish(fmt::format("loss {:.3f}, valid CER {:.3f} WER {:.3f}", sum / std::max<int64_t>(1, count),
                                v.cer, v.wer));
    run.log_metrics({{"kind", "epoch"}, {"epoch", epoch}, {"train_loss", sum / std::max<int64_t>(1, count)},
                     {"valid_loss", v.loss}, {"valid_wer", v.wer}, {"valid_cer", v.cer}});
    learn::save_checkpoint(run.checkpoints(), *model, &opt, epoch);
  }
  const auto te = evaluate(model, test, stats, e, e.train.decoding);
  const double frames_per_s = static_cast<double>(fo.sample_rate) / (fo.hop * fo.stack);
  const double enc = static_cast<double>(model->encoder_macs_per_frame());
  const double macs_per_s = enc * frames_per_s + te.decode_macs / std::max(te.audio_seconds, 1e-9);
  const double latency = step_latency_ms(model, fo.dim());
  int64_t enc_weights = 0;
  for (const auto& p : model->encoder->parameters()) enc_weights += p.numel();
  if (model->encoder_backward)
    for (const auto& p : model->encoder_backward->parameters()) enc_weights += p.numel();
  run.log_metrics({{"kind", "test"}, {"test_wer", te.wer}, {"test_cer", te.cer}, {"test_loss", te.loss},
                   {"encoder_macs_per_frame", enc}, {"macs_per_audio_second", macs_per_s},
                   {"latency_ms_per_frame_compute", latency},
                   {"algorithmic_latency_ms", model->options.bidirectional() ? -1.0 : 45.0},
                   {"encoder_parameters", enc_weights}, {"train_seconds", train_seconds},
                   {"decoder", describe(e.train.decoding)}});
  write_atomic_with(run.file("model.pt"), [&](const std::string& tmp) {
    torch::serialize::OutputArchive archive;
    model->save(archive);
    archive.save_to(tmp);
  });
  std::vector<std::string> summary = {
      fmt::format("encoder: {} x {} {} units{}; prediction {} x {}; joint {}", e.model.layers(),
                  e.model.hidden(), nn::asr_unit_name(e.model.unit()),
                  e.model.bidirectional() ? " (bidirectional)" : "",
                  e.model.predictor_lstm() ? "lstm" : nn::asr_unit_name(e.model.unit()),
                  e.model.predictor_hidden(), e.model.joint()),
      fmt::format("corpus: {} ({} / {} / {} utterances), test voices unseen in training",
                  e.corpus.task, train.size(), valid.size(), test.size()),
      fmt::format("**test CER {:.4f}, WER {:.4f}** ({} decoding)", te.cer, te.wer,
                  describe(e.train.decoding)),
      fmt::format("encoder parameters {}, encoder MACs per frame {:.0f}, MACs per second of audio {:.3g}",
                  enc_weights, enc, macs_per_s),
      fmt::format("latency per frame: {} algorithmic + {:.3f} ms compute (median, batch 1)",
                  model->options.bidirectional() ? "whole utterance" : "45 ms", latency)};
  for (const auto& [ref, hyp] : te.examples) summary.push_back(fmt::format("`{}` -> `{}`", ref, hyp));
  if (e.model.unit() == nn::AsrUnitKind::snu_aa)
    summary.push_back("SNU-AA: the soma spikes (z binary) but the gate makes y graded");
  write_run_report(run, "ASR: RNN-T on " + e.corpus.task, summary);
  spdlog::info("asr: test CER {:.4f}, WER {:.4f}", te.cer, te.wer);
}

AsrRun load_asr_run(const std::string& dir) {
  RunDir run = RunDir::open(dir);
  Config config = Config::load(run.file("config.yaml"));
  AsrRun r;
  r.experiment = AsrExperiment::build(config);
  for (const char* f : {"model.pt", "features.pt"})
    if (!std::filesystem::exists(run.file(f)))
      throw UserError("run directory " + dir + " has no " + f +
                      " (is the training finished? `neurocore train` writes it at the end)");
  r.model = nn::RnntModel(r.experiment.model);
  torch::serialize::InputArchive archive;
  archive.load_from(run.file("model.pt"));
  r.model->load(archive);
  r.model->eval();
  std::vector<torch::Tensor> st;
  torch::load(st, run.file("features.pt"));
  if (st.size() != 2) throw UserError(run.file("features.pt") + ": expected mean and std");
  r.stats.mean = st[0];
  r.stats.std = st[1];
  return r;
}

}  // namespace nc::asr
