#!/usr/bin/env bash
# The docker backend's step driver (runtimes/docker_backend.py runs it in a worker
# container as the worker's uid, through `docker exec`):
#   bash -c "$(cat docker_driver.sh)" cruxforge-driver \
#       MODE ID FILE FINAL TAG USECS HARD_USECS FSIZE CAP NPROC VERDICT_FILE VERDICT_MAX -- CMD...
# MODE "new": make /work/run/ID afresh, source from stdin into FILE; "cont": reuse it;
# "unpack": make it afresh from a tar on stdin (a kept compile, runtimes/compiled.py).
# FINAL "1": clean up after the step; "onfail": only if the step did not succeed; "keep":
# as onfail, and a step that succeeded also sends its work dir as a tar (frame "kept",
# none if it is over KEEP_MAX bytes), so that the same compile need not run again.
# USECS: the step's time limit; past it, the step is stopped once the container has used
# USECS of CPU time too (a step waiting for a core has not used its time), or at
# HARD_USECS whatever its CPU time (runtimes/time_limit.py is the same rule);
# FSIZE: largest file (bytes); CAP: stdout/stderr cap each;
# NPROC: the program's process limit; VERDICT_FILE / VERDICT_MAX: the verdict file's name
# in the work dir and how much of it to send back.
# It prints framed blobs: "@@NAME SIZE\n" SIZE bytes "\n" (meta, out, err, verdicts, tmpfs).
set -u
umask 022
mode=$1 id=$2 file=$3 final=$4 tag=$5 usecs=$6 hard=$7 fsize=$8 cap=$9 nproc=${10}
vfile=${11} vmax=${12}
shift 12
[ "${1:-}" = "--" ] && shift
W=/work/run/$id M=/work/meta/$id
declare -A META=()

oomcount() {  # -> OOM (the container cgroup's oom_kill counter, -1 if unknown)
    local k v f
    OOM=-1
    for f in /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do
        [ -r "$f" ] || continue
        while read -r k v; do
            if [ "$k" = oom_kill ]; then OOM=$v; return; fi
        done < "$f"
    done
}
cpuusage() {  # -> CPU (the container cgroup's CPU time in microseconds, -1 if unknown)
    local k v f
    CPU=-1
    for f in /sys/fs/cgroup/cpuacct/cpuacct.usage /sys/fs/cgroup/cpu,cpuacct/cpuacct.usage; do
        if [ -r "$f" ] && read -r v < "$f"; then CPU=$((v / 1000)); return; fi
    done
    if [ -r /sys/fs/cgroup/cpu.stat ]; then
        while read -r k v; do
            if [ "$k" = usage_usec ]; then CPU=$v; return; fi
        done < /sys/fs/cgroup/cpu.stat
    fi
}
nap() { read -r -t "$1" -u 7 _ 2>/dev/null; }  # sleep without forking
now_us() { NOW=${EPOCHREALTIME/./}; NOW=$((10#$NOW)); }
emit() {  # NAME FILE CAP
    local n=0
    if [ -f "$2" ]; then n=$(stat -c %s -- "$2" 2>/dev/null || echo 0); fi
    (( n > $3 )) && n=$3
    printf '@@%s %d\n' "$1" "$n"
    if (( n > 0 )); then head -c "$n" -- "$2"; fi
    printf '\n'
}
sweep() {  # SIGKILL every process of ours but this shell; LEFT = how many remain
    # Bounded by time, not by rounds: a process in uninterruptible sleep (reclaiming
    # memory on a loaded host) dies only when it leaves the kernel. nap needs fd 7 open
    # (a read on a closed fd returns at once and the wait would be no wait at all).
    local p st end
    now_us; end=$((NOW + SWEEP_US))
    while :; do
        kill -KILL -1 2>/dev/null
        LEFT=0
        for p in /proc/[0-9]*; do
            p=${p#/proc/}
            [ "$p" = "$$" ] && continue
            [ -O "/proc/$p" ] || continue
            # a zombie waiting for init to reap it holds nothing (the state follows the
            # name's last ')': a name may hold spaces)
            read -r st < "/proc/$p/stat" 2>/dev/null || continue
            st=${st##*) }
            [ "${st%% *}" = Z ] && continue
            LEFT=$((LEFT + 1))
        done
        (( LEFT == 0 )) && return
        now_us
        (( NOW >= end )) && return
        nap 0.02 || [ $? -gt 128 ] || sleep 0.02
    done
}
cleanup() {
    cd /work
    rm -rf -- "$W" "$M" 2>/dev/null
    find /tmp -mindepth 1 -delete 2>/dev/null
    find "$HOME" -mindepth 1 -maxdepth 1 ! -name .cache -exec rm -rf -- {} + 2>/dev/null
    true
}

KEEP_MAX=${CRUXFORGE_KEEP_MAX:-67108864}
# how long the sweep waits for killed processes to go (seconds; tests shorten it)
SWEEP_US=$(( ${CRUXFORGE_SWEEP_SECONDS:-20} * 1000000 ))
if [ "$mode" = new ] || [ "$mode" = unpack ]; then
    rm -rf -- "$W" "$M"
    mkdir -p -- "$W" "$M" "$HOME" || { echo "cannot make $W" >&2; exit 90; }
    if [ "$mode" = new ]; then
        cat > "$W/$file" || { echo "cannot write the source" >&2; exit 91; }
    else
        tar -x -f - -C "$W" || { echo "cannot unpack the kept compile" >&2; exit 94; }
    fi
else
    [ -d "$W" ] && [ -d "$M" ] || { echo "no work dir $W" >&2; exit 92; }
fi
rm -f -- "$M/.tick" "$M/$tag".* "$W/$vfile"
mkfifo -- "$M/.tick" && exec 7<>"$M/.tick" || { echo "no fifo" >&2; exit 93; }

oomcount; oom0=$OOM
cpuusage; cpu0=$CPU
now_us; t0=$NOW
( exec 7>&-
  cd "$W" || exit 126
  echo 1000 > /proc/self/oom_score_adj 2>/dev/null
  exec setsid prlimit --fsize="$fsize" --core=0 --nproc="$nproc" -- "$@"
) < /dev/null > "$M/$tag.out" 2> "$M/$tag.err" &
pid=$!
( # watchdog: time limit first (fork-free), output caps every 2nd tick
  deadline=$((t0 + usecs)) cap_at=$((t0 + hard)) k=0
  while kill -0 "$pid" 2>/dev/null; do
      nap 0.05
      now_us
      if (( NOW >= deadline )); then
          over=1
          if (( NOW < cap_at && cpu0 >= 0 )); then
              cpuusage
              (( CPU >= 0 && CPU - cpu0 < usecs )) && over=0
          fi
          if (( over )); then
              : > "$M/$tag.timeout"; kill -KILL -- "-$pid" "$pid"; exit 0
          fi
      fi
      k=$((k + 1))
      if (( k % 2 == 0 )) && sz=$(stat -c %s -- "$M/$tag.out" "$M/$tag.err"); then
          set -- $sz
          if (( ${1:-0} > cap || ${2:-0} > cap )); then
              : > "$M/$tag.outx"; kill -KILL -- "-$pid" "$pid"; exit 0
          fi
      fi
  done
) 2>/dev/null &
wdog=$!
wait "$pid"; rc=$?
now_us; t1=$NOW
kill -KILL "$wdog" 2>/dev/null; wait "$wdog" 2>/dev/null
kill -KILL -- "-$pid" 2>/dev/null
oomcount; oom1=$OOM
cpuusage; cpu1=$CPU
sweep
exec 7>&-
timed=0 outx=0
[ -e "$M/$tag.timeout" ] && timed=1
[ -e "$M/$tag.outx" ] && outx=1
osz=$(stat -c %s -- "$M/$tag.out" 2>/dev/null || echo 0)
esz=$(stat -c %s -- "$M/$tag.err" 2>/dev/null || echo 0)
(( osz > cap || esz > cap )) && outx=1
{
    echo "rc=$rc"; echo "us=$((t1 - t0))"; echo "timeout=$timed"; echo "outx=$outx"
    echo "oom0=$oom0"; echo "oom1=$oom1"; echo "left=$LEFT"
    (( cpu0 >= 0 && cpu1 >= 0 )) && echo "cpu_us=$((cpu1 - cpu0))"
} > "$M/meta"
emit meta "$M/meta" 4096
emit out "$M/$tag.out" "$cap"
emit err "$M/$tag.err" "$cap"
emit verdicts "$W/$vfile" "$vmax"
ok=0
(( rc == 0 && timed == 0 && outx == 0 && oom1 == oom0 )) && ok=1
if [ "$final" = keep ] && (( ok == 1 )); then
    if tar -c -f "$M/kept.tar" -C "$W" --exclude="./$vfile" . 2>/dev/null \
        && (( $(stat -c %s -- "$M/kept.tar") <= KEEP_MAX )); then
        emit kept "$M/kept.tar" "$KEEP_MAX"
    fi
    rm -f -- "$M/kept.tar"
fi
case $final in
    onfail | keep) (( ok == 0 )) && cleanup ;;
    *) cleanup ;;
esac
used=$(df -k --output=used /work /tmp 2>/dev/null | tail -n +2 | tr '\n' ' ')
printf '@@tmpfs %d\n%s\n' "${#used}" "$used"
exit 0
