#pragma once
// Utterances as features and targets for the RNN-T: features computed once per corpus and
// feature setting and cached next to the corpus; normalisation, SpecAugment, stacking and
// batching (asr.md §0 "Features", "Augmentation").
#include <torch/types.h>

#include <random>
#include <string>
#include <vector>

#include "neurocore/data/speech_corpus.h"
#include "neurocore/data/speech_features.h"

namespace nc::asr {

struct AsrFeatureOptions {
  data::FeatureOptions features;
  bool per_utterance = false;  ///< normalisation: global (DEFAULT, streaming-safe) or per utterance
  bool spec_augment = false;   ///< training batches only
  data::SpecAugmentOptions spec;
  bool noise = false;   ///< training: additive white noise at SNR ~ U[10, 30] dB
  bool reverb = false;  ///< training: synthetic room response, RT60 ~ U[0.2, 0.6] s
};

/// One split: raw (unstacked, unnormalised) features, targets and texts.
struct AsrSplit {
  std::vector<torch::Tensor> features;  ///< each [n_i, d] float
  std::vector<std::vector<int64_t>> targets;
  std::vector<std::string> texts, wavs;
  int64_t size() const { return static_cast<int64_t>(features.size()); }
};

/// Features of a corpus split, from `<corpus>/features-<split>-<setting>.pt` when present,
/// else computed (with a progress bar) and saved there. Throws UserError for a transcript
/// outside the vocabulary (naming the utterance).
AsrSplit load_split(const data::SpeechCorpus& corpus, const std::string& split,
                    const data::FeatureOptions& features, int64_t limit = 0);

struct AsrBatch {
  torch::Tensor x;         ///< [T, B, dim] stacked, normalised
  torch::Tensor x_lengths; ///< [B] int64 (stacked frames)
  torch::Tensor y;         ///< [B, U_max] int64 (padded with 1, never read)
  torch::Tensor y_lengths; ///< [B] int64
};

/// The model input of one utterance's raw features x [n, d]: normalise (global with `stats`,
/// or per utterance), SpecAugment when rng is given and enabled, stack.
torch::Tensor prepare_features(const torch::Tensor& raw, const data::FeatureStats& stats,
                               const AsrFeatureOptions& o, std::mt19937_64* rng = nullptr);

/// A padded batch of utterances `index` of `split`; `rng` non-null: training augmentation.
AsrBatch make_batch(const AsrSplit& split, const std::vector<int64_t>& index,
                    const data::FeatureStats& stats, const AsrFeatureOptions& o,
                    std::mt19937_64* rng = nullptr);

/// Batches of `batch_size` utterances of similar length (sorted by length, then chunked);
/// the batches' order is shuffled when rng is given.
std::vector<std::vector<int64_t>> length_batches(const AsrSplit& split, int64_t batch_size,
                                                 std::mt19937_64* rng);

}  // namespace nc::asr
