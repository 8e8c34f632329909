// Minimal leveled logging to stderr, one line per message:
//   HPO_LOG(INFO) << "worker " << id << " registered";
// Thread-safe: each message is written with a single write(2).
#ifndef HPO_CORE_LOGGING_H_
#define HPO_CORE_LOGGING_H_

#include <sstream>

namespace hpo::core {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Messages below this level are dropped (default kInfo; HPO_LOG_LEVEL=debug|info|warning|error).
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

// Turns a stream expression into void, so both arms of HPO_LOG's ?: have one type.
struct LogVoidify {
  void operator&(std::ostream&) {}
};

}  // namespace hpo::core

#define HPO_LOG_LEVEL_DEBUG ::hpo::core::LogLevel::kDebug
#define HPO_LOG_LEVEL_INFO ::hpo::core::LogLevel::kInfo
#define HPO_LOG_LEVEL_WARNING ::hpo::core::LogLevel::kWarning
#define HPO_LOG_LEVEL_ERROR ::hpo::core::LogLevel::kError

// `cond ? (void)0 : Voidify() & stream` keeps HPO_LOG safe inside an unbraced if/else.
#define HPO_LOG(level)                                 \
  (HPO_LOG_LEVEL_##level < ::hpo::core::MinLogLevel()) \
      ? (void)0                                        \
      : ::hpo::core::LogVoidify() &                    \
            ::hpo::core::LogMessage(HPO_LOG_LEVEL_##level, __FILE__, __LINE__).stream()

#endif  // HPO_CORE_LOGGING_H_
