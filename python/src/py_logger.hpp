// _core.Logger's C++ side: the core Logger plus what Python callers need on
// the hot path (name -> stream lookup, key dict and array conversion). The
// class is bound in logger_binding.cpp; its log() is reached through the
// METH_FASTCALL entry points of fast_log.cpp.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "array_logger/logger.hpp"
#include "py_convert.hpp"

namespace array_logger::py_binding {

class PyLogger {
 public:
  PyLogger(const std::string& root, std::optional<int> compression_level, const std::string& synchronous,
           std::size_t buffer_bytes, int compression_workers, py::object close_progress, bool throughput_mode,
           const std::string& compression_mode);
  ~PyLogger();

  void register_array(const std::string& name, const std::vector<std::string>& keys,
                      const std::vector<std::int64_t>& shape, const std::string& dtype,
                      std::uint64_t commit_threshold_rows, double commit_threshold_seconds,
                      const std::string& user_metadata, bool shuffle_zstd, const std::string& keys_repr,
                      std::optional<double> quantize_step, double quantize_min, double quantize_max, bool sparse,
                      std::uint64_t period, const std::string& period_mode, py::object resume_period,
                      const std::string& journal, const std::string& shard = {});
  // log(name, key_values, array) and log(name, array, key_values): the
  // mapping is the keys, the other argument the array.
  void log(py::handle name, py::handle a, py::handle b);
  // Many rows at once: arrays (N, *shape), key_values {key: sequence of N}.
  // Converts everything first, then queues all rows without the GIL.
  void log_many(py::handle name, py::handle key_values, py::handle arrays);
  void flush();
  // flush() + each name's position: [{"name", "rows", "open_period": None
  // or (steps, [first key values], accumulator bytes)}].
  py::list checkpoint_positions();
  void close();
  bool closed() const { return logger_->closed(); }
  py::list names() const { return streams_.attr("keys")(); }
  std::string root() const { return logger_->options().root.string(); }

 private:
  // The registered name `name` (InvalidArgument when it is not).
  const StreamBinding& stream(py::handle name) const;

  std::unique_ptr<Logger> logger_;
  py::dict streams_;  // name (str) -> index into bindings_
  std::vector<std::unique_ptr<StreamBinding>> bindings_;
  std::vector<KeyRef> keys_;  // scratch, reused by every log() call
  py::object last_name_;      // the name of the previous log() call (kept alive)
  const StreamBinding* last_stream_ = nullptr;
};

}  // namespace array_logger::py_binding
