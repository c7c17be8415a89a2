// The METH_FASTCALL entry points of log(): Logger.log and the module-level
// array_logger.log, which calls the process-wide default logger.
#pragma once

#include <pybind11/pybind11.h>

namespace array_logger::py_binding {

class PyLogger;

// Quoted by every error about log()'s arguments.
inline constexpr const char* kLogForms =
    "accepted forms: log(name, key_values, array), log(name, array, key_values), and any of the three "
    "as keywords, e.g. log(name, array, key_values=kv) or log(name=..., key_values=..., array=...); "
    "key_values is the mapping, the other value the array";

// Installs Logger.log on the bound class `cls`, and _log_default /
// _set_default on the module.
void bind_fast_log(pybind11::module_& m, pybind11::handle cls);
// Called by a PyLogger being destroyed: drops what fast_log remembers of it.
void forget_logger(const PyLogger* logger) noexcept;

}  // namespace array_logger::py_binding
