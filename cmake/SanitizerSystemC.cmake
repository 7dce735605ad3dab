# The asan-ubsan preset's libsystemc (CMAKE_PROJECT_numasim_INCLUDE, read right
# after project()): Debian's SystemC 2.3.4 rebuilt by
# `tools/install-deps.sh --sanitizers` into build/deps/systemc-asan with
# cmake/systemc/sc_cor_qt-asan-fibers.patch, so that AddressSanitizer follows
# SystemC's coroutine stack switches (see that patch). Found through pkg-config
# before the system's systemc.pc; every other preset uses the system library.
set(NUMASIM_SANITIZER_SYSTEMC "${PROJECT_SOURCE_DIR}/build/deps/systemc-asan")
file(GLOB _numasim_systemc_pc "${NUMASIM_SANITIZER_SYSTEMC}/lib*/pkgconfig/systemc.pc")
if(NOT _numasim_systemc_pc)
  message(FATAL_ERROR "asan-ubsan: no sanitizer libsystemc in ${NUMASIM_SANITIZER_SYSTEMC}; "
                      "run tools/install-deps.sh --sanitizers first")
endif()
get_filename_component(_numasim_systemc_pcdir "${_numasim_systemc_pc}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${_numasim_systemc_pcdir}:$ENV{PKG_CONFIG_PATH}")
unset(__pkg_config_checked_SystemC CACHE)  # look again: the cache may hold the system library
unset(pkgcfg_lib_SystemC_systemc CACHE)
message(STATUS "asan-ubsan: libsystemc with ASan fiber annotations from ${_numasim_systemc_pcdir}")

# The library's own check, added once the top-level CMakeLists.txt has found
# SystemC (PkgConfig::SystemC): see cmake/systemc/asan_fiber_check.cpp.
function(numasim_add_systemc_asan_fiber_check)
  add_executable(systemc_asan_fiber_check ${PROJECT_SOURCE_DIR}/cmake/systemc/asan_fiber_check.cpp)
  target_compile_definitions(systemc_asan_fiber_check PRIVATE SC_INCLUDE_DYNAMIC_PROCESSES)
  target_link_libraries(systemc_asan_fiber_check PRIVATE PkgConfig::SystemC)
  add_test(NAME systemc_asan_fiber_check COMMAND systemc_asan_fiber_check)
  set_tests_properties(systemc_asan_fiber_check PROPERTIES PASS_REGULAR_EXPRESSION "clean" FAIL_REGULAR_EXPRESSION "ERROR: AddressSanitizer"
                                                    LABELS sanitizer)
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL numasim_add_systemc_asan_fiber_check)
