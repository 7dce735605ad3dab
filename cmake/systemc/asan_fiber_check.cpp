// The asan-ubsan preset's check of its libsystemc (ctest systemc_asan_fiber_check):
// exceptions thrown and caught through ten frames inside SC_THREADs, in
// dynamically spawned threads that finish (SystemC's abort() switch), and on the
// main stack after sc_start, each followed by a large local written whole.
// With Debian's libsystemc 2.3.4 ASan loses the stack bounds at those switches
// and reports a stack-buffer-underflow here (the redzones the exceptions
// unwound were never cleared); with cmake/systemc/sc_cor_qt-asan-fibers.patch it
// prints "clean". Not part of any other build.
#include <systemc>
#include <cstring>
#include <stdexcept>
__attribute__((noinline)) void thrower() { char buf[256]; volatile char* p = buf; p[0] = 1; throw std::runtime_error("x"); }
__attribute__((noinline)) void deep(int n) { char buf[64]; volatile char* p = buf; p[0] = 0; if (n) deep(n - 1); else thrower(); }
__attribute__((noinline)) void user() { char big[8192]; std::memset(big, 0, sizeof big); volatile char c = big[100]; (void)c; }
struct M : sc_core::sc_module {
  SC_CTOR(M) { for (int i = 0; i < 4; ++i) SC_THREAD(run); SC_THREAD(spawner); }
  void run() { for (int i = 0; i < 5; i++) { try { deep(8); } catch (...) {} user(); wait(1, sc_core::SC_NS); } }
  void spawner() { for (int i = 0; i < 20; ++i) { sc_core::sc_spawn([] { try { deep(5); } catch (...) {} user(); sc_core::wait(2, sc_core::SC_NS); }); wait(1, sc_core::SC_NS); } }
};
int sc_main(int, char**) {
  M m("m");
  sc_core::sc_start(10, sc_core::SC_NS);
  try { deep(10); } catch (...) {} user();
  sc_core::sc_start();
  try { deep(10); } catch (...) {} user();
  std::puts("clean");
  return 0;
}
