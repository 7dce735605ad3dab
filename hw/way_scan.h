// The tag search of a set's ways for the simulated caches and the snoop
// filter (look-ups, invalidations, presence checks). Models nothing: four ways
// per SSE2 compare (x86-64's baseline) instead of a loop that stops at the
// match (a mispredicted branch per miss), the ways beyond the last multiple of
// four (an 11-way LLC's last three) one by one; the result is a bit per
// matching way, as the plain loop finds them. The victim search's least
// replacement word (least_way): a running minimum of four words per step and a
// horizontal minimum, then the first way equal to it by ways_equal (about half
// the host instructions of the branch-free loop, which does three compares and
// moves per way, for the 8-way L1D and snoop filter, 11-way LLC and 16-way L2).
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

// The first of the n words (1 <= n <= 64, readable in whole groups of four as
// for ways_equal_padded) with the least value (unsigned), as the branch-free
// loop `less = p[w] < least` from p[0] finds it; the value in `least`. SSE2
// has no unsigned minimum: the words are compared with their top bit flipped
// (signed order = unsigned order of the originals), four at a time (a last
// partial group with its lanes beyond n made the largest value), then the
// first word equal to the minimum is found by ways_equal_padded.
inline std::size_t least_way(const std::uint32_t* p, std::size_t n, std::uint32_t& least) {
#if defined(__SSE2__)
  const __m128i bias = _mm_set1_epi32(static_cast<int>(0x80000000u));
  auto min_signed = [](__m128i a, __m128i b) {
    const __m128i gt = _mm_cmpgt_epi32(a, b);
    return _mm_or_si128(_mm_and_si128(gt, b), _mm_andnot_si128(gt, a));
  };
  __m128i m = _mm_set1_epi32(0x7fffffff);  // the largest word, biased
  std::size_t w = 0;
  for (; w + 4 <= n; w += 4)
    m = min_signed(m, _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + w)), bias));
  if (w < n) {
    // Lanes n - w .. 3 of the last group: all ones (the largest unsigned word).
    const int k = static_cast<int>(n - w);
    const __m128i beyond = _mm_cmpgt_epi32(_mm_set_epi32(3, 2, 1, 0), _mm_set1_epi32(k - 1));
    const __m128i x = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + w)), beyond);
    m = min_signed(m, _mm_xor_si128(x, bias));
  }
  m = min_signed(m, _mm_shuffle_epi32(m, 0x4E));
  m = min_signed(m, _mm_shuffle_epi32(m, 0xB1));
  const std::uint32_t v = static_cast<std::uint32_t>(_mm_cvtsi128_si32(m)) ^ 0x80000000u;
  least = v;
  return static_cast<std::size_t>(__builtin_ctzll(ways_equal_padded(p, n, v)));
#else
  std::size_t victim = 0;
  std::uint32_t v = p[0];
  for (std::size_t w = 1; w < n; ++w) {
    const bool less = p[w] < v;
    victim = less ? w : victim;
    v = less ? p[w] : v;
  }
  least = v;
  return victim;
#endif
}

}  // namespace numasim::hw
