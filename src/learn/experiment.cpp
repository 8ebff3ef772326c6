#include "neurocore/learn/experiment.h"

#include <spdlog/spdlog.h>

#include "neurocore/core/error.h"
#include "neurocore/core/seed.h"
#include "neurocore/core/run_dir.h"
#include "neurocore/learn/grapes.h"

namespace nc::learn {

Experiment Experiment::build(Config& config, const std::vector<std::string>& other_sections) {
  Experiment e;
  auto root = config.root();
  const RunKeys keys = RunKeys::from_config(root);
  e.name = keys.name;
  e.seed = keys.seed;
  e.threads = keys.threads;
  e.runs_dir = keys.runs_dir;
  e.data = data::DataOptions::from_config(root.section("data"));
  e.encoder = data::EncoderOptions::from_config(root.section("encoder"));
  e.train = TrainOptions::from_config(root.section("train"));

  // Load the (cheap) data before building the model, whose shape depends on it.
  auto train_valid = data::load_train_valid(e.data);
  e.train_set = std::move(train_valid.train);
  e.valid_set = std::move(train_valid.valid);
  e.test_set = data::load_dataset(e.data, "test");
  e.norm = data::normalization(e.train_set);
  const auto& images = e.train_set.images;
  // encoder.coding frames: dimension 1 is time, each step one single-channel frame.
  nn::InputShape in{e.encoder.coding == "frames" ? 1 : images.size(1), images.size(2), images.size(3)};
  seed_everything(e.seed);
  e.model = nn::make_model(root.section("model"), in, e.train_set.num_classes);
  // make_model has validated the name; re-reading it (same default) only fetches it.
  e.model_name = root.section("model").string("name", "mlp");
  auto learn = root.section("learn");
  e.rule = make_rule(learn, *e.model);
  e.modulation = make_modulation(learn, *e.model);
  // GRAPES' propagating version acts through the model's hidden hook, which OSTL applies
  // between its traced layers; the local version scales weight gradients in tensor hooks,
  // which OSTL's directly written gradients bypass: refuse it rather than ignore it.
  if (auto* g = dynamic_cast<Grapes*>(e.modulation.get());
      g && g->options().version() == GrapesVersion::local && e.rule->name() == "ostl") {
    throw UserError(config.origin() + ": learn.grapes.version: local is not supported with "
                    "learn.rule: ostl; use version: propagating (the default) or rule: bptt");
  }
  learn.finish();
  for (const auto& key : other_sections) root.section(key);  // marks them as known
  root.finish();
  e.effective_yaml = config.effective_yaml();
  return e;
}

}  // namespace nc::learn
