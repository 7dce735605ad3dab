# cmake/Pgo.cmake: GCC profile-guided optimisation, an opt-in build (issue 15).
# NUMASIM_PGO picks the step:
#   ""        no PGO (the default: the release preset's build is unchanged)
#   generate  instrumented build (-fprofile-generate); running its programs
#             writes .gcda profiles into NUMASIM_PGO_DIR
#   use       optimised build from those profiles (-fprofile-use)
# tools/pgo-build.sh runs both steps with the training set in between; the
# presets release-pgo-generate and release-pgo configure them by hand.
# The two steps live in different build directories: -fprofile-prefix-path
# strips each one's own build directory from the object paths, so a profile
# written by build/release-pgo-generate's hw/.../core.cpp.o is the one that
# build/release-pgo's hw/.../core.cpp.o reads.
# Simplifications: GCC only; every target of the build gets the flags (tests and
# benchmarks included; sources the training never ran are optimised as without
# PGO, -fprofile-partial-training); one profile directory per pair of builds.
# A source edited after the training stops the use build with GCC's
# coverage-mismatch error (kept on purpose, see below): train again
# (tools/pgo-build.sh does, as the edit relinks the instrumented programs).

set(NUMASIM_PGO "" CACHE STRING "Profile-guided optimisation step: empty (off), generate or use")
set_property(CACHE NUMASIM_PGO PROPERTY STRINGS "" generate use)
# A relative NUMASIM_PGO_DIR given with -D is made absolute against the
# directory cmake runs in (a PATH cache entry); the compiler needs it absolute.
set(NUMASIM_PGO_DIR "" CACHE PATH
    "Directory of the PGO profiles (.gcda): written by NUMASIM_PGO=generate, read by NUMASIM_PGO=use")

if(NUMASIM_PGO STREQUAL "")
  return()
endif()
if(NOT NUMASIM_PGO MATCHES "^(generate|use)$")
  message(FATAL_ERROR "NUMASIM_PGO='${NUMASIM_PGO}' is not a PGO step: expected empty (off), "
                      "'generate' (instrumented build) or 'use' (optimised build from the profiles)")
endif()
if(NUMASIM_PGO_DIR STREQUAL "")
  message(FATAL_ERROR "NUMASIM_PGO=${NUMASIM_PGO} needs NUMASIM_PGO_DIR, the profile directory "
                      "(the same for the generate and the use build), e.g. -DNUMASIM_PGO_DIR=<source>/build/pgo-profile")
endif()
# The values first, the compiler last: a wrong value gets its own message
# whatever the compiler (the tests in tests/cmake rely on it).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  message(FATAL_ERROR "NUMASIM_PGO=${NUMASIM_PGO} needs GCC (its -fprofile-* flags and .gcda "
                      "format); this build's C++ compiler is ${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER}")
endif()

# -fprofile-prefix-path (GCC 11) and -fprofile-partial-training (GCC 10) are
# recent: an older GCC is refused here rather than at the first compile.
include(CheckCXXCompilerFlag)
check_cxx_compiler_flag(-fprofile-prefix-path=/ NUMASIM_PGO_HAS_PREFIX_PATH)
check_cxx_compiler_flag(-fprofile-partial-training NUMASIM_PGO_HAS_PARTIAL_TRAINING)
if(NOT NUMASIM_PGO_HAS_PREFIX_PATH OR NOT NUMASIM_PGO_HAS_PARTIAL_TRAINING)
  message(FATAL_ERROR "NUMASIM_PGO=${NUMASIM_PGO} needs GCC 11 or newer (-fprofile-prefix-path, "
                      "-fprofile-partial-training); this build's GCC is ${CMAKE_CXX_COMPILER_VERSION}")
endif()

if(NUMASIM_PGO STREQUAL "generate")
  file(MAKE_DIRECTORY "${NUMASIM_PGO_DIR}")
  add_compile_options(-fprofile-generate -fprofile-dir=${NUMASIM_PGO_DIR}
                      -fprofile-prefix-path=${CMAKE_BINARY_DIR})
  add_link_options(-fprofile-generate)
  message(STATUS "PGO: instrumented build; profiles go to ${NUMASIM_PGO_DIR}")
else()
  file(GLOB_RECURSE _numasim_pgo_profiles "${NUMASIM_PGO_DIR}/*.gcda")
  if(NOT _numasim_pgo_profiles)
    message(FATAL_ERROR "NUMASIM_PGO=use: no .gcda profile in NUMASIM_PGO_DIR='${NUMASIM_PGO_DIR}'; "
                        "build with NUMASIM_PGO=generate and run the training first (tools/pgo-build.sh does both)")
  endif()
  # The build system must see a new training: the id of this one (a hash of the
  # profiles and of the .trained line tools/pgo-build.sh writes) goes on every
  # compile line, and a change of the profiles reruns this configuration, so a
  # plain `cmake --build --preset release-pgo` after a retraining recompiles
  # everything instead of keeping objects optimised for the old profiles.
  set(_numasim_pgo_inputs ${_numasim_pgo_profiles})
  if(EXISTS "${NUMASIM_PGO_DIR}/.trained")
    list(APPEND _numasim_pgo_inputs "${NUMASIM_PGO_DIR}/.trained")
  endif()
  set(_numasim_pgo_hashes "")
  foreach(_numasim_pgo_file IN LISTS _numasim_pgo_inputs)
    file(SHA1 "${_numasim_pgo_file}" _numasim_pgo_hash)
    string(APPEND _numasim_pgo_hashes "${_numasim_pgo_file} ${_numasim_pgo_hash}\n")
  endforeach()
  string(SHA1 NUMASIM_PGO_TRAINING "${_numasim_pgo_hashes}")
  string(SUBSTRING "${NUMASIM_PGO_TRAINING}" 0 16 NUMASIM_PGO_TRAINING)
  # The directory too: a profile added or removed changes its time.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${NUMASIM_PGO_DIR}" ${_numasim_pgo_inputs})
  add_compile_definitions(NUMASIM_PGO_TRAINING=${NUMASIM_PGO_TRAINING})
  # -fprofile-partial-training: code the training did not run keeps its normal
  # optimisation instead of being optimised for size as never executed.
  # GCC's coverage-mismatch (a profile that no longer matches its source) stays
  # an error: it is the one check against a training older than the sources.
  add_compile_options(-fprofile-use=${NUMASIM_PGO_DIR} -fprofile-prefix-path=${CMAKE_BINARY_DIR}
                      -fprofile-partial-training -Wno-missing-profile)
  # Except for the generated tools/embedded_default_config.cpp: it lives in each
  # build directory, so its path (part of GCC's check) always differs from the
  # instrumented build's; it is compiled without its profile, with a warning.
  # Its target is made in tools/, after this file: set at the end of the top level.
  function(_numasim_pgo_relax_generated)
    get_directory_property(_subdirs DIRECTORY "${CMAKE_SOURCE_DIR}" SUBDIRECTORIES)
    if("${CMAKE_SOURCE_DIR}/tools" IN_LIST _subdirs)
      set_source_files_properties("${CMAKE_BINARY_DIR}/tools/embedded_default_config.cpp"
                                  DIRECTORY "${CMAKE_SOURCE_DIR}/tools"
                                  PROPERTIES COMPILE_OPTIONS -Wno-error=coverage-mismatch)
    endif()
  endfunction()
  cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _numasim_pgo_relax_generated)
  # No ccache: its hash must cover the profile or it serves objects optimised
  # for an older training (ccache 4.7 refuses -fprofile-prefix-path compiles
  # anyway). The launchers are read when the targets are created, below; C too,
  # for any C source a dependency brings.
  set(CMAKE_CXX_COMPILER_LAUNCHER "")
  set(CMAKE_C_COMPILER_LAUNCHER "")
  message(STATUS "PGO: optimised build from the profiles in ${NUMASIM_PGO_DIR}, training ${NUMASIM_PGO_TRAINING} (ccache off)")
endif()
