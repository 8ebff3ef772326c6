#pragma once
// YAML configuration with `--set a.b=value` overrides and validation at the door.
//
// The schema is the code that reads it: every read names the key, its default and the
// accepted values; `finish()` then rejects any key the code did not ask for, suggesting the
// closest valid one ("unknown key 'learnig_rate' in train: did you mean 'learning_rate'?").
// Every value read (defaults included) is recorded, so the effective config can be written.
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace nc {

class ConfigSection;

/// A parsed configuration file plus overrides.
class Config {
 public:
  /// Parses YAML text; `origin` names it in error messages. Throws UserError on bad YAML
  /// or when the top level is not a mapping.
  static Config from_string(const std::string& yaml, const std::string& origin = "<config>");
  /// Reads and parses a file. Throws UserError when it is missing or not valid YAML.
  static Config load(const std::string& path);

  /// Applies one override "a.b.c=value" (value parsed as YAML: number, string, list).
  /// Throws UserError when the assignment is malformed or crosses a non-mapping value.
  void set(const std::string& assignment);

  /// The top-level section, for reading.
  ConfigSection root() const;
  /// YAML text of every value read so far, with defaults filled in.
  std::string effective_yaml() const;
  /// YAML text of the whole document as parsed, with every `set` applied: keys that were
  /// never read are kept, defaults are not filled in. For editing a config file (a derived
  /// run's config.yaml = a source config plus overrides) without reading its schema.
  std::string document_yaml() const;
  const std::string& origin() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

/// A mapping inside a Config, read through typed, validated accessors.
/// Errors are UserError naming origin, the dotted key, the value seen and what was expected.
class ConfigSection {
 public:
  bool has(const std::string& key) const;

  double number(const std::string& key, double def,
                double min = -std::numeric_limits<double>::infinity(),
                double max = std::numeric_limits<double>::infinity());
  int64_t integer(const std::string& key, int64_t def,
                  int64_t min = std::numeric_limits<int64_t>::min(),
                  int64_t max = std::numeric_limits<int64_t>::max());
  /// The same two reads with the wording of the expectation given: `expected` replaces "a
  /// number in [min, max]" / "an integer in [min, max]" in every message about the key
  /// ("timing.mvm_ns must be a positive number, got '0'"). The number must also be finite.
  double number(const std::string& key, double def, double min, double max,
                const std::string& expected);
  int64_t integer(const std::string& key, int64_t def, int64_t min, int64_t max,
                  const std::string& expected);
  /// A finite number strictly above `above` (a positive duration: above = 0); `expected`
  /// words it in messages ("a positive number").
  double number_above(const std::string& key, double def, double above,
                      const std::string& expected);
  /// An integer in [min, max] or the string `word`, read as `word_value` (a core count that
  /// may be "unlimited"); `expected` words both in messages ("a positive integer or
  /// 'unlimited'").
  int64_t integer_or(const std::string& key, int64_t def, const std::string& word,
                     int64_t word_value, int64_t min, int64_t max, const std::string& expected);
  bool boolean(const std::string& key, bool def);
  std::string string(const std::string& key, const std::string& def);
  /// A string that must be one of `choices`.
  std::string choice(const std::string& key, const std::string& def,
                     const std::vector<std::string>& choices);
  /// A list of integers, each within [min, max].
  std::vector<int64_t> integers(const std::string& key, const std::vector<int64_t>& def,
                                int64_t min = std::numeric_limits<int64_t>::min(),
                                int64_t max = std::numeric_limits<int64_t>::max());
  /// A list of values as text: each scalar as written, each nested list or mapping as flow
  /// YAML ("[128, 128]"); a single scalar is a one-element list. Throws UserError when an
  /// item is null.
  std::vector<std::string> strings(const std::string& key, const std::vector<std::string>& def);
  /// A nested mapping (empty when absent). Throws UserError when present but not a mapping.
  ConfigSection section(const std::string& key);

  /// Rejects keys that were never read, with the closest valid key suggested.
  void finish() const;
  /// Dotted path of this section ("" for the root).
  const std::string& path() const { return path_; }

 private:
  friend class Config;
  ConfigSection(std::shared_ptr<Config::State> state, std::string path);
  std::string full(const std::string& key) const;
  void known(const std::string& key);
  [[noreturn]] void fail(const std::string& key, const std::string& expected) const;
  double checked_number(const std::string& key, double def, double low, bool low_open,
                        double high, const std::string& expected);
  std::string seen(const std::string& key) const;

  std::shared_ptr<Config::State> state_;
  std::string path_;
  std::shared_ptr<std::vector<std::string>> known_;
};

}  // namespace nc
