#include "neurocore/dist/grad_sync.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <chrono>

namespace nc::dist {

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

struct GradientSync::Bucket {
  std::vector<std::size_t> params;
  int64_t numel = 0;
  int64_t pending = 0;  // parameters not yet ready in this step
  torch::Tensor flat;
  c10::intrusive_ptr<c10d::Work> work;
};

struct GradientSync::Hooks {
  // The accumulators are held so that every backward pass uses the ones hooked here.
  std::vector<std::pair<std::shared_ptr<torch::autograd::Node>, uintptr_t>> installed;
  ~Hooks() {
    for (auto& [acc, key] : installed) acc->del_post_hook(key);
  }
};

GradientSync::GradientSync(Group& group, std::vector<torch::Tensor> params, int64_t bucket_bytes,
                           bool frozen_too)
    : group_(group), hooks_(std::make_unique<Hooks>()) {
  TORCH_CHECK(bucket_bytes > 0, "GradientSync: bucket_bytes must be positive");
  for (auto& p : params) {
    if (frozen_too || p.requires_grad()) params_.push_back(p);
  }
  bucket_of_.resize(params_.size());
  ready_.assign(params_.size(), 0);
  // Reverse registration order: the output layers' gradients are ready first. The first
  // bucket is capped at 1 MiB (as DDP's first bucket): it starts while most of the backward
  // pass is still to run, so even a small model overlaps something.
  for (std::size_t k = params_.size(); k-- > 0;) {
    const auto& p = params_[k];
    TORCH_CHECK(p.scalar_type() == params_.back().scalar_type(),
                "GradientSync: every parameter must have one dtype");
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    const int64_t cap = buckets_.size() <= 1 ? std::min<int64_t>(bucket_bytes, kFirstBucketBytes) : bucket_bytes;
    if (buckets_.empty() ||
        (buckets_.back().numel * static_cast<int64_t>(p.element_size()) + bytes > cap &&
         !buckets_.back().params.empty())) {
      buckets_.emplace_back();
    }
    buckets_.back().params.push_back(k);
    buckets_.back().numel += p.numel();
    bucket_of_[k] = buckets_.size() - 1;
  }
  for (auto& b : buckets_) b.pending = static_cast<int64_t>(b.params.size());
  for (std::size_t k = 0; k < params_.size(); ++k) {
    if (!params_[k].requires_grad()) continue;  // no accumulator: reduced in finish()
    auto acc = torch::autograd::impl::grad_accumulator(params_[k]);
    const uintptr_t key = acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [this, k](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          ready(k);
          return outputs;
        }));
    hooks_->installed.emplace_back(std::move(acc), key);
  }
}

GradientSync::~GradientSync() = default;

std::vector<int64_t> GradientSync::bucket_sizes() const {
  std::vector<int64_t> v;
  for (const auto& b : buckets_) v.push_back(b.numel);
  return v;
}

void GradientSync::ready(std::size_t k) {
  if (ready_[k]) {  // a second backward pass before the update
    dirty_ = true;
    return;
  }
  ready_[k] = 1;
  --buckets_[bucket_of_[k]].pending;
  while (!dirty_ && next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    launch(next_launch_++);
    ++stats_.buckets_overlapped;
  }
}

torch::Tensor GradientSync::flatten(std::size_t b) const {
  std::vector<torch::Tensor> parts;
  for (std::size_t k : buckets_[b].params) {
    const auto& p = params_[k];
    const auto& g = p.grad();
    parts.push_back(g.defined() ? g.reshape(-1) : torch::zeros({p.numel()}, p.options()));
  }
  auto flat = torch::cat(parts);
  if (weight_ != 1.0) flat.mul_(weight_);
  return flat;
}

void GradientSync::launch(std::size_t b) {
  auto& bucket = buckets_[b];
  bucket.flat = flatten(b);
  bucket.work = group_.allreduce_async(bucket.flat);
}

void GradientSync::finish() {
  const auto t0 = std::chrono::steady_clock::now();
  if (dirty_) {  // some buckets carry gradients of an earlier backward pass: redo them all
    for (std::size_t b = 0; b < next_launch_; ++b) group_.wait(buckets_[b].work, "gradient all-reduce");
    stats_.buckets_overlapped -= static_cast<int64_t>(next_launch_);
    next_launch_ = 0;
  }
  for (; next_launch_ < buckets_.size(); ++next_launch_) launch(next_launch_);
  for (auto& bucket : buckets_) {
    group_.wait(bucket.work, "gradient all-reduce");
    int64_t offset = 0;
    for (std::size_t k : bucket.params) {
      auto& p = params_[k];
      auto part = bucket.flat.narrow(0, offset, p.numel()).view_as(p);
      offset += p.numel();
      // A parameter without a gradient here has none on every rank (the ranks run the same
      // graph, and EfQAT freezes the same rows everywhere): it stays without one, so the
      // optimizer skips it as it would in one process.
      if (p.grad().defined()) p.mutable_grad().copy_(part);
    }
    stats_.bytes += bucket.numel * static_cast<int64_t>(bucket.flat.element_size());
    bucket.flat = torch::Tensor();
    bucket.work.reset();
    bucket.pending = static_cast<int64_t>(bucket.params.size());
  }
  std::fill(ready_.begin(), ready_.end(), 0);
  next_launch_ = 0;
  dirty_ = false;
  stats_.buckets_total += static_cast<int64_t>(buckets_.size());
  ++stats_.steps;
  stats_.exposed_s += since(t0);
}

double GradientSync::time_bare_allreduce(int reps) {
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    std::vector<torch::Tensor> flats;
    for (const auto& b : buckets_) flats.push_back(torch::zeros({b.numel}, params_[0].options()));
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (auto& f : flats) works.push_back(group_.allreduce_async(f));
    for (auto& w : works) group_.wait(w, "communication timing");
    times.push_back(since(t0));
  }
  std::sort(times.begin(), times.end());
  return times.empty() ? 0 : times[times.size() / 2];
}

}  // namespace nc::dist
