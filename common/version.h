// The build's version, reported by --version and in Hello.
#ifndef STAMPEDE_COMMON_VERSION_H_
#define STAMPEDE_COMMON_VERSION_H_

#include <cstdint>
#include <string_view>

namespace stampede::common {
inline constexpr std::string_view kVersion = "0.1.0";
// The newest plan schema (TestPlan.version) this build reads.
inline constexpr uint32_t kPlanVersion = 1;
}  // namespace stampede::common

#endif  // STAMPEDE_COMMON_VERSION_H_
