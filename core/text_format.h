// Numbers as the shortest text that reads back exactly, and CSV text: the one writer behind
// the CLI's --format csv, the bench reports' .csv files and parameter values. Pure functions,
// thread-safe.
#ifndef HPO_CORE_TEXT_FORMAT_H_
#define HPO_CORE_TEXT_FORMAT_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace hpo::core {

// The shortest text that reads back (strtod, Python's float) as exactly `v`: "0.1", "1e-07",
// "123456789.12345679"; "nan", "inf" and "-inf" for the non-finite values.
std::string RoundTripNumber(double v);

// One CSV field (RFC 4180): as it is, or in double quotes with quotes doubled when it holds a
// comma, a quote, CR or LF.
std::string CsvField(absl::string_view text);

// One CSV line: the fields quoted as CsvField does, joined by commas, ended by "\n".
std::string CsvLine(const std::vector<std::string>& fields);

}  // namespace hpo::core

#endif  // HPO_CORE_TEXT_FORMAT_H_
