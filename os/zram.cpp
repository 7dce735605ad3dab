// The zram-like compressed swap device (see zram.h).
#include "os/zram.h"

#include <algorithm>
#include <cmath>

#include "os/gfp.h"
#include "os/page_alloc.h"

namespace numasim::os {

Zram::Zram(PhysMem& pm, NodeId nid, double compression_ratio, std::uint64_t slots)
    : pm_(pm), nid_(nid), loc_(slots, kNone) {
  obj_size_ = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(std::ceil(4096.0 / compression_ratio)), 1, 4096);
  per_frame_ = static_cast<std::uint32_t>(4096 / obj_size_);
}

Zram::~Zram() = default;  // the pool's frames are returned by swapoff (free_slot of every slot)

bool Zram::store(std::uint64_t slot, CpuId cpu, KernelCost& cost) {
  free_slot(slot, cpu, cost);  // a rewrite replaces the old object
  if (free_objs_.empty()) {
    // zs_malloc growing the pool: GFP_NOIO without direct reclaim (the caller is reclaim).
    page* pg = pm_.alloc_pages(cpu, __GFP_NOWARN | __GFP_THISNODE, 0, nid_, nullptr, cost);
    if (!pg) return false;
    std::uint32_t fi;
    if (!free_frames_.empty()) {
      fi = free_frames_.back();
      free_frames_.pop_back();
      frames_[fi] = pg;
    } else {
      fi = static_cast<std::uint32_t>(frames_.size());
      frames_.push_back(pg);
      used_.push_back(0);
    }
    ++pool_pages_;
    for (std::uint32_t i = per_frame_; i-- > 0;) free_objs_.push_back(std::uint64_t{fi} * per_frame_ + i);
  }
  const std::uint64_t pos = free_objs_.back();
  free_objs_.pop_back();
  loc_[slot] = pos;
  ++used_[pos / per_frame_];
  ++stored_;
  return true;
}

void Zram::free_slot(std::uint64_t slot, CpuId cpu, KernelCost& cost) {
  const std::uint64_t pos = loc_[slot];
  if (pos == kNone) return;
  loc_[slot] = kNone;
  --stored_;
  const std::uint32_t fi = static_cast<std::uint32_t>(pos / per_frame_);
  if (--used_[fi] != 0) {
    free_objs_.push_back(pos);
    return;
  }
  // The frame is empty: its other free objects go with it.
  const std::uint64_t lo = std::uint64_t{fi} * per_frame_, hi = lo + per_frame_;
  free_objs_.erase(std::remove_if(free_objs_.begin(), free_objs_.end(),
                                  [&](std::uint64_t p) { return p >= lo && p < hi; }),
                   free_objs_.end());
  pm_.free_pages(cpu, frames_[fi], 0, cost);
  frames_[fi] = nullptr;
  free_frames_.push_back(fi);
  --pool_pages_;
}

PhysAddr Zram::object_phys(std::uint64_t slot) const {
  const std::uint64_t pos = loc_[slot];
  return pm_.page_to_phys(frames_[pos / per_frame_]) + (pos % per_frame_) * obj_size_;
}

}  // namespace numasim::os
