#include "neurocore/core/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"

namespace nc {

struct Config::State {
  YAML::Node root;
  YAML::Node effective = YAML::Node(YAML::NodeType::Map);
  std::string origin;
  // Keys read per section path: kept here so that copies of a section share them.
  std::map<std::string, std::shared_ptr<std::vector<std::string>>> known;
};

namespace {

std::vector<std::string> split_path(const std::string& dotted) {
  std::vector<std::string> parts;
  std::stringstream ss(dotted);
  std::string part;
  while (std::getline(ss, part, '.')) parts.push_back(part);
  return parts;
}

// Node at a dotted path, or an undefined node. Uses copies: yaml-cpp's operator[] on a
// non-const node would insert missing keys.
YAML::Node lookup(const YAML::Node& root, const std::string& dotted) {
  YAML::Node cur;
  cur.reset(root);
  if (dotted.empty()) return cur;
  for (const auto& part : split_path(dotted)) {
    if (!cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& c = cur;
    YAML::Node next = c[part];
    if (!next.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
    cur.reset(next);
  }
  return cur;
}

// Writes value at a dotted path, creating mappings on the way.
void assign(YAML::Node root, const std::string& dotted, const YAML::Node& value,
            const std::string& origin) {
  auto parts = split_path(dotted);
  YAML::Node cur;
  cur.reset(root);
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = cur[parts[i]];
    if (next.IsDefined() && !next.IsNull() && !next.IsMap()) {
      throw UserError(origin + ": cannot set '" + dotted + "': '" + parts[i] +
                      "' holds a value, not a mapping");
    }
    if (!next.IsDefined() || next.IsNull()) cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
    YAML::Node n = cur[parts[i]];
    cur.reset(n);
  }
  cur[parts.back()] = value;
}

std::string mark(const YAML::Node& n) {
  if (!n.IsDefined()) return "";
  const auto m = n.Mark();
  return m.line >= 0 ? " (line " + std::to_string(m.line + 1) + ")" : "";
}

}  // namespace

Config Config::from_string(const std::string& yaml, const std::string& origin) {
  Config c;
  c.state_ = std::make_shared<State>();
  c.state_->origin = origin;
  try {
    c.state_->root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw UserError(origin + ": not valid YAML: " + e.what());
  }
  if (c.state_->root.IsNull()) c.state_->root = YAML::Node(YAML::NodeType::Map);
  if (!c.state_->root.IsMap()) {
    throw UserError(origin + ": the top level must be a mapping of keys to values");
  }
  return c;
}

Config Config::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot open config file (does it exist?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return from_string(ss.str(), path);
}

void Config::set(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UserError("--set '" + assignment + "': expected key=value, e.g. train.epochs=3");
  }
  const std::string key = assignment.substr(0, eq);
  for (const auto& part : split_path(key)) {
    if (part.empty()) throw UserError("--set '" + assignment + "': empty key component");
  }
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw UserError("--set '" + assignment + "': value is not valid YAML: " + e.what());
  }
  assign(state_->root, key, value, "--set " + assignment);
}

ConfigSection Config::root() const { return ConfigSection(state_, ""); }

std::string Config::effective_yaml() const {
  YAML::Emitter out;
  out << state_->effective;
  return std::string(out.c_str()) + "\n";
}

std::string Config::document_yaml() const {
  YAML::Emitter out;
  out << state_->root;
  return std::string(out.c_str()) + "\n";
}

const std::string& Config::origin() const { return state_->origin; }

ConfigSection::ConfigSection(std::shared_ptr<Config::State> state, std::string path)
    : state_(std::move(state)), path_(std::move(path)) {
  auto& k = state_->known[path_];
  if (!k) k = std::make_shared<std::vector<std::string>>();
  known_ = k;
}

std::string ConfigSection::full(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void ConfigSection::known(const std::string& key) {
  for (const auto& k : *known_)
    if (k == key) return;
  known_->push_back(key);
}

std::string ConfigSection::seen(const std::string& key) const {
  YAML::Node n = lookup(state_->root, full(key));
  YAML::Emitter e;
  e << YAML::Flow << n;
  return "'" + std::string(e.c_str()) + "'" + mark(n);
}

void ConfigSection::fail(const std::string& key, const std::string& expected) const {
  throw UserError(state_->origin + ": " + full(key) + " must be " + expected + ", got " +
                  seen(key));
}

bool ConfigSection::has(const std::string& key) const {
  YAML::Node n = lookup(state_->root, full(key));
  return n.IsDefined() && !n.IsNull();
}

namespace {
template <class T>
bool read_scalar(const YAML::Node& n, T& out) {
  if (!n.IsScalar()) return false;
  try {
    out = n.as<T>();
    return true;
  } catch (const YAML::Exception&) {
    return false;
  }
}
}  // namespace

double ConfigSection::number(const std::string& key, double def, double min, double max) {
  known(key);
  double v = def;
  if (has(key) && !read_scalar(lookup(state_->root, full(key)), v)) fail(key, "a number");
  if (!(v >= min && v <= max)) {
    std::ostringstream r;
    r << "a number in [" << min << ", " << max << "]";
    fail(key, r.str());
  }
  // Shortest text that reads back as the same double (0.9, not 0.90000000000000002).
  assign(state_->effective, full(key), YAML::Node(fmt::format("{}", v)), state_->origin);
  return v;
}

int64_t ConfigSection::integer(const std::string& key, int64_t def, int64_t min, int64_t max) {
  known(key);
  int64_t v = def;
  if (has(key) && !read_scalar(lookup(state_->root, full(key)), v)) fail(key, "an integer");
  if (v < min || v > max) {
    std::ostringstream r;
    r << "an integer in [" << min << ", " << max << "]";
    fail(key, r.str());
  }
  assign(state_->effective, full(key), YAML::Node(v), state_->origin);
  return v;
}

double ConfigSection::checked_number(const std::string& key, double def, double low,
                                     bool low_open, double high, const std::string& expected) {
  known(key);
  double v = def;
  if (has(key) && !read_scalar(lookup(state_->root, full(key)), v)) fail(key, expected);
  if (!std::isfinite(v) || v < low || (low_open && v == low) || v > high) fail(key, expected);
  assign(state_->effective, full(key), YAML::Node(fmt::format("{}", v)), state_->origin);
  return v;
}

double ConfigSection::number(const std::string& key, double def, double min, double max,
                             const std::string& expected) {
  return checked_number(key, def, min, false, max, expected);
}

double ConfigSection::number_above(const std::string& key, double def, double above,
                                   const std::string& expected) {
  return checked_number(key, def, above, true, std::numeric_limits<double>::infinity(),
                        expected);
}

int64_t ConfigSection::integer(const std::string& key, int64_t def, int64_t min, int64_t max,
                               const std::string& expected) {
  known(key);
  int64_t v = def;
  if (has(key) && !read_scalar(lookup(state_->root, full(key)), v)) fail(key, expected);
  if (v < min || v > max) fail(key, expected);
  assign(state_->effective, full(key), YAML::Node(v), state_->origin);
  return v;
}

int64_t ConfigSection::integer_or(const std::string& key, int64_t def, const std::string& word,
                                  int64_t word_value, int64_t min, int64_t max,
                                  const std::string& expected) {
  const YAML::Node n = lookup(state_->root, full(key));
  const bool is_word = has(key) ? n.IsScalar() && n.Scalar() == word : def == word_value;
  if (!is_word) return integer(key, def, min, max, expected);
  known(key);
  assign(state_->effective, full(key), YAML::Node(word), state_->origin);
  return word_value;
}

bool ConfigSection::boolean(const std::string& key, bool def) {
  known(key);
  bool v = def;
  if (has(key) && !read_scalar(lookup(state_->root, full(key)), v)) fail(key, "true or false");
  assign(state_->effective, full(key), YAML::Node(v), state_->origin);
  return v;
}

std::string ConfigSection::string(const std::string& key, const std::string& def) {
  known(key);
  std::string v = def;
  if (has(key) && !read_scalar(lookup(state_->root, full(key)), v)) fail(key, "a string");
  assign(state_->effective, full(key), YAML::Node(v), state_->origin);
  return v;
}

std::string ConfigSection::choice(const std::string& key, const std::string& def,
                                  const std::vector<std::string>& choices) {
  const std::string v = string(key, def);
  for (const auto& c : choices)
    if (c == v) return v;
  std::string hint = closest_match(v, choices);
  fail(key, "one of " + join(choices) + (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
}

std::vector<int64_t> ConfigSection::integers(const std::string& key,
                                             const std::vector<int64_t>& def, int64_t min,
                                             int64_t max) {
  known(key);
  std::vector<int64_t> v = def;
  if (has(key)) {
    YAML::Node n = lookup(state_->root, full(key));
    if (!n.IsSequence()) fail(key, "a list of integers, e.g. [256, 256]");
    v.clear();
    for (const auto& item : n) {
      int64_t x = 0;
      if (!read_scalar(item, x)) fail(key, "a list of integers, e.g. [256, 256]");
      v.push_back(x);
    }
  }
  for (auto x : v) {
    if (x < min || x > max) {
      std::ostringstream r;
      r << "a list of integers in [" << min << ", " << max << "]";
      fail(key, r.str());
    }
  }
  YAML::Node out(YAML::NodeType::Sequence);
  for (auto x : v) out.push_back(x);
  out.SetStyle(YAML::EmitterStyle::Flow);
  assign(state_->effective, full(key), out, state_->origin);
  return v;
}

std::vector<std::string> ConfigSection::strings(const std::string& key,
                                                const std::vector<std::string>& def) {
  known(key);
  std::vector<std::string> v = def;
  if (has(key)) {
    YAML::Node n = lookup(state_->root, full(key));
    std::vector<YAML::Node> items;
    if (n.IsSequence()) {
      for (const auto& item : n) items.push_back(item);
    } else {
      items.push_back(n);
    }
    v.clear();
    for (const auto& item : items) {
      if (item.IsNull()) fail(key, "a list of values, e.g. [0.001, 0.002]");
      if (item.IsScalar()) {
        v.push_back(item.Scalar());
      } else {
        YAML::Emitter e;
        e << YAML::Flow << item;
        v.push_back(e.c_str());
      }
    }
  }
  YAML::Node out(YAML::NodeType::Sequence);
  for (const auto& x : v) out.push_back(x);
  out.SetStyle(YAML::EmitterStyle::Flow);
  assign(state_->effective, full(key), out, state_->origin);
  return v;
}

ConfigSection ConfigSection::section(const std::string& key) {
  known(key);
  YAML::Node n = lookup(state_->root, full(key));
  if (n.IsDefined() && !n.IsNull() && !n.IsMap()) fail(key, "a mapping of keys to values");
  return ConfigSection(state_, full(key));
}

void ConfigSection::finish() const {
  YAML::Node n = lookup(state_->root, path_);
  if (!n.IsDefined() || !n.IsMap()) return;
  for (const auto& kv : n) {
    const auto key = kv.first.as<std::string>();
    bool ok = false;
    for (const auto& k : *known_) ok = ok || k == key;
    if (ok) continue;
    const std::string where = path_.empty() ? "at the top level" : "in " + path_;
    const std::string hint = closest_match(key, *known_);
    throw UserError(state_->origin + ": unknown key '" + key + "' " + where + mark(kv.first) +
                    (hint.empty() ? "; valid keys: " + join(*known_)
                                  : ": did you mean '" + hint + "'?"));
  }
}

}  // namespace nc
