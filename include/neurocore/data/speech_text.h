#pragma once
// The speech task's character vocabulary (asr.md §0 "Digits", §8): 26 letters, apostrophe and
// space (28 symbols) plus the RNN-T blank at index 0.
#include <cstdint>
#include <string>
#include <vector>

namespace nc::data {

/// The 28 output characters in code order: code i + 1 is kSpeechAlphabet[i]; code 0 = blank.
inline constexpr const char* kSpeechAlphabet = "abcdefghijklmnopqrstuvwxyz' ";
/// Number of output symbols including the blank (29).
inline constexpr int64_t kSpeechVocabSize = 29;

/// Lowercases, maps every character outside [a-z' ] to a space, collapses runs of spaces and
/// trims: how corpus text (KJV verses) becomes a transcript.
std::string clean_transcript(const std::string& text);

/// The codes (1..28) of a transcript. Throws UserError naming `where`, the character and its
/// position when a character is outside the vocabulary (uppercase included: clean first).
std::vector<int64_t> encode_transcript(const std::string& text, const std::string& where);

/// The text of codes; blank (0) is skipped; a code outside [0, 29) is an InternalError.
std::string decode_transcript(const std::vector<int64_t>& codes);

}  // namespace nc::data
