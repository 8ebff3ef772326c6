#pragma once
// Speech features (asr.md §0 "Features", §8): log-mel filterbanks from torch::stft (optional
// MFCC), causal frame stacking, normalisation, SpecAugment, and waveform noise / reverberation.
#include <torch/types.h>

#include <cstdint>
#include <random>
#include <vector>

namespace nc::data {

struct FeatureOptions {
  int64_t sample_rate = 16000;
  double preemphasis = 0.97;  ///< y[n] = x[n] - a x[n-1]; 0 disables
  int64_t window = 400;       ///< 25 ms Hamming window
  int64_t hop = 160;          ///< 10 ms
  int64_t n_fft = 512;
  int64_t n_mels = 40;
  double f_min = 20.0, f_max = 8000.0;
  /// 0: log-mel. > 0: MFCC, the first `mfcc` coefficients of the orthonormal DCT-II of the
  /// log-mel (asr.md §0: 13).
  int64_t mfcc = 0;
  /// Frames stacked into one (asr.md §0: 3, a 30 ms frame rate).
  int64_t stack = 3;
  /// Feature dimension after stacking.
  int64_t dim() const { return (mfcc > 0 ? mfcc : n_mels) * stack; }
};

/// HTK mel scale: mel(f) = 2595 log10(1 + f / 700), and its inverse.
double hz_to_mel(double hz);
double mel_to_hz(double mel);

/// Triangular mel filters [n_mels, n_fft/2 + 1] (float64): filter m rises linearly from
/// centre m-1 to centre m and falls to centre m+1, with n_mels + 2 centres equally spaced in
/// mel between f_min and f_max, evaluated at the FFT bins' frequencies; peak value 1.
torch::Tensor mel_filterbank(const FeatureOptions& o);

/// Number of analysis frames of N samples: 1 + floor((N - window) / hop), 0 when N < window.
int64_t frame_count(int64_t n_samples, const FeatureOptions& o);

/// Log-mel (or MFCC) features [frame_count, n_mels or mfcc] (float32): pre-emphasis, Hamming
/// window of `window` samples at hop `hop` (no padding: frame i covers samples
/// [i hop, i hop + window)), n_fft-point power spectrum, mel filters, log(max(E, 1e-10)).
/// Not stacked. Empty input (fewer samples than a window) gives [0, dim].
torch::Tensor speech_features(const std::vector<float>& samples, const FeatureOptions& o);

/// Causal stacking: frame k = [x_{sk}, x_{sk+1}, ..., x_{sk+s-1}] for k < floor(n / s).
/// x [n, d] -> [floor(n / s), s d].
torch::Tensor stack_frames(const torch::Tensor& x, int64_t s);

/// Per-dimension mean and standard deviation (floored at 1e-5) of feature frames.
struct FeatureStats {
  torch::Tensor mean, std;
  bool defined() const { return mean.defined(); }
};
/// Statistics over all frames of all utterances (each [n_i, d], unstacked).
FeatureStats feature_stats(const std::vector<torch::Tensor>& utterances);
/// (x - mean) / std with global statistics.
torch::Tensor normalize_global(const torch::Tensor& x, const FeatureStats& s);
/// (x - mean_x) / std_x with the utterance's own statistics (not streaming-safe).
torch::Tensor normalize_utterance(const torch::Tensor& x);

struct SpecAugmentOptions {
  int64_t freq_masks = 2, max_freq_width = 7;
  int64_t time_masks = 2, max_time_width = 20;
};
/// SpecAugment on unstacked, normalised features [n, d]: each mask sets a band of
/// U{0..max_width} bins (frames) starting uniformly at random to 0 (the mean). Returns a copy.
torch::Tensor spec_augment(const torch::Tensor& x, const SpecAugmentOptions& o,
                           std::mt19937_64& rng);

/// Adds white Gaussian noise at `snr_db` dB relative to the signal's mean power.
std::vector<float> add_noise(const std::vector<float>& x, double snr_db, std::mt19937_64& rng);
/// Convolves with a synthetic room response: h[0] = 1 and, after it, Gaussian noise decaying
/// as exp(-6.908 n / (rt60 fs)) (60 dB at rt60), scaled so the tail holds 0.3 of the energy;
/// the output keeps the input's length and peak level.
std::vector<float> add_reverb(const std::vector<float>& x, double rt60, int64_t sample_rate,
                              std::mt19937_64& rng);

}  // namespace nc::data
