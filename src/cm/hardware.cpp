#include "neurocore/cm/hardware.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "neurocore/core/config.h"
#include "neurocore/core/error.h"

namespace nc::cm {

namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
constexpr double kMaxNumber = std::numeric_limits<double>::max();
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

Hardware Hardware::from_yaml(const std::string& text, const std::string& origin,
                             const std::vector<std::string>& sets) {
  Config config = Config::from_string(text, origin);
  for (const auto& s : sets) config.set(s);

  Hardware hw;
  ConfigSection top = config.root();
  hw.name = top.string("name", hw.name);
  {
    ConfigSection r = top.section("crossbar");
    hw.crossbar_rows = r.integer("rows", hw.crossbar_rows, 1, 1 << 20, kPositiveInt);
    hw.crossbar_cols = r.integer("cols", hw.crossbar_cols, 1, 1 << 20, kPositiveInt);
    r.finish();
  }
  hw.cores = top.integer_or("cores", hw.cores, "unlimited", 0, 1, kMaxInt,
                            "a positive integer or 'unlimited'");
  {
    ConfigSection r = top.section("precision");
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
    ConfigSection r = top.section("timing");
    hw.clock_ghz = r.number_above("clock_ghz", hw.clock_ghz, 0, kPositiveNumber);
    hw.mvm_ns = r.number_above("mvm_ns", hw.mvm_ns, 0, kPositiveNumber);
    hw.digital_op_ns = r.number("digital_op_ns", hw.digital_op_ns, 0, kMaxNumber, kNonNegNumber);
    r.finish();
  }
  {
    ConfigSection r = top.section("buffer");
    hw.buffer_bytes = r.integer("bytes_per_core", hw.buffer_bytes, 1, kMaxInt, kPositiveInt);
    r.finish();
  }
  {
    ConfigSection r = top.section("link");
    hw.link_bandwidth_gbps = r.number_above("bandwidth_gbps", hw.link_bandwidth_gbps, 0, kPositiveNumber);
    hw.link_latency_ns = r.number("latency_ns", hw.link_latency_ns, 0, kMaxNumber, kNonNegNumber);
    r.finish();
  }
  {
    ConfigSection r = top.section("energy");
    hw.energy_mvm_pj = r.number("mvm_pj", hw.energy_mvm_pj, 0, kMaxNumber, kNonNegNumber);
    hw.energy_adc_pj = r.number("adc_conversion_pj", hw.energy_adc_pj, 0, kMaxNumber, kNonNegNumber);
    hw.energy_digital_op_pj = r.number("digital_op_pj", hw.energy_digital_op_pj, 0, kMaxNumber, kNonNegNumber);
    hw.energy_bit_moved_pj = r.number("bit_moved_pj", hw.energy_bit_moved_pj, 0, kMaxNumber, kNonNegNumber);
    r.finish();
  }
  {
    ConfigSection r = top.section("fabric");
    hw.topology = r.choice("topology", hw.topology, topologies());
    r.finish();
  }
  top.finish();
  return hw;
}

Hardware Hardware::load(const std::string& path, const std::vector<std::string>& sets) {
  std::ifstream in(path);
  if (!in) throw UserError(path + ": cannot open hardware spec (does it exist?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return from_yaml(ss.str(), path, sets);
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
