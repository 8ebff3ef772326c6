#pragma once
// Word and character error rates (asr.md §7): Levenshtein distance with substitutions,
// deletions and insertions each costing 1; corpus rates are sum(S + D + I) / sum(N_ref).
#include <cstdint>
#include <string>
#include <vector>

namespace nc::asr {

struct EditCounts {
  int64_t substitutions = 0, deletions = 0, insertions = 0;
  int64_t reference_length = 0;  ///< N_ref
  int64_t errors() const { return substitutions + deletions + insertions; }
  /// errors / N_ref; with N_ref = 0 the number of errors (0 for an empty hypothesis).
  double rate() const;
  EditCounts& operator+=(const EditCounts& o);
};

/// The counts of one optimal alignment of hyp to ref (among the optimal ones, the fewest
/// substitutions are not guaranteed; S + D + I is the edit distance).
EditCounts edit_counts(const std::vector<std::string>& ref, const std::vector<std::string>& hyp);

/// Lowercase, strip punctuation except the apostrophe, collapse whitespace, trim.
std::string normalize_text(const std::string& text);

/// Word-level counts of the normalised texts.
EditCounts word_errors(const std::string& ref, const std::string& hyp);
/// Character-level counts (spaces included) of the normalised texts.
EditCounts char_errors(const std::string& ref, const std::string& hyp);

/// Corpus-level WER and CER: accumulates counts over utterances.
class ErrorRates {
 public:
  void add(const std::string& ref, const std::string& hyp);
  double wer() const { return words_.rate(); }
  double cer() const { return chars_.rate(); }
  const EditCounts& words() const { return words_; }
  const EditCounts& chars() const { return chars_; }

 private:
  EditCounts words_, chars_;
};

}  // namespace nc::asr
