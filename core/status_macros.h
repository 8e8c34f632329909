// Status propagation macros. Debian's Abseil 20220623 ships none, so hpo defines its own.
#ifndef HPO_CORE_STATUS_MACROS_H_
#define HPO_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define HPO_STATUS_CONCAT_INNER_(a, b) a##b
#define HPO_STATUS_CONCAT_(a, b) HPO_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define HPO_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status hpo_status_ = (expr);       \
    if (!hpo_status_.ok()) return hpo_status_; \
  } while (false)

// `HPO_ASSIGN_OR_RETURN(auto x, Foo());` declares x from an absl::StatusOr, or returns its error.
#define HPO_ASSIGN_OR_RETURN(lhs, rexpr) \
  HPO_ASSIGN_OR_RETURN_IMPL_(HPO_STATUS_CONCAT_(hpo_statusor_, __LINE__), lhs, rexpr)

#define HPO_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  if (!statusor.ok()) return statusor.status();          \
  lhs = std::move(statusor).value()

namespace hpo::core {

// Returns `status` with `prefix: ` put before its message; OK stays OK.
absl::Status Annotate(const absl::Status& status, absl::string_view prefix);

}  // namespace hpo::core

#endif  // HPO_CORE_STATUS_MACROS_H_
