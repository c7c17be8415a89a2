# Install rules and the CMake package (find_package(array_logger CONFIG)).
# Owned by the packaging work (issue 5); intentionally empty until then.
