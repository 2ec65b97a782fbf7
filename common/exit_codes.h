// The controller's exit codes (`stampede run`, `report`, `compare`), stable
// and documented in the README. `compare` gives 3 for a regression, as `run`
// does for a failed threshold.
#ifndef STAMPEDE_COMMON_EXIT_CODES_H_
#define STAMPEDE_COMMON_EXIT_CODES_H_

namespace stampede {

enum ExitCode : int {
  kExitPassed = 0,
  kExitInternal = 1,
  kExitInvalid = 2,
  kExitThresholds = 3,
  kExitAborted = 4,
  kExitNotEnoughAgents = 5,
  kExitAgentsLost = 6,
  kExitSaturated = 7,
  kExitSetupFailed = 8,
};

}  // namespace stampede

#endif  // STAMPEDE_COMMON_EXIT_CODES_H_
