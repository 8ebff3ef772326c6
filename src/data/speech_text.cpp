// The speech vocabulary's encoder and decoder (include/neurocore/data/speech_text.h).
#include "neurocore/data/speech_text.h"

#include <cstring>

#include "neurocore/core/error.h"

namespace nc::data {

std::string clean_transcript(const std::string& text) {
  std::string out;
  for (char ch : text) {
    char c = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
    const bool keep = (c >= 'a' && c <= 'z') || c == '\'';
    if (keep) {
      out += c;
    } else if (!out.empty() && out.back() != ' ') {
      out += ' ';
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::vector<int64_t> encode_transcript(const std::string& text, const std::string& where) {
  std::vector<int64_t> codes;
  codes.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char* p = text[i] ? std::strchr(kSpeechAlphabet, text[i]) : nullptr;
    if (p == nullptr) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      const std::string shown = c >= 32 && c < 127 ? std::string(1, text[i])
                                                   : "byte " + std::to_string(c);
      throw UserError(where + ": character '" + shown + "' at position " + std::to_string(i) +
                      " of transcript \"" + text +
                      "\" is outside the vocabulary (expected a-z, apostrophe or space)");
    }
    codes.push_back(p - kSpeechAlphabet + 1);
  }
  return codes;
}

std::string decode_transcript(const std::vector<int64_t>& codes) {
  std::string out;
  for (int64_t c : codes) {
    if (c < 0 || c >= kSpeechVocabSize)
      throw InternalError("decode_transcript: code " + std::to_string(c) + " out of range");
    if (c > 0) out += kSpeechAlphabet[c - 1];
  }
  return out;
}

}  // namespace nc::data
