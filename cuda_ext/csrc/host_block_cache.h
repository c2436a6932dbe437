// Host memory for the CPU kernels' large outputs, reused from one training step to the next.
//
// glibc hands every block above its mmap threshold (its heuristic never raises it past 32 MiB)
// back to the kernel on free, so each step's fresh [D, N, k] offset gradients are faulted in page
// by page: about 1 us per 4 KiB page on VMs, 70 ms a step at 100k Gaussians x 50 expressions,
// more than the kernels themselves. Smaller blocks come from its heap, but whether the heap keeps
// them from one step to the next depends on everything else the process allocates (under torch's
// profiler, the 8-11 MB gradients at 30k Gaussians x 23 drivers were faulted in afresh: the
// backward took 3.8-5.3 ms instead of 2). PyTorch caches CUDA memory but not host memory; this
// does it for the blocks these kernels allocate. Raising glibc's thresholds instead is not safe:
// the heap then fragments and grows without bound under torch's aligned allocations.
//
// Policy: a request is served by a cached block of exactly its size. A request with none means
// the sizes changed (densification, another scene): every cached block is freed first, so the
// cache never holds more than the blocks of one step's sizes.
#pragma once

#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace avatar_ext {
namespace host_cache {

// Smaller blocks are left to malloc: reusing them saves little.
constexpr size_t kMinBytes = size_t(1) << 20;

class BlockCache {
 public:
  // The calling tensor's storage comes back through give_back() when it dies.
  c10::DataPtr take(size_t nbytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto hit = free_.find(nbytes);
    if (hit == free_.end()) {
      free_.clear();
      return c10::GetCPUAllocator()->allocate(nbytes);
    }
    c10::DataPtr block = std::move(hit->second);
    free_.erase(hit);
    return block;
  }

  void give_back(c10::DataPtr block, size_t nbytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.emplace(nbytes, std::move(block));
  }

 private:
  std::mutex mutex_;
  std::unordered_multimap<size_t, c10::DataPtr> free_;
};

// Never destroyed: tensors may die during interpreter shutdown, after static destructors ran.
inline BlockCache& block_cache() {
  static BlockCache* cache = new BlockCache();
  return *cache;
}

// at::empty(sizes, options) on the CPU, from the cache when the block is large.
inline at::Tensor empty(at::IntArrayRef sizes, const at::TensorOptions& options) {
  const size_t nbytes = size_t(c10::multiply_integers(sizes)) * c10::elementSize(options.dtype().toScalarType());
  if (nbytes < kMinBytes) return at::empty(sizes, options);
  auto block = std::make_shared<c10::DataPtr>(block_cache().take(nbytes));
  return at::from_blob(
      block->get(), sizes, [block, nbytes](void*) { block_cache().give_back(std::move(*block), nbytes); }, options);
}

}  // namespace host_cache
}  // namespace avatar_ext
