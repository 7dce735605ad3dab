/* A tiny program for a Lackey trace: sums and updates an array.
   tiny_main.lackey was produced on the build machine (Debian, valgrind 3.19) with
     gcc -O1 -o tiny tiny_main.c
     valgrind --tool=lackey --trace-mem=yes --log-file=tiny.lackey ./tiny
   and trimmed to Valgrind's header, the records from five before main's first
   instruction (0x109140 in the trace: the PIE is loaded at 0x108000) to three
   after its last (malloc and free run in between), and the last two "==" lines. */
#include <stdlib.h>
int main(void) {
  enum { N = 360 };
  long *a = malloc(N * sizeof(long));
  long s = 0;
  for (int i = 0; i < N; ++i) a[i] = i;
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < N; i += 3) { a[i] += 1; s += a[(i * 7) % N]; }
  free(a);
  return (int)(s & 1);
}
