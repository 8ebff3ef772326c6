#pragma once
// The synthetic speech corpus (asr.md §0, §8): digit strings or short KJV phrases spoken by
// espeak-ng with many voices, variants, speeds and pitches; split by speaker (test voices are
// never heard in training); rendered once into the data cache as 16 kHz mono 16-bit WAVs
// (read back through the one WAV reader, resampled with libsamplerate) with a manifest.
#include <cstdint>
#include <string>
#include <vector>

#include "neurocore/core/config.h"

namespace nc::data {

struct SpeechCorpusOptions {
  std::string task = "digits";  ///< digits | kjv
  /// Utterances per split; 0 = the task's default (digits 2000 / 200 / 200, kjv 2000 / 200 / 300).
  int64_t train = 0, valid = 0, test = 0;
  int64_t max_words = 6;  ///< kjv: words per phrase (asr.md §0: 6)
  uint64_t seed = 0;      ///< the corpus's own seed (not the run's): one corpus for all runs
  std::string dir;        ///< "" = $NC_DATA/speech/<task>-<seed>-<train>-<valid>-<test>[-w<max_words>]
  std::string kjv_path;   ///< "" = $NC_DATA/kjv.txt

  /// Reads `task`, `train`, `valid`, `test`, `max_words`, `seed`, `dir`, `kjv_path` of the
  /// `data` section (other keys are left to the caller). Throws UserError naming the field.
  static SpeechCorpusOptions from_config(ConfigSection section);
  /// Sizes with the defaults filled in.
  SpeechCorpusOptions resolved() const;
};

struct Utterance {
  std::string id, split, wav;  ///< wav: absolute path
  int64_t n_samples = 0;
  std::string voice, variant;
  int64_t rate = 0, pitch = 0;
  std::string text;
};

struct SpeechCorpus {
  std::string dir;
  std::vector<Utterance> train, valid, test;
  const std::vector<Utterance>& split(const std::string& name) const;
};

/// The speakers (voice, variant) of a split (asr.md §8, step 4).
struct Speaker {
  std::string voice, variant;
};
std::vector<Speaker> split_speakers(const std::string& split);

/// Digit strings: 1-7 digits, each spoken as its word, 0 as "zero" or "oh" with p = 1/2.
std::string random_digit_string(uint64_t seed, int64_t index);
/// KJV phrases of a book split ("train", "valid", "test"): each verse cut at word boundaries
/// into roughly equal chunks of at most max_words words, cleaned (clean_transcript).
std::vector<std::string> kjv_phrases(const std::string& kjv_path, const std::string& split,
                                     int64_t max_words);

/// The corpus: read from its directory when the manifest is there, else rendered once (with a
/// progress bar) into it. Throws UserError when espeak-ng is missing (naming the package), when
/// a rendering fails, or when the manifest is malformed.
SpeechCorpus load_speech_corpus(const SpeechCorpusOptions& options);

/// Copies the first `count` utterances of `split` into `out` (WAV + .txt transcript each) and
/// returns the written WAV paths.
std::vector<std::string> export_speech(const SpeechCorpus& corpus, const std::string& split,
                                       int64_t count, const std::string& out);

}  // namespace nc::data
