// The OSTL learning rule for the Trainer (`learn: {rule: ostl}`), docs/ostl.md.
#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <memory>

#include "neurocore/core/error.h"
#include "neurocore/learn/loss.h"
#include "neurocore/learn/ostl.h"
#include "neurocore/learn/ostl_rnn.h"
#include "neurocore/nn/mlp.h"
#include "neurocore/nn/rnn.h"

namespace nc::learn {
namespace {

// The recurrent layers OSTL traces and the stateless readout on top, read from the model.
struct OstlModel {
  std::vector<std::shared_ptr<OstlLayer>> layers;
  torch::nn::Linear readout = nullptr;
};

Ostl::Between hidden_hook_of(nn::NetImpl& model);

class OstlRule : public Rule {
 public:
  // `read` builds the traced layers; it is called again whenever the model's parameter tensors
  // are not those of the last call (a checkpoint load may have replaced them).
  // steps: the steps taken per call of Ostl::steps with update: sequence, where the layers
  // hold their steps (1: one step() per time step).
  OstlRule(int64_t in, std::function<OstlModel()> read, OstlUpdate update, int64_t steps)
      : in_(in), read_(std::move(read)), update_(update), steps_(steps) {}
  std::string name() const override { return "ostl"; }

  BatchResult train_batch(nn::NetImpl& model, const torch::Tensor& x,
                          const torch::Tensor& labels, const std::string& loss,
                          torch::optim::Optimizer& optimizer) override {
    if (x.dim() < 3 || x.flatten(2).size(2) != in_) {
      throw UserError("ostl: input must be [T, B, ...] with " + std::to_string(in_) +
                      " features per step, got " + c10::str(x.sizes()));
    }
    const torch::Tensor xs = x.flatten(2);
    const int64_t T = xs.size(0), B = xs.size(1);

    Ostl& ostl = traced(model);
    torch::nn::Linear readout = readout_;

    optimizer.zero_grad();
    ostl.begin(B, xs.options());
    std::vector<torch::Tensor> outputs;  // [K, B, C] each
    const int64_t K =
        update_ == OstlUpdate::sequence && ostl.holds_steps() ? std::max<int64_t>(steps_, 1) : 1;
    for (int64_t t = 0; t < T; t += K) {
      // ostl.md §9: the per-step form of the configured loss, scaled so that sum_t E^t is
      // the mean over steps of the per-step losses.
      if (K > 1) {
        // K steps in one call (the same gradients, Ostl::steps). The loss is a mean over its
        // rows, so over the k steps' rows at once it is the mean of their per-step losses.
        const int64_t k = std::min(K, T - t);
        torch::Tensor o = ostl.steps(xs.narrow(0, t, k));
        if (readout) o = readout->forward(o);
        ostl.backward(classification_loss(o.flatten(0, 1), labels.repeat({k}), loss) *
                      (static_cast<double>(k) / static_cast<double>(T)));
        outputs.push_back(o.detach());
        continue;
      }
      torch::Tensor o = ostl.step(xs[t]);
      if (readout) o = readout->forward(o);
      ostl.backward(classification_loss(o, labels, loss) / static_cast<double>(T));
      outputs.push_back(o.detach().unsqueeze(0));
      if (update_ == OstlUpdate::step) {
        ostl.write_gradients();
        optimizer.step();
        optimizer.zero_grad();
      }
    }
    if (update_ == OstlUpdate::sequence) {
      ostl.write_gradients();
      optimizer.step();
    }
    torch::NoGradGuard no_grad;
    const torch::Tensor scores = class_scores(torch::cat(outputs), true, loss);
    return {scores, classification_loss(scores, labels, loss).item<double>()};
  }

 private:
  // The layers persist from batch to batch so that their traces' buffers are reused: a new
  // [B, n, m] trace every batch (51 MB for a 784-256 layer at batch 64, above malloc's mmap
  // threshold) cost a fresh mapping and its page faults each time.
  Ostl& traced(nn::NetImpl& model) {
    const auto params = model.parameters();
    const bool same =
        ostl_ && params.size() == params_.size() &&
        std::equal(params.begin(), params.end(), params_.begin(),
                   [](const torch::Tensor& p, const Seen& s) {
                     return p.is_same(s.tensor) && p.dtype() == s.dtype && p.device() == s.device;
                   });
    if (!same) {
      OstlModel m = read_();
      ostl_ = std::make_unique<Ostl>(
          std::move(m.layers), m.readout ? m.readout->parameters() : std::vector<torch::Tensor>{},
          hidden_hook_of(model));
      readout_ = m.readout;
      params_.clear();
      for (const auto& p : params) params_.push_back({p, p.dtype(), p.device()});
    }
    return *ostl_;
  }

  int64_t in_;
  std::function<OstlModel()> read_;
  OstlUpdate update_;
  int64_t steps_;
  std::unique_ptr<Ostl> ostl_;
  torch::nn::Linear readout_ = nullptr;
  // The model's parameters when ostl_ was built, with their dtype and device then (a model
  // converted in place keeps its tensors but not the buffers built for them).
  struct Seen {
    torch::Tensor tensor;
    caffe2::TypeMeta dtype;
    torch::Device device;
  };
  std::vector<Seen> params_;
};

// The model's hidden-layer hook (a modulation such as GRAPES) between the traced layers:
// OSTL layer l is the model's l-th hidden producer (the SNU layers below the output layer,
// in order), so the hook sees the same producers as in the model's own forward pass.
Ostl::Between hidden_hook_of(nn::NetImpl& model) {
  if (!model.hidden_hook()) return {};
  auto producers = model.hidden_producers();
  return [hook = model.hidden_hook(), producers](std::size_t l, const torch::Tensor& y) {
    return l < producers.size() ? hook(*producers[l], y) : y;
  };
}

OstlModel read_snu_mlp(nn::SNUMLPImpl& net, int64_t trace_chunk) {
  OstlModel m;
  for (const auto& layer : *net.layers) {
    if (auto* snu = layer->as<nn::SNUImpl>()) {
      m.layers.push_back(std::make_shared<SNUOstlLayer>(snu->cell, trace_chunk));
    } else {
      m.readout = torch::nn::Linear(std::dynamic_pointer_cast<torch::nn::LinearImpl>(layer));
    }
  }
  return m;
}

OstlModel read_rnn(nn::RNNClassifierImpl& net) {
  OstlModel m;
  if (net.lstm) {
    m.layers.push_back(std::make_shared<LSTMOstlLayer>(net.lstm));
  } else if (net.gru) {
    m.layers.push_back(std::make_shared<GRUOstlLayer>(net.gru));
  } else {
    throw InternalError("read_rnn: a cell without an OSTL layer (make_ostl_rule refuses it)");
  }
  m.readout = net.readout;
  return m;
}

}  // namespace

std::string ostl_supported() {
  return "model 'snu-mlp' (SNU and sSNU layers with or without recurrent weights, any g, "
         "trainable threshold and decay, detach_reset; not lateral_inhibition) with readout "
         "'snu' or 'linear'; models 'lstm' and 'gru' (one LibTorch cell, linear readout)";
}

std::unique_ptr<Rule> make_ostl_rule(ConfigSection section, nn::NetImpl& model) {
  const std::string update = section.choice("update", "sequence", {"sequence", "step"});
  const int64_t chunk =
      section.integer("trace_chunk", SNUOstlLayer::kDefaultTraceChunk, 0, 1024);
  const int64_t signal_chunk =
      section.integer("signal_chunk", std::max<int64_t>(chunk, 1), 1, 1024);
  section.finish();
  const OstlUpdate u = update == "step" ? OstlUpdate::step : OstlUpdate::sequence;
  if (auto* rnn = dynamic_cast<nn::RNNClassifierImpl*>(&model)) {
    if (rnn->rnn) {
      throw UserError("learn.rule: ostl does not support model 'rnn' (the Elman cell has no OSTL "
                      "layer); supported: " + ostl_supported() + "; use learn.rule: bptt");
    }
    return std::make_unique<OstlRule>(rnn->options.in(), [rnn] { return read_rnn(*rnn); }, u, 1);
  }
  auto* net = dynamic_cast<nn::SNUMLPImpl*>(&model);
  if (!net) {
    throw UserError("learn.rule: ostl does not support the model " + model.name() +
                    "; supported: " + ostl_supported());
  }
  for (const auto& m : *net->layers) {
    if (auto* snu = m->as<nn::SNUImpl>(); snu && snu->options.lateral_inhibition()) {
      throw UserError("learn.rule: ostl does not support SNU layers with lateral_inhibition; "
                      "supported: " + ostl_supported());
    }
  }
  return std::make_unique<OstlRule>(
      net->options.in(), [net, chunk] { return read_snu_mlp(*net, chunk); }, u, signal_chunk);
}

}  // namespace nc::learn
