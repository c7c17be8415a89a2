#include "format/stored_form.hpp"

#include <charconv>
#include <cmath>
#include <string>

#include "array_logger/errors.hpp"
#include "format/fixed_point.hpp"
#include "format/sparse_payload.hpp"
#include "sqlite/sql_text.hpp"

namespace array_logger {
namespace {

constexpr std::string_view kModeNames[] = {"state", "sum", "mean", "min", "max"};

// The shortest text that parses back to the same double ("0.001", "1e-05").
std::string double_text(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

}  // namespace

std::string_view period_mode_name(PeriodMode mode) noexcept { return kModeNames[static_cast<int>(mode)]; }

std::optional<PeriodMode> parse_period_mode(std::string_view text) noexcept {
  for (int i = 0; i < 5; ++i)
    if (text == kModeNames[i]) return static_cast<PeriodMode>(i);
  return std::nullopt;
}

bool StoredForm::operator==(const StoredForm& o) const noexcept {
  auto same_fp = [](const std::optional<FixedPoint>& a, const std::optional<FixedPoint>& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a || (a->step == b->step && a->min == b->min && a->max == b->max);
  };
  return same_fp(fixed_point, o.fixed_point) && fixed_point_dtype == o.fixed_point_dtype &&
         sparse_index_dtype == o.sparse_index_dtype && period.steps == o.period.steps &&
         (period.steps == 0 || (period.mode == o.period.mode && period_input_dtype == o.period_input_dtype));
}

std::string StoredForm::describe() const {
  std::string out;
  auto add = [&out](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
  if (fixed_point)
    add("quantize=" + double_text(fixed_point->step) + " range=[" + double_text(fixed_point->min) + ", " +
        double_text(fixed_point->max) + "] as " + std::string(fixed_point_dtype ? fixed_point_dtype->name : "?"));
  if (sparse_index_dtype) add("sparse");
  if (period.steps)
    add("period=" + std::to_string(period.steps) + " mode=" + std::string(period_mode_name(period.mode)) + " of " +
        std::string(period_input_dtype ? period_input_dtype->name : "?"));
  return out.empty() ? "plain rows" : out;
}

}  // namespace array_logger

namespace array_logger::detail {
namespace {

bool is_float(const DType& d) { return d.kind == 'f'; }

double parse_double(const std::string& text, const char* row) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
    throw CorruptFile(std::string("meta ") + row + " '" + text + "' is not a finite number");
  return v;
}

const DType& parse_dtype(const std::string& text, const char* row) {
  const DType* d = find_dtype(text);
  if (d == nullptr || d->name != text) throw CorruptFile(std::string("meta ") + row + " '" + text + "' is not a dtype name");
  return *d;
}

}  // namespace

const DType& period_output_dtype(const DType& input, PeriodMode mode) {
  switch (mode) {
    case PeriodMode::State: return input;
    case PeriodMode::Min:
    case PeriodMode::Max:
      if (input.kind == 'c') throw InvalidArgument("period mode 'min'/'max' needs real values, not " + std::string(input.name));
      return input;
    case PeriodMode::Sum: return period_accumulator_dtype(input, mode);
    case PeriodMode::Mean: return dtype_from_string(input.kind == 'c' ? "complex128" : "float64");
  }
  return input;
}

const DType& period_accumulator_dtype(const DType& input, PeriodMode mode) {
  if (mode != PeriodMode::Sum && mode != PeriodMode::Mean) return input;
  switch (input.kind) {
    case 'b':
    case 'i': return dtype_from_string("int64");
    case 'u': return dtype_from_string("uint64");
    case 'c': return dtype_from_string("complex128");
    default: return dtype_from_string("float64");
  }
}

StoredForm stored_form_for(const ArraySpec& input, const RegisterOptions& options, ArraySpec& stored) {
  StoredForm f;
  stored = input;
  if (options.period.steps > 0) {
    for (const auto& k : input.keys)
      for (const char* reserved : {kPeriodStepsKey, kPeriodPartialKey})
        if (same_identifier(k, reserved))
          throw InvalidArgument("key name '" + k + "' is reserved in periodic streams (their rows have keys '" +
                                kPeriodStepsKey + "' and '" + kPeriodPartialKey + "')");
    f.period = options.period;
    f.period_input_dtype = input.dtype;
    stored.dtype = &period_output_dtype(*input.dtype, options.period.mode);
    stored.keys.emplace_back(kPeriodStepsKey);
    stored.keys.emplace_back(kPeriodPartialKey);
  } else if (options.resume_period) {
    throw InvalidArgument("resume_period is only for periodic streams");
  }
  if (options.quantize) {
    if (f.period.steps && f.period.mode == PeriodMode::Sum)
      throw InvalidArgument("quantize cannot store period sums (their range is not the values' range); "
                            "use mode 'mean', or quantize without a period");
    if (!is_float(*stored.dtype) || stored.dtype->itemsize < 4)
      throw InvalidArgument("quantize applies to float32 and float64 arrays, not " + std::string(stored.dtype->name));
    f.fixed_point = *options.quantize;
    f.fixed_point_dtype = &fixed_point_storage(*options.quantize);
  }
  if (options.sparse) f.sparse_index_dtype = &sparse_index_dtype_for(stored.element_count());
  if (options.shuffle_zstd && (f.fixed_point || f.sparse_index_dtype))
    throw InvalidArgument("shuffle_zstd cannot be combined with quantize or sparse (close-time compression still applies)");
  return f;
}

std::string stored_keys_repr(const std::string& registered_repr, const StoredForm& form) {
  if (registered_repr.empty() || form.period.steps == 0) return registered_repr;
  // "['sweep']" -> "['sweep', 'steps', 'partial']": the reprs of the two
  // plain ASCII names are fixed.
  if (registered_repr.back() != ']') throw InvalidArgument("keys_repr " + registered_repr + " is not a list repr");
  return registered_repr.substr(0, registered_repr.size() - 1) + ", '" + kPeriodStepsKey + "', '" +
         kPeriodPartialKey + "']";
}

void append_stored_form_meta(const StoredForm& form, MetaRows& rows) {
  if (form.fixed_point) {
    rows.emplace_back("fixed_point_step", double_text(form.fixed_point->step));
    rows.emplace_back("fixed_point_min", double_text(form.fixed_point->min));
    rows.emplace_back("fixed_point_max", double_text(form.fixed_point->max));
    rows.emplace_back("fixed_point_dtype", std::string(form.fixed_point_dtype->name));
  }
  if (form.sparse_index_dtype) rows.emplace_back("sparse_index_dtype", std::string(form.sparse_index_dtype->name));
  if (form.period.steps) {
    rows.emplace_back("period", std::to_string(form.period.steps));
    rows.emplace_back("period_mode", std::string(period_mode_name(form.period.mode)));
    rows.emplace_back("period_input_dtype", std::string(form.period_input_dtype->name));
  }
}

void decode_stored_form(FileMeta& m) {
  const auto& rows = m.rows;
  auto row = [&rows](const char* key) -> const std::string* {
    auto it = rows.find(key);
    return it == rows.end() ? nullptr : &it->second;
  };
  auto need = [&row](const char* key) -> const std::string& {
    if (const std::string* v = row(key)) return *v;
    throw CorruptFile(std::string("meta has no '") + key + "' row");
  };
  StoredForm& f = m.form;
  if (const std::string* step = row("fixed_point_step")) {
    FixedPoint fp{parse_double(*step, "fixed_point_step"), parse_double(need("fixed_point_min"), "fixed_point_min"),
                  parse_double(need("fixed_point_max"), "fixed_point_max")};
    const DType& storage = parse_dtype(need("fixed_point_dtype"), "fixed_point_dtype");
    try {
      if (&fixed_point_storage(fp) != &storage) throw InvalidArgument("the stored type does not fit the range");
    } catch (const InvalidArgument& e) {
      throw CorruptFile(std::string("meta fixed_point rows are inconsistent: ") + e.what());
    }
    if (!is_float(*m.spec.dtype) || m.spec.dtype->itemsize < 4) throw CorruptFile("fixed_point rows on a non-float dtype");
    f.fixed_point = fp;
    f.fixed_point_dtype = &storage;
  }
  if (const std::string* index = row("sparse_index_dtype")) {
    const DType& d = parse_dtype(*index, "sparse_index_dtype");
    if (&d != &sparse_index_dtype_for(m.spec.element_count()))
      throw CorruptFile("meta sparse_index_dtype " + *index + " does not fit shape " + shape_repr(m.spec.shape));
    f.sparse_index_dtype = &d;
  }
  // Format 3 exists only for these two; a reader must not see them in format 2.
  if ((f.fixed_point || f.sparse_index_dtype) != (m.format_version == kFormatEncoded))
    throw CorruptFile("format_version " + std::to_string(m.format_version) + " does not match its fixed_point/sparse rows");
  if (const std::string* period = row("period")) {
    std::uint64_t steps = 0;
    auto [end, ec] = std::from_chars(period->data(), period->data() + period->size(), steps);
    if (ec != std::errc() || end != period->data() + period->size() || steps == 0)
      throw CorruptFile("meta period '" + *period + "' is not a positive integer");
    const auto mode = parse_period_mode(need("period_mode"));
    if (!mode) throw CorruptFile("meta period_mode '" + need("period_mode") + "' is unknown");
    const DType& input = parse_dtype(need("period_input_dtype"), "period_input_dtype");
    const auto& keys = m.spec.keys;
    bool ok = keys.size() >= 3 && keys[keys.size() - 2] == kPeriodStepsKey && keys.back() == kPeriodPartialKey;
    try {
      ok = ok && &period_output_dtype(input, *mode) == m.spec.dtype;
    } catch (const InvalidArgument&) {
      ok = false;
    }
    if (!ok) throw CorruptFile("meta period rows do not match the keys and dtype");
    f.period = Period{steps, *mode};
    f.period_input_dtype = &input;
  }
}

}  // namespace array_logger::detail
