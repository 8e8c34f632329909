#include "core/text_format.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace hpo::core {

std::string RoundTripNumber(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  // Without a precision, to_chars writes the shortest text that round-trips.
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string CsvField(absl::string_view text) {
  if (text.find_first_of(",\"\r\n") == absl::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    absl::StrAppend(&out, i > 0 ? "," : "", CsvField(fields[i]));
  }
  return out + "\n";
}

}  // namespace hpo::core
