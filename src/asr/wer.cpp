// Edit distance with a backtrace for S / D / I counts (asr.md §7).
#include "neurocore/asr/wer.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace nc::asr {

double EditCounts::rate() const {
  return reference_length > 0 ? static_cast<double>(errors()) / reference_length
                              : static_cast<double>(errors());
}

EditCounts& EditCounts::operator+=(const EditCounts& o) {
  substitutions += o.substitutions;
  deletions += o.deletions;
  insertions += o.insertions;
  reference_length += o.reference_length;
  return *this;
}

EditCounts edit_counts(const std::vector<std::string>& ref, const std::vector<std::string>& hyp) {
  const size_t n = ref.size(), m = hyp.size();
  // d[i][j]: distance between ref[0..i) and hyp[0..j).
  std::vector<std::vector<int64_t>> d(n + 1, std::vector<int64_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int64_t>(i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int64_t>(j);
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j)
      d[i][j] = std::min({d[i - 1][j - 1] + (ref[i - 1] == hyp[j - 1] ? 0 : 1), d[i - 1][j] + 1,
                          d[i][j - 1] + 1});
  EditCounts c;
  c.reference_length = static_cast<int64_t>(n);
  size_t i = n, j = m;
  while (i > 0 || j > 0) {
    if (i > 0 && j > 0 && d[i][j] == d[i - 1][j - 1] + (ref[i - 1] == hyp[j - 1] ? 0 : 1)) {
      if (ref[i - 1] != hyp[j - 1]) ++c.substitutions;
      --i, --j;
    } else if (i > 0 && d[i][j] == d[i - 1][j] + 1) {
      ++c.deletions;
      --i;
    } else {
      ++c.insertions;
      --j;
    }
  }
  return c;
}

std::string normalize_text(const std::string& text) {
  std::string out;
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isspace(c) || (std::ispunct(c) && ch != '\'')) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += static_cast<char>(std::tolower(c));
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

namespace {
std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}
std::vector<std::string> chars(const std::string& s) {
  std::vector<std::string> c;
  for (char ch : s) c.emplace_back(1, ch);
  return c;
}
}  // namespace

EditCounts word_errors(const std::string& ref, const std::string& hyp) {
  return edit_counts(words(normalize_text(ref)), words(normalize_text(hyp)));
}

EditCounts char_errors(const std::string& ref, const std::string& hyp) {
  return edit_counts(chars(normalize_text(ref)), chars(normalize_text(hyp)));
}

void ErrorRates::add(const std::string& ref, const std::string& hyp) {
  words_ += word_errors(ref, hyp);
  chars_ += char_errors(ref, hyp);
}

}  // namespace nc::asr
