// The tag search of a set's ways for the simulated caches and the snoop
// filter (look-ups, invalidations, presence checks). Models nothing: four ways
// per SSE2 compare (x86-64's baseline) instead of a loop that stops at the
// match (a mispredicted branch per miss), the ways beyond the last multiple of
// four (an 11-way LLC's last three) one by one; the result is a bit per
// matching way, as the plain loop finds them. (Tried for the victim search's
// least replacement word too, twice: SSE2 has no unsigned minimum, and a
// biased signed minimum four ways at a time plus the search for the first way
// equal to it took more host instructions than the compiler's branch-free
// loop, so that stays a loop.) ways_equal_padded reads a set block in whole
// groups of four words (no way-by-way tail for an 11-way LLC set).
// Simplifications: none (other hosts take the plain loops).
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
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

}  // namespace numasim::hw
