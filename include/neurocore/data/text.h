#pragma once
// A character corpus with fixed train / valid / test splits: the `text` data set, used by
// character-level language modelling (`neurocore lm`, docs/lm.md).
//
// Default source: the King James Bible as `bible -f "Gen1:1-Rev22:21"` prints it (one verse
// per line, "Ge1:1 In the beginning ..."), written to $NC_DATA/kjv.txt by
// scripts/install-deps.sh. Such a file is split by book (66 books, numbered in order):
//   book number % 10 == 5 -> valid   (Deuteronomy, Ezra, Lamentations, Habakkuk, Romans,
//                                     2 Timothy, Jude)
//   book number % 10 == 0 -> test    (2 Samuel, Proverbs, Amos, Matthew, Philippians, 1 Peter)
//   otherwise             -> train   (the other 53 books)
// and each verse becomes one line of text without its "Book C:V " reference. Any other
// UTF-8/ASCII text file (data.path) is split by position: first 90 % train, next 5 % valid,
// last 5 % test (cut at line ends when there are any).
//
// data.validation: true (off by default) holds out the last 10 % of the training text instead
// (cut at a line start, before any limit; fixed, independent of the seed): it becomes the
// `valid` split and is not trained on; the valid books (or the 5 % slice) are then not used.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "neurocore/core/config.h"

namespace nc::data {

struct TextOptions {
  std::string path;         ///< "" = $NC_DATA/kjv.txt (data_cache_dir())
  int64_t limit_train = 0;  ///< keep the first limit_train characters of the split; 0 = all
  int64_t limit_valid = 0;
  int64_t limit_test = 0;
  bool validation = false;  ///< valid = the last 10 % of the training text (see above)

  /// Reads the `data` section of an `lm` config: name (must be `text`), path, limit_train,
  /// limit_valid, limit_test (integers >= 0), validation (boolean); rejects any other key.
  static TextOptions from_config(nc::ConfigSection section);
};

struct TextCorpus {
  std::string source;                  ///< the file read
  std::string split_rule;              ///< "books" or "fraction"
  std::string train, valid, test;      ///< the splits' text (after the limits)
  std::vector<std::string> valid_books, test_books;  ///< empty for the fraction rule
  /// The alphabet: every distinct byte of the whole file's text (all splits, before the
  /// limits), sorted; a character's code is its index here.
  std::string vocabulary;
};

/// One verse line of `bible -f` output, or nothing.
struct Verse {
  std::string book;  ///< the abbreviation, e.g. "Ge", "1Sm"
  std::string text;  ///< the verse without its reference
};
/// Parses "Ge1:1 In the beginning ..." (book abbreviation, chapter:verse, one space, text);
/// returns false for any other line.
bool parse_verse(const std::string& line, Verse& verse);

/// The split ("train", "valid" or "test") of book number `book` (1-based, in order).
std::string book_split(int64_t book);

/// The training text cut in two at the first line start at or after 90 % of its length:
/// {first part, the last ~10 %} (at 90 % exactly when no line ends after it).
std::pair<std::string, std::string> split_text_validation(const std::string& train);

/// Reads and splits the corpus (and holds out the validation text when options.validation). Throws UserError naming the file when it is missing
/// (telling the user to run scripts/install-deps.sh or to set data.path), empty, or a KJV file
/// with another number of books than 66.
TextCorpus load_text(const TextOptions& options);

/// The codes of `text` in `vocabulary` as int64 [text.size()]. Throws UserError naming the
/// first character that is not in the vocabulary.
torch::Tensor encode_text(const std::string& text, const std::string& vocabulary);

}  // namespace nc::data
