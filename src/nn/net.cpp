#include "neurocore/nn/net.h"

#include <torch/torch.h>

#include <functional>

#include "neurocore/core/error.h"
#include "neurocore/nn/cnn.h"
#include "neurocore/nn/lenet.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/oddity_nets.h"
#include "neurocore/nn/resnet.h"
#include "neurocore/nn/rnn.h"

namespace nc::nn {
namespace {

template <class E>
E choose(ConfigSection& section, const std::string& key, const std::string& def,
         const std::vector<std::string>& names) {
  const auto v = section.choice(key, def, names);
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == v) return static_cast<E>(i);
  throw InternalError("choose: unreachable");
}

using Builder = std::function<std::shared_ptr<NetImpl>()>;

std::string key_of(const ConfigSection& s, const std::string& key) {
  return s.path().empty() ? key : s.path() + "." + key;
}

Builder read_mlp(ConfigSection& s, int64_t in, int64_t classes) {
  MLPOptions o(in, classes);
  o.hidden(s.integers("hidden", {256, 256}, 1));
  o.activation(choose<MLPActivation>(s, "activation", "relu", {"relu", "tanh", "sigmoid"}));
  return [o] { return std::make_shared<MLPImpl>(o); };
}

Builder read_snu_mlp(ConfigSection& s, int64_t in, int64_t classes) {
  SNUMLPOptions o(in, classes);
  o.hidden(s.integers("hidden", {256, 256}, 1));
  SNUOptions n(1, 1);
  n.soft(s.boolean("soft", false))
      .decay(s.number("decay", 0.8, 0, 1))
      .trainable_decay(s.boolean("trainable_decay", false))
      .g(choose<Activation>(s, "g", "identity", {"identity", "relu", "leaky_relu"}))
      .g_slope(s.number("g_slope", 0.1, 0, 1))
      .threshold_init(s.number("threshold", 1.0))
      .recurrent(s.boolean("recurrent", false))
      .lateral_inhibition(s.boolean("lateral_inhibition", false))
      .detach_reset(s.boolean("detach_reset", false));
  const auto surrogate = s.choice("surrogate", "tanh", surrogate_names());
  n.surrogate(parse_surrogate(surrogate, s.number("surrogate_param", 0, 0)));
  if (n.decay() == 0 || (n.trainable_decay() && n.decay() == 1)) {
    throw UserError(key_of(s, "decay") + " must be in " +
                    (n.trainable_decay() ? "(0, 1) with trainable_decay" : "(0, 1]") +
                    ", got " + std::to_string(n.decay()));
  }
  if (n.g_slope() == 1) {
    throw UserError(key_of(s, "g_slope") + " must be in [0, 1), got 1");
  }
  o.neuron(n);
  o.readout(choose<Readout>(s, "readout", "snu", {"snu", "linear"}));
  return [o] { return std::make_shared<SNUMLPImpl>(o); };
}

Builder read_rnn(ConfigSection& s, RNNCellKind cell, int64_t in, int64_t classes) {
  const auto o = RNNClassifierOptions(in, classes).cell(cell).hidden(s.integer("hidden", 128, 1));
  return [o] { return std::make_shared<RNNClassifierImpl>(o); };
}

Builder read_resnet(ConfigSection& s, int64_t depth, const InputShape& in, int64_t classes) {
  ResNetOptions o(depth, classes);
  o.in_channels(in.channels);
  o.width(s.integer("width", 16, 1));
  o.shortcut(choose<Shortcut>(s, "shortcut", "A", {"A", "B"}));
  o.channels(s.integers("channels", {}, 1));
  return [o] { return std::make_shared<ResNetImpl>(o); };
}

// The oddity models take the six panels as channels (docs/oddity.md).
Builder read_oren(ConfigSection& s, const InputShape& in) {
  OReNOptions o;
  o.channels = s.integer("channels", o.channels, 1);
  o.embedding = s.integer("embedding", o.embedding, 1);
  o.g_width = s.integer("g_width", o.g_width, 1);
  return [o, in] { return std::make_shared<OReNImpl>(in, o); };
}

Builder read_snu_saccade(ConfigSection& s, const InputShape& in) {
  SaccadeSNUOptions o;
  o.channels = s.integer("channels", o.channels, 1);
  o.features = s.integer("features", o.features, 1);
  o.hidden = s.integer("hidden", o.hidden, 1);
  o.decay = s.number("decay", o.decay, 0, 1);
  if (o.decay == 0) throw UserError(key_of(s, "decay") + " must be in (0, 1], got 0");
  o.soft = s.boolean("soft", o.soft);
  auto& c = o.saccade;
  c.repeats = s.integer("repeats", c.repeats);
  c.fixation_steps = s.integer("fixation_steps", c.fixation_steps);
  c.random_order = s.boolean("random_order", c.random_order);
  c.glimpse = s.string("glimpse", c.glimpse);
  c.fovea = s.number("fovea", c.fovea);
  c.validate(s.path().empty() ? "model" : s.path());
  return [o, in] { return std::make_shared<SaccadeSNUImpl>(in, o); };
}

}  // namespace

std::vector<std::string> model_names() {
  return {"mlp",      "snu-mlp",  "lstm",     "gru",     "rnn",     "lenet5",   "cnn",
          "resnet",   "resnet20", "resnet32", "resnet56", "oren", "snu-saccade"};
}

std::shared_ptr<NetImpl> make_model(ConfigSection section, const InputShape& in,
                                    int64_t num_classes) {
  if (in.channels < 1 || in.height < 1 || in.width < 1 || num_classes < 1) {
    throw UserError("model: input shape and class count must be >= 1, got " +
                    std::to_string(in.channels) + "x" + std::to_string(in.height) + "x" +
                    std::to_string(in.width) + ", " + std::to_string(num_classes) + " classes");
  }
  const std::string name = section.choice("name", "mlp", model_names());
  const int64_t features = in.channels * in.height * in.width;
  Builder build;
  if (name == "mlp") {
    build = read_mlp(section, features, num_classes);
  } else if (name == "snu-mlp") {
    build = read_snu_mlp(section, features, num_classes);
  } else if (name == "lstm" || name == "gru" || name == "rnn") {
    const auto cell = name == "lstm" ? RNNCellKind::lstm : name == "gru" ? RNNCellKind::gru : RNNCellKind::rnn;
    build = read_rnn(section, cell, features, num_classes);
  } else if (name == "lenet5") {
    const auto channels = section.integers("channels", {6, 16, 120, 84}, 1);
    if (channels.size() != 4) {
      throw UserError(key_of(section, "channels") + " must list 4 widths (conv1, conv2, fc1, fc2), got " +
                      std::to_string(channels.size()));
    }
    build = [in, num_classes, channels] { return std::make_shared<LeNet5Impl>(in, num_classes, channels); };
  } else if (name == "cnn") {
    const auto channels = section.integers("channels", {16, 32}, 1);
    const auto hidden = section.integers("hidden", {128}, 1);
    if (channels.empty()) {
      throw UserError(key_of(section, "channels") + " must list at least one conv width, got []");
    }
    const int64_t padding = section.integer("padding", 1, 0, 1);
    build = [in, num_classes, channels, hidden, padding] {
      return std::make_shared<SmallCNNImpl>(in, num_classes, channels, hidden, padding);
    };
  } else if ((name == "oren" || name == "snu-saccade") && num_classes != in.channels) {
    throw UserError("model.name " + name + " scores each panel: it needs one class per panel "
                    "(data.name oddity: 6 panels, 6 classes), got " + std::to_string(in.channels) +
                    " input channels and " + std::to_string(num_classes) + " classes");
  } else if (name == "oren") {
    build = read_oren(section, in);
  } else if (name == "snu-saccade") {
    build = read_snu_saccade(section, in);
  } else if (name == "resnet") {
    const int64_t depth = section.integer("depth", 20, 8);
    if ((depth - 2) % 6 != 0) {
      throw UserError(key_of(section, "depth") +
                      " must be 6n + 2 (8, 14, 20, 32, 44, 56, 110, ...), got " +
                      std::to_string(depth));
    }
    build = read_resnet(section, depth, in, num_classes);
  } else {  // resnet20, resnet32, resnet56
    build = read_resnet(section, std::stoll(name.substr(6)), in, num_classes);
  }
  // Every key is checked before the (possibly large) model is built.
  section.finish();
  return build();
}

int64_t count_parameters(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters())
    if (p.requires_grad()) n += p.numel();
  return n;
}

}  // namespace nc::nn
