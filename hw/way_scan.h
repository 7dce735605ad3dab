// The tag search of a set's ways for the simulated caches and the snoop
// filter (look-ups, invalidations, presence checks). Models nothing: four ways
// per SSE2 compare (x86-64's baseline) instead of a loop that stops at the
// match (a mispredicted branch per miss), the ways beyond the last multiple of
// four (an 11-way LLC's last three) one by one; the result is a bit per
// matching way, as the plain loop finds them. (Tried for the victim search's
// least replacement word too, twice: SSE2 has no unsigned minimum, and a
// biased signed minimum four ways at a time plus the search for the first way
// equal to it took more host instructions than the compiler's branch-free
// loop. least_way uses SSE4.1's unsigned minimum instead where the host has
// it, checked at run time; else the loop.) ways_equal_padded reads a set block in whole
// groups of four words (no way-by-way tail for an 11-way LLC set).
// Simplifications: none (other hosts take the plain loops).
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <smmintrin.h>
#define NUMASIM_LEAST_WAY_SSE41 1
#endif

namespace numasim::hw {

// Bit w (w < n <= 64) set when p[w] == v.
inline std::uint64_t ways_equal(const std::uint32_t* p, std::size_t n, std::uint32_t v) {
  std::uint64_t m = 0;
  std::size_t w = 0;
#if defined(__SSE2__)
  const __m128i vv = _mm_set1_epi32(static_cast<int>(v));
  for (; w + 4 <= n; w += 4) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + w));
    m |= static_cast<std::uint64_t>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(x, vv)))) << w;
  }
#endif
  for (; w < n; ++w) m |= static_cast<std::uint64_t>(p[w] == v) << w;
  return m;
}

// The same for a set block that may be read in whole groups of four words:
// p[0, n rounded up to 4) is readable (the words beyond n are ignored), so
// no way is compared one by one.
inline std::uint64_t ways_equal_padded(const std::uint32_t* p, std::size_t n, std::uint32_t v) {
#if defined(__SSE2__)
  const __m128i vv = _mm_set1_epi32(static_cast<int>(v));
  std::uint64_t m = 0;
  for (std::size_t w = 0; w < n; w += 4) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + w));
    m |= static_cast<std::uint64_t>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(x, vv)))) << w;
  }
  return n >= 64 ? m : m & ((std::uint64_t{1} << n) - 1);
#else
  return ways_equal(p, n, v);
#endif
}

// The first way holding the least word of p[0, n) (1 <= n <= 64) and that
// word: the victim search of the caches and the snoop filter (the least
// replacement word or stamp; ties only among empty ways, the first of them).
// The plain branch-free loop, as every host runs it.
inline std::size_t least_way_loop(const std::uint32_t* p, std::size_t n, std::uint32_t& least) {
  std::size_t victim = 0;
  least = p[0];
  for (std::size_t w = 1; w < n; ++w) {
    const bool less = p[w] < least;
    victim = less ? w : victim;
    least = less ? p[w] : least;
  }
  return victim;
}

#if defined(NUMASIM_LEAST_WAY_SSE41)
// The same with SSE4.1's unsigned minimum (pminud) four ways at a time, then
// the first way equal to it: about a quarter of the loop's host instructions
// for 8 to 16 ways. p[0, n rounded up to 4) must be readable (the words beyond
// n take no part). Call only where least_way_sse41_available().
__attribute__((target("sse4.1"))) inline std::size_t least_way_sse41(const std::uint32_t* p, std::size_t n,
                                                                     std::uint32_t& least) {
  __m128i m = _mm_set1_epi32(-1);
  std::size_t w = 0;
  for (; w + 4 <= n; w += 4) m = _mm_min_epu32(m, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + w)));
  if (w < n) {
    // Lanes at or beyond n become all ones, which never beat a way's word.
    const __m128i lane = _mm_set_epi32(3, 2, 1, 0);
    const __m128i beyond = _mm_cmpgt_epi32(lane, _mm_set1_epi32(static_cast<int>(n - w) - 1));
    m = _mm_min_epu32(m, _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + w)), beyond));
  }
  m = _mm_min_epu32(m, _mm_shuffle_epi32(m, 0x4E));
  m = _mm_min_epu32(m, _mm_shuffle_epi32(m, 0xB1));
  least = static_cast<std::uint32_t>(_mm_cvtsi128_si32(m));
  const __m128i vv = _mm_shuffle_epi32(m, 0);
  std::uint64_t eq = 0;
  for (std::size_t g = 0; g < n; g += 4) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + g));
    eq |= static_cast<std::uint64_t>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(x, vv)))) << g;
  }
  if (n < 64) eq &= (std::uint64_t{1} << n) - 1;
  return static_cast<std::size_t>(__builtin_ctzll(eq));
}
#endif

// Whether this host runs least_way_sse41 (checked once, at the first call).
inline bool least_way_sse41_available() {
#if defined(NUMASIM_LEAST_WAY_SSE41)
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.1") != 0;
  }();
  return ok;
#else
  return false;
#endif
}

// least_way_sse41 when `sse41` (least_way_sse41_available(), kept by the
// caller), else the loop; the same way and word either way.
inline std::size_t least_way(const std::uint32_t* p, std::size_t n, std::uint32_t& least, bool sse41) {
#if defined(NUMASIM_LEAST_WAY_SSE41)
  if (sse41) return least_way_sse41(p, n, least);
#else
  (void)sse41;
#endif
  return least_way_loop(p, n, least);
}

}  // namespace numasim::hw
