// The RNN transducer model (include/neurocore/nn/rnnt.h).
#include "neurocore/nn/rnnt.h"

#include <torch/torch.h>

#include "neurocore/core/error.h"

namespace nc::nn {
namespace {

// Reverses each utterance of x [T, B, ...] within its length (padding stays in place).
torch::Tensor reverse_padded(const torch::Tensor& x, const torch::Tensor& lengths) {
  const int64_t T = x.size(0), B = x.size(1);
  auto t = torch::arange(T, torch::kLong).unsqueeze(1).expand({T, B});
  auto len = lengths.to(torch::kLong).unsqueeze(0).expand({T, B});
  auto idx = torch::where(t < len, len - 1 - t, t);  // [T, B]
  auto shape = idx.sizes().vec();
  for (int64_t d = 2; d < x.dim(); ++d) shape.push_back(1);
  auto full = idx.view(shape).expand(x.sizes());
  return x.gather(0, full);
}

}  // namespace

RnntModelImpl::RnntModelImpl(RnntModelOptions o) : options(std::move(o)) {
  const std::vector<std::pair<std::string, int64_t>> sizes = {
      {"input_dim", options.input_dim()}, {"vocab", options.vocab()},
      {"layers", options.layers()},       {"hidden", options.hidden()},
      {"embed", options.embed()},         {"predictor_hidden", options.predictor_hidden()},
      {"joint", options.joint()}};
  for (const auto& [name, v] : sizes)
    if (v < 1)
      throw UserError("model." + name + " = " + std::to_string(v) + ", expected >= 1");
  if (options.bidirectional() && options.unit() != AsrUnitKind::lstm)
    throw UserError("model.bidirectional: only the lstm unit has a bidirectional encoder, got unit " +
                    asr_unit_name(options.unit()));
  reset();
}

void RnntModelImpl::reset() {
  auto unit = [&](int64_t in, int64_t out, AsrUnitKind kind) {
    return AsrUnit(AsrUnitOptions(in, out, kind)
                       .decay(options.decay())
                       .trainable_decay(options.trainable_decay())
                       .threshold_init(options.threshold_init())
                       .reset_from_y(options.reset_from_y()));
  };
  encoder = register_module("encoder", torch::nn::ModuleList());
  if (options.bidirectional())
    encoder_backward = register_module("encoder_backward", torch::nn::ModuleList());
  int64_t in = options.input_dim();
  for (int64_t l = 0; l < options.layers(); ++l) {
    encoder->push_back(unit(in, options.hidden(), options.unit()));
    if (options.bidirectional()) encoder_backward->push_back(unit(in, options.hidden(), options.unit()));
    in = options.hidden() * (options.bidirectional() ? 2 : 1);
  }
  embedding = register_module("embedding", torch::nn::Embedding(options.vocab(), options.embed()));
  predictor = register_module(
      "predictor", unit(options.embed(), options.predictor_hidden(),
                        options.predictor_lstm() ? AsrUnitKind::lstm : options.unit()));
  joint_enc = register_module("joint_enc", torch::nn::Linear(encoder_dim(), options.joint()));
  joint_pred = register_module(
      "joint_pred",
      torch::nn::Linear(torch::nn::LinearOptions(options.predictor_hidden(), options.joint()).bias(false)));
  joint_out = register_module("joint_out", torch::nn::Linear(options.joint(), options.vocab()));
}

int64_t RnntModelImpl::encoder_dim() const {
  return options.hidden() * (options.bidirectional() ? 2 : 1);
}

torch::Tensor RnntModelImpl::encode(const torch::Tensor& x, const torch::Tensor& lengths) {
  if (x.dim() != 3 || x.size(2) != options.input_dim())
    throw UserError("RNN-T input must be [T, B, " + std::to_string(options.input_dim()) +
                    "] features");
  torch::Tensor h = x;
  for (size_t l = 0; l < encoder->size(); ++l) {
    AsrUnitState st;
    auto fwd = encoder[l]->as<AsrUnitImpl>()->forward(h, st);
    if (options.bidirectional()) {
      AsrUnitState sb;
      auto bwd = encoder_backward[l]->as<AsrUnitImpl>()->forward(reverse_padded(h, lengths), sb);
      h = torch::cat({fwd, reverse_padded(bwd, lengths)}, 2);
    } else {
      h = fwd;
    }
  }
  return h;
}

torch::Tensor RnntModelImpl::encode_step(const torch::Tensor& x, EncoderState& state) {
  TORCH_CHECK(!options.bidirectional(), "a bidirectional encoder cannot stream");
  if (state.empty()) state.resize(encoder->size());
  torch::Tensor h = x;
  for (size_t l = 0; l < encoder->size(); ++l) h = encoder[l]->as<AsrUnitImpl>()->step(h, state[l]);
  return h;
}

torch::Tensor RnntModelImpl::predict(const torch::Tensor& targets) {
  const int64_t B = targets.size(0);
  auto sos = torch::zeros({B, 1}, targets.options().dtype(torch::kLong));
  auto in = torch::cat({sos, targets.to(torch::kLong)}, 1);  // [B, U+1]
  auto e = embedding(in).transpose(0, 1);                    // [U+1, B, embed]
  AsrUnitState st;
  return predictor->forward(e, st).transpose(0, 1);          // [B, U+1, P]
}

torch::Tensor RnntModelImpl::predict_step(const torch::Tensor& symbols, AsrUnitState& state) {
  return predictor->step(embedding(symbols.to(torch::kLong)), state);
}

torch::Tensor RnntModelImpl::joint(const torch::Tensor& f, const torch::Tensor& p) {
  auto hf = joint_enc(f).unsqueeze(2);   // [B, T, 1, J]
  auto hp = joint_pred(p).unsqueeze(1);  // [B, 1, U+1, J]
  return joint_out(torch::tanh(hf + hp));
}

torch::Tensor RnntModelImpl::joint_step(const torch::Tensor& f, const torch::Tensor& p) {
  return joint_out(torch::tanh(joint_enc(f) + joint_pred(p)));
}

int64_t RnntModelImpl::encoder_macs_per_frame() const {
  int64_t macs = 0;
  for (const auto& m : *encoder) macs += m->as<AsrUnitImpl>()->macs_per_step();
  if (options.bidirectional())
    for (const auto& m : *encoder_backward) macs += m->as<AsrUnitImpl>()->macs_per_step();
  return macs;
}

int64_t RnntModelImpl::predictor_macs_per_symbol() const { return predictor->macs_per_step(); }

int64_t RnntModelImpl::joint_macs() const {
  return options.joint() * (encoder_dim() + options.predictor_hidden() + options.vocab());
}

}  // namespace nc::nn
