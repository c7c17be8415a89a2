# ArrayLoggerSQLite.cmake -- statically linked SQLite from the amalgamation.
#
# Include from the top-level CMakeLists.txt (after project() and
# find_package(Threads); the C language is enabled here if the project did
# not enable it):
#
#   include(cmake/ArrayLoggerSQLite.cmake)
#   target_link_libraries(core PRIVATE array_logger::sqlite3)
#
# Inputs
#   ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR  (cache PATH, or environment variable
#       of the same name; cache wins) -- directory holding sqlite3.c and
#       sqlite3.h to use as-is.  Missing files are a hard error.
#       If empty: the amalgamation is cached in
#       ${CMAKE_BINARY_DIR}/_deps/sqlite-amalgamation and produced there at
#       configure time by cmake/obtain_sqlite_amalgamation.sh (Debian source
#       package, pinned version, SHA-256 verified; ~20 s the first time,
#       instant afterwards). Either way sqlite3.c is compared with the pin of
#       cmake/pins.env: an obtained copy must match, a given one is reported.
#   ARRAY_LOGGER_ALLOW_SYSTEM_SQLITE (option, default ON) -- if obtaining the
#       amalgamation fails, fall back to find_package(SQLite3) (shared system
#       library) with a warning instead of failing.
#
# Outputs
#   target array_logger_sqlite3 / alias array_logger::sqlite3
#       amalgamation: STATIC library, PIC, hidden visibility, PUBLIC include
#         dir with sqlite3.h, PUBLIC ARRAY_LOGGER_SQLITE_AMALGAMATION=1.
#       system fallback: INTERFACE library linking SQLite3::SQLite3 with
#         PUBLIC ARRAY_LOGGER_SQLITE_AMALGAMATION=0.
#   ARRAY_LOGGER_SQLITE_KIND     "amalgamation" or "system"
#   ARRAY_LOGGER_SQLITE_VERSION  e.g. "3.40.1" (from sqlite3.h)
#   ARRAY_LOGGER_SQLITE_SOURCE_DIR  directory of sqlite3.c (amalgamation only)

include_guard(GLOBAL)

set(_al_sqlite_obtain_script "${CMAKE_CURRENT_LIST_DIR}/obtain_sqlite_amalgamation.sh")

set(ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR "" CACHE PATH
  "Directory containing sqlite3.c/sqlite3.h to build (empty: obtain the pinned Debian amalgamation into the build tree)")
option(ARRAY_LOGGER_ALLOW_SYSTEM_SQLITE
  "Fall back to the system (shared) SQLite if the amalgamation cannot be obtained" ON)

include("${CMAKE_CURRENT_LIST_DIR}/ArrayLoggerPins.cmake")

# ---------------------------------------------------------------------------
# Locate or obtain the amalgamation.
# ---------------------------------------------------------------------------
set(_al_sqlite_dir "")
set(_al_sqlite_fail_reason "")

if(ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR)
  set(_al_sqlite_user_dir "${ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR}")
  set(_al_sqlite_user_origin "cache variable")
elseif(DEFINED ENV{ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR} AND NOT "$ENV{ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR}" STREQUAL "")
  set(_al_sqlite_user_dir "$ENV{ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR}")
  set(_al_sqlite_user_origin "environment variable")
else()
  set(_al_sqlite_user_dir "")
endif()

if(_al_sqlite_user_dir)
  get_filename_component(_al_sqlite_user_dir "${_al_sqlite_user_dir}" ABSOLUTE)
  foreach(_f sqlite3.c sqlite3.h)
    if(NOT EXISTS "${_al_sqlite_user_dir}/${_f}")
      message(FATAL_ERROR
        "ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR (${_al_sqlite_user_origin}) is "
        "'${_al_sqlite_user_dir}', but '${_al_sqlite_user_dir}/${_f}' does not exist.")
    endif()
  endforeach()
  set(_al_sqlite_dir "${_al_sqlite_user_dir}")
  message(STATUS "array_logger: SQLite amalgamation from ${_al_sqlite_user_origin}: ${_al_sqlite_dir}")
else()
  set(_al_sqlite_cache_dir "${CMAKE_BINARY_DIR}/_deps/sqlite-amalgamation")
  # Re-run configure if the pins in the script change.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_al_sqlite_obtain_script}")
  find_program(ARRAY_LOGGER_BASH_EXECUTABLE NAMES bash)
  mark_as_advanced(ARRAY_LOGGER_BASH_EXECUTABLE)
  if(NOT ARRAY_LOGGER_BASH_EXECUTABLE)
    set(_al_sqlite_fail_reason "bash not found (needed to run ${_al_sqlite_obtain_script})")
  elseif(NOT EXISTS "${_al_sqlite_obtain_script}")
    set(_al_sqlite_fail_reason "${_al_sqlite_obtain_script} is missing")
  else()
    if(NOT EXISTS "${_al_sqlite_cache_dir}/sqlite3.c" OR NOT EXISTS "${_al_sqlite_cache_dir}/sqlite3.h")
      message(STATUS "array_logger: obtaining the SQLite amalgamation into ${_al_sqlite_cache_dir} "
                     "(Debian source package via apt-get; first configure only, ~20 s)")
    endif()
    # Always run: on a warm cache the script only re-verifies the SHA-256
    # pins (~0.1 s, no network); otherwise it fetches and builds.
    execute_process(
      COMMAND "${ARRAY_LOGGER_BASH_EXECUTABLE}" "${_al_sqlite_obtain_script}" "${_al_sqlite_cache_dir}"
      RESULT_VARIABLE _al_sqlite_rc
      TIMEOUT 1800)
    if(_al_sqlite_rc EQUAL 0 AND EXISTS "${_al_sqlite_cache_dir}/sqlite3.c" AND EXISTS "${_al_sqlite_cache_dir}/sqlite3.h")
      set(_al_sqlite_dir "${_al_sqlite_cache_dir}")
    else()
      set(_al_sqlite_fail_reason "${_al_sqlite_obtain_script} failed (${_al_sqlite_rc}); see its messages above")
    endif()
  endif()
endif()

# ---------------------------------------------------------------------------
# Build the amalgamation ...
# ---------------------------------------------------------------------------
if(_al_sqlite_dir)
  file(SHA256 "${_al_sqlite_dir}/sqlite3.c" _al_sqlite_sha)
  if(_al_sqlite_sha STREQUAL ARRAY_LOGGER_PIN_SQLITE3_C_SHA256)
    set(_al_sqlite_pinned "pinned")
  elseif(_al_sqlite_user_dir)
    set(_al_sqlite_pinned "NOT the pinned ${ARRAY_LOGGER_PIN_SQLITE_UPSTREAM_VERSION}: SHA-256 ${_al_sqlite_sha}")
  else()
    message(FATAL_ERROR "array_logger: ${_al_sqlite_dir}/sqlite3.c has SHA-256 ${_al_sqlite_sha}, "
                        "pinned ${ARRAY_LOGGER_PIN_SQLITE3_C_SHA256} (cmake/pins.env)")
  endif()
  get_property(_al_langs GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(NOT "C" IN_LIST _al_langs)
    enable_language(C)
  endif()

  file(STRINGS "${_al_sqlite_dir}/sqlite3.h" _al_ver_line REGEX "^#define SQLITE_VERSION[ \t]+\"")
  string(REGEX REPLACE "^#define SQLITE_VERSION[ \t]+\"([^\"]*)\".*" "\\1" ARRAY_LOGGER_SQLITE_VERSION "${_al_ver_line}")

  add_library(array_logger_sqlite3 STATIC "${_al_sqlite_dir}/sqlite3.c")
  add_library(array_logger::sqlite3 ALIAS array_logger_sqlite3)
  set_target_properties(array_logger_sqlite3 PROPERTIES
    POSITION_INDEPENDENT_CODE ON
    LINKER_LANGUAGE C
    C_VISIBILITY_PRESET hidden        # keep sqlite3_* out of the Python module's dynamic symbols
    EXPORT_NAME sqlite3)
  target_include_directories(array_logger_sqlite3 SYSTEM PUBLIC "$<BUILD_INTERFACE:${_al_sqlite_dir}>")
  target_compile_definitions(array_logger_sqlite3
    PUBLIC  ARRAY_LOGGER_SQLITE_AMALGAMATION=1
    PRIVATE
      # one writer thread per connection + independent reader connections
      SQLITE_THREADSAFE=2
      SQLITE_DQS=0
      SQLITE_DEFAULT_MEMSTATUS=0
      SQLITE_DEFAULT_WAL_SYNCHRONOUS=1
      SQLITE_USE_ALLOCA
      SQLITE_OMIT_DEPRECATED
      SQLITE_OMIT_SHARED_CACHE
      SQLITE_OMIT_LOAD_EXTENSION
      SQLITE_LIKE_DOESNT_MATCH_BLOBS
      # big blobs: whole overflow pages read with one pread() straight into
      # the caller's buffer (read_all's output array), not via the page cache
      SQLITE_DIRECT_OVERFLOW_READ)

  # What SQLite's own configure would detect; without HAVE_USLEEP the busy
  # handler sleeps in whole seconds, without HAVE_PREAD/HAVE_PWRITE every
  # page read or written costs an lseek() too.
  if(NOT WIN32)
    include(CheckSymbolExists)
    set(_al_saved_defs "${CMAKE_REQUIRED_DEFINITIONS}")
    set(CMAKE_REQUIRED_DEFINITIONS -D_GNU_SOURCE)
    foreach(_al_chk
        "usleep;unistd.h;HAVE_USLEEP"
        "pread;unistd.h;HAVE_PREAD"
        "pwrite;unistd.h;HAVE_PWRITE"
        "fdatasync;unistd.h;HAVE_FDATASYNC"
        "localtime_r;time.h;HAVE_LOCALTIME_R"
        "gmtime_r;time.h;HAVE_GMTIME_R"
        "posix_fallocate;fcntl.h;HAVE_POSIX_FALLOCATE"
        "strchrnul;string.h;HAVE_STRCHRNUL"
        "isnan;math.h;HAVE_ISNAN")
      list(GET _al_chk 0 _al_sym)
      list(GET _al_chk 1 _al_hdr)
      list(GET _al_chk 2 _al_def)
      check_symbol_exists(${_al_sym} ${_al_hdr} ARRAY_LOGGER_SQLITE_${_al_def})
      if(ARRAY_LOGGER_SQLITE_${_al_def})
        target_compile_definitions(array_logger_sqlite3 PRIVATE ${_al_def}=1)
      endif()
    endforeach()
    set(CMAKE_REQUIRED_DEFINITIONS "${_al_saved_defs}")
  endif()

  # Optimise even in Debug (SQLite at -O0 is needlessly slow); third-party
  # code: no warnings (and so no -Werror failures) from it.
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(array_logger_sqlite3 PRIVATE $<$<CONFIG:Debug>:-O2> -w)
  elseif(MSVC)
    target_compile_options(array_logger_sqlite3 PRIVATE $<$<CONFIG:Debug>:/O2> /W0)
  endif()

  target_link_libraries(array_logger_sqlite3 PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
  if(UNIX AND NOT APPLE)
    target_link_libraries(array_logger_sqlite3 PRIVATE m)
  endif()

  set(ARRAY_LOGGER_SQLITE_KIND "amalgamation")
  set(ARRAY_LOGGER_SQLITE_SOURCE_DIR "${_al_sqlite_dir}")
  message(STATUS "array_logger: SQLite ${ARRAY_LOGGER_SQLITE_VERSION} (static, amalgamation: ${_al_sqlite_dir}, ${_al_sqlite_pinned})")

# ---------------------------------------------------------------------------
# ... or fall back to the system library.
# ---------------------------------------------------------------------------
elseif(ARRAY_LOGGER_ALLOW_SYSTEM_SQLITE)
  find_package(SQLite3)
  if(NOT SQLite3_FOUND)
    message(FATAL_ERROR
      "array_logger: could not obtain the SQLite amalgamation (${_al_sqlite_fail_reason}) "
      "and no system SQLite3 was found either. Either set ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR "
      "to a directory with sqlite3.c/sqlite3.h, fix the problem above, or install libsqlite3-dev.")
  endif()
  if(TARGET SQLite3::SQLite3)          # CMake >= 4.3
    set(_al_sqlite_sys_target SQLite3::SQLite3)
  else()
    set(_al_sqlite_sys_target SQLite::SQLite3)
  endif()
  add_library(array_logger_sqlite3 INTERFACE)
  add_library(array_logger::sqlite3 ALIAS array_logger_sqlite3)
  set_target_properties(array_logger_sqlite3 PROPERTIES EXPORT_NAME sqlite3)
  target_link_libraries(array_logger_sqlite3 INTERFACE ${_al_sqlite_sys_target})
  target_compile_definitions(array_logger_sqlite3 INTERFACE ARRAY_LOGGER_SQLITE_AMALGAMATION=0)
  set(ARRAY_LOGGER_SQLITE_KIND "system")
  set(ARRAY_LOGGER_SQLITE_VERSION "${SQLite3_VERSION}")
  set(ARRAY_LOGGER_SQLITE_SOURCE_DIR "")
  message(WARNING
    "\n########  array_logger: USING THE SYSTEM SQLITE (shared library)  ########\n"
    "Could not obtain the pinned SQLite amalgamation: ${_al_sqlite_fail_reason}. "
    "Falling back to the system SQLite ${SQLite3_VERSION} (${SQLite3_LIBRARIES}): "
    "the build will depend on the system libsqlite3 at run time and its compile "
    "options (threading mode etc.) are not controlled by this project. "
    "To avoid this, set ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR (cache or environment) "
    "to a directory with sqlite3.c/sqlite3.h, or fix the error above; "
    "pass -DARRAY_LOGGER_ALLOW_SYSTEM_SQLITE=OFF to make this an error.\n"
    "##########################################################################")
else()
  message(FATAL_ERROR
    "array_logger: could not obtain the SQLite amalgamation: ${_al_sqlite_fail_reason}.\n"
    "Set ARRAY_LOGGER_SQLITE_AMALGAMATION_DIR (cache or environment variable) to a directory "
    "containing sqlite3.c and sqlite3.h, or enable ARRAY_LOGGER_ALLOW_SYSTEM_SQLITE.")
endif()
