// QuantNet <-> IntModel (see the header).
#include "neurocore/compress/int_export.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "neurocore/core/error.h"
#include "neurocore/core/io.h"

namespace nc::compress {

namespace {

template <typename T>
std::vector<T> values(const torch::Tensor& t, torch::ScalarType type) {
  const auto c = t.detach().to(torch::kCPU, type).contiguous();
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}

torch::Tensor tensor_of(const std::vector<float>& v, const std::vector<int64_t>& shape,
                        const torch::TensorOptions& like) {
  return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat).to(like).clone();
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

IntModel export_int_model(QuantNetImpl& q, const std::string& model_name) {
  torch::NoGradGuard no_grad;
  IntModel m;
  m.model = model_name;
  m.bits = to_string(q.config().bits);
  for (auto& l : q.layers()) {
    if (!l.weight_q->calibrated || !l.input_q->calibrated) {
      throw UserError("integer export: layer " + l.name +
                      " has no calibrated quantizer (calibrate the model with PTQ first)");
    }
    const QuantSpec& ws = l.weight_q->spec();
    const auto w = l.weight().detach().to(torch::kFloat);
    const auto scale = l.weight_q->scale.detach().to(torch::kFloat);
    const auto zero = l.weight_q->zero_point.detach().to(torch::kFloat);
    IntLayer il;
    il.name = l.name;
    il.kind = l.conv ? "conv2d" : "linear";
    IntTensor& t = il.weight;
    t.bits = ws.bits;
    t.is_signed = ws.is_signed;
    t.qmin = ws.qmin();
    t.qmax = ws.qmax();
    t.shape = w.sizes().vec();
    t.codes = values<int16_t>(quantize_codes(w, scale, zero, t.qmin, t.qmax), torch::kShort);
    t.scale = values<float>(scale, torch::kFloat);
    t.zero_point = values<int32_t>(zero.round(), torch::kInt);
    // The file must hold exactly the weights the fake-quant model computes with.
    const auto fq = fake_quantize(w, scale, zero, t.qmin, t.qmax);
    if (!torch::equal(tensor_of(t.dequantize(), t.shape, fq.options()), fq)) {
      throw InternalError("integer export: layer " + l.name +
                          ": scale·(code − zero_point) differs from the fake-quantized weight");
    }
    if (l.bias().defined()) il.bias = values<float>(l.bias(), torch::kFloat);
    const QuantSpec& as = l.input_q->spec();
    il.input.bits = as.bits;
    il.input.is_signed = as.is_signed;
    il.input.qmin = as.qmin();
    il.input.qmax = as.qmax();
    il.input.scale = l.input_q->scale.detach().to(torch::kFloat).item<float>();
    il.input.zero_point = static_cast<int32_t>(std::lround(l.input_q->zero_point.item<double>()));
    m.layers.push_back(std::move(il));
  }
  return m;
}

void save_int_model(const std::string& path, const IntModel& m) {
  write_file_atomic(path, serialize_int_model(m));
}

void load_int_model(QuantNetImpl& q, const IntModel& m, const std::string& origin) {
  auto& layers = q.layers();
  if (layers.size() != m.layers.size()) {
    throw UserError(fmt::format("{}: layers: expected {} (the quantized layers of the model), got {}",
                                origin, layers.size(), m.layers.size()));
  }
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    QuantLayer& l = layers[i];
    const IntLayer& il = m.layers[i];
    const std::string field = fmt::format("{}: layers[{}]", origin, i);
    const std::string kind = l.conv ? "conv2d" : "linear";
    if (il.name != l.name || il.kind != kind) {
      throw UserError(fmt::format("{}: expected the {} '{}' (the model's layer {}), got the {} '{}'",
                                  field, kind, l.name, i, il.kind, il.name));
    }
    if (l.weight().sizes().vec() != il.weight.shape) {
      throw UserError(fmt::format("{} ({}).weight.shape: expected {}, got {}", field, il.name,
                                  shape_str(l.weight().sizes().vec()), shape_str(il.weight.shape)));
    }
    if (il.bias.empty() == l.bias().defined()) {
      throw UserError(fmt::format("{} ({}).bias: expected {}, got {}", field, il.name,
                                  l.bias().defined() ? "a bias" : "none", il.bias.empty() ? "none" : "a bias"));
    }
    if (static_cast<int64_t>(il.weight.scale.size()) != l.weight_q->scale.numel()) {
      throw UserError(fmt::format("{} ({}).weight.channels: expected {} (one scale per output "
                                  "channel), got {}", field, il.name, l.weight_q->scale.numel(),
                                  il.weight.scale.size()));
    }
    l.weight().copy_(tensor_of(il.weight.dequantize(), il.weight.shape, l.weight().options()));
    if (!il.bias.empty()) l.bias().copy_(tensor_of(il.bias, {l.bias().numel()}, l.bias().options()));

    QuantSpec ws = l.weight_q->spec();
    ws.bits = il.weight.bits;
    ws.is_signed = il.weight.is_signed;
    ws.restricted = il.weight.is_signed && il.weight.qmin == int_grid(ws.bits, true).first + 1;
    ws.symmetric = std::all_of(il.weight.zero_point.begin(), il.weight.zero_point.end(),
                               [](int32_t z) { return z == 0; });
    l.weight_q->set_spec(ws);
    const std::vector<float> zw(il.weight.zero_point.begin(), il.weight.zero_point.end());
    const auto n = static_cast<int64_t>(il.weight.scale.size());
    l.weight_q->set_range(tensor_of(il.weight.scale, {n}, l.weight_q->scale.options()),
                          tensor_of(zw, {n}, l.weight_q->zero_point.options()));

    QuantSpec as = l.input_q->spec();
    as.bits = il.input.bits;
    as.is_signed = il.input.is_signed;
    as.restricted = il.input.is_signed && il.input.qmin == int_grid(as.bits, true).first + 1;
    as.symmetric = il.input.zero_point == 0;
    l.input_q->set_spec(as);
    l.input_q->set_range(tensor_of({il.input.scale}, {1}, l.input_q->scale.options()),
                         tensor_of({static_cast<float>(il.input.zero_point)}, {1},
                                   l.input_q->zero_point.options()));
  }
  q.set_quantization(true);
}

}  // namespace nc::compress
