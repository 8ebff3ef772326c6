// WAV input and output through libsndfile, resampling through libsamplerate.
#include "neurocore/data/wav.h"

#include <samplerate.h>
#include <sndfile.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "neurocore/core/error.h"

namespace nc::data {
namespace {

std::string subtype_name(int format) {
  switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8: return "8-bit signed PCM";
    case SF_FORMAT_PCM_U8: return "8-bit unsigned PCM";
    case SF_FORMAT_PCM_16: return "16-bit PCM";
    case SF_FORMAT_PCM_24: return "24-bit PCM";
    case SF_FORMAT_PCM_32: return "32-bit PCM";
    case SF_FORMAT_FLOAT: return "32-bit float";
    case SF_FORMAT_DOUBLE: return "64-bit float";
    default: return "encoding 0x" + std::to_string(format & SF_FORMAT_SUBMASK);
  }
}

}  // namespace

Audio read_wav(const std::string& path, int64_t target_rate) {
  if (!std::filesystem::is_regular_file(path))
    throw UserError("audio file " + path + ": not found (expected a WAV file)");
  if (std::filesystem::file_size(path) == 0)
    throw UserError("audio file " + path + ": empty file (expected a mono 16-bit or float WAV)");
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (f == nullptr)
    throw UserError("audio file " + path + ": not a readable audio file (" + sf_strerror(nullptr) +
                    "; expected a mono 16-bit or float WAV)");
  auto fail = [&](const std::string& what) {
    sf_close(f);
    throw UserError("audio file " + path + ": " + what +
                    " (expected a mono 16-bit PCM or 32-bit float WAV)");
  };
  const int major = info.format & SF_FORMAT_TYPEMASK, sub = info.format & SF_FORMAT_SUBMASK;
  if (major != SF_FORMAT_WAV && major != SF_FORMAT_WAVEX) fail("not a WAV file");
  if (info.channels != 1) fail(std::to_string(info.channels) + " channels");
  if (sub != SF_FORMAT_PCM_16 && sub != SF_FORMAT_FLOAT) fail(subtype_name(info.format));
  if (info.frames <= 0) fail("no samples");
  Audio a;
  a.samples.resize(static_cast<size_t>(info.frames));
  const sf_count_t got = sf_readf_float(f, a.samples.data(), info.frames);
  sf_close(f);
  if (got != info.frames)
    throw UserError("audio file " + path + ": truncated (read " + std::to_string(got) + " of " +
                    std::to_string(info.frames) + " samples)");
  a.sample_rate = info.samplerate;
  if (target_rate > 0 && target_rate != a.sample_rate) {
    a.samples = resample(a.samples, a.sample_rate, target_rate);
    a.sample_rate = target_rate;
  }
  return a;
}

std::vector<float> resample(const std::vector<float>& samples, int64_t from_rate,
                            int64_t to_rate) {
  if (from_rate <= 0 || to_rate <= 0)
    throw UserError("resample: sample rates must be > 0, got " + std::to_string(from_rate) +
                    " -> " + std::to_string(to_rate));
  if (from_rate == to_rate || samples.empty()) return samples;
  const double ratio = static_cast<double>(to_rate) / from_rate;
  std::vector<float> out(static_cast<size_t>(samples.size() * ratio) + 16);
  SRC_DATA d{};
  d.data_in = samples.data();
  d.input_frames = static_cast<long>(samples.size());
  d.data_out = out.data();
  d.output_frames = static_cast<long>(out.size());
  d.src_ratio = ratio;
  if (int err = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, 1))
    throw InternalError(std::string("libsamplerate: ") + src_strerror(err));
  out.resize(static_cast<size_t>(d.output_frames_gen));
  return out;
}

void write_wav(const std::string& path, const std::vector<float>& samples, int64_t sample_rate) {
  const std::string tmp = path + ".tmp";
  SF_INFO info{};
  info.samplerate = static_cast<int>(sample_rate);
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
  if (f == nullptr)
    throw UserError("cannot write audio file " + path + ": " + sf_strerror(nullptr));
  std::vector<float> clipped(samples.size());
  std::transform(samples.begin(), samples.end(), clipped.begin(),
                 [](float x) { return std::clamp(x, -1.0f, 1.0f); });
  const sf_count_t n = sf_writef_float(f, clipped.data(), static_cast<sf_count_t>(clipped.size()));
  sf_close(f);
  if (n != static_cast<sf_count_t>(clipped.size()))
    throw UserError("cannot write audio file " + path + ": short write");
  std::filesystem::rename(tmp, path);
}

}  // namespace nc::data
