#pragma once
// Counts the bytes of live CPU tensors (current and peak) by wrapping LibTorch's CPU
// allocator: memory measurements that do not depend on malloc's caching or on time (the OSTL
// memory test and benchmark). Header-only; measurement code, not used by training.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <atomic>
#include <cstdint>

namespace nc {

class CountingAllocator final : public c10::Allocator {
 public:
  c10::Allocator* base = nullptr;
  std::atomic<int64_t> current{0}, peak{0};

  c10::DataPtr allocate(size_t n) const override {
    auto* self = const_cast<CountingAllocator*>(this);
    c10::DataPtr orig = base->allocate(n);
    void* data = orig.get();
    const c10::Device device = orig.device();
    auto* ctx = new Ctx{std::move(orig), static_cast<int64_t>(n), self};
    const int64_t now = self->current += static_cast<int64_t>(n);
    int64_t p = self->peak.load();
    while (now > p && !self->peak.compare_exchange_weak(p, now)) {
    }
    return {data, ctx, &release, device};
  }

  void reset_peak() { peak = current.load(); }

  /// The process-wide instance wrapping the CPU allocator in place when first used.
  static CountingAllocator& instance() {
    static CountingAllocator* a = [] {
      auto* c = new CountingAllocator;
      c->base = c10::GetCPUAllocator();
      return c;
    }();
    return *a;
  }

  /// Peak bytes allocated while `run` runs, above what was live before it.
  template <typename F>
  static int64_t peak_bytes(F&& run) {
    auto& a = instance();
    const int64_t before = a.current.load();
    a.reset_peak();
    run();
    return a.peak.load() - before;
  }

 private:
  struct Ctx {
    c10::DataPtr orig;
    int64_t n;
    CountingAllocator* self;
  };
  static void release(void* p) {
    auto* c = static_cast<Ctx*>(p);
    c->self->current -= c->n;
    delete c;
  }
};

/// Installs the counting allocator for LibTorch's CPU tensors while in scope. Tensors
/// allocated before it keep their deleters, so freeing them later is safe either way.
struct CountingAllocatorScope {
  CountingAllocatorScope() { c10::SetCPUAllocator(&CountingAllocator::instance(), 100); }
  ~CountingAllocatorScope() { c10::SetCPUAllocator(CountingAllocator::instance().base, 100); }
};

}  // namespace nc
