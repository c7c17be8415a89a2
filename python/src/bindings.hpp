// Entry points of the binding files, called once from module.cpp.
#pragma once

#include <pybind11/pybind11.h>

namespace array_logger::py_binding {

void bind_errors(pybind11::module_& m);
void bind_logger(pybind11::module_& m);
void bind_reader(pybind11::module_& m);
void bind_file_tools(pybind11::module_& m);

}  // namespace array_logger::py_binding
