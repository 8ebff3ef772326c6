#include "neurocore/data/text.h"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <tuple>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"
#include "neurocore/data/registry.h"

namespace nc::data {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kBooks = 66;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

// The offset of the first line start at or after `pos` (or `pos` when the text has no line
// end after it), so that a fraction split does not cut a line in two.
std::size_t line_boundary(const std::string& text, std::size_t pos) {
  if (pos == 0 || pos >= text.size()) return std::min(pos, text.size());
  const std::size_t nl = text.find('\n', pos - 1);
  return nl == std::string::npos ? pos : nl + 1;
}

void split_by_books(const std::vector<std::string>& lines, const std::string& path, TextCorpus& c) {
  std::string current;
  int64_t book = 0;
  Verse v;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    if (!parse_verse(lines[i], v)) {
      throw UserError("text: " + path + " line " + std::to_string(i + 1) +
                      " is not a verse line of `bible -f` output (\"Ge1:1 In the beginning ...\"), "
                      "got \"" + lines[i].substr(0, 60) + "\"");
    }
    if (v.book != current) {
      current = v.book;
      ++book;
      const std::string split = book_split(book);
      if (split == "valid") c.valid_books.push_back(v.book);
      if (split == "test") c.test_books.push_back(v.book);
    }
    const std::string split = book_split(book);
    std::string& out = split == "train" ? c.train : split == "valid" ? c.valid : c.test;
    out += v.text;
    out += '\n';
  }
  if (book != kBooks) {
    throw UserError("text: " + path + " holds " + std::to_string(book) +
                    " books, expected the 66 books of the King James Bible (a `bible -f` file is "
                    "split by book; rewrite it with scripts/install-deps.sh)");
  }
}

void split_by_fraction(const std::string& text, TextCorpus& c) {
  const std::size_t a = line_boundary(text, text.size() * 90 / 100);
  const std::size_t b = std::max(a, line_boundary(text, text.size() * 95 / 100));
  c.train = text.substr(0, a);
  c.valid = text.substr(a, b - a);
  c.test = text.substr(b);
}

void limit(std::string& s, int64_t n) {
  if (n > 0 && static_cast<std::size_t>(n) < s.size()) s.resize(static_cast<std::size_t>(n));
}

}  // namespace

TextOptions TextOptions::from_config(nc::ConfigSection section) {
  TextOptions o;
  section.choice("name", "text", {"text"});
  o.path = section.string("path", o.path);
  o.limit_train = section.integer("limit_train", o.limit_train, 0);
  o.limit_valid = section.integer("limit_valid", o.limit_valid, 0);
  o.limit_test = section.integer("limit_test", o.limit_test, 0);
  o.validation = section.boolean("validation", o.validation);
  section.finish();
  return o;
}

bool parse_verse(const std::string& line, Verse& verse) {
  // book: an optional digit then letters; then chapter digits ':' verse digits ' ' text
  std::size_t i = 0;
  if (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
  const std::size_t letters = i;
  while (i < line.size() && std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
  if (i == letters) return false;
  const std::size_t book_end = i;
  auto digits = [&] {
    const std::size_t s = i;
    while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
    return i > s;
  };
  if (!digits() || i >= line.size() || line[i] != ':') return false;
  ++i;
  if (!digits() || i >= line.size() || line[i] != ' ') return false;
  verse.book = line.substr(0, book_end);
  verse.text = line.substr(i + 1);
  return true;
}

std::pair<std::string, std::string> split_text_validation(const std::string& train) {
  const std::size_t cut = line_boundary(train, train.size() - train.size() / 10);
  return {train.substr(0, cut), train.substr(cut)};
}

std::string book_split(int64_t book) {
  if (book % 10 == 5) return "valid";
  if (book % 10 == 0) return "test";
  return "train";
}

TextCorpus load_text(const TextOptions& options) {
  TextCorpus c;
  c.source = options.path.empty() ? (fs::path(data_cache_dir()) / "kjv.txt").string() : options.path;
  std::error_code ec;
  if (!fs::is_regular_file(c.source, ec)) {
    throw UserError("text: " + c.source + " not found; " +
                    (options.path.empty()
                         ? "run scripts/install-deps.sh to write the King James Bible there, or set "
                           "data.path to a text file"
                         : "data.path must name a text file"));
  }
  const std::string text = read_file(c.source);
  if (text.empty()) throw UserError("text: " + c.source + " is empty");
  const auto lines = lines_of(text);
  Verse first;
  if (parse_verse(lines.front(), first)) {
    c.split_rule = "books";
    split_by_books(lines, c.source, c);
  } else {
    c.split_rule = "fraction";
    split_by_fraction(text, c);
  }
  std::set<unsigned char> chars;
  for (const std::string* s : {&c.train, &c.valid, &c.test}) chars.insert(s->begin(), s->end());
  c.vocabulary.assign(chars.begin(), chars.end());
  if (options.validation) {
    c.valid_books.clear();  // the held-out text is from the training books
    std::tie(c.train, c.valid) = split_text_validation(c.train);
  }
  limit(c.train, options.limit_train);
  limit(c.valid, options.limit_valid);
  limit(c.test, options.limit_test);
  for (const auto& [name, s] : {std::pair<const char*, const std::string*>{"train", &c.train},
                                {"valid", &c.valid}, {"test", &c.test}}) {
    if (s->size() < 2) {
      throw UserError("text: the " + std::string(name) + " split of " + c.source + " has " +
                      std::to_string(s->size()) + " characters, expected at least 2");
    }
  }
  return c;
}

torch::Tensor encode_text(const std::string& text, const std::string& vocabulary) {
  int64_t table[256];
  std::fill(std::begin(table), std::end(table), -1);
  for (std::size_t i = 0; i < vocabulary.size(); ++i) {
    table[static_cast<unsigned char>(vocabulary[i])] = static_cast<int64_t>(i);
  }
  auto codes = torch::empty({static_cast<int64_t>(text.size())}, torch::kLong);
  int64_t* out = codes.data_ptr<int64_t>();
  for (std::size_t i = 0; i < text.size(); ++i) {
    const int64_t code = table[static_cast<unsigned char>(text[i])];
    if (code < 0) {
      throw UserError("text: character code " + std::to_string(static_cast<unsigned char>(text[i])) +
                      " at offset " + std::to_string(i) + " is not in the vocabulary");
    }
    out[i] = code;
  }
  return codes;
}

}  // namespace nc::data
