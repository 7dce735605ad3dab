// The tag search of a set's ways for the simulated caches and the snoop
// filter (look-ups, invalidations, presence checks). Models nothing: four ways
// per SSE2 compare (x86-64's baseline) instead of a loop that stops at the
// match (a mispredicted branch per miss), the ways beyond the last multiple of
// four (an 11-way LLC's last three) one by one; the result is a bit per
// matching way, as the plain loop finds them. The victim search's least
// replacement word: SSE2 has no unsigned minimum (a biased signed minimum took
// more host instructions than the compiler's branch-free loop, tried twice),
// so it is SSE4.1's, chosen at run time when the host has it
// (least_word_sse41: a cached 4 KiB clear, 20000 of them under callgrind,
// 2.312 G -> 2.282 G host instructions), else the loop. ways_equal_padded
// reads a set block in whole groups of four words (no way-by-way tail for an
// 11-way LLC set). For a way count known at compile time (8, 11, 12, 16),
// ways_equal_fixed and the victim search narrow the compares' results by two
// packs and one movemask instead of a movemask per group of four (kept apart
// from ways_equal_padded, whose growth stopped GCC inlining the L1D look-up
// into Core::execute). Simplifications: none (other hosts take the plain loops).
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__)
#include <smmintrin.h>  // used only by functions compiled for SSE4.1, called when the host has it
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

#if defined(__SSE2__)
// Whether way_bits takes N ways (the usual 8-, 11-, 12- and 16-way sets).
template <std::size_t N>
inline constexpr bool kPackedWays = N == 8 || N == 11 || N == 12 || N == 16;
// The bit per way of N (kPackedWays) ways' compare results e[0, ceil(N / 4))
// (four 32-bit lanes each, all ones or all zeros): two saturating packs
// narrow them to a byte per way for one movemask, instead of a movemask,
// a shift and an or per group (callgrind, hw_core_bench's GUPS stream, whose
// miss compares the tags of ten to twenty sets: see README's speed notes).
// Bits at and beyond N are cleared.
// Masked false: the bits at and beyond N are left as the packs make them,
// copies of bits below N (enough for the lowest set bit: a copy of a set bit
// is always above it).
template <std::size_t N, bool Masked = true>
[[gnu::always_inline]] inline std::uint64_t way_bits(const __m128i* e) {
  static_assert(kPackedWays<N>);
  const __m128i lo = _mm_packs_epi32(e[0], e[1]);
  __m128i hi = lo;
  if constexpr (N > 8) hi = _mm_packs_epi32(e[2], N > 12 ? e[3] : e[2]);
  const auto m = static_cast<std::uint64_t>(_mm_movemask_epi8(_mm_packs_epi16(lo, hi)));
  return N == 16 || !Masked ? m : m & ((std::uint64_t{1} << N) - 1);
}

// ways_equal_padded's compares for N ways (N = 0: n), by whole groups of four.
template <std::size_t N>
inline std::uint64_t ways_equal_groups(const std::uint32_t* p, std::size_t n, std::uint32_t v) {
  if (N) n = N;
  const __m128i vv = _mm_set1_epi32(static_cast<int>(v));
  if constexpr (kPackedWays<N>) {
    __m128i e[4];
    for (std::size_t g = 0; g < (N + 3) / 4; ++g)
      e[g] = _mm_cmpeq_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 4 * g)), vv);
    return way_bits<N>(e);
  }
  std::uint64_t m = 0;
  for (std::size_t w = 0; w < n; w += 4) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + w));
    m |= static_cast<std::uint64_t>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(x, vv)))) << w;
  }
  return n >= 64 ? m : m & ((std::uint64_t{1} << n) - 1);
}
#endif

// The same for a set block that may be read in whole groups of four words:
// p[0, n rounded up to 4) is readable (the words beyond n are ignored), so
// no way is compared one by one. A way count known only at run time (the
// snoop filter's find) takes an unrolled copy for the filter's usual 8 ways
// (the loop was about 30 host instructions, a third of them loop control).
inline std::uint64_t ways_equal_padded(const std::uint32_t* p, std::size_t n, std::uint32_t v) {
#if defined(__SSE2__)
  return n == 8 ? ways_equal_groups<8>(p, n, v) : ways_equal_groups<0>(p, n, v);
#else
  return ways_equal(p, n, v);
#endif
}

// ways_equal_padded(p, N, v) for a way count known at compile time (the
// miss paths' copies for the usual geometry): the usual counts take the
// packed compares. (Not ways_equal_padded itself: its larger body for a run-
// time count made GCC stop inlining the L1D look-up into Core's loop.)
template <std::size_t N>
[[gnu::always_inline]] inline std::uint64_t ways_equal_fixed(const std::uint32_t* p, std::uint32_t v) {
#if defined(__SSE2__)
  return ways_equal_groups<N>(p, N, v);
#else
  return ways_equal(p, N, v);
#endif
}

// ways_equal_padded(p, n, v) != 0 (p as readable as there). A way count
// known at compile time as a multiple of four (N) takes one mask for the
// whole set: the compares OR-ed together, no bit per way placed.
template <std::size_t N = 0>
inline bool any_way_equal(const std::uint32_t* p, std::size_t n, std::uint32_t v) {
#if defined(__SSE2__)
  if constexpr (N != 0 && N % 4 == 0) {
    const __m128i vv = _mm_set1_epi32(static_cast<int>(v));
    __m128i any = _mm_cmpeq_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), vv);
    for (std::size_t w = 4; w < N; w += 4)
      any = _mm_or_si128(any, _mm_cmpeq_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + w)), vv));
    return _mm_movemask_epi8(any) != 0;
  }
#endif
  return ways_equal_padded(p, N ? N : n, v) != 0;
}

#if defined(__x86_64__)
// Whether the host has SSE4.1, asked once: its unsigned minimum (pminud) finds
// a set's least replacement word four ways at a time, which SSE2 cannot.
inline const bool kHostSse41 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.1") != 0;
}();

// Whether the SSE4.1 copies run: the host's answer. Tests switch it off to run
// the code a host without SSE4.1 runs (the dispatches below and in hw/cache*).
inline bool sse41_in_use = kHostSse41;

// The first of p[0, n) (n <= 64) with the least value, and that value: the
// branch-free loop's result, by minima of four words and a compare for the
// first equal one. p[0, n rounded up to 4) must be readable (a set block);
// the words beyond n are ignored. Call only when kHostSse41. N is n when
// known at compile time (0: not known): a copy per way count, as GCC's
// constant propagation made when first_least_word was not always_inline
// (the copy for any n loops over the groups: 35-40% more instructions).
template <std::size_t N = 0>
__attribute__((target("sse4.1"))) inline std::size_t least_word_sse41(const std::uint32_t* p, std::size_t n,
                                                                      std::uint32_t& least) {
  if (N) n = N;
  if constexpr (kPackedWays<N>) {
    // The groups loaded once for the minimum and the compares with it, the
    // last group's words beyond N made the largest for both (the least is
    // one of the N: they never come first among the equal ones), and the
    // way bits unmasked (their copies are above them).
    constexpr std::size_t kGroups = (N + 3) / 4;
    __m128i g[kGroups];
    for (std::size_t i = 0; i < kGroups; ++i) g[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 4 * i));
    if constexpr (N % 4 != 0)
      g[kGroups - 1] = _mm_or_si128(
          g[kGroups - 1], _mm_cmpgt_epi32(_mm_setr_epi32(0, 1, 2, 3), _mm_set1_epi32(static_cast<int>(N % 4 - 1))));
    __m128i m = g[0];
    for (std::size_t i = 1; i < kGroups; ++i) m = _mm_min_epu32(m, g[i]);
    m = _mm_min_epu32(m, _mm_shuffle_epi32(m, 0x4E));
    m = _mm_min_epu32(m, _mm_shuffle_epi32(m, 0xB1));
    __m128i e[4];
    for (std::size_t i = 0; i < kGroups; ++i) e[i] = _mm_cmpeq_epi32(g[i], m);
    const auto first = static_cast<unsigned>(__builtin_ctz(static_cast<unsigned>(way_bits<N, false>(e))));
    least = static_cast<std::uint32_t>(_mm_cvtsi128_si32(m));
    return first;
  }
  // (From the first group rather than from all ones: one minimum fewer. The
  // least is stored last: a store through `least` before the compares below
  // made GCC load the set's groups again.)
  std::size_t w = n >= 4 ? 4 : 0;
  __m128i m = n >= 4 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)) : _mm_set1_epi32(-1);
  for (; w + 4 <= n; w += 4) m = _mm_min_epu32(m, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + w)));
  if (w < n) {  // the last group's words beyond n count as the largest
    const __m128i beyond = _mm_cmpgt_epi32(_mm_setr_epi32(0, 1, 2, 3), _mm_set1_epi32(static_cast<int>(n - w - 1)));
    m = _mm_min_epu32(m, _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + w)), beyond));
  }
  m = _mm_min_epu32(m, _mm_shuffle_epi32(m, 0x4E));
  m = _mm_min_epu32(m, _mm_shuffle_epi32(m, 0xB1));
  const auto min = static_cast<std::uint32_t>(_mm_cvtsi128_si32(m));
  std::uint64_t eq = 0;
  for (std::size_t v = 0; v < n; v += 4)
    eq |= static_cast<std::uint64_t>(_mm_movemask_ps(_mm_castsi128_ps(
              _mm_cmpeq_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + v)), m))))
          << v;
  if (n < 64) eq &= (std::uint64_t{1} << n) - 1;
  least = min;
  return static_cast<std::size_t>(__builtin_ctzll(eq));
}
#endif

// The first of p[0, n) with the least value, and that value (the victim search
// of the caches and the snoop filter: least replacement word or stamp). W is
// n when known at compile time (the loop is then unrolled), else 0. With
// n >= 8, p[0, n rounded up to 4) must be readable (a set block): SSE4.1's
// search when the host has it, the same way as the branch-free loop.
template <std::size_t W>
[[gnu::always_inline]] inline std::size_t first_least_word(const std::uint32_t* p, std::size_t n,
                                                           std::uint32_t& least) {
  if (W) n = W;
#if defined(__x86_64__)
  if (n >= 8 && sse41_in_use) return least_word_sse41<W>(p, n, least);
#endif
  std::size_t first = 0;
  least = p[0];
  for (std::size_t v = 1; v < n; ++v) {
    const bool less = p[v] < least;
    first = less ? v : first;
    least = less ? p[v] : least;
  }
  return first;
}

}  // namespace numasim::hw
