// Features, targets and batches of the speech corpus (include/neurocore/asr/asr_data.h).
#include "neurocore/asr/asr_data.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/core/progress.h"
#include "neurocore/data/speech_text.h"
#include "neurocore/data/wav.h"

namespace nc::asr {

AsrSplit load_split(const data::SpeechCorpus& corpus, const std::string& split,
                    const data::FeatureOptions& f, int64_t limit) {
  const auto& utts = corpus.split(split);
  const int64_t n = limit > 0 ? std::min<int64_t>(limit, utts.size()) : utts.size();
  AsrSplit out;
  for (int64_t i = 0; i < n; ++i) {
    out.targets.push_back(data::encode_transcript(utts[i].text, "utterance " + utts[i].id));
    out.texts.push_back(utts[i].text);
    out.wavs.push_back(utts[i].wav);
  }
  const std::string cache =
      fmt::format("{}/features-{}-n{}-m{}-c{}-p{}.pt", corpus.dir, split, n, f.n_mels, f.mfcc,
                  static_cast<int64_t>(std::lround(f.preemphasis * 100)));
  if (std::filesystem::exists(cache)) {
    torch::load(out.features, cache);
    if (out.size() == n) return out;
    out.features.clear();
  }
  Progress progress("features (" + split + ")", n, "utt");
  for (int64_t i = 0; i < n; ++i) {
    out.features.push_back(data::speech_features(data::read_wav(utts[i].wav).samples, f));
    progress.advance();
  }
  progress.finish();
  write_atomic_with(cache, [&](const std::string& tmp) { torch::save(out.features, tmp); });
  return out;
}

torch::Tensor prepare_features(const torch::Tensor& raw, const data::FeatureStats& stats,
                               const AsrFeatureOptions& o, std::mt19937_64* rng) {
  torch::Tensor x = o.per_utterance ? data::normalize_utterance(raw) : data::normalize_global(raw, stats);
  if (rng != nullptr && o.spec_augment) x = data::spec_augment(x, o.spec, *rng);
  return data::stack_frames(x, o.features.stack);
}

namespace {

// Training-time waveform augmentation: re-reads the audio and recomputes the features.
torch::Tensor augmented_raw(const AsrSplit& split, int64_t i, const AsrFeatureOptions& o,
                            std::mt19937_64& rng) {
  auto samples = data::read_wav(split.wavs[i]).samples;
  if (o.reverb)
    samples = data::add_reverb(samples, std::uniform_real_distribution<double>(0.2, 0.6)(rng),
                               o.features.sample_rate, rng);
  if (o.noise)
    samples = data::add_noise(samples, std::uniform_real_distribution<double>(10, 30)(rng), rng);
  return data::speech_features(samples, o.features);
}

}  // namespace

AsrBatch make_batch(const AsrSplit& split, const std::vector<int64_t>& index,
                    const data::FeatureStats& stats, const AsrFeatureOptions& o,
                    std::mt19937_64* rng) {
  const int64_t B = static_cast<int64_t>(index.size());
  std::vector<torch::Tensor> xs;
  int64_t T = 1, U = 0;
  for (int64_t i : index) {
    const bool wave_aug = rng != nullptr && (o.noise || o.reverb);
    const torch::Tensor raw = wave_aug ? augmented_raw(split, i, o, *rng) : split.features[i];
    xs.push_back(prepare_features(raw, stats, o, rng));
    T = std::max(T, xs.back().size(0));
    U = std::max<int64_t>(U, split.targets[i].size());
  }
  AsrBatch b;
  const int64_t d = o.features.dim();
  b.x = torch::zeros({T, B, d});
  b.x_lengths = torch::zeros({B}, torch::kLong);
  b.y = torch::ones({B, std::max<int64_t>(U, 1)}, torch::kLong);
  b.y_lengths = torch::zeros({B}, torch::kLong);
  for (int64_t j = 0; j < B; ++j) {
    const auto& x = xs[j];
    if (x.size(0) == 0)
      throw UserError("utterance " + split.wavs[index[j]] +
                      " is too short for one feature frame (expected at least 65 ms of audio)");
    b.x.slice(0, 0, x.size(0)).select(1, j).copy_(x);
    b.x_lengths[j] = x.size(0);
    const auto& y = split.targets[index[j]];
    for (size_t u = 0; u < y.size(); ++u) b.y[j][static_cast<int64_t>(u)] = y[u];
    b.y_lengths[j] = static_cast<int64_t>(y.size());
  }
  return b;
}

std::vector<std::vector<int64_t>> length_batches(const AsrSplit& split, int64_t batch_size,
                                                 std::mt19937_64* rng) {
  std::vector<int64_t> order(split.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return split.features[a].size(0) < split.features[b].size(0);
  });
  std::vector<std::vector<int64_t>> batches;
  for (size_t i = 0; i < order.size(); i += batch_size)
    batches.emplace_back(order.begin() + i,
                         order.begin() + std::min(order.size(), i + static_cast<size_t>(batch_size)));
  if (rng != nullptr) std::shuffle(batches.begin(), batches.end(), *rng);
  return batches;
}

}  // namespace nc::asr
