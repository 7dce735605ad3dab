// DDR timing parameters of one memory controller's DRAM and its organisation
// (channels, ranks, bank groups, banks, row size), the page policy and the
// physical-address-to-DRAM mapping. Timing constraints are in DRAM clock
// cycles (tCK), as datasheets give them; to_ps() converts with tCK.
// Defaults: DDR4-2666 (DESIGN.md Reference figures; JEDEC DDR4-2666 speed bin
// 19-19-19, 8 Gb x8 devices): tCK 0.75 ns, CL=tRCD=tRP=19, tRAS 43, CWL 14,
// BL8 (tBURST 4 tCK), tCCD_S/L 4/7, tRRD_S/L 4/7, tFAW 28, tRFC 350 ns,
// tREFI 7.8 us; 6 channels, 2 ranks of 4 bank groups x 4 banks, 8 KiB rows.
// Simplifications: no command-bus contention; tWTR/tRTW only around write
// drains (write_queue > 0); all-bank refresh at fixed staggered instants.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/units.h"

namespace numasim {
class Config;
}

namespace numasim::hw {

enum class PagePolicy : std::uint8_t { Open, Closed };

// An address-mapping field, from the least significant position upward in the
// decode (see DramParams::mapping).
enum class DramField : std::uint8_t { Column, Channel, BankGroup, Bank, Rank, Row };

struct DramParams {
  Picoseconds tck = Picoseconds(750);
  // Constraints in tCK.
  std::uint32_t cl = 19, trcd = 19, trp = 19, tras = 43, cwl = 14;
  std::uint32_t tburst = 4;  // BL8 on a DDR bus: 4 clocks
  std::uint32_t tccd_s = 4, tccd_l = 7, trrd_s = 4, trrd_l = 7, tfaw = 28;
  std::uint32_t trtp = 10, twr = 20;  // read-to-precharge, write recovery (7.5 ns, 15 ns)
  std::uint32_t trtrs = 2;            // data-bus gap when switching ranks
  // Write-to-read turnaround: end of a write burst to a read command, other /
  // same bank group (DDR4-2666: max(2 nCK, 2.5 ns) = 4, max(4 nCK, 7.5 ns) = 10).
  // Read-to-write: a write command tRTW = CL + tBURST + 2 - CWL after a read's.
  std::uint32_t twtr_s = 4, twtr_l = 10;
  // Write queue per channel (0: none, writes are scheduled on arrival like
  // reads). With one, a write is posted: accepted (done) when it has a queue
  // entry, waiting for the entry the oldest write frees when it issues
  // (back-pressure); when `write_high` writes wait the controller drains them
  // down to `write_low` in one batch (writes to one row together) and reads of
  // the channel wait for the turnarounds (tRTW before, tWTR_S after the batch).
  std::uint32_t write_queue = 0, write_high = 0, write_low = 0;
  static constexpr std::uint32_t kMaxWriteQueue = 128;
  bool refresh = true;
  Picoseconds trfc = Picoseconds(350000);
  Picoseconds trefi = Picoseconds(7800000);

  int channels = 6, ranks = 2, bank_groups = 4, banks_per_group = 4;
  Bytes row_size = Bytes(8192);  // bytes per row of one rank (page size)
  PagePolicy page_policy = PagePolicy::Open;
  // Fields from most to least significant, ':'-separated; every field once:
  // row, rank, bank, bankgroup, channel, column. Decoding is mixed-radix (so a
  // non-power-of-two channel count works, like a modulo-3 channel hash).
  // The default puts the channel just above the interleave granule and the bank
  // group above it, so a sequential stream rotates channels and bank groups
  // (tCCD_S) and keeps each row open for row_size/64 lines per bank.
  std::string mapping = "row:rank:bank:column:bankgroup:channel";
  // Bytes of consecutive addresses kept in one row before the mapping above
  // applies (the lowest column bits sit below every field). 256 B, as Intel
  // controllers interleave channels, gives four row hits per activate on a stream.
  Bytes interleave = Bytes(256);
  // Hash the low row bits into the bank and bank-group indices (permutation-based
  // interleaving, as real controllers do) so that rows of one stride spread over banks.
  bool xor_hash = true;
  // With xor_hash: fold every bit of the row (XOR of its chunks as wide as the
  // bank, bank-group and channel indices together), not only its lowest bits,
  // into the bank, bank group and channel. Real controllers' address
  // functions XOR many address bits into each bank and channel bit (Intel:
  // reverse-engineered in DRAMA, Pessl et al., USENIX Security 2016; AMD:
  // the UMC's bank and channel hash registers, PPR for family 19h), so that
  // buffers aligned to large powers of two (huge pages, one buffer per CPU)
  // do not land on the same channel and bank at the same offset. Needs bank
  // groups and banks per group that are powers of two.
  bool xor_fold = false;
  // Controller front end: request queue, scheduling, PHY, plus the on-die path
  // between the LLC/home agent and the controller and back.
  Picoseconds frontend_latency = Picoseconds(22000);

  // Reads the [dram] table (or a device's DRAM table, with `defaults` for what it
  // leaves out); throws nothing: errors go to the document.
  static DramParams from_config(Config c);
  static DramParams from_config(Config c, const DramParams& defaults);
  // Returns an empty string if consistent, else what is wrong.
  std::string validate() const;
  // DDR5-4800 on this engine (JEDEC 40-39-39 bin; tRAS 32 ns, tRRD_L and
  // tCCD_L 5 ns, tFAW 32 tCK, tRTP 7.5 ns, tWR 30 ns, tRFC 295 ns (16 Gb),
  // tREFI 3.9 us; 8 bank groups x 4 banks; BL16 on a 32-bit subchannel = 64 B
  // in 8 tCK), each subchannel a channel of the engine: `dimm_channels` DDR5
  // channels of 2 subchannels, one rank, 4 KiB rows (1 KiB pages of four x8
  // devices). Without DDR5's same-bank refresh; frontend_latency unchanged.
  static DramParams ddr5_4800(int dimm_channels);

  Picoseconds to_ps(std::uint32_t cycles) const { return tck * cycles; }
  int banks_per_rank() const { return bank_groups * banks_per_group; }
  std::uint64_t columns() const { return row_size.value() / kCacheLineBytes; }  // lines per row
  std::uint64_t interleave_lines() const { return interleave.value() / kCacheLineBytes; }
  // Peak data bandwidth of one channel in bytes per second (64 B per tBURST).
  double channel_peak_bytes_per_second() const {
    return 64.0 / (static_cast<double>(to_ps(tburst).value()) * 1e-12);
  }
};

// Parses DramParams::mapping; returns fields least significant first, or an
// empty vector and sets `why` if malformed.
std::vector<DramField> parse_dram_mapping(const std::string& mapping, std::string* why);

}  // namespace numasim::hw
