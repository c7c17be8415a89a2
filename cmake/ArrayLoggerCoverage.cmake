# ArrayLoggerCoverage.cmake -- gcov instrumentation for the coverage build.
#
# ARRAY_LOGGER_COVERAGE=ON (scripts/coverage.sh; never in a release or wheel
# build) compiles the core (cpp/src) and the binding (python/src) with
# --coverage at -O0, so that every line and branch gcov reports is one of the
# source (optimised code merges and drops branches). SQLite and zstd keep the
# build type's optimisation: they are not measured, and an -O0 SQLite would
# only slow the test suite down.
#
# Call array_logger_enable_coverage(<target>...) after the targets exist.

include_guard(GLOBAL)

option(ARRAY_LOGGER_COVERAGE "Instrument the core and the binding for gcov (coverage build only)" OFF)

function(array_logger_enable_coverage)
  if(NOT ARRAY_LOGGER_COVERAGE)
    return()
  endif()
  foreach(target IN LISTS ARGN)
    if(TARGET ${target})
      # -O0 after the build type's -O2/-O3 wins; -fprofile-update=atomic: the
      # writer thread and the callers update counters concurrently.
      target_compile_options(${target} PRIVATE -O0 -g --coverage -fprofile-update=atomic)
      target_link_options(${target} PRIVATE --coverage)
      # crash_point.cpp dumps the counters before the process kills itself.
      target_compile_definitions(${target} PRIVATE ARRAY_LOGGER_COVERAGE=1)
    endif()
  endforeach()
endfunction()
