// One log pattern for every binary (time, level, thread id, message), on
// stderr, with the level set from --log-level. Thread-safe after InitLogging.
#ifndef STAMPEDE_COMMON_LOGGING_H_
#define STAMPEDE_COMMON_LOGGING_H_

#include <string_view>

#include "absl/status/status.h"

namespace stampede::common {

// level: trace | debug | info | warn | error | off.
absl::Status InitLogging(std::string_view program, std::string_view level);

}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_LOGGING_H_
