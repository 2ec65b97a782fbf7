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

# A TCP port for the controller: below the ephemeral range (32768+, where the benches'
# own connections take their source ports) and not listening now.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}

# Starts the reference target with one thread pinned to core 0 (TARGET_CORE) in WORK; sets
# target_pid and port. The caller's EXIT trap must kill "$target_pid".
start_target() {
  local work=$1
  taskset -c "${TARGET_CORE:-0}" "$BIN/stampede-target" --listen 127.0.0.1:0 --threads 1 \
    --port-file "$work/port" > "$work/target.log" 2>&1 &
  target_pid=$!
  for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.05; done
  port=$(cat "$work/port")
}

# Runs PLAN with a controller on loopback and one agent with one worker pinned to core 1
# (AGENT_CORE); the result JSON goes to OUT. Prints "TICKS HWM_KB": the agent's CPU ticks
# (user+sys) and its peak RSS (VmHWM from /proc/PID/status, last sample before it exits).
# With SAMPLES, sample_until_exit also writes the agent's samples there.
run_one_agent() {
  local plan=$1 out=$2 samples=${3:-}
  local cport
  cport=$(free_port)
  "$BIN/stampede" run "$plan" --listen "127.0.0.1:$cport" --expect-agents 1 \
    --out "json=$out" > "$out.controller.log" 2>&1 &
  local cpid=$!
  sleep 0.3
  taskset -c "${AGENT_CORE:-1}" "$BIN/stampede-agent" --controller "127.0.0.1:$cport" \
    --workers 1 --log-level warn > "$out.agent.log" 2>&1 &
  local apid=$! t=0 hwm=0 s h spid=""
  if [ -n "$samples" ]; then
    sample_until_exit "$apid" "$samples" &
    spid=$!
  fi
  while kill -0 "$apid" 2>/dev/null; do
    s=$(cat "/proc/$apid/stat" 2>/dev/null || true)
    [ -n "$s" ] && t=$(echo "$s" | sed 's/.*) //' | awk '{print $12 + $13}')
    h=$(awk '/^VmHWM/ {print $2}' "/proc/$apid/status" 2>/dev/null || true)
    [ -n "$h" ] && hwm=$h
    sleep 0.05
  done
  wait "$apid" || true
  wait "$cpid" || true
  [ -n "$spid" ] && { wait "$spid" || true; }
  echo "$t $hwm"
}

# The benches' own requests to the target (/stats, /stats/reset, a login) come from
# 127.0.0.9, so that the connections from 127.0.0.1 are the generator's alone.
ctl_curl() { curl -s --interface 127.0.0.9 "$@"; }

# The target's /stats "requests" counter (load requests only: /stats* are not counted) and
# the connections it accepted from 127.0.0.1 (the generator's), as "REQUESTS CONNECTIONS".
target_counts() {
  ctl_curl "http://127.0.0.1:$port/stats" | python3 -c 'import json,sys
s = json.load(sys.stdin); print(s["requests"], s["by_peer"].get("127.0.0.1", 0))'
}

# Every 100 ms until PID exits, appends "SECONDS TICKS REQUESTS" to FILE: the time, the CPU
# ticks of PID and every process below it (Node's worker threads are in the process; a
# tool that forks counts its children: each one's last sample), and the target's
# requests counter. Lets a bench count a generator's CPU from the moment its load reached the
# target (leaving out start-up: Node loading Artillery's modules is ~1 CPU-second).
sample_until_exit() (
  # A subshell without errexit: a process that ends between two reads is not an error.
  set +e
  local pid=$1 file=$2
  : > "$file"
  local -A last=()
  while kill -0 "$pid" 2>/dev/null; do
    local pids="$pid" frontier="$pid" next p s v total=0
    while [ -n "$frontier" ]; do
      next=""
      for p in $frontier; do next+=" $(cat "/proc/$p/task/"*/children 2>/dev/null || true)"; done
      next=$(echo $next)
      pids+=" $next"
      frontier=$next
    done
    for p in $pids; do
      s=$(cat "/proc/$p/stat" 2>/dev/null || true)
      v=$(echo "$s" | sed 's/.*) //' | awk '{print $12 + $13}')
      [[ "$v" =~ ^[0-9]+$ ]] && last[$p]=$v
    done
    for p in "${!last[@]}"; do total=$((total + last[$p])); done
    echo "$(date +%s.%N) $total $(ctl_curl "http://127.0.0.1:$port/stats" |
      grep -o '"requests":[0-9]*' | head -1 | cut -d: -f2)" >> "$file"
    sleep 0.1
  done
)
