// From register's options to what a file stores, and back from a file's
// meta rows: fixed point, sparse rows, periodic rows (docs/FORMAT.md 5.4-5.6
// and 10). The StoredForm struct itself is public (array_logger/meta.hpp).
#pragma once

#include "array_logger/meta.hpp"
#include "array_logger/options.hpp"
#include "format/schema.hpp"

namespace array_logger::detail {

// The two key columns a periodic file has after the registered keys.
inline constexpr const char* kPeriodStepsKey = "steps";
inline constexpr const char* kPeriodPartialKey = "partial";

// What a period row holds: the input dtype for state/min/max; int64, uint64,
// float64 or complex128 sums; float64 (complex128) means. Throws
// InvalidArgument for min/max of complex values.
const DType& period_output_dtype(const DType& input, PeriodMode mode);
// The accumulator's element type (PeriodState::accumulator): the sum's
// type for sum and mean (integers are summed exactly), else the input dtype.
const DType& period_accumulator_dtype(const DType& input, PeriodMode mode);

// Checks register's options against the array and returns the stored form;
// `stored` becomes the spec of the file's rows (keys + steps, partial for
// periodic names; the period's output dtype). Throws InvalidArgument.
StoredForm stored_form_for(const ArraySpec& input, const RegisterOptions& options, ArraySpec& stored);

// The meta `keys` text of the stored keys, given Python's repr() of the
// registered ones (RegisterOptions::keys_repr; empty stays empty).
std::string stored_keys_repr(const std::string& registered_repr, const StoredForm& form);

// The meta rows that describe `form` (none for a plain form).
void append_stored_form_meta(const StoredForm& form, MetaRows& rows);

// Fills m.form from m.rows (m.spec and m.format_version already decoded).
// Throws CorruptFile when the rows are inconsistent.
void decode_stored_form(FileMeta& m);

}  // namespace array_logger::detail
