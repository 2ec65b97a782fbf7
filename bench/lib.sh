# Shared by the bench scripts (sourced, not run).

# CPU ticks (user+sys) of PID, sampled every 50 ms until it exits; printed at the end. Call it
# as $(ticks_until_exit PID), then `wait PID` in the calling shell (a subshell cannot reap it).
ticks_until_exit() {
  local pid=$1 t=0 s
  while kill -0 "$pid" 2>/dev/null; do
    s=$(cat "/proc/$pid/stat" 2>/dev/null || true)
    [ -n "$s" ] && t=$(echo "$s" | sed 's/.*) //' | awk '{print $12 + $13}')
    sleep 0.05
  done
  echo "$t"
}
