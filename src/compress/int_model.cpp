// The integer model file (see the header): writing, and reading with every field validated.
#include "neurocore/compress/int_model.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "neurocore/core/error.h"

namespace nc::compress {

namespace {

using json = nlohmann::json;

constexpr char kMagic[8] = {'N', 'C', 'Q', 'U', 'A', 'N', 'T', '1'};
constexpr std::size_t kPrefix = 12;  // magic + header length
constexpr int kVersion = 1;

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

uint32_t crc32_of(const std::string& s) {
  return static_cast<uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

// Little-endian encoding by shifts, so the file is the same on any host.
void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The data section under construction: each add() appends one blob and returns its descriptor.
struct DataWriter {
  std::string data;
  json add(const std::string& blob) {
    json d{{"offset", data.size()}, {"bytes", blob.size()}, {"crc32", crc32_of(blob)}};
    data += blob;
    return d;
  }
  json floats(const std::vector<float>& v) {
    std::string b;
    for (float f : v) put_u32(b, bits_of(f));
    return add(b);
  }
  json ints(const std::vector<int32_t>& v) {
    std::string b;
    for (int32_t x : v) put_u32(b, static_cast<uint32_t>(x));
    return add(b);
  }
};

std::string storage_of(const IntTensor& t) {
  if (t.bits <= 4) return t.is_signed ? "int4" : "uint4";
  return t.is_signed ? "int8" : "uint8";
}

void check_grid(int bits, bool is_signed, int64_t qmin, int64_t qmax, const std::string& what) {
  if (bits < 2 || bits > 8) throw InternalError(what + ": bits " + std::to_string(bits));
  const auto [lo, hi] = int_grid(bits, is_signed);
  if (qmax != hi || !(qmin == lo || (is_signed && qmin == lo + 1))) {
    throw InternalError(fmt::format("{}: grid [{}, {}] is not a {}-bit grid", what, qmin, qmax, bits));
  }
}

// ---- reading ----

// A JSON object being read, with the path of its fields for messages.
class Reader {
 public:
  Reader(const json& j, std::string origin, std::string path)
      : j_(j), origin_(std::move(origin)), path_(std::move(path)) {
    if (!j_.is_object()) fail("", "a JSON object", j_.dump());
  }
  [[noreturn]] void fail(const std::string& field, const std::string& expected,
                         const std::string& seen) const {
    throw UserError(fmt::format("{}: {}: expected {}, got {}", origin_, name(field), expected, seen));
  }
  std::string name(const std::string& field) const {
    if (field.empty()) return path_.empty() ? "header" : path_;
    return path_.empty() ? field : path_ + "." + field;
  }
  const json& at(const std::string& field) const {
    if (!j_.contains(field)) fail(field, "a value", "nothing (missing field)");
    return j_.at(field);
  }
  int64_t integer(const std::string& field, int64_t lo, int64_t hi) const {
    const json& v = at(field);
    if (!v.is_number_integer()) fail(field, "an integer", v.dump());
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) fail(field, fmt::format("an integer in [{}, {}]", lo, hi), v.dump());
    return x;
  }
  bool boolean(const std::string& field) const {
    const json& v = at(field);
    if (!v.is_boolean()) fail(field, "true or false", v.dump());
    return v.get<bool>();
  }
  std::string string(const std::string& field) const {
    const json& v = at(field);
    if (!v.is_string()) fail(field, "a string", v.dump());
    return v.get<std::string>();
  }
  double number(const std::string& field) const {
    const json& v = at(field);
    if (!v.is_number()) fail(field, "a number", v.dump());
    return v.get<double>();
  }
  Reader object(const std::string& field) const { return Reader(at(field), origin_, name(field)); }
  const std::string& origin() const { return origin_; }

 private:
  const json& j_;
  std::string origin_, path_;
};

// Reads a blob named by a descriptor {offset, bytes, crc32}, which must have `expected` bytes.
std::string blob(const Reader& r, const std::string& field, const std::string& data,
                 int64_t expected, const std::string& what) {
  const Reader d = r.object(field);
  const int64_t size = static_cast<int64_t>(data.size());
  const int64_t offset = d.integer("offset", 0, size);
  const int64_t bytes = d.integer("bytes", 0, size);
  if (bytes != expected) {
    r.fail(field + ".bytes", fmt::format("{} ({})", expected, what), std::to_string(bytes));
  }
  if (offset + bytes > size) {
    r.fail(field, fmt::format("a blob inside the {}-byte data section", size),
           fmt::format("bytes {}..{}", offset, offset + bytes));
  }
  std::string b = data.substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(bytes));
  const uint32_t stored = static_cast<uint32_t>(d.integer("crc32", 0, 0xffffffffLL));
  const uint32_t computed = crc32_of(b);
  if (stored != computed) {
    r.fail(field, fmt::format("data with the stored crc32 0x{:08x} (the file is corrupt)", stored),
           fmt::format("data with crc32 0x{:08x}", computed));
  }
  return b;
}

std::vector<float> read_floats(const Reader& r, const std::string& field, const std::string& data,
                               int64_t count, bool positive) {
  const std::string b = blob(r, field, data, 4 * count, fmt::format("{} float32 values", count));
  std::vector<float> v(static_cast<std::size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const float f = float_of(get_u32(b.data() + 4 * i));
    if (!std::isfinite(f) || (positive && !(f > 0))) {
      r.fail(fmt::format("{}[{}]", field, i), positive ? "a finite value > 0" : "a finite value",
             fmt::format("{}", f));
    }
    v[static_cast<std::size_t>(i)] = f;
  }
  return v;
}

void read_grid(const Reader& r, int& bits, bool& is_signed, int64_t& qmin, int64_t& qmax) {
  bits = static_cast<int>(r.integer("bits", 2, 8));
  is_signed = r.boolean("signed");
  const auto [lo, hi] = int_grid(bits, is_signed);
  qmin = r.integer("qmin", lo, is_signed ? lo + 1 : lo);
  qmax = r.integer("qmax", hi, hi);
}

IntTensor read_weight(const Reader& r, const std::string& kind, const std::string& data) {
  IntTensor t;
  const json& shape = r.at("shape");
  const std::size_t dims = kind == "conv2d" ? 4 : 2;
  if (!shape.is_array() || shape.size() != dims) {
    r.fail("shape", fmt::format("{} positive integers for a {}", dims, kind), shape.dump());
  }
  for (const auto& d : shape) {
    if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > (int64_t{1} << 31)) {
      r.fail("shape", fmt::format("{} positive integers for a {}", dims, kind), shape.dump());
    }
    t.shape.push_back(d.get<int64_t>());
  }
  read_grid(r, t.bits, t.is_signed, t.qmin, t.qmax);
  const std::string storage = r.string("storage");
  if (storage != storage_of(t)) r.fail("storage", "'" + storage_of(t) + "' for these bits", "'" + storage + "'");
  const int64_t n = numel(t.shape);
  if (t.bits <= 4) {
    const std::string b = blob(r, "codes", data, (n + 1) / 2, fmt::format("{} codes packed two per byte", n));
    t.codes = unpack_int4(std::vector<uint8_t>(b.begin(), b.end()), n, t.is_signed);
  } else {
    const std::string b = blob(r, "codes", data, n, fmt::format("{} one-byte codes", n));
    t.codes.resize(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const auto byte = static_cast<unsigned char>(b[static_cast<std::size_t>(i)]);
      t.codes[static_cast<std::size_t>(i)] =
          static_cast<int16_t>(t.is_signed ? static_cast<int8_t>(byte) : byte);
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    const int16_t c = t.codes[static_cast<std::size_t>(i)];
    if (c < t.qmin || c > t.qmax) {
      r.fail(fmt::format("codes[{}]", i), fmt::format("a code in [{}, {}]", t.qmin, t.qmax), std::to_string(c));
    }
  }
  const int64_t channels = r.integer("channels", 1, t.shape[0]);
  if (channels != 1 && channels != t.shape[0]) {
    r.fail("channels", fmt::format("1 (per tensor) or {} (per output channel)", t.shape[0]),
           std::to_string(channels));
  }
  t.scale = read_floats(r, "scale", data, channels, /*positive=*/true);
  const std::string zb = blob(r, "zero_point", data, 4 * channels, fmt::format("{} int32 values", channels));
  for (int64_t c = 0; c < channels; ++c) {
    const auto z = static_cast<int32_t>(get_u32(zb.data() + 4 * c));
    if (z < t.qmin || z > t.qmax) {
      r.fail(fmt::format("zero_point[{}]", c), fmt::format("a value in [{}, {}]", t.qmin, t.qmax), std::to_string(z));
    }
    t.zero_point.push_back(z);
  }
  return t;
}

ActQuant read_act(const Reader& r) {
  ActQuant a;
  read_grid(r, a.bits, a.is_signed, a.qmin, a.qmax);
  const double s = r.number("scale");
  const auto f = static_cast<float>(s);
  if (!std::isfinite(f) || !(f > 0) || static_cast<double>(f) != s) {
    r.fail("scale", "a finite float32 value > 0", r.at("scale").dump());
  }
  a.scale = f;
  a.zero_point = static_cast<int32_t>(r.integer("zero_point", a.qmin, a.qmax));
  return a;
}

}  // namespace

std::pair<int64_t, int64_t> int_grid(int bits, bool is_signed) {
  if (is_signed) return {-(int64_t{1} << (bits - 1)), (int64_t{1} << (bits - 1)) - 1};
  return {0, (int64_t{1} << bits) - 1};
}

std::vector<float> IntTensor::dequantize() const {
  std::vector<float> out(codes.size());
  const std::size_t per = scale.size() > 1 ? codes.size() / scale.size() : codes.size();
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const std::size_t c = scale.size() > 1 ? i / per : 0;
    // (q − z) is exact in float; one rounding in the product, as the fake quantizer's (q − z)·s.
    out[i] = static_cast<float>(codes[i] - zero_point[c]) * scale[c];
  }
  return out;
}

std::vector<uint8_t> pack_int4(const std::vector<int16_t>& codes, bool is_signed) {
  std::vector<uint8_t> out((codes.size() + 1) / 2, 0);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const int c = codes[i];
    if (is_signed ? (c < -8 || c > 7) : (c < 0 || c > 15)) {
      throw InternalError(fmt::format("pack_int4: code {} out of the {} 4-bit range", c,
                                      is_signed ? "signed" : "unsigned"));
    }
    const auto nibble = static_cast<uint8_t>(c & 0x0f);  // two's complement for negatives
    out[i / 2] |= static_cast<uint8_t>(i % 2 ? nibble << 4 : nibble);
  }
  return out;
}

std::vector<int16_t> unpack_int4(const std::vector<uint8_t>& bytes, int64_t count, bool is_signed) {
  if (count < 0 || bytes.size() != static_cast<std::size_t>((count + 1) / 2)) {
    throw InternalError(fmt::format("unpack_int4: {} bytes cannot hold {} codes", bytes.size(), count));
  }
  std::vector<int16_t> out(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < out.size(); ++i) {
    int v = (bytes[i / 2] >> (i % 2 ? 4 : 0)) & 0x0f;
    if (is_signed && v >= 8) v -= 16;
    out[i] = static_cast<int16_t>(v);
  }
  return out;
}

std::string serialize_int_model(const IntModel& m) {
  DataWriter data;
  json layers = json::array();
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const IntLayer& l = m.layers[i];
    const IntTensor& w = l.weight;
    const std::string what = fmt::format("int model layer {} ({})", i, l.name);
    if (l.kind != "conv2d" && l.kind != "linear") throw InternalError(what + ": kind " + l.kind);
    check_grid(w.bits, w.is_signed, w.qmin, w.qmax, what + " weight");
    check_grid(l.input.bits, l.input.is_signed, l.input.qmin, l.input.qmax, what + " input");
    const int64_t n = numel(w.shape);
    if (w.shape.empty() || static_cast<int64_t>(w.codes.size()) != n ||
        w.scale.size() != w.zero_point.size() ||
        (w.scale.size() != 1 && static_cast<int64_t>(w.scale.size()) != w.shape[0]) ||
        (!l.bias.empty() && static_cast<int64_t>(l.bias.size()) != w.shape[0])) {
      throw InternalError(what + ": inconsistent sizes");
    }
    std::string codes;
    if (w.bits <= 4) {
      const auto packed = pack_int4(w.codes, w.is_signed);
      codes.assign(packed.begin(), packed.end());
    } else {
      for (int16_t c : w.codes) {
        if (c < w.qmin || c > w.qmax) throw InternalError(what + ": code out of range");
        codes.push_back(static_cast<char>(static_cast<uint8_t>(c & 0xff)));
      }
    }
    json weight{{"shape", w.shape},       {"bits", w.bits},     {"signed", w.is_signed},
                {"qmin", w.qmin},         {"qmax", w.qmax},     {"storage", storage_of(w)},
                {"channels", w.scale.size()}, {"codes", data.add(codes)},
                {"scale", data.floats(w.scale)}, {"zero_point", data.ints(w.zero_point)}};
    json input{{"bits", l.input.bits},
               {"signed", l.input.is_signed},
               {"qmin", l.input.qmin},
               {"qmax", l.input.qmax},
               // float -> double is exact, and the JSON writer prints doubles so that they
               // read back bit-identically.
               {"scale", static_cast<double>(l.input.scale)},
               {"zero_point", l.input.zero_point}};
    layers.push_back({{"name", l.name},
                      {"kind", l.kind},
                      {"weight", weight},
                      {"bias", l.bias.empty() ? json(nullptr) : data.floats(l.bias)},
                      {"input", input}});
  }
  const json header{{"format", "neurocore-int-model"}, {"version", kVersion},
                    {"model", m.model},                {"bits", m.bits},
                    {"data_bytes", data.data.size()},  {"layers", layers}};
  const std::string h = header.dump(1);
  std::string out(kMagic, sizeof kMagic);
  put_u32(out, static_cast<uint32_t>(h.size()));
  return out + h + data.data;
}

IntModel parse_int_model(const std::string& bytes, const std::string& origin) {
  if (bytes.size() < kPrefix || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    throw UserError(origin + ": not a neurocore integer model (expected the magic bytes "
                    "'NCQUANT1' at the start of the file, written by `neurocore quantize`)");
  }
  const uint64_t header_bytes = get_u32(bytes.data() + sizeof kMagic);
  if (header_bytes > bytes.size() - kPrefix) {
    throw UserError(fmt::format("{}: truncated: the header is {} bytes but only {} follow the "
                                "prefix", origin, header_bytes, bytes.size() - kPrefix));
  }
  json header;
  try {
    header = json::parse(bytes.substr(kPrefix, header_bytes));
  } catch (const json::exception& e) {
    throw UserError(origin + ": the JSON header is corrupt: " + e.what());
  }
  const Reader top(header, origin, "");
  const std::string format = top.string("format");
  if (format != "neurocore-int-model") top.fail("format", "'neurocore-int-model'", "'" + format + "'");
  top.integer("version", kVersion, kVersion);
  const std::string data = bytes.substr(kPrefix + header_bytes);
  const int64_t data_bytes = top.integer("data_bytes", 0, INT64_MAX);
  if (data_bytes != static_cast<int64_t>(data.size())) {
    throw UserError(fmt::format("{}: {}: the data section should be {} bytes, the file holds {} "
                                "after the header", origin,
                                data_bytes > static_cast<int64_t>(data.size()) ? "truncated" : "trailing bytes",
                                data_bytes, data.size()));
  }
  IntModel m;
  m.model = top.string("model");
  m.bits = top.string("bits");
  const json& layers = top.at("layers");
  if (!layers.is_array() || layers.empty()) top.fail("layers", "a non-empty array", layers.dump());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Reader r(layers[i], origin, fmt::format("layers[{}]", i));
    IntLayer l;
    l.name = r.string("name");
    if (l.name.empty()) r.fail("name", "a module name", "''");
    l.kind = r.string("kind");
    if (l.kind != "conv2d" && l.kind != "linear") r.fail("kind", "'conv2d' or 'linear'", "'" + l.kind + "'");
    l.weight = read_weight(r.object("weight"), l.kind, data);
    if (!r.at("bias").is_null()) l.bias = read_floats(r, "bias", data, l.weight.shape[0], false);
    l.input = read_act(r.object("input"));
    for (const auto& other : m.layers) {
      if (other.name == l.name) r.fail("name", "a name not used by an earlier layer", "'" + l.name + "'");
    }
    m.layers.push_back(std::move(l));
  }
  return m;
}

IntModel read_int_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot read the integer model file");
  std::ostringstream s;
  s << in.rdbuf();
  return parse_int_model(s.str(), path);
}

}  // namespace nc::compress
