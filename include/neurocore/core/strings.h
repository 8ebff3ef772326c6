#pragma once
// Small string helpers used in error messages.
#include <string>
#include <vector>

namespace nc {

/// Levenshtein edit distance between a and b.
std::size_t edit_distance(const std::string& a, const std::string& b);

/// The candidate closest to `word` by edit distance, or "" when none is within
/// max(2, |word|/3) edits (too far to be a plausible typo).
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

/// "a, b, c": candidates joined for "expected one of ..." messages.
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");

/// A number for a report, by the fmt format `format` ("{:.4g}": four significant digits, the
/// reports' default). The one number formatter of the reports (compile, pipeline, benches).
std::string format_num(double v, const char* format = "{:.4g}");

}  // namespace nc
