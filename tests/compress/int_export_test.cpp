// Integer export (issue #7 item 6): int4 packing, the file format's round trip and its
// validation, a QuantNet re-imported from its integer model computing exactly what the
// fake-quant model computes, and the CM compiler's graph holding the same weights.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "neurocore/cm/functional.h"
#include "neurocore/cm/int_weights.h"
#include "neurocore/cm/mapping.h"
#include "neurocore/cm/poly.h"
#include "neurocore/cm/torch/torch_eval.h"
#include "neurocore/cm/torch/torch_import.h"
#include "neurocore/compress/int_export.h"
#include "neurocore/compress/int_model.h"
#include "neurocore/compress/torchscript_export.h"
#include "neurocore/core/error.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/resnet.h"
#include "compress/resnet_testing.h"

namespace nc::compress {
namespace {

using json = nlohmann::json;

TEST(IntModel, Int4PackingIsExactIncludingNegativesAndOddCounts) {
  const std::vector<int16_t> signed_codes{-8, -1, 0, 7, 3, -5, 1};  // odd count
  const auto packed = pack_int4(signed_codes, true);
  ASSERT_EQ(packed.size(), 4u);
  EXPECT_EQ(packed[0], 0xF8);  // -8 -> 0x8 (low nibble), -1 -> 0xF (high nibble)
  EXPECT_EQ(packed[1], 0x70);  // 0, 7
  EXPECT_EQ(packed[3], 0x01);  // 1 and an empty high nibble
  EXPECT_EQ(unpack_int4(packed, 7, true), signed_codes);
  const std::vector<int16_t> unsigned_codes{0, 15, 9};
  EXPECT_EQ(pack_int4(unsigned_codes, false), (std::vector<uint8_t>{0xF0, 0x09}));
  EXPECT_EQ(unpack_int4(pack_int4(unsigned_codes, false), 3, false), unsigned_codes);
  // Every pair of signed 4-bit values.
  std::vector<int16_t> all;
  for (int a = -8; a < 8; ++a) {
    for (int b = -8; b < 8; ++b) all.insert(all.end(), {static_cast<int16_t>(a), static_cast<int16_t>(b)});
  }
  EXPECT_EQ(unpack_int4(pack_int4(all, true), static_cast<int64_t>(all.size()), true), all);
  EXPECT_THROW(pack_int4({8}, true), InternalError);
  EXPECT_THROW(pack_int4({-1}, false), InternalError);
  EXPECT_THROW(unpack_int4({0x00}, 3, true), InternalError);
}

// A hand-made model with the less common cases: unsigned 8-bit codes with a zero point and one
// scale per tensor, a restricted signed 3-bit grid (packed), a layer without bias.
IntModel handmade() {
  IntModel m;
  m.model = "handmade";
  m.bits = "W3A8";
  IntLayer a;
  a.name = "conv";
  a.kind = "conv2d";
  a.weight.bits = 3;
  a.weight.is_signed = true;
  a.weight.qmin = -3;
  a.weight.qmax = 3;
  a.weight.shape = {3, 1, 1, 1};
  a.weight.codes = {-3, 0, 3};
  a.weight.scale = {0.5f, 0.25f, 0.125f};
  a.weight.zero_point = {0, 0, 0};
  a.bias = {0.1f, -0.2f, 0.3f};
  a.input = {8, false, 0, 255, 0.0123f, 17};
  IntLayer b;
  b.name = "fc";
  b.kind = "linear";
  b.weight.bits = 8;
  b.weight.is_signed = false;
  b.weight.qmin = 0;
  b.weight.qmax = 255;
  b.weight.shape = {2, 3};
  b.weight.codes = {0, 255, 128, 1, 254, 127};
  b.weight.scale = {0.01f};
  b.weight.zero_point = {128};
  b.input = {4, false, 0, 15, 0.3f, 0};
  m.layers = {a, b};
  return m;
}

TEST(IntModel, FileRoundTripKeepsEveryField) {
  const IntModel m = handmade();
  const IntModel r = parse_int_model(serialize_int_model(m), "mem");
  EXPECT_EQ(r.model, "handmade");
  EXPECT_EQ(r.bits, "W3A8");
  ASSERT_EQ(r.layers.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const auto &x = m.layers[i], &y = r.layers[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.kind, y.kind);
    EXPECT_EQ(x.weight.shape, y.weight.shape);
    EXPECT_EQ(x.weight.codes, y.weight.codes);
    EXPECT_EQ(x.weight.scale, y.weight.scale);
    EXPECT_EQ(x.weight.zero_point, y.weight.zero_point);
    EXPECT_EQ(x.weight.qmin, y.weight.qmin);
    EXPECT_EQ(x.weight.is_signed, y.weight.is_signed);
    EXPECT_EQ(x.bias, y.bias);
    EXPECT_EQ(x.input.scale, y.input.scale);  // bit-exact through the JSON header
    EXPECT_EQ(x.input.zero_point, y.input.zero_point);
    EXPECT_EQ(x.input.qmax, y.input.qmax);
  }
  EXPECT_EQ(r.layers[0].weight.dequantize(), (std::vector<float>{-1.5f, 0.0f, 0.375f}));
  EXPECT_EQ(r.layers[1].weight.dequantize()[0], -1.28f);
  EXPECT_EQ(r.layers[1].weight.dequantize()[1], 0.01f * 127);
}

// The file with its JSON header edited.
std::string edit_header(const std::string& file, const std::function<void(json&)>& edit) {
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n |= static_cast<uint32_t>(static_cast<unsigned char>(file[8 + i])) << (8 * i);
  json h = json::parse(file.substr(12, n));
  edit(h);
  const std::string hs = h.dump();
  std::string out = file.substr(0, 8);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((hs.size() >> (8 * i)) & 0xff));
  return out + hs + file.substr(12 + n);
}

// The UserError message of parsing `bytes`, or "" when it parses.
std::string parse_error(const std::string& bytes) {
  try {
    parse_int_model(bytes, "model.ncq");
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(IntModel, CorruptOrTruncatedFilesAreUserErrorsNamingTheField) {
  const std::string good = serialize_int_model(handmade());
  ASSERT_EQ(parse_error(good), "");
  EXPECT_NE(parse_error("PK\x03\x04 a zip").find("model.ncq: not a neurocore integer model"), std::string::npos);
  EXPECT_NE(parse_error(good.substr(0, good.size() - 3)).find("truncated"), std::string::npos);
  EXPECT_NE(parse_error(good.substr(0, 40)).find("truncated"), std::string::npos);
  std::string flipped = good;
  flipped[flipped.size() - 1] ^= 0x10;  // the last blob: the second layer's zero point
  EXPECT_NE(parse_error(flipped).find("layers[1].weight.zero_point: expected data with the stored crc32"),
            std::string::npos) << parse_error(flipped);
  std::string header = good;
  header[12] = '#';  // the JSON text's first character
  EXPECT_NE(parse_error(header).find("the JSON header is corrupt"), std::string::npos);

  const auto expect = [&](const std::function<void(json&)>& edit, const std::string& what) {
    const std::string e = parse_error(edit_header(good, edit));
    EXPECT_NE(e.find(what), std::string::npos) << "expected '" << what << "' in: " << e;
  };
  expect([](json& h) { h["layers"][0]["weight"]["bits"] = 9; }, "model.ncq: layers[0].weight.bits: expected an integer in [2, 8], got 9");
  expect([](json& h) { h["layers"][1]["weight"].erase("scale"); }, "layers[1].weight.scale: expected a value, got nothing (missing field)");
  expect([](json& h) { h["layers"][0]["weight"]["shape"] = {3, 1, 1}; }, "layers[0].weight.shape: expected 4 positive integers for a conv2d");
  expect([](json& h) { h["layers"][0]["weight"]["shape"] = {5, 1, 1, 1}; }, "layers[0].weight.codes.bytes: expected 3 (5 codes packed two per byte), got 2");
  expect([](json& h) { h["layers"][1]["weight"]["storage"] = "int4"; }, "layers[1].weight.storage: expected 'uint8'");
  expect([](json& h) { h["layers"][0]["input"]["scale"] = -1.0; }, "layers[0].input.scale: expected a finite float32 value > 0, got -1.0");
  expect([](json& h) { h["layers"][0]["kind"] = "lstm"; }, "layers[0].kind: expected 'conv2d' or 'linear', got 'lstm'");
  expect([](json& h) { h["layers"][1]["name"] = "conv"; }, "layers[1].name: expected a name not used by an earlier layer");
  expect([](json& h) { h["version"] = 2; }, "version: expected an integer in [1, 1], got 2");

  // read_int_model names the path.
  const auto path = std::filesystem::temp_directory_path() / ("nc_int_model_" + std::to_string(getpid()) + ".ncq");
  std::ofstream(path, std::ios::binary) << good.substr(0, good.size() / 2);
  try {
    read_int_model(path.string());
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string() + ": truncated"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
  EXPECT_THROW(read_int_model(path.string()), UserError);
}

std::shared_ptr<nn::ResNetImpl> resnet8(uint64_t seed) {
  return nc::compress::testing::small_resnet(seed, nn::Shortcut::B);
}

struct Case {
  std::string name, bits;
  std::function<std::shared_ptr<nn::NetImpl>(uint64_t)> make;
  std::vector<int64_t> input;
};

std::vector<Case> cases() {
  return {
      {"mlp", "W4A4",
       [](uint64_t s) {
         torch::manual_seed(s);
         return std::make_shared<nn::MLPImpl>(nn::MLPOptions(16, 4).hidden({12, 9}));
       },
       {1, 4, 4}},
      {"lenet5", "W4A4",
       [](uint64_t s) {
         torch::manual_seed(s);
         return std::make_shared<nn::LeNet5Impl>(nn::InputShape{1, 28, 28}, 10);
       },
       {1, 28, 28}},
      {"resnet8", "W3A8", [](uint64_t s) { return resnet8(s); }, {1, 12, 12}},
  };
}

// A calibrated (PTQ) QuantNet of `c`, from the model of seed 1.
QuantNet calibrated(const Case& c, const torch::Tensor& calib) {
  QuantConfig qc;
  qc.bits = parse_bits(c.bits);
  QuantNet q(c.make(1), qc);
  q->calibrate({calib}, /*bias_correction=*/true);
  q->eval();
  return q;
}

torch::Tensor batch(const Case& c, int64_t n) {
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), c.input.begin(), c.input.end());
  return torch::randn(shape);
}

TEST(IntExport, ReimportedModelEqualsTheFakeQuantModelBitForBit) {
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    torch::manual_seed(3);
    QuantNet q = calibrated(c, batch(c, 16));
    const IntModel m = parse_int_model(serialize_int_model(export_int_model(*q, c.name)), "mem");
    EXPECT_EQ(m.layers.front().weight.bits, 8);  // first and last layer at 8 bits
    EXPECT_EQ(m.layers[1].weight.bits, std::stoi(c.bits.substr(1, 1)));
    // Another initialisation and default quantizer settings: everything comes from the file.
    QuantNet r(c.make(7), QuantConfig{});
    load_int_model(*r, m, "mem");
    r->eval();
    torch::NoGradGuard no_grad;
    const auto x = batch(c, 5);
    const auto want = q->forward(x), got = r->forward(x);
    EXPECT_TRUE(torch::equal(want, got)) << (want - got).abs().max();
  }
}

TEST(IntExport, CompiledGraphComputesTheFakeQuantModel) {
  const cm::Hardware hw = cm::Hardware::load(std::string(NC_SOURCE_DIR) + "/configs/hw/default.yaml");
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.name);
    torch::manual_seed(4);
    QuantNet q = calibrated(c, batch(c, 16));
    const IntModel m = export_int_model(*q, c.name);
    auto fresh = c.make(9);
    fresh->eval();
    cm::Graph g = cm::import_model(*fresh, {c.input[0], c.input[1], c.input[2]});
    EXPECT_EQ(cm::apply_int_model(g, m, "mem"), static_cast<int>(m.layers.size()));
    // Weights and activation quantizers: the graph computes the whole fake-quant model.
    torch::NoGradGuard no_grad;
    const auto x = batch(c, 3);
    const auto want = q->forward(x);
    const auto got = cm::evaluate_with_torch(g, x)[0];
    EXPECT_TRUE(torch::allclose(want, got, 1e-5, 1e-5)) << (want - got).abs().max();
    // The functional simulation of the mapped graph (ideal arithmetic) computes the same.
    const cm::Mapping map = cm::map_graph(g, hw);
    const cm::PolyModel poly(g);
    cm::FunctionalSimulator sim(g, map, poly, hw);
    const auto xc = x.slice(0, 0, 1).contiguous();
    const auto out = sim.run({std::vector<float>(xc.data_ptr<float>(), xc.data_ptr<float>() + xc.numel())});
    const auto ref = want[0].contiguous();
    EXPECT_LT(cm::max_relative_error(out[0], std::vector<float>(ref.data_ptr<float>(),
                                                                ref.data_ptr<float>() + ref.numel())),
              1e-5);
  }
}

TEST(IntExport, TorchScriptModuleComputesTheFakeQuantModel) {
  auto all = cases();
  all.push_back({"resnet8-A", "W4A4", [](uint64_t s) {
                   torch::manual_seed(s);
                   auto net = std::make_shared<nn::ResNetImpl>(
                       nn::ResNetOptions(8, 10).in_channels(1).width(4).shortcut(nn::Shortcut::A));
                   net->eval();
                   return net;
                 }, {1, 12, 12}});
  const auto path = std::filesystem::temp_directory_path() / ("nc_fq_" + std::to_string(getpid()) + ".pt");
  for (const auto& c : all) {
    SCOPED_TRACE(c.name);
    torch::manual_seed(6);
    QuantNet q = calibrated(c, batch(c, 16));
    save_torchscript(*q, path.string());
    torch::jit::Module m = torch::jit::load(path.string());
    m.eval();
    torch::NoGradGuard no_grad;
    const auto x = batch(c, 4);
    const auto want = q->forward(x);
    const auto got = m.forward({x}).toTensor();
    EXPECT_TRUE(torch::equal(want, got)) << (want - got).abs().max();
  }
  std::filesystem::remove(path);
}

TEST(IntExport, MismatchedModelsAreUserErrorsNamingTheLayer) {
  const Case c = cases()[0];
  torch::manual_seed(5);
  QuantNet q = calibrated(c, batch(c, 8));
  const IntModel m = export_int_model(*q, c.name);
  torch::manual_seed(1);
  QuantNet wider(std::make_shared<nn::MLPImpl>(nn::MLPOptions(16, 4).hidden({13, 9})), QuantConfig{});
  try {
    load_int_model(*wider, m, "q.ncq");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("q.ncq: layers[0] (layers.0).weight.shape: expected [13, 16], got [12, 16]"),
              std::string::npos) << e.what();
  }
  cm::Graph g = cm::import_model(*std::make_shared<nn::MLPImpl>(nn::MLPOptions(16, 4).hidden({12})),
                                 {1, 4, 4});
  try {
    cm::apply_int_model(g, m, "q.ncq");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("q.ncq: layers[1] (layers.1): weight.shape: expected [4, 12]"),
              std::string::npos) << e.what();
  }
  QuantNet uncalibrated(c.make(1), QuantConfig{});
  EXPECT_THROW(export_int_model(*uncalibrated, "mlp"), UserError);
}

}  // namespace
}  // namespace nc::compress
