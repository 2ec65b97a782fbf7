#include "controller/local_agents.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace stampede::controller {

LocalAgents::~LocalAgents() { Reap(absl::ZeroDuration()); }

absl::StatusOr<std::string> LocalAgents::FindBinary(
    const std::string& explicit_path) {
  namespace fs = std::filesystem;
  if (!explicit_path.empty()) {
    if (access(explicit_path.c_str(), X_OK) != 0) {
      return absl::NotFoundError(
          absl::StrCat("--agent-binary: cannot execute ", explicit_path));
    }
    return explicit_path;
  }
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  fs::path candidate = self.parent_path() / "stampede-agent";
  if (!ec && access(candidate.c_str(), X_OK) == 0) return candidate.string();
  return absl::NotFoundError(absl::StrCat("stampede-agent not found beside ",
                                          self.string(),
                                          "; pass --agent-binary PATH"));
}

absl::Status LocalAgents::Spawn(const std::string& binary,
                                const std::string& controller, int count,
                                int workers_each, const std::string& log_level,
                                const std::vector<std::string>& extra_args) {
  for (int i = 0; i < count; ++i) {
    std::vector<std::string> args = {binary,
                                     "--controller",
                                     controller,
                                     "--agent-id",
                                     absl::StrCat("local-", i),
                                     "--workers",
                                     absl::StrCat(workers_each),
                                     "--log-level",
                                     log_level,
                                     "--connect-timeout",
                                     "10"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, binary.c_str(), nullptr, nullptr, argv.data(),
                         environ);
    if (rc != 0) {
      return absl::InternalError(
          absl::StrCat("cannot start ", binary, ": ", strerror(rc)));
    }
    pids_.push_back(pid);
  }
  return absl::OkStatus();
}

int LocalAgents::Exited() {
  int exited = 0;
  for (int& pid : pids_) {
    if (pid != 0) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) pid = 0;
    }
    if (pid == 0) ++exited;
  }
  return exited;
}

void LocalAgents::Reap(absl::Duration grace) {
  absl::Time deadline = absl::Now() + grace;
  while (Exited() < static_cast<int>(pids_.size()) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  for (int& pid : pids_) {
    if (pid == 0) continue;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = 0;
  }
}

}  // namespace stampede::controller
