#pragma once
// The one audio reader (asr.md §0 "Audio input"): libsndfile for mono 16-bit PCM or float WAV
// at any sample rate, resampled in process with libsamplerate, for the corpus and for
// `neurocore transcribe` alike (two resamplers would make training and test features differ).
#include <cstdint>
#include <string>
#include <vector>

namespace nc::data {

/// The sample rate every feature is computed at.
inline constexpr int64_t kSpeechSampleRate = 16000;

struct Audio {
  std::vector<float> samples;  ///< in [-1, 1]
  int64_t sample_rate = 0;
};

/// Reads `path` and resamples it to `target_rate` (unchanged when equal). Throws UserError
/// naming the file and what was found when it is missing, not a WAV file, empty, not mono, or
/// not 16-bit PCM / 32-bit float (8-bit, 24-bit, ... are refused).
Audio read_wav(const std::string& path, int64_t target_rate = kSpeechSampleRate);

/// Band-limited resampling (libsamplerate, SRC_SINC_MEDIUM_QUALITY). Throws UserError for
/// rates <= 0.
std::vector<float> resample(const std::vector<float>& samples, int64_t from_rate,
                            int64_t to_rate);

/// Writes a mono 16-bit PCM WAV atomically (temporary file + rename); samples are clipped to
/// [-1, 1]. Throws UserError when the file cannot be written.
void write_wav(const std::string& path, const std::vector<float>& samples, int64_t sample_rate);

}  // namespace nc::data
