#include "neurocore/data/mnist10k.h"

#include <torch/torch.h>

#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"

namespace nc::data {

namespace {

constexpr int64_t kPixels = 28 * 28;
constexpr int kDigits = 10;

// Streams the numbers of the top-level "data" array straight into bytes k = round(255 v):
// the files hold 7.8 million numbers, and a DOM would cost a node per number.
class DigitsSax : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::vector<uint8_t> bytes;
  std::string error;  // set when the content is wrong (parse errors included)
  bool found = false;

  bool null() override { return not_a_number("null"); }
  bool boolean(bool) override { return not_a_number("a boolean"); }
  bool number_integer(number_integer_t v) override { return number(double(v)); }
  bool number_unsigned(number_unsigned_t v) override { return number(double(v)); }
  bool number_float(number_float_t v, const string_t&) override { return number(v); }
  bool string(string_t&) override { return not_a_number("a string"); }
  bool binary(binary_t&) override { return not_a_number("binary data"); }
  bool start_object(std::size_t) override {
    if (depth_ == 0) top_object_ = true;
    if (in_data_) return not_a_number("an object");
    ++depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ == 1) key_ = k;
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (in_data_) return not_a_number("an array");
    if (depth_ == 0) {
      error = "the top level is an array, expected an object {\"data\": [...]}";
      return false;
    }
    if (depth_ == 1 && key_ == "data") {
      if (found) {
        error = "\"data\" appears twice, expected one \"data\" array";
        return false;
      }
      found = in_data_ = true;
    }
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    if (in_data_ && depth_ == 1) in_data_ = false;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception& e) override {
    error = std::string("not valid JSON: ") + e.what();
    return false;
  }

  bool top_object() const { return top_object_; }

 private:
  bool number(double v) {
    if (depth_ == 0) top_object_ = false;
    if (!in_data_ || depth_ != 2) return true;  // a number outside "data": not ours
    if (!(v >= 0.0 && v <= 1.0)) {
      std::ostringstream m;
      m << "value " << v << " at index " << bytes.size() << " of \"data\" (image "
        << bytes.size() / kPixels << ", pixel " << bytes.size() % kPixels
        << "), expected a pixel intensity in [0,1]";
      error = m.str();
      return false;
    }
    bytes.push_back(static_cast<uint8_t>(std::lround(255.0 * v)));
    return true;
  }
  bool not_a_number(const char* what) {
    if (!in_data_) return true;
    error = std::string("\"data\" holds ") + what + " at index " + std::to_string(bytes.size()) +
            ", expected only numbers";
    return false;
  }

  int depth_ = 0;
  bool in_data_ = false, top_object_ = false;
  std::string key_;
};

std::vector<uint8_t> read_digit_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw UserError(path + ": MNIST-10k digit file not found (expected 0.json ... 9.json, each "
                           "{\"data\": [...]})");
  }
  const std::string text = nc::read_file(path);
  DigitsSax sax;
  sax.bytes.reserve(text.size() / 2);
  nlohmann::json::sax_parse(text.begin(), text.end(), &sax);
  if (!sax.error.empty()) throw UserError(path + ": " + sax.error);
  if (!sax.top_object()) {
    throw UserError(path + ": the top level is not an object, expected {\"data\": [...]}");
  }
  if (!sax.found) {
    throw UserError(path + ": no \"data\" array, expected {\"data\": [...]} with 784 numbers "
                           "per image");
  }
  if (sax.bytes.size() % kPixels != 0) {
    throw UserError(path + ": \"data\" holds " + std::to_string(sax.bytes.size()) +
                    " values, expected a multiple of 784 (28 x 28 per image)");
  }
  return std::move(sax.bytes);
}

// Interleaves the chosen images of each digit round-robin into one Dataset.
Dataset assemble(const std::array<std::vector<uint8_t>, kDigits>& pixels,
                 const std::array<int64_t, kDigits>& begin, const std::array<int64_t, kDigits>& end,
                 const std::string& name) {
  int64_t n = 0, rounds = 0;
  for (int d = 0; d < kDigits; ++d) {
    n += end[d] - begin[d];
    rounds = std::max(rounds, end[d] - begin[d]);
  }
  auto bytes = torch::empty({n, 1, 28, 28}, torch::kUInt8);
  auto labels = torch::empty({n}, torch::kInt64);
  uint8_t* out = bytes.data_ptr<uint8_t>();
  int64_t* lab = labels.data_ptr<int64_t>();
  int64_t k = 0;
  for (int64_t r = 0; r < rounds; ++r) {
    for (int d = 0; d < kDigits; ++d) {
      const int64_t i = begin[d] + r;
      if (i >= end[d]) continue;
      std::memcpy(out + k * kPixels, pixels[d].data() + i * kPixels, kPixels);
      lab[k++] = d;
    }
  }
  Dataset ds;
  ds.name = name;
  ds.num_classes = kDigits;
  ds.images = bytes.to(torch::kFloat32).div_(255.0f);
  ds.labels = labels;
  return ds;
}

}  // namespace

TrainTest read_mnist10k(const std::string& digits_dir) {
  std::array<std::vector<uint8_t>, kDigits> pixels;
  std::array<int64_t, kDigits> zero{}, cut{}, count{};
  for (int d = 0; d < kDigits; ++d) {
    pixels[d] = read_digit_file((std::filesystem::path(digits_dir) / (std::to_string(d) + ".json")).string());
    count[d] = static_cast<int64_t>(pixels[d].size()) / kPixels;
    cut[d] = count[d] * 4 / 5;  // floor(0.8 n_d), in exact integer arithmetic
  }
  TrainTest tt;
  tt.train = assemble(pixels, zero, cut, "mnist-10k");
  tt.test = assemble(pixels, cut, count, "mnist-10k");
  return tt;
}

}  // namespace nc::data
