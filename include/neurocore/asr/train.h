#pragma once
// The ASR training loop (asr.md §0 "Training loop"): RNN-T by BPTT on the speech corpus,
// reusing the run directory, checkpoints, resume, progress and reports of the classification
// trainer; WER and CER on the validation split every epoch, on the test split at the end,
// with MACs per second of audio and latency per frame.
#include <torch/types.h>

#include <string>
#include <vector>

#include "neurocore/asr/asr_data.h"
#include "neurocore/asr/decode.h"
#include "neurocore/asr/rnnt_loss.h"
#include "neurocore/core/config.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/nn/rnnt.h"

namespace nc::asr {

struct AsrTrainOptions {
  int64_t epochs = 12;
  int64_t batch_size = 16;
  double learning_rate = 1e-3;
  double weight_decay = 1e-2;  ///< AdamW
  double clip = 5.0;           ///< gradient-norm clip; 0 = none
  bool one_cycle = true;       ///< one-cycle lr (linear warm-up over 30 % of the steps, cosine down)
  RnntReduction reduction = RnntReduction::Mean;
  /// Test decoding (train.beam: 0 = greedy, train.search, train.length_norm,
  /// train.max_sym_per_frame); validation always decodes greedily.
  BeamOptions decoding{0};  // beam 0: greedy
  /// This run's decoding with `beam` in place of train.beam.
  BeamOptions decoder(int64_t beam) const {
    BeamOptions o = decoding;
    o.beam = beam;
    return o;
  }
  int64_t limit_train = 0, limit_valid = 0, limit_test = 0;  ///< utterances; 0 = all
};

/// Everything a run needs, validated before any data is read.
struct AsrExperiment {
  RunKeys keys;
  data::SpeechCorpusOptions corpus;
  AsrFeatureOptions features;
  nn::RnntModelOptions model{1, 1};
  AsrTrainOptions train;
  std::string effective_yaml;
  /// Reads the config (data.name must be `speech`): data (corpus keys, features: logmel |
  /// mfcc, normalization: global | utterance, n_mels, stack), model (unit, layers, hidden,
  /// bidirectional, predictor: same | lstm, embed, predictor_hidden, joint, decay,
  /// trainable_decay, threshold_init, reset: z | y), train (keys of AsrTrainOptions,
  /// spec_augment, noise, reverb). Unknown keys are UserErrors naming them.
  static AsrExperiment build(Config& config);
};

/// Whether a config is an ASR one (data.name: speech): `neurocore train` dispatches on it.
bool is_asr_config(const Config& config);

/// A Transducer over the model (batch 1), counting the MACs of its calls.
class ModelTransducer : public Transducer {
 public:
  explicit ModelTransducer(nn::RnntModel model) : model_(std::move(model)) {}
  PredictorOutput predict(int64_t symbol, const PredictorOutput* prev) override;
  torch::Tensor joint(const torch::Tensor& f_t, const torch::Tensor& p) override;
  int64_t predictor_calls = 0, joint_calls = 0;

 private:
  nn::RnntModel model_;
};

/// The text of one utterance's features x [T, dim] (stacked, normalised).
std::string transcribe_features(nn::RnntModel& model, const torch::Tensor& x,
                                const BeamOptions& decoder = BeamOptions{0},  // greedy
                                ModelTransducer* counter = nullptr);

/// Loss of a padded batch (encoder, prediction network, joint and RNN-T loss), as training
/// computes it: the padding of b.x beyond x_lengths and of b.y beyond y_lengths never reaches
/// an utterance's loss (test AsrTraining.PaddedBatchLossEqualsEachUtteranceAlone).
torch::Tensor rnnt_batch_loss(nn::RnntModel& model, const AsrBatch& b, RnntReduction reduction);

struct AsrEvaluation {
  double loss = 0, wer = 0, cer = 0;
  double decode_macs = 0;  ///< prediction + joint MACs counted while decoding
  double audio_seconds = 0;
  std::vector<std::pair<std::string, std::string>> examples;  ///< (reference, hypothesis)
};
AsrEvaluation evaluate(nn::RnntModel& model, const AsrSplit& split, const data::FeatureStats& stats,
                       const AsrExperiment& e, const BeamOptions& decoder);

/// Trains (resuming from the run's last checkpoint when there is one), evaluates and writes
/// metrics.jsonl, checkpoints/, report.md with plots, model.pt and features.pt (the
/// normalisation statistics) into `run`.
void run_asr(const AsrExperiment& e, RunDir& run);

/// A trained run for inference: the model (eval mode) with its feature settings and stats.
struct AsrRun {
  AsrExperiment experiment;
  nn::RnntModel model{nullptr};
  data::FeatureStats stats;
};
/// Loads RUN_DIR's config.yaml, model.pt and features.pt. Throws UserError naming what is
/// missing.
AsrRun load_asr_run(const std::string& run_dir);

}  // namespace nc::asr
