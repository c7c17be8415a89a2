# ArrayLoggerZstd.cmake -- statically linked libzstd.
#
# Include from the top-level CMakeLists.txt (after find_package(Threads)):
#
#   include(cmake/ArrayLoggerZstd.cmake)
#   target_link_libraries(core PRIVATE array_logger::zstd)
#
# Finds a STATIC libzstd (libzstd.a; on Debian/Ubuntu from libzstd-dev, which
# is built position-independent so it can go into the Python extension).
#
# Inputs
#   ARRAY_LOGGER_ZSTD_ROOT (cache PATH, or environment variable of the same
#       name) -- if set, search only this prefix (<root>/include, <root>/lib...).
# Outputs
#   target array_logger::zstd  -- IMPORTED STATIC, include dir, links Threads::Threads
#   ARRAY_LOGGER_ZSTD_LIBRARY, ARRAY_LOGGER_ZSTD_INCLUDE_DIR (cache)
#   ARRAY_LOGGER_ZSTD_VERSION  e.g. "1.5.4" (from zstd.h)

include_guard(GLOBAL)

set(ARRAY_LOGGER_ZSTD_ROOT "" CACHE PATH "Prefix of a zstd installation providing a static libzstd (libzstd.a) and zstd.h")

set(_al_zstd_root "${ARRAY_LOGGER_ZSTD_ROOT}")
if(NOT _al_zstd_root AND DEFINED ENV{ARRAY_LOGGER_ZSTD_ROOT})
  set(_al_zstd_root "$ENV{ARRAY_LOGGER_ZSTD_ROOT}")
endif()

# Forget earlier results if the root changed since the last configure.
if(DEFINED _ARRAY_LOGGER_ZSTD_ROOT_USED AND NOT "${_ARRAY_LOGGER_ZSTD_ROOT_USED}" STREQUAL "${_al_zstd_root}")
  unset(ARRAY_LOGGER_ZSTD_INCLUDE_DIR CACHE)
  unset(ARRAY_LOGGER_ZSTD_LIBRARY CACHE)
endif()
set(_ARRAY_LOGGER_ZSTD_ROOT_USED "${_al_zstd_root}" CACHE INTERNAL "")

# An explicitly given root is authoritative (no silent fallback to /usr).
set(_al_zstd_hints "")
if(_al_zstd_root)
  set(_al_zstd_hints HINTS "${_al_zstd_root}" NO_DEFAULT_PATH)
endif()

find_path(ARRAY_LOGGER_ZSTD_INCLUDE_DIR
  NAMES zstd.h
  ${_al_zstd_hints}
  PATH_SUFFIXES include
  DOC "Directory containing zstd.h")
find_library(ARRAY_LOGGER_ZSTD_LIBRARY
  NAMES libzstd.a zstd_static.lib libzstd_static.lib
  ${_al_zstd_hints}
  PATH_SUFFIXES lib lib64 "lib/${CMAKE_LIBRARY_ARCHITECTURE}"
  DOC "Static zstd library (libzstd.a)")
mark_as_advanced(ARRAY_LOGGER_ZSTD_INCLUDE_DIR ARRAY_LOGGER_ZSTD_LIBRARY)

if(NOT ARRAY_LOGGER_ZSTD_INCLUDE_DIR OR NOT ARRAY_LOGGER_ZSTD_LIBRARY)
  message(FATAL_ERROR
    "array_logger: a static zstd library is required but was not found "
    "(zstd.h: ${ARRAY_LOGGER_ZSTD_INCLUDE_DIR}; libzstd.a: ${ARRAY_LOGGER_ZSTD_LIBRARY}).\n"
    "On Debian/Ubuntu:  apt-get install libzstd-dev\n"
    "Otherwise set ARRAY_LOGGER_ZSTD_ROOT (cache or environment variable) to a prefix "
    "containing include/zstd.h and lib/libzstd.a (built with -fPIC).")
endif()

file(STRINGS "${ARRAY_LOGGER_ZSTD_INCLUDE_DIR}/zstd.h" _al_zstd_ver_lines
     REGEX "^#define ZSTD_VERSION_(MAJOR|MINOR|RELEASE)[ \t]+[0-9]+")
set(ARRAY_LOGGER_ZSTD_VERSION "")
foreach(_part MAJOR MINOR RELEASE)
  string(REGEX MATCH "ZSTD_VERSION_${_part}[ \t]+([0-9]+)" _m "${_al_zstd_ver_lines}")
  if(ARRAY_LOGGER_ZSTD_VERSION)
    string(APPEND ARRAY_LOGGER_ZSTD_VERSION ".")
  endif()
  string(APPEND ARRAY_LOGGER_ZSTD_VERSION "${CMAKE_MATCH_1}")
endforeach()

if(NOT TARGET array_logger::zstd)
  add_library(array_logger::zstd STATIC IMPORTED)
  set_target_properties(array_logger::zstd PROPERTIES
    IMPORTED_LOCATION "${ARRAY_LOGGER_ZSTD_LIBRARY}"
    IMPORTED_LINK_INTERFACE_LANGUAGES C
    INTERFACE_INCLUDE_DIRECTORIES "${ARRAY_LOGGER_ZSTD_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  # libzstd.a marks its API visibility("default"); keep those symbols out of
  # the dynamic symbol table of the shared objects (Python module) we build.
  # (zig's linker driver has no --exclude-libs; the module's version script
  # does this job there, see python/CMakeLists.txt.)
  include(CheckLinkerFlag)
  check_linker_flag(C "LINKER:--exclude-libs,ALL" ARRAY_LOGGER_LINKER_HAS_EXCLUDE_LIBS)
  if(ARRAY_LOGGER_LINKER_HAS_EXCLUDE_LIBS)
    get_filename_component(_al_zstd_libname "${ARRAY_LOGGER_ZSTD_LIBRARY}" NAME)
    set_property(TARGET array_logger::zstd PROPERTY INTERFACE_LINK_OPTIONS
      "$<$<PLATFORM_ID:Linux>:LINKER:--exclude-libs,${_al_zstd_libname}>")
  endif()
endif()

message(STATUS "array_logger: zstd ${ARRAY_LOGGER_ZSTD_VERSION} (static: ${ARRAY_LOGGER_ZSTD_LIBRARY})")
