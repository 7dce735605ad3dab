// The ddr5 memory device (hw/ddr5_device.h): each DDR5 channel is two 32-bit
// subchannels of the timing engine (19.2 GB/s each at 4800 MT/s), 8 bank
// groups x 4 banks; a same-bank refresh (REFsb) holds one bank set for
// tRFCsb while the other banks of the rank serve (also in the CXL expander's
// media, media_refresh = "same_bank"); the configuration preset
// configs/devices/ddr5-4800.toml and located errors.
#include "hw/ddr5_device.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "common/config.h"
#include "common/topology.h"
#include "hw/cxl_memory_device.h"
#include "hw/memory_system.h"

namespace numasim::hw {
namespace {

constexpr std::uint64_t kGiB = 1ull << 30;

TEST(Ddr5Device, TwoSubchannelsPerChannelAndJedec4800Timing) {
  Ddr5Params p;
  p.channels = 8;
  Ddr5Device dev(p, 0, "system.node0.mc");
  EXPECT_EQ(dev.engine().params().channels, 16);
  EXPECT_EQ(dev.engine().params().bank_groups, 8);
  EXPECT_EQ(dev.engine().params().banks_per_group, 4);
  EXPECT_EQ(dev.engine().params().trfc, Picoseconds(0));  // same_bank: the engine only closes rows
  // 16 subchannels x 64 B per 8 tCK of 0.417 ns = 16 x 19.18 GB/s.
  EXPECT_NEAR(dev.peak_bytes_per_second(false) / 1e9, 16 * 19.18, 0.1);
  EXPECT_EQ(dev.impl(), "ddr5");
  // Unloaded closed-bank read: front end + tRCD + CL + burst (39 + 40 + 8 tCK).
  EXPECT_EQ(dev.unloaded_latency(false), p.subchannel.frontend_latency + Picoseconds(417 * (39 + 40 + 8)));
}

TEST(Ddr5Device, SameBankRefreshHoldsOneBankSetForTrfcsb) {
  Ddr5Params p;
  p.channels = 1;
  Ddr5Device dev(p, 0, "mc");
  const std::uint64_t spacing = p.trefi2.value() / 4;
  // Schedule 0 (subchannel 0, rank 0): bank set k refreshes at k * tREFI2/4 + n * tREFI2.
  const Picoseconds in_set1(spacing + 10'000);
  EXPECT_EQ(dev.refsb_ready(0, 0, 1, in_set1), Picoseconds(spacing + p.trfcsb.value()));
  // The other bank sets serve during that window.
  EXPECT_EQ(dev.refsb_ready(0, 0, 0, in_set1), in_set1);
  EXPECT_EQ(dev.refsb_ready(0, 0, 2, in_set1), in_set1);
  // Just after the window, and one tREFI2 later again.
  EXPECT_EQ(dev.refsb_ready(0, 0, 1, Picoseconds(spacing + p.trfcsb.value())),
            Picoseconds(spacing + p.trfcsb.value()));
  const Picoseconds next(p.trefi2.value() + spacing + 1);
  EXPECT_EQ(dev.refsb_ready(0, 0, 1, next), Picoseconds(p.trefi2.value() + spacing + p.trfcsb.value()));
  // The other subchannel is staggered: its bank set 1 is not refreshing then.
  EXPECT_EQ(dev.refsb_ready(1, 0, 1, in_set1), in_set1);
}

// The first `count` lines, `step` apart from address 0, that fall in bank set
// `bank` (bank within its group) of subchannel 0, rank 0.
std::vector<PhysAddr> bank_set_lines(const Ddr5Device& dev, std::uint32_t bank, std::size_t count, PhysAddr step) {
  std::vector<PhysAddr> lines;
  for (PhysAddr a = 0; a < (1u << 26) && lines.size() < count; a += step) {
    const DramCoord c = dev.engine().decode(a);
    if (c.channel == 0 && c.rank == 0 && c.bank == bank) lines.push_back(a);
  }
  return lines;
}

// Random reads over 1 GiB at a moderate rate: with REFsb a request waits only
// when its own bank set refreshes (130 ns); with all-bank refresh a request
// waits whenever its rank refreshes (tRFC1 295 ns on the whole rank), so the
// mean latency is higher. (Without refresh rows are never closed, so random
// reads meet row conflicts: not compared.)
double mean_latency_ns(Ddr5Refresh mode, std::uint64_t* refsb_delays) {
  Ddr5Params p;
  p.channels = 1;
  p.refresh = mode;
  Ddr5Device dev(p, 0, "mc");
  std::uint64_t x = 12345, total = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const PhysAddr pa = ((x >> 20) % (kGiB / 64)) * 64;
    const Picoseconds arrival(static_cast<std::uint64_t>(i) * 20'000);  // 3.2 GB/s
    total += (dev.access_line(pa, false, arrival).done - arrival).value();
  }
  *refsb_delays = dev.refsb_delays();
  return static_cast<double>(total) / n / 1000.0;
}

TEST(Ddr5Device, SameBankRefreshCostsLessThanAllBankRefresh) {
  std::uint64_t sb = 0, ab = 0, none = 0;
  const double l_sb = mean_latency_ns(Ddr5Refresh::SameBank, &sb);
  const double l_ab = mean_latency_ns(Ddr5Refresh::AllBank, &ab);
  const double l_none = mean_latency_ns(Ddr5Refresh::None, &none);
  // Each bank set refreshes 130 ns of every 1.95 us: about 6.7% of random requests wait.
  EXPECT_GT(sb, 20000u * 4 / 100);
  EXPECT_LT(sb, 20000u * 8 / 100);
  EXPECT_EQ(ab, 0u);  // REFab is the engine's, not counted as REFsb
  EXPECT_EQ(none, 0u);
  EXPECT_LT(l_sb, l_ab) << l_sb << " " << l_ab << " " << l_none;
}

// REFsb postponement and pull-in (refsb_postpone): a bank set idle before its
// slot had the REFsb issued in the gap, so a request in the slot goes ahead;
// with fixed slots it waits for the slot's end.
TEST(Ddr5Device, IdleBankSetPullsItsRefreshIn) {
  for (int postpone : {0, 4}) {
    Ddr5Params p;
    p.channels = 1;
    p.refsb_postpone = postpone;
    Ddr5Device dev(p, 0, "mc");
    const std::uint64_t spacing = p.trefi2.value() / 4;
    // A line of bank set 1 of subchannel 0 (bank 1 of its group after the hash):
    // found by decoding, then read 10 ns into that bank set's third slot.
    PhysAddr pa = 0;
    for (PhysAddr a = 0; a < (1u << 24); a += 64) {
      const DramCoord c = dev.engine().decode(a);
      if (c.channel == 0 && c.rank == 0 && c.bank == 1) {
        pa = a;
        break;
      }
    }
    const Picoseconds cmd(2 * p.trefi2.value() + spacing + 10'000);
    const Picoseconds arrival = cmd - p.subchannel.frontend_latency;
    const Picoseconds lat = dev.access_line(pa, false, arrival).done - arrival;
    if (postpone == 0) {
      EXPECT_EQ(dev.refsb_delays(), 1u);
      EXPECT_GE(lat, dev.unloaded_latency(false) + p.trfcsb - Picoseconds(10'000));
    } else {
      EXPECT_EQ(dev.refsb_delays(), 0u);
      EXPECT_EQ(lat, dev.unloaded_latency(false));
      EXPECT_GE(dev.refsb_idle_issued(), 3u);  // the three slots so far, issued (or pulled in) while idle
    }
  }
}

// The preset's folded hash spreads lockstep streams over the bank sets: at
// each offset of 56 buffers 16 MiB apart (the bandwidth study's per-CPU
// buffers), the lines that land on one subchannel use more than one bank set
// (bank within its group: what REFsb refreshes together). Folding only the
// row's lowest bits into the bank put all of them on one bank set.
TEST(Ddr5Device, LockstepBuffersUseSeveralBankSets) {
  Ddr5Params p;
  p.channels = 8;
  p.subchannel.xor_fold = true;
  Ddr5Device dev(p, 0, "mc");
  int offsets = 0, single_set = 0, three_or_more = 0;
  for (std::uint64_t off = 0; off < (2ull << 20); off += 4096 + 256) {
    std::array<std::array<bool, 4>, 16> used{};
    for (std::uint64_t i = 0; i < 56; ++i) {
      const DramCoord c = dev.engine().decode(i * (16ull << 20) + off);
      used[c.channel][c.bank] = true;
    }
    for (const auto& sets : used) {
      const int n = sets[0] + sets[1] + sets[2] + sets[3];
      if (n == 0) continue;
      ++offsets;
      single_set += n == 1;
      three_or_more += n >= 3;
    }
  }
  ASSERT_GT(offsets, 1000);
  EXPECT_LT(single_set, offsets / 10) << single_set << " of " << offsets;
  // and most subchannels' lines use at least three of the four bank sets
  EXPECT_GT(three_or_more, offsets / 2) << three_or_more << " of " << offsets;
}

// A REFsb pulled into what looked like an idle gap of its bank set (the next
// request seen was stamped well after the set's last one finished) also holds
// a request stamped inside that gap and arriving later (a core behind the
// others within its quantum): in time order it would have met the refresh.
TEST(Ddr5Device, LateRequestMeetsARefreshPulledIntoItsGap) {
  Ddr5Params p;
  p.channels = 1;
  p.refsb_postpone = 4;
  Ddr5Device dev(p, 0, "mc");
  const std::vector<PhysAddr> lines = bank_set_lines(dev, 3, 3, 4096);  // other rows
  ASSERT_EQ(lines.size(), 3u);
  const Picoseconds fe = p.subchannel.frontend_latency;
  const Picoseconds first(100'000);
  const Picoseconds first_done = dev.access_line(lines[0], false, first).done;
  // 1 us later (cmd): the gap holds several REFsb, pulled in back to back from first_done.
  dev.access_line(lines[1], false, first + Picoseconds(1'000'000));
  EXPECT_GE(dev.refsb_idle_issued(), 2u);
  EXPECT_EQ(dev.refsb_delays(), 0u);
  // Stamped 20 ns after the first request finished: inside the first pulled-in REFsb.
  const Picoseconds late_cmd = first_done + Picoseconds(20'000);
  const Picoseconds late = late_cmd - fe;
  const Picoseconds lat = dev.access_line(lines[2], false, late).done - late;
  EXPECT_EQ(dev.refsb_delays(), 1u);
  EXPECT_GE(lat, dev.unloaded_latency(false) + p.trfcsb - Picoseconds(20'000));
}

// A request stamped inside a forced REFsb still waits for it after a later
// gap had another REFsb pulled in (the two windows are kept apart). With
// refsb_postpone = 1, a bank set read every 40 ns (never idle for tRFCsb)
// postpones one REFsb and must issue the next at its slot; after a 1.8 us gap
// the request that follows pulls the owed one (and one more) into the gap; a
// core behind, stamped 40 ns into the forced REFsb, then still meets it, as it
// would have in time order.
TEST(Ddr5Device, LateRequestMeetsAForcedRefreshAfterALaterPullIn) {
  Ddr5Params p;
  p.channels = 1;
  p.refsb_postpone = 1;
  Ddr5Device dev(p, 0, "mc");
  const std::vector<PhysAddr> lines = bank_set_lines(dev, 3, 64, 256);
  ASSERT_EQ(lines.size(), 64u);
  const Picoseconds fe = p.subchannel.frontend_latency;
  // Bank set 3's slots: 3 x tREFI2/4 + n x tREFI2; the first busy request pulls
  // one in ahead, the slot at 1.46 us pays it back, the one at 3.41 us is
  // postponed, the one at 5.36 us is forced.
  const Picoseconds forced_slot(3 * (p.trefi2.value() / 4) + 2 * p.trefi2.value());
  ASSERT_EQ(dev.refsb_ready(0, 0, 3, forced_slot), forced_slot + p.trfcsb);
  Picoseconds forced_cmd(0);
  std::uint64_t i = 0;
  for (Picoseconds cmd(1'000'000); forced_cmd == Picoseconds(0); cmd = cmd + Picoseconds(40'000), ++i) {
    const std::uint64_t before = dev.refsb_delays();
    dev.access_line(lines[i % lines.size()], false, cmd - fe);
    if (dev.refsb_delays() > before) forced_cmd = cmd;
  }
  ASSERT_GE(forced_cmd, forced_slot);
  ASSERT_LT(forced_cmd, forced_slot + Picoseconds(40'000));
  const std::uint64_t idle_before = dev.refsb_idle_issued();
  dev.access_line(lines[i % lines.size()], false, forced_cmd + Picoseconds(1'800'000) - fe);
  ASSERT_GT(dev.refsb_idle_issued(), idle_before);  // the gap took the owed REFsb
  const std::uint64_t delays_before = dev.refsb_delays();
  const Picoseconds late_cmd = forced_cmd + Picoseconds(40'000);
  const Picoseconds late_lat =
      dev.access_line(lines[(i + 1) % lines.size()], false, late_cmd - fe).done - (late_cmd - fe);
  EXPECT_EQ(dev.refsb_delays(), delays_before + 1);
  EXPECT_GE(late_lat, p.trfcsb - Picoseconds(40'000));
}

// A bank set kept busy (a read every 20 ns, never idle for tRFCsb) postpones
// up to refsb_postpone REFsb, then must issue one per slot: the refresh is
// deferred, never skipped (JESD79-5 allows postponing, not dropping), so over
// 40 slots about 36 REFsb hold requests back.
TEST(Ddr5Device, BusyBankSetPostponesAtMostFourRefreshes) {
  Ddr5Params p;
  p.channels = 1;
  p.refsb_postpone = 4;
  Ddr5Device dev(p, 0, "mc");
  const std::vector<PhysAddr> lines = bank_set_lines(dev, 2, 64, 256);
  ASSERT_EQ(lines.size(), 64u);
  const std::uint64_t n = 40 * p.trefi2.value() / 20'000;
  std::uint64_t waited_after_first_slots = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    const Picoseconds arrival(i * 20'000);
    const MemoryAccessResult r = dev.access_line(lines[i % lines.size()], false, arrival);
    (void)r;
    if (arrival.value() < 4 * p.trefi2.value()) waited_after_first_slots = dev.refsb_delays();
  }
  EXPECT_EQ(waited_after_first_slots, 0u);  // the first four slots postponed
  EXPECT_GT(dev.refsb_postponed(), 0u);
  // 36 forced REFsb of 130 ns with a request every 20 ns: 6 or 7 requests each.
  EXPECT_GE(dev.refsb_delays(), 35u * 6);
  EXPECT_LE(dev.refsb_delays(), 37u * 7);
}

// The CXL expander's DDR5 media with same-bank refresh (media_refresh =
// "same_bank"): its engine only closes rows once per tREFI2, and a request
// whose media bank is in its REFsb window waits for the window's end.
TEST(Ddr5Device, CxlMediaSameBankRefresh) {
  CxlDeviceParams p;
  p.media_same_bank_refresh = true;
  p.media.ranks = 1;
  p.media.channels = 1;
  CxlMemoryDevice dev(p, 0, "cxl");
  EXPECT_EQ(dev.media().params().trfc, Picoseconds(0));
  EXPECT_EQ(dev.media().params().trefi, p.media_trefi2);
  // Bank set 1 of the only rank refreshes from tREFI2/4 for tRFCsb (schedule 0).
  const std::uint64_t spacing = p.media_trefi2.value() / 4;
  PhysAddr in_set1 = 0, in_set0 = 0;
  bool have1 = false, have0 = false;
  for (PhysAddr a = 0; a < (1ull << 26) && !(have1 && have0); a += 4096) {
    const DramCoord c = dev.media().decode(a);
    if (c.bank == 1 && !have1) in_set1 = a, have1 = true;
    if (c.bank == 0 && !have0) in_set0 = a, have0 = true;
  }
  ASSERT_TRUE(have1 && have0);
  // Arrive so that the command reaches the media 10 ns into bank set 1's window.
  const Picoseconds to_media = dev.wire_time(p.request_header) + p.port_latency + p.media.frontend_latency;
  const Picoseconds arrival(spacing + 10'000 - to_media.value());
  CxlMemoryDevice fresh0(p, 0, "cxl");
  const Picoseconds free_lat = fresh0.access_line(in_set0, false, arrival).done - arrival;
  const Picoseconds held_lat = dev.access_line(in_set1, false, arrival).done - arrival;
  EXPECT_EQ(held_lat, free_lat + p.media_trfcsb - Picoseconds(10'000));
  p.media_trfcsb = p.media_trefi2;  // longer than a bank set's turn
  EXPECT_NE(p.validate().find("media_trfcsb must be positive and shorter"), std::string::npos);
}

TEST(Ddr5DeviceConfig, ThePresetBuildsTwelveChannelNodes) {
  auto doc = ConfigDocument::from_string(
      "base = \"" + std::string(NUMASIM_SOURCE_DIR) +
          "/configs/devices/ddr5-4800.toml\"\n"
          "[machine]\nsockets = 1\ncores_per_socket = 2\n"
          "[[node]]\nmemory = \"1GiB\"\ndevice = \"ddr5-4800\"\n"
          "[device.ddr5-4800]\nchannels = 12\n[device.ddr5-4800.subchannel]\nfrontend_latency = \"30ns\"\n",
      "machine.toml");
  Topology topo = Topology::from_config(doc->root());
  MemorySystemParams p = MemorySystemParams::from_config(doc->root());
  ASSERT_NO_THROW(doc->finish());
  ASSERT_EQ(p.node_devices.size(), 1u);
  EXPECT_EQ(p.node_devices[0].impl, "ddr5");
  MemorySystem ms(topo, p);
  const auto& dev = dynamic_cast<const Ddr5Device&>(ms.device(NodeId(0)));
  EXPECT_EQ(dev.engine().params().channels, 24);
  EXPECT_EQ(dev.engine().params().cl, 40u);
  EXPECT_EQ(dev.params().trfcsb, Picoseconds(130'000));  // JESD79-5, 16 Gb
  EXPECT_EQ(dev.engine().params().frontend_latency, Picoseconds(30'000));
  EXPECT_EQ(dev.name(), "system.node0.mc");
  EXPECT_EQ(dev.params().refresh, Ddr5Refresh::AllBank);  // the preset's normal-mode refresh (REFab)
  EXPECT_TRUE(dev.engine().params().refresh);             // the engine's all-bank refresh on
  EXPECT_EQ(dev.params().refsb_postpone, 4);          // REFsb postponement, for refresh = "same_bank"
  EXPECT_TRUE(dev.engine().params().xor_fold);        // and its folded address hash
  EXPECT_EQ(dev.engine().params().write_queue, 32u);  // and its write queue
}

TEST(Ddr5DeviceConfig, BadValuesAreLocatedErrors) {
  auto doc = ConfigDocument::from_string(
      "[machine]\nsockets = 1\ncores_per_socket = 2\n"
      "[[node]]\nmemory = \"1GiB\"\ndevice = \"d\"\n"
      "[device.d]\nimpl = \"ddr5\"\nrefresh = \"sometimes\"\ntrfcsb = \"600ns\"\nrefsb_postpone = 9\n"
      "[device.d.subchannel]\nchannels = 4\n",
      "machine.toml");
  Topology::from_config(doc->root());
  MemorySystemParams::from_config(doc->root());
  std::string e;
  try {
    doc->finish();
  } catch (const ConfigErrors& err) {
    e = err.what();
  }
  EXPECT_NE(e.find("device.d.refresh"), std::string::npos) << e;
  EXPECT_NE(e.find("device.d.subchannel.channels: set `channels` (DDR5 channels) in the device table"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("trfcsb must be positive and shorter than trefi2 / banks_per_group"), std::string::npos) << e;
  EXPECT_NE(e.find("device.d.refsb_postpone"), std::string::npos) << e;
}

}  // namespace
}  // namespace numasim::hw

namespace numasim::hw {
namespace {

// The DDR5 preset's write queue (32 entries per subchannel, drained whole) and
// read/write turnarounds: a saturated 50/50 read/write mix on one DDR5 channel
// loses bandwidth against reads alone (every drain turns the bus around twice),
// where without the queue writes are timed like reads and cost nothing extra;
// writes offered faster than the channel drains them wait for queue entries.
double saturated_gbps(int write_every, unsigned write_queue, std::uint64_t* queue_full) {
  Ddr5Params p;
  p.channels = 1;
  p.subchannel.write_queue = write_queue;
  p.subchannel.write_high = write_queue;
  p.subchannel.write_low = 0;
  Ddr5Device dev(p, 0, "mc");
  std::uint64_t x = 99;
  const int n = 40000;
  Picoseconds last(0);
  for (int i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    const PhysAddr pa = ((x >> 20) % (kGiB / 64)) * 64;
    const bool write = write_every > 0 && i % write_every == 0;
    const Picoseconds arrival(static_cast<std::uint64_t>(i) * 1'000);  // 64 GB/s offered: saturated
    last = std::max(last, dev.access_line(pa, write, arrival).done);
  }
  *queue_full = dev.engine().stats().write_queue_full;
  return 64.0 * n / static_cast<double>(last.value()) * 1000.0;
}

TEST(Ddr5Device, WriteQueueTurnaroundsCostAMixItsBandwidth) {
  std::uint64_t full_r = 0, full_m = 0, full_0 = 0;
  const double reads = saturated_gbps(0, 32, &full_r);
  const double mix = saturated_gbps(2, 32, &full_m);
  const double mix_no_queue = saturated_gbps(2, 0, &full_0);
  EXPECT_EQ(full_r, 0u);
  EXPECT_GT(full_m, 0u);  // back-pressure
  EXPECT_EQ(full_0, 0u);
  EXPECT_LT(mix, 0.97 * reads) << reads << " " << mix << " " << mix_no_queue;
  EXPECT_LT(mix, mix_no_queue) << reads << " " << mix << " " << mix_no_queue;
  // Two subchannels of 19.2 GB/s: reads alone near the peak.
  EXPECT_GT(reads, 0.8 * 38.4);
}

}  // namespace
}  // namespace numasim::hw
