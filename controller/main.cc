// stampede: the controller and the user's CLI (see controller/cli.h).
#include <atomic>
#include <csignal>

#include "controller/cli.h"

namespace {

std::atomic<int> g_signals{0};
void OnSignal(int) { g_signals.fetch_add(1); }

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  return stampede::controller::RunCli(argc, argv, &g_signals);
}
