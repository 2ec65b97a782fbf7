// The user's command line: `stampede run | validate | report | compare`. Parses
// the flags, builds each command's options and runs it. Called once from main.
#ifndef STAMPEDE_CONTROLLER_CLI_H_
#define STAMPEDE_CONTROLLER_CLI_H_

#include <atomic>

namespace stampede::controller {

// Returns the process exit code (see result.h). `signals` counts SIGINT/SIGTERM
// received.
int RunCli(int argc, char** argv, const std::atomic<int>* signals);

}  // namespace stampede::controller

#endif  // STAMPEDE_CONTROLLER_CLI_H_
