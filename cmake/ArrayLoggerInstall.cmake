# Install rules and the CMake package, so that C++ programs can use
#   find_package(array_logger CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE array_logger::core)
# The package carries the public headers, the static core, the static SQLite
# built from the amalgamation (array_logger::sqlite3) and the static zstd the
# core was linked with (installed as libarray_logger_zstd.a), plus a version file.
# Python wheels (scikit-build-core) install only the extension module.
include_guard(GLOBAL)

if(SKBUILD)
  return()
endif()

include(CMakePackageConfigHelpers)
set(ARRAY_LOGGER_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/array_logger")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/cpp/include/array_logger" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(TARGETS array_logger_core array_logger_sqlite3
  EXPORT array_loggerTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
  INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
# The zstd the core was built against (an imported target has no install
# rule of its own): a copy under our name, recreated by the config file.
install(FILES "${ARRAY_LOGGER_ZSTD_LIBRARY}" DESTINATION "${CMAKE_INSTALL_LIBDIR}" RENAME libarray_logger_zstd.a)
install(EXPORT array_loggerTargets NAMESPACE array_logger:: DESTINATION "${ARRAY_LOGGER_INSTALL_CMAKEDIR}")

set(ARRAY_LOGGER_CONFIG_SQLITE_KIND "${ARRAY_LOGGER_SQLITE_KIND}")
configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/array_loggerConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/array_loggerConfig.cmake"
  INSTALL_DESTINATION "${ARRAY_LOGGER_INSTALL_CMAKEDIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/array_loggerConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/array_loggerConfig.cmake" "${PROJECT_BINARY_DIR}/array_loggerConfigVersion.cmake"
  DESTINATION "${ARRAY_LOGGER_INSTALL_CMAKEDIR}")
