// The uncore mesh cut into dies (uncore_mesh.h: die_cols, die_rows,
// die_crossing_cycles, io_rows_bottom), as Sapphire Rapids' four dies joined by
// EMIB: die boundaries crossed on a route, their cost in every latency of the
// mesh, core tiles kept out of the bottom I/O rows, located errors for
// impossible dies, and the shipped sapphire-rapids-2s uncore's mean LLC hit
// against the published 33 ns it was composed from.
#include <gtest/gtest.h>

#include "common/config.h"
#include "hw/uncore_mesh.h"

namespace numasim::hw {
namespace {

// Four 4 x 5 dies in an 8 x 10 mesh, I/O rows at the top and the bottom, one
// IMC and one UPI agent per die (the layout of configs/sapphire-rapids-2s.toml).
UncoreParams four_dies(std::uint32_t crossing) {
  UncoreParams p;
  p.impl = "mesh";
  p.cols = 8;
  p.rows = 10;
  p.io_rows = 1;
  p.io_rows_bottom = 1;
  p.die_cols = 4;
  p.die_rows = 5;
  p.imc_tiles = {{2, 0}, {2, 7}, {7, 0}, {7, 7}};
  p.upi_tiles = {{0, 1}, {0, 6}, {9, 1}, {9, 6}};
  p.clock = Frequency(2'000'000'000);  // 500 ps per cycle
  p.hop_cycles = 1;
  p.die_crossing_cycles = crossing;
  return p;
}

std::uint32_t tile(std::uint32_t r, std::uint32_t c) { return r * 8 + c; }

TEST(UncoreDies, ARouteCrossesOneBoundaryPerDieColumnAndRowBetweenItsEnds) {
  UncoreMesh m(four_dies(5), 56);
  EXPECT_EQ(m.crossings(tile(1, 0), tile(4, 3)), 0u);  // same die, opposite corners
  EXPECT_EQ(m.crossings(tile(1, 3), tile(1, 4)), 1u);  // left and right dies, neighbours
  EXPECT_EQ(m.crossings(tile(4, 1), tile(5, 1)), 1u);  // top and bottom dies
  EXPECT_EQ(m.crossings(tile(1, 0), tile(8, 7)), 2u);  // diagonal dies
  EXPECT_EQ(m.crossings(tile(8, 7), tile(1, 0)), 2u);
  EXPECT_EQ(m.hops(tile(1, 3), tile(1, 4)), 1u);  // the hop itself is still one tile
  EXPECT_EQ(m.route_cycles(tile(1, 3), tile(1, 4)), 1u + 5u);
  EXPECT_EQ(m.route_cycles(tile(1, 0), tile(8, 7)), (7u + 7u) * 1u + 2u * 5u);
  // One die (die_cols = die_rows = 0): routes are hops only, as before.
  UncoreParams one = four_dies(5);
  one.die_cols = one.die_rows = 0;
  UncoreMesh mono(one, 56);
  EXPECT_EQ(mono.crossings(tile(1, 0), tile(8, 7)), 0u);
  EXPECT_EQ(mono.route_cycles(tile(1, 0), tile(8, 7)), 14u);
}

TEST(UncoreDies, CoreTilesStayOutOfTheTopAndBottomIoRows) {
  UncoreMesh m(four_dies(2), 60);  // 8 x 8 core rows less 4 IMCs: all 60 tiles
  for (std::uint32_t i = 0; i < 60; ++i) {
    EXPECT_GE(m.core_tile(i), tile(1, 0)) << i;
    EXPECT_LT(m.core_tile(i), tile(9, 0)) << i;
  }
  EXPECT_THROW(UncoreMesh(four_dies(2), 61), std::invalid_argument);
  UncoreParams none = four_dies(2);
  none.io_rows = 5;
  none.io_rows_bottom = 5;
  EXPECT_THROW(UncoreMesh(none, 1), std::invalid_argument);
  UncoreParams ring = four_dies(2);
  ring.impl = "ring";
  EXPECT_THROW(UncoreMesh(ring, 1), std::invalid_argument);
}

TEST(UncoreDies, EveryLatencyPaysTheCrossingsOfItsRoute) {
  const UncoreParams p0 = four_dies(0), p4 = four_dies(4);
  UncoreMesh m0(p0, 56), m4(p4, 56);
  std::uint32_t checked = 0;
  for (PhysAddr pa = 0; pa < 64 * 400; pa += 64) {
    const std::uint32_t core = static_cast<std::uint32_t>(pa / 64 % 56);
    const std::uint32_t ct = m4.core_tile(core), st = m4.core_tile(m4.slice_of(pa)), it = m4.imc_tile(m4.imc_of(pa));
    // 4 cycles of 500 ps per crossing on each leg.
    EXPECT_EQ(m4.llc_hit(core, pa) - m0.llc_hit(core, pa), Picoseconds(500 * 4 * 2 * m4.crossings(ct, st)));
    EXPECT_EQ(m4.local_imc_legs(core, pa).to - m0.local_imc_legs(core, pa).to,
              Picoseconds(500 * 4 * (m4.crossings(ct, st) + m4.crossings(st, it))));
    EXPECT_EQ(m4.local_imc_legs(core, pa).back - m0.local_imc_legs(core, pa).back, Picoseconds(500 * 4 * m4.crossings(it, ct)));
    if (m4.crossings(ct, st) == 2) ++checked;
  }
  EXPECT_GT(checked, 0u);  // some lines live on the diagonal die
  // A slice leaves the socket by the UPI agent on its own die when crossings cost.
  const std::uint32_t st = m4.core_tile(m4.slice_of(0x40)), ct = m4.core_tile(0);
  EXPECT_EQ(m4.to_upi(0, 0x40), Picoseconds(500 * (p4.llc_cycles + p4.upi_agent_cycles + m4.route_cycles(ct, st) + [&] {
              std::uint32_t best = ~0u;
              for (const auto& [r, c] : p4.upi_tiles) best = std::min(best, m4.route_cycles(st, tile(r, c)));
              return best;
            }())));
  // The mean LLC hit grows by the mean crossings (1 between dies of a 2 x 2) x 2 legs.
  const double d = static_cast<double>((m4.mean_llc_hit() - m0.mean_llc_hit()).value());
  EXPECT_NEAR(d, 500.0 * 4 * 2 * 1.0, 500.0 * 4 * 2 * 0.1);
}

// Every diagnostic, located, of reading `toml`'s [uncore] table ("" when none).
std::string uncore_errors(const std::string& toml, const std::string& file) {
  auto doc = ConfigDocument::from_string(toml, file);
  UncoreParams::from_config(doc->root().table("uncore"));
  try {
    doc->check();
  } catch (const ConfigErrors& e) {
    return e.what();
  }
  return "";
}

TEST(UncoreDies, ImpossibleDiesAreLocatedErrors) {
  const std::string all = uncore_errors(
      "[uncore]\nimpl = \"mesh\"\ncols = 6\nrows = 6\ndie_cols = 7\nio_rows = 3\nio_rows_bottom = 3\n", "dies.toml");
  EXPECT_NE(all.find("dies.toml:5"), std::string::npos) << all;  // die_cols
  EXPECT_NE(all.find("wider than the mesh"), std::string::npos) << all;
  EXPECT_NE(all.find("io_rows_bottom"), std::string::npos) << all;
  auto ring = ConfigDocument::from_string("[uncore]\nimpl = \"ring\"\ndie_rows = 2\n", "ring.toml");
  UncoreParams::from_config(ring->root().table("uncore"));
  EXPECT_THROW(ring->check(), ConfigErrors);
}

TEST(UncoreDies, SapphireRapidsMeanLlcHitIsThePublished33Ns) {
  auto doc = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/sapphire-rapids-2s.toml");
  const UncoreParams p = UncoreParams::from_config(doc->root().table("uncore"));
  ASSERT_TRUE(p.enabled());
  EXPECT_EQ(p.die_cols, 4u);
  EXPECT_EQ(p.die_rows, 5u);
  UncoreMesh m(p, 56);
  // Chips and Cheese, Xeon 8480: an L3 hit about 33 ns; the CHA lookup was
  // composed from it and the mesh's mean route (configs/sapphire-rapids-2s.toml).
  const double ns = static_cast<double>(m.mean_llc_hit().value()) / 1000.0;
  EXPECT_NEAR(ns, 33.0, 0.03 * 33.0);
  // Slower than Skylake-SP's 20 ns LLC: the larger mesh, EMIB crossings, a slower CHA.
  EXPECT_GT(ns, 1.5 * 20.0);
}

}  // namespace
}  // namespace numasim::hw

// UPI link per line (uncore_mesh.h: upi_route, added for SPRFID).
namespace numasim::hw {
namespace {

TEST(UncoreUpiRoute, NearestIsTheDefaultAndTheResponseLegIsTheCoresNearestAgent) {
  const UncoreParams p = four_dies(2);
  EXPECT_EQ(p.upi_route, "nearest");
  EXPECT_FALSE(p.address_routed_upi());
  UncoreMesh m(p, 56);
  for (PhysAddr pa = 0; pa < 64 * 500; pa += 64)
    for (std::uint32_t core : {0u, 17u, 55u}) EXPECT_EQ(m.upi_to_core(core, pa), m.upi_to_core(core));
  // The shipped Skylake-SP and its link latency derivation keep the nearest agents.
  auto sky = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/skylake-sp-2s.toml");
  EXPECT_EQ(UncoreParams::from_config(sky->root().table("uncore")).upi_route, "nearest");
}

TEST(UncoreUpiRoute, AddressRoutedLinesSpreadOverTheLinksAndEveryLegUsesTheLinesAgent) {
  UncoreParams p = four_dies(2);
  p.upi_route = "address";
  p.upi_agent_cycles = 3;
  p.home_cycles = 11;
  UncoreParams q = p;
  q.upi_route = "nearest";
  UncoreMesh m(p, 56), near(q, 56);
  ASSERT_EQ(m.upi_agents(), 4u);
  std::uint32_t count[4] = {0, 0, 0, 0};
  const std::uint32_t lines = 8000;
  std::uint64_t extra_ps = 0;
  for (PhysAddr pa = 0; pa < 64ull * lines; pa += 64) {
    const std::uint32_t k = m.upi_of(pa);
    ASSERT_LT(k, 4u);
    ++count[k];
    const std::uint32_t u = m.upi_tile(k), core = static_cast<std::uint32_t>(pa / 64 % 56);
    const std::uint32_t ct = m.core_tile(core), st = m.core_tile(m.slice_of(pa)), it = m.imc_tile(m.imc_of(pa));
    EXPECT_EQ(m.to_upi(core, pa), Picoseconds(500 * (p.llc_cycles + 3 + m.route_cycles(ct, st) + m.route_cycles(st, u))));
    EXPECT_EQ(m.home_to_imc(pa), Picoseconds(500 * (3 + 11 + m.route_cycles(u, st) + m.route_cycles(st, it))));
    EXPECT_EQ(m.imc_to_upi(pa), Picoseconds(500 * (3 + m.route_cycles(it, u))));
    EXPECT_EQ(m.upi_to_core(core, pa), Picoseconds(500 * (3 + p.core_stop_cycles + m.route_cycles(u, ct))));
    // The nearest agent is never farther (agent and home cycles apart).
    EXPECT_GE(m.to_upi(core, pa) - Picoseconds(500 * 3), near.to_upi(core, pa) - near.upi_agent());
    EXPECT_GE(m.upi_to_core(core, pa) - Picoseconds(500 * 3), near.upi_to_core(core) - near.upi_agent());
    extra_ps += (m.to_upi(core, pa) + m.upi_to_core(core, pa) - near.to_upi(core, pa) - near.upi_to_core(core)).value();
  }
  for (std::uint32_t k = 0; k < 4; ++k) EXPECT_NEAR(count[k], lines / 4.0, 0.1 * lines / 4.0) << k;
  // Three of the four agents sit on other dies: the requester's legs grow on average.
  EXPECT_GT(extra_ps / lines, 2u * 500u * 3u);
}

TEST(UncoreUpiRoute, OneAgentPerSocketMakesBothRoutesTheSame) {
  UncoreParams one = four_dies(2);
  one.upi_tiles = {{0, 6}};
  UncoreParams addr = one;
  addr.upi_route = "address";
  UncoreMesh a(addr, 56), n(one, 56);
  for (PhysAddr pa = 0; pa < 64 * 300; pa += 64) {
    const std::uint32_t core = static_cast<std::uint32_t>(pa / 64 % 56);
    EXPECT_EQ(a.to_upi(core, pa), n.to_upi(core, pa));
    EXPECT_EQ(a.home_to_imc(pa), n.home_to_imc(pa));
    EXPECT_EQ(a.imc_to_upi(pa), n.imc_to_upi(pa));
    EXPECT_EQ(a.upi_to_core(core, pa), n.upi_to_core(core));
    EXPECT_EQ(a.home_grant(pa), n.home_grant(pa));
  }
}

TEST(UncoreUpiRoute, AnUnknownRouteIsALocatedError) {
  const std::string all = uncore_errors("[uncore]\nimpl = \"mesh\"\nupi_route = \"random\"\n", "route.toml");
  EXPECT_NE(all.find("route.toml:3"), std::string::npos) << all;
  EXPECT_NE(all.find("upi_route"), std::string::npos) << all;
  auto spr = ConfigDocument::from_file(std::string(NUMASIM_SOURCE_DIR) + "/configs/sapphire-rapids-2s.toml");
  EXPECT_EQ(UncoreParams::from_config(spr->root().table("uncore")).upi_route, "address");
}

}  // namespace
}  // namespace numasim::hw
