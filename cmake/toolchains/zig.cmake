# zig.cmake -- CMake toolchain: zig (clang with its own libc++ and libc stubs)
# as the C/C++ compiler and linker, for wheels that install on old Linux.
#
# zig links against stubs of the glibc version named in the target
# (x86_64-linux-gnu.2.17: no symbol newer than GLIBC_2.17, manylinux2014) or
# against musl (x86_64-linux-musl: musllinux_1_2), and brings its own
# libc++/libc++abi/libunwind, linked statically (the module's version script
# keeps them hidden), so the extension needs no libstdc++.so. Why zig and not
# Debian's gcc: docs/WHEELS.md.
#
# Selected by the top-level CMakeLists.txt when the environment variable
# ARRAY_LOGGER_ZIG is set (scripts/build_wheels.sh, cibuildwheel on Linux).
# Inputs (cache variable, else environment variable of the same name):
#   ARRAY_LOGGER_ZIG         the zig executable (PyPI `ziglang`, pinned in
#                            scripts/requirements-wheels.txt)
#   ARRAY_LOGGER_ZIG_TARGET  optional; default: <arch>-linux-musl on a musl
#                            system, else <arch>-linux-gnu.2.17
foreach(_al_var ARRAY_LOGGER_ZIG ARRAY_LOGGER_ZIG_TARGET)
  if(NOT ${_al_var} AND NOT "$ENV{${_al_var}}" STREQUAL "")
    set(${_al_var} "$ENV{${_al_var}}")
  endif()
endforeach()
if(NOT ARRAY_LOGGER_ZIG)
  message(FATAL_ERROR "zig toolchain: set ARRAY_LOGGER_ZIG to the zig executable")
endif()
if(NOT ARRAY_LOGGER_ZIG_TARGET)
  cmake_host_system_information(RESULT _al_arch QUERY OS_PLATFORM)
  if(EXISTS "/lib/ld-musl-${_al_arch}.so.1")
    set(ARRAY_LOGGER_ZIG_TARGET "${_al_arch}-linux-musl")
  else()
    set(ARRAY_LOGGER_ZIG_TARGET "${_al_arch}-linux-gnu.2.17")
  endif()
endif()
# try_compile() projects read this file again: hand the values down.
set(ARRAY_LOGGER_ZIG "${ARRAY_LOGGER_ZIG}" CACHE FILEPATH "zig executable" FORCE)
set(ARRAY_LOGGER_ZIG_TARGET "${ARRAY_LOGGER_ZIG_TARGET}" CACHE STRING "zig target triple" FORCE)
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ARRAY_LOGGER_ZIG ARRAY_LOGGER_ZIG_TARGET)

# Same OS and architecture as the build machine, so not a cross build for
# CMake (FindPython and pybind11 run the interpreter to learn its suffix).
set(CMAKE_C_COMPILER "${ARRAY_LOGGER_ZIG}" cc -target "${ARRAY_LOGGER_ZIG_TARGET}")
set(CMAKE_CXX_COMPILER "${ARRAY_LOGGER_ZIG}" c++ -target "${ARRAY_LOGGER_ZIG_TARGET}")
