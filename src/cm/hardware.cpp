#include "neurocore/cm/hardware.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"

namespace nc::cm {

namespace {

// A thin validated reader over one YAML mapping: each read records the key as known, so that
// finish() can reject the others with the closest valid key. (nc::Config lives in nc_core,
// which links LibTorch; the cm core must not.)
class Reader {
 public:
  Reader(YAML::Node node, std::string origin, std::string path)
      : node_(std::move(node)), origin_(std::move(origin)), path_(std::move(path)) {}

  std::string full(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  YAML::Node get(const std::string& key) {
    known_.push_back(key);
    if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& c = node_;
    return c[key];
  }

  [[noreturn]] void fail(const std::string& key, const YAML::Node& n, const std::string& expected) const {
    YAML::Emitter e;
    e << YAML::Flow << n;
    std::string line;
    if (n.Mark().line >= 0) line = " (line " + std::to_string(n.Mark().line + 1) + ")";
    throw UserError(origin_ + ": " + full(key) + " must be " + expected + ", got " + e.c_str() +
                    line);
  }

  int64_t integer(const std::string& key, int64_t def, int64_t min, int64_t max,
                  const std::string& expected) {
    YAML::Node n = get(key);
    if (!n.IsDefined() || n.IsNull()) return def;
    int64_t v = 0;
    try {
      if (!n.IsScalar()) fail(key, n, expected);
      v = n.as<int64_t>();
    } catch (const YAML::Exception&) {
      fail(key, n, expected);
    }
    if (v < min || v > max) fail(key, n, expected);
    return v;
  }

  double number(const std::string& key, double def, double min, bool min_open,
                const std::string& expected) {
    YAML::Node n = get(key);
    if (!n.IsDefined() || n.IsNull()) return def;
    double v = 0;
    try {
      if (!n.IsScalar()) fail(key, n, expected);
      v = n.as<double>();
    } catch (const YAML::Exception&) {
      fail(key, n, expected);
    }
    if (!std::isfinite(v) || v < min || (min_open && v == min)) fail(key, n, expected);
    return v;
  }

  std::string string(const std::string& key, const std::string& def) {
    YAML::Node n = get(key);
    if (!n.IsDefined() || n.IsNull()) return def;
    if (!n.IsScalar()) fail(key, n, "a string");
    return n.Scalar();
  }

  Reader section(const std::string& key) {
    YAML::Node n = get(key);
    if (n.IsDefined() && !n.IsNull() && !n.IsMap()) fail(key, n, "a mapping of keys to values");
    return Reader(n.IsDefined() && !n.IsNull() ? n : YAML::Node(YAML::NodeType::Map), origin_,
                  full(key));
  }

  void finish() const {
    if (!node_.IsMap()) return;
    for (const auto& kv : node_) {
      const auto key = kv.first.as<std::string>();
      bool ok = false;
      for (const auto& k : known_) ok = ok || k == key;
      if (ok) continue;
      const std::string where = path_.empty() ? "at the top level" : "in " + path_;
      const std::string hint = closest_match(key, known_);
      const int line = kv.first.Mark().line;
      throw UserError(origin_ + ": unknown key '" + key + "' " + where +
                      (line >= 0 ? " (line " + std::to_string(line + 1) + ")" : "") +
                      (hint.empty() ? "; valid keys: " + join(known_)
                                    : ": did you mean '" + hint + "'?"));
    }
  }

 private:
  YAML::Node node_;
  std::string origin_, path_;
  std::vector<std::string> known_;
};

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
const char* kPositiveInt = "a positive integer";
const char* kPositiveNumber = "a positive number";
const char* kNonNegNumber = "a number >= 0";

}  // namespace

const std::vector<std::string>& Hardware::topologies() {
  static const std::vector<std::string> names = {"5pp",   "5pp-prism", "ring",      "mesh",
                                                 "mesh-diag", "torus", "hypercube", "full",
                                                 "band"};
  return names;
}

Hardware Hardware::from_yaml(const std::string& text, const std::string& origin) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw UserError(origin + ": not valid YAML: " + e.what());
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) throw UserError(origin + ": the top level must be a mapping of keys to values");

  Hardware hw;
  Reader top(root, origin, "");
  hw.name = top.string("name", hw.name);
  {
    Reader r = top.section("crossbar");
    hw.crossbar_rows = r.integer("rows", hw.crossbar_rows, 1, 1 << 20, kPositiveInt);
    hw.crossbar_cols = r.integer("cols", hw.crossbar_cols, 1, 1 << 20, kPositiveInt);
    r.finish();
  }
  {
    YAML::Node n = top.get("cores");
    if (n.IsDefined() && !n.IsNull()) {
      const char* expected = "a positive integer or 'unlimited'";
      if (!n.IsScalar()) top.fail("cores", n, expected);
      if (n.Scalar() == "unlimited") {
        hw.cores = 0;
      } else {
        try {
          hw.cores = n.as<int64_t>();
        } catch (const YAML::Exception&) {
          top.fail("cores", n, expected);
        }
        if (hw.cores <= 0) top.fail("cores", n, expected);
      }
    }
  }
  {
    Reader r = top.section("precision");
    const char* bits = "an integer number of bits in [1, 32]";
    hw.weight_bits = r.integer("weight_bits", hw.weight_bits, 1, 32, bits);
    hw.activation_bits = r.integer("activation_bits", hw.activation_bits, 1, 32, bits);
    hw.psum_bits = r.integer("psum_bits", hw.psum_bits, 1, 64, "an integer number of bits in [1, 64]");
    const char* conv = "an integer number of bits in [1, 24]";
    hw.dac_bits = r.integer("dac_bits", hw.dac_bits, 1, 24, conv);
    hw.adc_bits = r.integer("adc_bits", hw.adc_bits, 1, 24, conv);
    r.finish();
  }
  {
    Reader r = top.section("timing");
    hw.clock_ghz = r.number("clock_ghz", hw.clock_ghz, 0, true, kPositiveNumber);
    hw.mvm_ns = r.number("mvm_ns", hw.mvm_ns, 0, true, kPositiveNumber);
    hw.digital_op_ns = r.number("digital_op_ns", hw.digital_op_ns, 0, false, kNonNegNumber);
    r.finish();
  }
  {
    Reader r = top.section("buffer");
    hw.buffer_bytes = r.integer("bytes_per_core", hw.buffer_bytes, 1, kMaxInt, kPositiveInt);
    r.finish();
  }
  {
    Reader r = top.section("link");
    hw.link_bandwidth_gbps = r.number("bandwidth_gbps", hw.link_bandwidth_gbps, 0, true, kPositiveNumber);
    hw.link_latency_ns = r.number("latency_ns", hw.link_latency_ns, 0, false, kNonNegNumber);
    r.finish();
  }
  {
    Reader r = top.section("energy");
    hw.energy_mvm_pj = r.number("mvm_pj", hw.energy_mvm_pj, 0, false, kNonNegNumber);
    hw.energy_adc_pj = r.number("adc_conversion_pj", hw.energy_adc_pj, 0, false, kNonNegNumber);
    hw.energy_digital_op_pj = r.number("digital_op_pj", hw.energy_digital_op_pj, 0, false, kNonNegNumber);
    hw.energy_bit_moved_pj = r.number("bit_moved_pj", hw.energy_bit_moved_pj, 0, false, kNonNegNumber);
    r.finish();
  }
  {
    Reader r = top.section("fabric");
    YAML::Node n = r.get("topology");
    hw.topology = r.string("topology", hw.topology);
    bool ok = false;
    for (const auto& t : topologies()) ok = ok || t == hw.topology;
    if (!ok) {
      const std::string hint = closest_match(hw.topology, topologies());
      r.fail("topology", n, "one of " + join(topologies()) +
                                (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
    }
    r.finish();
  }
  top.finish();
  return hw;
}

Hardware Hardware::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot open hardware spec (does it exist?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return from_yaml(ss.str(), path);
}

std::string Hardware::to_yaml() const {
  YAML::Emitter e;
  e << YAML::BeginMap;
  e << YAML::Key << "name" << YAML::Value << name;
  e << YAML::Key << "crossbar" << YAML::Value << YAML::BeginMap << YAML::Key << "rows"
    << YAML::Value << crossbar_rows << YAML::Key << "cols" << YAML::Value << crossbar_cols
    << YAML::EndMap;
  e << YAML::Key << "cores" << YAML::Value;
  if (cores == 0) {
    e << "unlimited";
  } else {
    e << cores;
  }
  e << YAML::Key << "precision" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "weight_bits" << YAML::Value << weight_bits;
  e << YAML::Key << "activation_bits" << YAML::Value << activation_bits;
  e << YAML::Key << "psum_bits" << YAML::Value << psum_bits;
  e << YAML::Key << "dac_bits" << YAML::Value << dac_bits;
  e << YAML::Key << "adc_bits" << YAML::Value << adc_bits << YAML::EndMap;
  e << YAML::Key << "timing" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "clock_ghz" << YAML::Value << clock_ghz;
  e << YAML::Key << "mvm_ns" << YAML::Value << mvm_ns;
  e << YAML::Key << "digital_op_ns" << YAML::Value << digital_op_ns << YAML::EndMap;
  e << YAML::Key << "buffer" << YAML::Value << YAML::BeginMap << YAML::Key << "bytes_per_core"
    << YAML::Value << buffer_bytes << YAML::EndMap;
  e << YAML::Key << "link" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "bandwidth_gbps" << YAML::Value << link_bandwidth_gbps;
  e << YAML::Key << "latency_ns" << YAML::Value << link_latency_ns << YAML::EndMap;
  e << YAML::Key << "energy" << YAML::Value << YAML::BeginMap;
  e << YAML::Key << "mvm_pj" << YAML::Value << energy_mvm_pj;
  e << YAML::Key << "adc_conversion_pj" << YAML::Value << energy_adc_pj;
  e << YAML::Key << "digital_op_pj" << YAML::Value << energy_digital_op_pj;
  e << YAML::Key << "bit_moved_pj" << YAML::Value << energy_bit_moved_pj << YAML::EndMap;
  e << YAML::Key << "fabric" << YAML::Value << YAML::BeginMap << YAML::Key << "topology"
    << YAML::Value << topology << YAML::EndMap;
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

int64_t Hardware::cycles(double ns) const {
  if (ns <= 0) return 0;
  // The epsilon keeps exact products (100 ns at 1 GHz) from rounding up to 101.
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(ns * clock_ghz - 1e-9)));
}

}  // namespace nc::cm
