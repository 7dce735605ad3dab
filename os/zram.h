// A zram-like compressed RAM swap device (drivers/block/zram/zram_drv.c over
// mm/zsmalloc.c): a page written to a slot is compressed to
// ceil(4096 / compression_ratio) bytes and stored as an object in a pool of
// frames taken from the buddy allocator of one node; reading decompresses it.
// The CPU cost of (de)compression is the caller's (cycles from the swap area's
// parameters); the pool's traffic is timed as kernel reads and writes.
// Simplified: every page compresses to the same size (one zsmalloc size class,
// objects never span two frames); no same-filled-page shortcut, no writeback
// device, no compaction of the pool; a frame is returned to the buddy allocator
// as soon as its last object is freed (zsmalloc frees empty zspages).
#pragma once

#include <cstdint>
#include <vector>

#include "common/units.h"
#include "os/kernel_cost.h"

namespace numasim::os {

class PhysMem;
struct page;

class Zram {
 public:
  // A disk of `slots` pages whose pool lives on node `nid`.
  Zram(PhysMem& pm, NodeId nid, double compression_ratio, std::uint64_t slots);
  ~Zram();
  Zram(const Zram&) = delete;
  Zram& operator=(const Zram&) = delete;

  // zram_write: the slot's compressed object; false (nothing changed) when the
  // pool needs a frame and the node has none above its watermark (-ENOMEM).
  bool store(std::uint64_t slot, CpuId cpu, KernelCost& cost);
  // zram_free_page (slot_free_notify): drops the slot's object, if any.
  void free_slot(std::uint64_t slot, CpuId cpu, KernelCost& cost);
  bool stored(std::uint64_t slot) const { return loc_[slot] != kNone; }
  // Where the slot's object lives (for the (de)compression traffic).
  PhysAddr object_phys(std::uint64_t slot) const;
  Bytes object_size() const { return Bytes(obj_size_); }

  // mm_stat: orig_data_size, compr_data_size, mem_used_total (bytes).
  std::uint64_t orig_data_size() const { return stored_ * 4096; }
  std::uint64_t compr_data_size() const { return stored_ * obj_size_; }
  std::uint64_t pool_pages() const { return pool_pages_; }
  NodeId node() const { return nid_; }

 private:
  static constexpr std::uint64_t kNone = ~0ull;
  PhysMem& pm_;
  NodeId nid_;
  std::uint64_t obj_size_;
  std::uint32_t per_frame_;
  std::vector<std::uint64_t> loc_;   // per slot: frame index * per_frame + object, or kNone
  std::vector<page*> frames_;        // by frame index (nullptr: released)
  std::vector<std::uint32_t> used_;  // objects per frame
  std::vector<std::uint64_t> free_objs_;  // free object positions in live frames (a stack)
  std::vector<std::uint32_t> free_frames_;  // released frame indices to reuse
  std::uint64_t stored_ = 0, pool_pages_ = 0;
};

}  // namespace numasim::os
