// Speech features (include/neurocore/data/speech_features.h).
#include "neurocore/data/speech_features.h"

#include <torch/torch.h>

#include <cmath>

#include "neurocore/core/error.h"

namespace nc::data {

double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

torch::Tensor mel_filterbank(const FeatureOptions& o) {
  const int64_t bins = o.n_fft / 2 + 1;
  const double lo = hz_to_mel(o.f_min), hi = hz_to_mel(o.f_max);
  std::vector<double> centre(o.n_mels + 2);
  for (int64_t i = 0; i < o.n_mels + 2; ++i)
    centre[i] = mel_to_hz(lo + (hi - lo) * i / (o.n_mels + 1));
  auto fb = torch::zeros({o.n_mels, bins}, torch::kDouble);
  auto a = fb.accessor<double, 2>();
  for (int64_t m = 0; m < o.n_mels; ++m)
    for (int64_t k = 0; k < bins; ++k) {
      const double f = static_cast<double>(k) * o.sample_rate / o.n_fft;
      const double up = (f - centre[m]) / (centre[m + 1] - centre[m]);
      const double down = (centre[m + 2] - f) / (centre[m + 2] - centre[m + 1]);
      a[m][k] = std::max(0.0, std::min(up, down));
    }
  return fb;
}

int64_t frame_count(int64_t n, const FeatureOptions& o) {
  return n < o.window ? 0 : 1 + (n - o.window) / o.hop;
}

torch::Tensor speech_features(const std::vector<float>& samples, const FeatureOptions& o) {
  const int64_t n = static_cast<int64_t>(samples.size());
  const int64_t frames = frame_count(n, o);
  const int64_t dim = o.mfcc > 0 ? o.mfcc : o.n_mels;
  if (frames == 0) return torch::zeros({0, dim});
  auto x = torch::from_blob(const_cast<float*>(samples.data()), {n}, torch::kFloat)
               .to(torch::kDouble);
  if (o.preemphasis != 0.0)
    x = torch::cat({x.slice(0, 0, 1), x.slice(0, 1) - o.preemphasis * x.slice(0, 0, n - 1)});
  // torch::stft centres a shorter window inside n_fft: padding (n_fft - window) / 2 zeros on
  // both sides makes frame i cover exactly samples [i hop, i hop + window).
  const int64_t pad = (o.n_fft - o.window) / 2;
  x = torch::constant_pad_nd(x, {pad, o.n_fft - o.window - pad});
  auto spec = torch::stft(x, o.n_fft, o.hop, o.window,
                          torch::hamming_window(o.window, /*periodic=*/false, torch::kDouble),
                          /*normalized=*/false, /*onesided=*/true, /*return_complex=*/true);
  auto power = spec.abs().pow(2).transpose(0, 1);  // [frames, bins]
  TORCH_CHECK(power.size(0) == frames, "stft frame count ", power.size(0), " != ", frames);
  auto mel = torch::matmul(power, mel_filterbank(o).transpose(0, 1)).clamp_min(1e-10).log();
  if (o.mfcc > 0) {
    // Orthonormal DCT-II: c_j = s_j sum_m x_m cos(pi j (m + 1/2) / M).
    const int64_t M = o.n_mels;
    auto m = torch::arange(M, torch::kDouble) + 0.5;
    auto j = torch::arange(o.mfcc, torch::kDouble).unsqueeze(1);
    auto basis = torch::cos(M_PI * j * m / M) * std::sqrt(2.0 / M);
    basis[0] = basis[0] / std::sqrt(2.0);
    mel = torch::matmul(mel, basis.transpose(0, 1));
  }
  return mel.to(torch::kFloat);
}

torch::Tensor stack_frames(const torch::Tensor& x, int64_t s) {
  TORCH_CHECK(x.dim() == 2 && s >= 1);
  const int64_t k = x.size(0) / s;
  return x.slice(0, 0, k * s).reshape({k, s * x.size(1)});
}

FeatureStats feature_stats(const std::vector<torch::Tensor>& utterances) {
  TORCH_CHECK(!utterances.empty());
  auto all = torch::cat(utterances, 0).to(torch::kDouble);
  FeatureStats s;
  s.mean = all.mean(0).to(torch::kFloat);
  s.std = all.std(0, /*unbiased=*/false).clamp_min(1e-5).to(torch::kFloat);
  return s;
}

torch::Tensor normalize_global(const torch::Tensor& x, const FeatureStats& s) {
  return (x - s.mean) / s.std;
}

torch::Tensor normalize_utterance(const torch::Tensor& x) {
  if (x.size(0) == 0) return x;
  return (x - x.mean(0)) / x.std(0, /*unbiased=*/false).clamp_min(1e-5);
}

torch::Tensor spec_augment(const torch::Tensor& x, const SpecAugmentOptions& o,
                           std::mt19937_64& rng) {
  auto y = x.clone();
  const int64_t n = x.size(0), d = x.size(1);
  auto mask = [&](int64_t count, int64_t max_width, int64_t extent, int64_t axis) {
    for (int64_t i = 0; i < count && extent > 0; ++i) {
      const int64_t w = std::uniform_int_distribution<int64_t>(0, std::min(max_width, extent))(rng);
      const int64_t s = std::uniform_int_distribution<int64_t>(0, extent - w)(rng);
      y.narrow(axis, s, w).zero_();
    }
  };
  mask(o.freq_masks, o.max_freq_width, d, 1);
  mask(o.time_masks, o.max_time_width, n, 0);
  return y;
}

std::vector<float> add_noise(const std::vector<float>& x, double snr_db, std::mt19937_64& rng) {
  double power = 0.0;
  for (float v : x) power += static_cast<double>(v) * v;
  power /= std::max<size_t>(1, x.size());
  const double sd = std::sqrt(power / std::pow(10.0, snr_db / 10.0));
  std::normal_distribution<double> noise(0.0, sd);
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = static_cast<float>(x[i] + noise(rng));
  return y;
}

std::vector<float> add_reverb(const std::vector<float>& x, double rt60, int64_t fs,
                              std::mt19937_64& rng) {
  if (x.empty() || rt60 <= 0) return x;
  const int64_t len = std::max<int64_t>(2, static_cast<int64_t>(rt60 * fs));
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> h(len);
  double tail = 0.0;
  for (int64_t i = 1; i < len; ++i) {
    h[i] = g(rng) * std::exp(-6.908 * i / (rt60 * fs));
    tail += h[i] * h[i];
  }
  const double scale = std::sqrt(0.3 / 0.7 / std::max(tail, 1e-30));
  for (int64_t i = 1; i < len; ++i) h[i] *= scale;
  h[0] = 1.0;
  // FFT convolution through LibTorch (x and h are long: direct convolution is O(N L)).
  const int64_t n = static_cast<int64_t>(x.size());
  const int64_t m = n + len - 1;
  auto xt = torch::from_blob(const_cast<float*>(x.data()), {n}, torch::kFloat).to(torch::kDouble);
  auto ht = torch::from_blob(h.data(), {len}, torch::kDouble);
  auto y = torch::fft::irfft(torch::fft::rfft(xt, m) * torch::fft::rfft(ht, m), m).slice(0, 0, n);
  const double peak_in = xt.abs().max().item<double>();
  const double peak_out = y.abs().max().item<double>();
  if (peak_out > 0) y = y * (peak_in / peak_out);
  y = y.to(torch::kFloat).contiguous();
  return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + n);
}

}  // namespace nc::data
