#include "array_logger/meta.hpp"

#include <cctype>
#include <charconv>
#include <cstdio>

#include "array_logger/errors.hpp"
#include "format/stored_form.hpp"

namespace array_logger {
namespace {

// Python's repr() of a str: single quotes unless the text holds a single quote
// and no double quote; backslash escapes for quotes, \\ and control characters.
std::string python_str_repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  bool skip_next = false;
  for (const char& c : s) {
    if (skip_next) {
      skip_next = false;
      continue;
    }
    const auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else if (u == 0xC2 && &c + 1 < s.data() + s.size() &&
               ((static_cast<unsigned char>((&c)[1]) >= 0x80 && static_cast<unsigned char>((&c)[1]) <= 0xA0) ||
                static_cast<unsigned char>((&c)[1]) == 0xAD)) {
      // U+0080..U+00A0 and U+00AD: not printable for Python either. Other
      // non-printable code points are only escaped exactly when the Python
      // binding supplies repr() itself (RegisterOptions::keys_repr).
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>((&c)[1]));
      out += buf;
      skip_next = true;
    } else {
      out += c;  // printable ASCII and UTF-8 bytes pass through, as in Python 3
    }
  }
  out += quote;
  return out;
}

// A tiny cursor over a Python literal.
struct Cursor {
  std::string_view text;
  std::size_t pos = 0;

  [[noreturn]] void fail(const char* what) const {
    throw CorruptFile(std::string("meta value ") + std::string(text) + " does not parse: " + what);
  }
  void skip_space() {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  }
  bool eat(char c) {
    skip_space();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  char open_bracket() {
    skip_space();
    if (pos < text.size() && (text[pos] == '(' || text[pos] == '[')) return text[pos++];
    fail("expected ( or [");
  }
  std::int64_t integer() {
    skip_space();
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), v);
    if (ec != std::errc()) fail("expected an integer");
    pos = static_cast<std::size_t>(end - text.data());
    // Python prints large ints plainly; a trailing L would be Python 2.
    return v;
  }
  // \xhh, \uXXXX, \UXXXXXXXX in a Python str repr name code points.
  std::uint32_t hex_escape(std::size_t digits) {
    if (pos + digits > text.size()) fail("short escape");
    std::uint32_t v = 0;
    auto [end, ec] = std::from_chars(text.data() + pos, text.data() + pos + digits, v, 16);
    if (ec != std::errc() || end != text.data() + pos + digits || v > 0x10FFFF) fail("bad escape");
    pos += digits;
    return v;
  }
  static std::string utf8(std::uint32_t cp) {
    std::string o;
    if (cp < 0x80) {
      o += static_cast<char>(cp);
    } else if (cp < 0x800) {
      o += static_cast<char>(0xC0 | (cp >> 6));
      o += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      o += static_cast<char>(0xE0 | (cp >> 12));
      o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      o += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      o += static_cast<char>(0xF0 | (cp >> 18));
      o += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      o += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return o;
  }
  std::string quoted() {
    skip_space();
    if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"')) fail("expected a string");
    const char quote = text[pos++];
    std::string out;
    while (pos < text.size() && text[pos] != quote) {
      char c = text[pos++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos >= text.size()) fail("dangling backslash");
      char e = text[pos++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'x': out += utf8(hex_escape(2)); break;
        case 'u': out += utf8(hex_escape(4)); break;
        case 'U': out += utf8(hex_escape(8)); break;
        default: out += e;  // \\, \', \"
      }
    }
    if (pos >= text.size()) fail("unterminated string");
    ++pos;
    return out;
  }
  void expect_end() {
    skip_space();
    if (pos != text.size()) fail("trailing characters");
  }
};

template <class Item>
std::vector<Item> parse_sequence(std::string_view text, Item (Cursor::*item)()) {
  Cursor c{text};
  const char open = c.open_bracket();
  const char close = open == '(' ? ')' : ']';
  std::vector<Item> out;
  if (!c.eat(close)) {
    for (;;) {
      out.push_back((c.*item)());
      if (c.eat(close)) break;
      if (!c.eat(',')) c.fail("expected , or closing bracket");
      if (c.eat(close)) break;  // trailing comma: "(3,)"
    }
  }
  c.expect_end();
  return out;
}

}  // namespace

std::string shape_repr(const std::vector<std::int64_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ',';
  out += ')';
  return out;
}

std::string keys_repr(const std::vector<std::string>& keys) {
  std::string out = "[";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i) out += ", ";
    out += python_str_repr(keys[i]);
  }
  out += ']';
  return out;
}

std::vector<std::int64_t> parse_shape_repr(std::string_view text) {
  auto shape = parse_sequence<std::int64_t>(text, &Cursor::integer);
  for (auto d : shape)
    if (d < 0) throw CorruptFile("meta shape " + std::string(text) + " has a negative dimension");
  return shape;
}

std::vector<std::string> parse_keys_repr(std::string_view text) {
  return parse_sequence<std::string>(text, &Cursor::quoted);
}

FileMeta decode_meta(std::map<std::string, std::string> rows) {
  auto need = [&](const char* key) -> const std::string& {
    auto it = rows.find(key);
    if (it == rows.end()) throw CorruptFile(std::string("meta table has no '") + key + "' row");
    return it->second;
  };
  FileMeta m;
  m.spec.shape = parse_shape_repr(need("shape"));
  m.spec.keys = parse_keys_repr(need("keys"));
  const std::string& dtype = need("dtype");
  m.spec.dtype = find_dtype(dtype);
  if (m.spec.dtype == nullptr) throw CorruptFile("meta dtype '" + dtype + "' is not supported");
  auto fmt = rows.find("format_version");
  if (fmt == rows.end()) {
    m.format_version = kFormatLegacy;
  } else if (fmt->second == "2") {
    m.format_version = kFormatCurrent;
  } else if (fmt->second == "3") {
    m.format_version = kFormatEncoded;
  } else {
    throw CorruptFile("file has format_version " + fmt->second + "; this array_logger reads 1, 2 and 3 (upgrade array_logger)");
  }
  auto filter = rows.find("blob_filter");
  if (filter != rows.end() && filter->second != "none") {
    if (filter->second != "shuffle-zstd") throw CorruptFile("unknown blob_filter '" + filter->second + "'");
    m.shuffle_zstd = true;
  }
  m.rows = std::move(rows);
  detail::decode_stored_form(m);
  return m;
}

}  // namespace array_logger
