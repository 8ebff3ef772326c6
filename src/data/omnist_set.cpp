#include "neurocore/data/omnist_set.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "neurocore/core/error.h"
#include "neurocore/data/image_write.h"
#include "neurocore/data/registry.h"

namespace nc::data {

namespace {

// Per class, the example indices of `d` in order.
std::vector<std::vector<int64_t>> by_class(const Dataset& d) {
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(d.num_classes));
  const auto y = d.labels.contiguous();
  for (int64_t i = 0; i < d.size(); ++i) out[static_cast<size_t>(y[i].item<int64_t>())].push_back(i);
  return out;
}

// Round-robin over the classes' lists (class 0's first, class 1's first, ...).
Dataset interleave(const std::vector<std::vector<std::pair<const Dataset*, int64_t>>>& lists,
                   const std::string& name) {
  std::vector<torch::Tensor> images;
  std::vector<int64_t> labels;
  size_t longest = 0;
  for (const auto& l : lists) longest = std::max(longest, l.size());
  for (size_t k = 0; k < longest; ++k) {
    for (size_t c = 0; c < lists.size(); ++c) {
      if (k >= lists[c].size()) continue;
      const auto& [set, i] = lists[c][k];
      images.push_back(set->images[i]);
      labels.push_back(static_cast<int64_t>(c));
    }
  }
  Dataset d;
  d.name = name;
  d.images = images.empty() ? torch::zeros({0, 1, 28, 28}) : torch::stack(images).contiguous();
  d.labels = torch::tensor(labels, torch::kLong);
  return d;
}

}  // namespace

OmnistSources omnist_sources(const OmnistOptions& options, const std::string& path) {
  options.validate();
  DataOptions o;
  o.name = options.source;
  o.path = path;
  const Dataset train = load_dataset(o, "train");
  const Dataset test = load_dataset(o, "test");
  const auto train_idx = by_class(train), test_idx = by_class(test);
  const size_t classes = train_idx.size();
  using List = std::vector<std::vector<std::pair<const Dataset*, int64_t>>>;
  List st(classes), tr(classes), va(classes), te(classes);
  const std::string base = options.source == "mnist-10k" ? "omnist" : "ofmnist";
  for (size_t c = 0; c < classes; ++c) {
    // The class's images in file order: for MNIST-10k, the train part then the test part
    // (mnist10k.h splits each digit's file at floor(0.8 n_d)).
    std::vector<std::pair<const Dataset*, int64_t>> all;
    for (auto i : train_idx[c]) all.emplace_back(&train, i);
    if (options.source == "mnist-10k") {
      for (auto i : test_idx[c]) all.emplace_back(&test, i);
      const auto n = static_cast<int64_t>(all.size());
      const int64_t n_static = n / 10, n_train = 7 * n / 10, n_valid = n / 10;
      for (int64_t i = 0; i < n; ++i) {
        auto& dst = i < n_static ? st[c]
                    : i < n_static + n_train - n_valid ? tr[c]
                    : i < n_static + n_train ? va[c]
                                             : te[c];
        dst.push_back(all[static_cast<size_t>(i)]);
      }
    } else {
      for (size_t i = 0; i < all.size() && i < 800; ++i) (i < 100 ? st : i < 700 ? tr : va)[c].push_back(all[i]);
      for (size_t i = 0; i < test_idx[c].size() && i < 200; ++i) te[c].emplace_back(&test, test_idx[c][i]);
    }
  }
  return {interleave(st, base + "-static"), interleave(tr, base), interleave(va, base + "-valid"),
          interleave(te, base + "-test")};
}

std::vector<Video> make_videos(const Dataset& images, const OmnistOptions& options,
                               OmnistSplit split, int64_t limit) {
  options.validate();
  const int64_t n = limit > 0 ? std::min(limit, images.size()) : images.size();
  const auto x = images.images.reshape({images.size(), -1}).to(torch::kFloat).contiguous();
  if (n > 0 && x.size(1) != kOmnistPixels) {
    throw UserError(images.name + ": OMNIST needs 28x28 images, got " +
                    std::to_string(x.size(1)) + " pixels per image");
  }
  std::vector<Video> out;
  out.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    out.push_back(make_video(x[i].data_ptr<float>(), images.labels[i].item<int64_t>(), options,
                             omnist_video_seed(options.seed, static_cast<uint64_t>(split),
                                               static_cast<uint64_t>(i))));
  }
  return out;
}

torch::Tensor video_tensor(const std::vector<Video>& videos, int64_t frames) {
  auto t = torch::empty({static_cast<int64_t>(videos.size()), frames, kOmnistPixels});
  for (size_t i = 0; i < videos.size(); ++i) {
    std::copy(videos[i].frames.begin(), videos[i].frames.end(),
              t[static_cast<int64_t>(i)].data_ptr<float>());
  }
  return t;
}

Dataset frames_dataset(const std::vector<Video>& videos, int64_t frames, const std::string& name) {
  Dataset d;
  d.name = name;
  const auto n = static_cast<int64_t>(videos.size());
  d.images = video_tensor(videos, frames).reshape({n * frames, 1, kOmnistSide, kOmnistSide});
  d.labels = torch::empty({n * frames}, torch::kLong);
  for (int64_t i = 0; i < n; ++i) d.labels.narrow(0, i * frames, frames).fill_(videos[static_cast<size_t>(i)].label);
  return d;
}

Dataset videos_dataset(const std::vector<Video>& videos, int64_t frames, const std::string& name) {
  Dataset d;
  d.name = name;
  const auto n = static_cast<int64_t>(videos.size());
  d.images = video_tensor(videos, frames).view({n, frames, kOmnistSide, kOmnistSide});
  d.labels = torch::empty({n}, torch::kLong);
  auto label = d.labels.accessor<int64_t, 1>();
  for (int64_t i = 0; i < n; ++i) label[i] = videos[static_cast<size_t>(i)].label;
  return d;
}

void write_omn1(const std::string& path, const std::vector<Video>& videos, int64_t frames) {
  std::ofstream f(path, std::ios::binary);
  if (!f) throw UserError(path + ": cannot open for writing");
  auto u32 = [&f](uint32_t v) {
    const unsigned char b[4] = {static_cast<unsigned char>(v), static_cast<unsigned char>(v >> 8),
                                static_cast<unsigned char>(v >> 16), static_cast<unsigned char>(v >> 24)};
    f.write(reinterpret_cast<const char*>(b), 4);
  };
  f.write("OMN1", 4);
  for (const auto v : {uint32_t{1}, static_cast<uint32_t>(videos.size()), static_cast<uint32_t>(frames),
                       static_cast<uint32_t>(kOmnistSide), static_cast<uint32_t>(kOmnistSide)}) {
    u32(v);
  }
  std::vector<char> bytes(static_cast<size_t>(frames * kOmnistPixels));
  for (const auto& v : videos) {
    if (v.frames.size() != bytes.size()) throw InternalError("write_omn1: a video has the wrong frame count");
    const char label = static_cast<char>(v.label);
    f.write(&label, 1);
    for (size_t i = 0; i < bytes.size(); ++i) {
      bytes[i] = static_cast<char>(static_cast<uint8_t>(std::lround(255.0 * v.frames[i])));
    }
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  if (!f) throw UserError(path + ": write failed");
}

std::vector<std::string> export_videos(const OmnistOptions& options, const std::string& path,
                                       const ExportOptions& what, const std::string& out_dir) {
  const std::vector<std::string> splits = {"static", "train", "valid", "test"};
  const auto split_it = std::find(splits.begin(), splits.end(), what.split);
  if (split_it == splits.end()) {
    throw UserError("--split: got '" + what.split + "', expected static, train, valid or test");
  }
  if (what.format != "gif" && what.format != "png" && what.format != "both" && what.format != "omn1") {
    throw UserError("--format: got '" + what.format + "', expected gif, png, both or omn1");
  }
  if (what.count < 1) throw UserError("--count: got " + std::to_string(what.count) + ", expected >= 1");
  if (what.scale < 1 || what.scale > 16) {
    throw UserError("--scale: got " + std::to_string(what.scale) + ", expected 1 to 16");
  }
  const auto src = omnist_sources(options, path);
  const Dataset* set[] = {&src.static_set, &src.train, &src.valid, &src.test};
  const auto split = static_cast<OmnistSplit>(split_it - splits.begin());
  const Dataset& images = *set[static_cast<size_t>(split)];
  std::vector<Video> videos;
  if (split == OmnistSplit::static_images) {
    OmnistOptions still = options;
    still.occluders = 0;
    still.frames = 2;  // the generator's minimum; one frame is written
    videos = make_videos(images, still, split, what.count);
    for (auto& v : videos) v.frames.resize(kOmnistPixels);
  } else {
    videos = make_videos(images, options, split, what.count);
  }
  std::filesystem::create_directories(out_dir);
  std::vector<std::string> written;
  const std::string base = options.source == "mnist-10k" ? "omnist" : "ofmnist";
  if (what.format == "omn1") {
    const auto file = (std::filesystem::path(out_dir) / (base + "-" + what.split + ".omn1")).string();
    write_omn1(file, videos, split == OmnistSplit::static_images ? 1 : options.frames);
    return {file};
  }
  for (size_t i = 0; i < videos.size(); ++i) {
    std::vector<GreyImage> frames;
    for (size_t k = 0; k * kOmnistPixels < videos[i].frames.size(); ++k) {
      frames.push_back(upscale(to_grey(videos[i].frames.data() + k * kOmnistPixels, kOmnistSide,
                                       kOmnistSide, 0.0, 1.0), what.scale));
    }
    const auto stem = (std::filesystem::path(out_dir) /
                       (base + "-" + what.split + "-" + std::to_string(i) + "-label" +
                        std::to_string(videos[i].label))).string();
    if (what.format != "png") {
      write_gif(stem + ".gif", frames, what.delay_ms);
      written.push_back(stem + ".gif");
    }
    if (what.format != "gif") {
      write_png(stem + ".png", hstack(frames, what.scale));
      written.push_back(stem + ".png");
    }
  }
  return written;
}

}  // namespace nc::data
