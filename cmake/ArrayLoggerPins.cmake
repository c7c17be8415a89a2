# ArrayLoggerPins.cmake -- the pins of cmake/pins.env as CMake variables
# ARRAY_LOGGER_PIN_<KEY> (e.g. ARRAY_LOGGER_PIN_SQLITE3_C_SHA256). The same
# file is sourced by the scripts that obtain SQLite and zstd.
include_guard(GLOBAL)

set(ARRAY_LOGGER_PINS_FILE "${CMAKE_CURRENT_LIST_DIR}/pins.env")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${ARRAY_LOGGER_PINS_FILE}")
file(STRINGS "${ARRAY_LOGGER_PINS_FILE}" _al_pin_lines REGEX "^[A-Z0-9_]+=\"[^\"]*\"$")
foreach(_al_line IN LISTS _al_pin_lines)
  string(REGEX MATCH "^([A-Z0-9_]+)=\"([^\"]*)\"$" _al_match "${_al_line}")
  set(ARRAY_LOGGER_PIN_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
endforeach()
if(NOT ARRAY_LOGGER_PIN_SQLITE3_C_SHA256)
  message(FATAL_ERROR "array_logger: ${ARRAY_LOGGER_PINS_FILE} has no SQLITE3_C_SHA256 pin")
endif()
