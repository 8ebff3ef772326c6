// WAV reader, resampler and speech features against closed forms (asr.md §10, property 9) and
// the bad inputs of issue #25 (non-WAV, empty, stereo, 8-bit, out-of-vocabulary transcript).
#include <gtest/gtest.h>
#include <sndfile.h>
#include <torch/torch.h>

#include <unistd.h>

#include <cmath>
#include <complex>
#include <filesystem>
#include <fstream>

#include "neurocore/core/error.h"
#include "neurocore/data/speech_features.h"
#include "neurocore/data/speech_text.h"
#include "neurocore/data/wav.h"

namespace nc::data {
namespace {

std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("nc_asr_features_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::vector<float> sine(double hz, double amplitude, double phase, int64_t n, int64_t fs) {
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i)
    x[i] = static_cast<float>(amplitude * std::sin(2 * M_PI * hz * i / fs + phase));
  return x;
}

TEST(SpeechFeatures, FrameCountFormula) {
  FeatureOptions o;
  for (int64_t n : {0, 399, 400, 401, 559, 560, 16000, 16123}) {
    const int64_t expect = n < 400 ? 0 : 1 + (n - 400) / 160;
    EXPECT_EQ(frame_count(n, o), expect) << n;
    EXPECT_EQ(speech_features(std::vector<float>(n, 0.1f), o).size(0), expect) << n;
  }
}

TEST(SpeechFeatures, SineEqualsClosedFormAndPeaksInTheOneKilohertzBin) {
  FeatureOptions o;
  const double hz = 1000, A = 0.5, phase = 0.3;
  const int64_t fs = 16000, n = 4000;
  auto x = sine(hz, A, phase, n, fs);
  auto feats = speech_features(x, o).to(torch::kDouble);
  // Closed form of a pre-emphasised sine: A |1 - a e^{-j w}| sin(w n + phase + arg(...)),
  // windowed by the symmetric Hamming window and transformed by a direct DFT.
  const double w0 = 2 * M_PI * hz / fs;
  const std::complex<double> gain = 1.0 - o.preemphasis * std::exp(std::complex<double>(0, -w0));
  auto fb = mel_filterbank(o);
  for (int64_t frame : {1, 7, 20}) {
    auto power = torch::zeros({o.n_fft / 2 + 1}, torch::kDouble);
    for (int64_t k = 0; k <= o.n_fft / 2; ++k) {
      std::complex<double> acc = 0;
      for (int64_t m = 0; m < o.window; ++m) {
        const double win = 0.54 - 0.46 * std::cos(2 * M_PI * m / (o.window - 1));
        const double t = static_cast<double>(frame * o.hop + m);
        const double y = A * std::abs(gain) * std::sin(w0 * t + phase + std::arg(gain));
        acc += win * y * std::exp(std::complex<double>(0, -2 * M_PI * k * m / o.n_fft));
      }
      power[k] = std::norm(acc);
    }
    auto expect = torch::matmul(fb, power).clamp_min(1e-10).log();
    EXPECT_LT((feats[frame] - expect).abs().max().item<double>(), 1e-3) << frame;
  }
  // The loudest mel filter is the one whose triangle peaks nearest 1 kHz.
  const int64_t peak = feats.mean(0).argmax().item<int64_t>();
  double best = 1e9;
  int64_t nearest = -1;
  const double lo = hz_to_mel(o.f_min), hi = hz_to_mel(o.f_max);
  for (int64_t m = 0; m < o.n_mels; ++m) {
    const double c = mel_to_hz(lo + (hi - lo) * (m + 1) / (o.n_mels + 1));
    if (std::abs(c - hz) < best) best = std::abs(c - hz), nearest = m;
  }
  EXPECT_EQ(peak, nearest);
  EXPECT_GT(fb[peak][32].item<double>(), 0.0);  // 1 kHz = FFT bin 32 lies in it
}

TEST(SpeechFeatures, MfccIsTheOrthonormalDctOfLogMel) {
  FeatureOptions o;
  auto x = sine(440, 0.3, 0, 3000, 16000);
  auto mel = speech_features(x, o).to(torch::kDouble);
  FeatureOptions om = o;
  om.mfcc = o.n_mels;  // the full DCT is orthonormal: it keeps the norm
  auto c = speech_features(x, om).to(torch::kDouble);
  EXPECT_LT((c.norm(2, 1) - mel.norm(2, 1)).abs().max().item<double>(), 1e-3);
  EXPECT_LT((c.select(1, 0) - mel.sum(1) / std::sqrt(40.0)).abs().max().item<double>(), 1e-3);
  om.mfcc = 13;
  EXPECT_EQ(speech_features(x, om).size(1), 13);
}

TEST(SpeechFeatures, StackingNormalisationAndSpecAugment) {
  auto x = torch::arange(14, torch::kFloat).reshape({7, 2});
  auto s = stack_frames(x, 3);
  ASSERT_EQ(s.sizes(), (std::vector<int64_t>{2, 6}));
  EXPECT_TRUE(torch::equal(s[1], torch::tensor({6.f, 7.f, 8.f, 9.f, 10.f, 11.f})));
  auto u = torch::randn({50, 4}) * 3 + 2;
  auto n = normalize_utterance(u);
  EXPECT_LT(n.mean(0).abs().max().item<double>(), 1e-5);
  auto st = feature_stats({u.slice(0, 0, 20), u.slice(0, 20)});
  EXPECT_LT((normalize_global(u, st) - n).abs().max().item<double>(), 1e-4);
  std::mt19937_64 rng(1);
  auto f = torch::randn({100, 40}) + 10;
  auto a = spec_augment(f, SpecAugmentOptions{}, rng);
  const int64_t zero_cols = (a == 0).all(0).sum().item<int64_t>();
  const int64_t zero_rows = (a == 0).all(1).sum().item<int64_t>();
  EXPECT_LE(zero_cols, 14);
  EXPECT_LE(zero_rows, 40);
  // Outside the masked rows and columns the features are unchanged.
  auto keep = (a != 0);
  EXPECT_TRUE(torch::equal(a.masked_select(keep), f.masked_select(keep)));
}

TEST(Wav, RoundTripResamplesToSixteenKilohertz) {
  const std::string p = temp_path("sine22050.wav");
  auto x = sine(1000, 0.5, 0, 22050, 22050);  // one second
  write_wav(p, x, 22050);
  auto a = read_wav(p);
  EXPECT_EQ(a.sample_rate, 16000);
  EXPECT_NEAR(static_cast<double>(a.samples.size()), 16000.0, 2.0);
  // Still a 1 kHz sine of amplitude 0.5 (away from the edges).
  auto ref = sine(1000, 0.5, 0, static_cast<int64_t>(a.samples.size()), 16000);
  double err = 0;
  for (size_t i = 1000; i + 1000 < a.samples.size(); ++i)
    err = std::max(err, std::abs(static_cast<double>(a.samples[i]) - ref[i]));
  EXPECT_LT(err, 2e-3);
  auto same = read_wav(p, 22050);
  EXPECT_EQ(same.samples.size(), x.size());
}

void write_raw(const std::string& p, int format, int channels, int64_t frames) {
  SF_INFO info{};
  info.samplerate = 16000;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  std::vector<float> data(frames * channels, 0.25f);
  sf_writef_float(f, data.data(), frames);
  sf_close(f);
}

void expect_user_error(const std::string& p, const std::string& part) {
  try {
    read_wav(p);
    ADD_FAILURE() << p << " was accepted";
  } catch (const UserError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(p), std::string::npos) << what;
    EXPECT_NE(what.find(part), std::string::npos) << what;
  }
}

TEST(Wav, BadInputIsAUserErrorNamingTheFileAndWhatWasFound) {
  const std::string text = temp_path("not.wav");
  std::ofstream(text) << "this is not audio\n";
  expect_user_error(text, "not a readable audio file");
  const std::string empty = temp_path("empty.wav");
  std::ofstream(empty).close();
  expect_user_error(empty, "empty");
  const std::string stereo = temp_path("stereo.wav");
  write_raw(stereo, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 2, 100);
  expect_user_error(stereo, "2 channels");
  const std::string u8 = temp_path("u8.wav");
  write_raw(u8, SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 1, 100);
  expect_user_error(u8, "8-bit");
  const std::string nosamples = temp_path("nosamples.wav");
  write_raw(nosamples, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 0);
  expect_user_error(nosamples, "no samples");
  const std::string aiff = temp_path("tone.aiff");
  write_raw(aiff, SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 1, 100);
  expect_user_error(aiff, "not a WAV");
  const std::string fl = temp_path("float.wav");
  write_raw(fl, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 100);
  EXPECT_EQ(read_wav(fl).samples.size(), 100u);
  expect_user_error(temp_path("missing.wav"), "not found");
}

TEST(SpeechText, VocabularyAndCleaning) {
  EXPECT_EQ(clean_transcript("Ge1:1 In the BEGINNING, God's  heaven."), "ge in the beginning god's heaven");
  auto codes = encode_transcript("ab z'", "t");
  EXPECT_EQ(codes, (std::vector<int64_t>{1, 2, 28, 26, 27}));
  EXPECT_EQ(decode_transcript({0, 1, 0, 2, 28, 26, 27}), "ab z'");
  EXPECT_THROW(encode_transcript("hello!", "manifest line 3"), UserError);
  EXPECT_THROW(encode_transcript("Hello", "manifest line 3"), UserError);
}

TEST(SpeechAugment, NoiseMeetsItsSnrAndReverbKeepsLengthAndPeak) {
  std::mt19937_64 rng(3);
  auto x = sine(300, 0.5, 0, 16000, 16000);
  auto y = add_noise(x, 20.0, rng);
  double ps = 0, pn = 0;
  for (size_t i = 0; i < x.size(); ++i) ps += x[i] * x[i], pn += (y[i] - x[i]) * (y[i] - x[i]);
  EXPECT_NEAR(10 * std::log10(ps / pn), 20.0, 0.2);
  auto r = add_reverb(x, 0.3, 16000, rng);
  ASSERT_EQ(r.size(), x.size());
  float peak = 0;
  for (float v : r) peak = std::max(peak, std::abs(v));
  EXPECT_NEAR(peak, 0.5, 1e-4);
}

}  // namespace
}  // namespace nc::data
