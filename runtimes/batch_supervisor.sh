# The batch supervisor: runs a batched program (one source holding many items) inside
# the sandbox, as the run step's command, so that no item can take the others' verdicts.
# The program takes the index of its first item as its last argument and writes
# "ITEM k" to its verdict file before item k's cases, "DONE" after the last item.
#   bash -c SCRIPT crux-batch N ITEM_US HARD_US SUSPECT_US CAP MEM RERUN -- CMD...
# An item's time limit is ITEM_US of its share of the wall clock and, where /proc counts
# it, ITEM_US of CPU time as well (one waiting for a core has not used its time), or
# HARD_US of wall clock whatever its CPU time (runtimes/time_limit.py is the same rule).
# Each process ("segment") writes its own verdict file; at the end they are joined into
# $CRUXFORGE_VERDICTS with these notes for runtimes/batched.py:
# - an item still running after SUSPECT_US is left to run in the background and a new
#   segment starts at the next item at once (a loop costs the batch no waiting);
#   - if it then reaches ITEM_US it is killed: "BATCH END k STALL" (a timeout, exactly
#     as on its own). Segments running at once share the sandbox's CPU, so an item's time
#     is counted as its share: each tick adds tick/m, m = segments running. An item
#     is never timed out for time the others took. One holding over half of MEM bytes
#     when it is stopped may have been slowed by memory pressure the batch shares, so
#     it is noted "BATCH END k STALLMEM" and re-run alone;
#   - if it finishes first, its segment is stopped: "BATCH SLOW k" (re-run alone);
# - an item that itself writes over CAP bytes to stdout or to stderr is killed:
#   "BATCH END k FLOODED" (output exceeded, as alone); if the segment's output passes CAP
#   only with earlier items' output, "BATCH END k FLOOD" (k re-run alone);
# - a segment that ends before DONE otherwise: "BATCH END k EXIT rc" (k re-run alone);
# - a segment that ends, or stalls, before its first item: "BATCH NOSTART k WHY rc";
#   nothing more is started and its output goes to stderr (where a syntax error names
#   a line) so the engine can find the culprit. If other segments were running then
#   (a memory bomb in the background can starve a new process), it is started again
#   once they have ended, before NOSTART is noted.
# With RERUN 1, items noted for a re-run (EXIT, FLOOD, STALLMEM, SLOW) are then run
# alone, one at a time, each in a fresh process of the same program started at that
# item and stopped when the next item begins: its own wall-clock limit, output cap, and
# the sandbox's whole memory, with nothing else running. That is how the item runs as a program of
# its own, without compiling it again (CRUXFORGE_BATCH_ALONE=1 tells the program, so a
# batch-only memory watchdog stays off). Each adds, after the notes,
#   "BATCH ALONE k WHY rc oom us" (WHY: DONE, EXIT, TIMEOUT or FLOODED; oom 1 when the
#   sandbox's OOM-kill count rose; us its wall time), its verdict lines, then
#   "BATCH ALONE-END k"; its first 4000 bytes of stderr go to stderr between
#   "=== crux alone k ===" and "=== crux alone end ===".
set -u
n=$1 lim=$2 hard=$3 suspect=$4 cap=$5 mem=$6 rerun=$7
shift 7
[ "${1:-}" = "--" ] && shift
V=${CRUXFORGE_VERDICTS:?}
now() { T=${EPOCHREALTIME/./}; T=$((10#$T)); }
last_item() {  # FILE -> LAST = k of its last "ITEM k" line ('' if none)
    LAST=$(grep -a '^ITEM [0-9][0-9]*$' "$1" 2>/dev/null | tail -n 1)
    LAST=${LAST#ITEM }
}
size() { SZ=$(stat -c %s -- "$1" 2>/dev/null || echo 0); }
TICK_US=$(( 1000000 / $(getconf CLK_TCK 2>/dev/null || echo 100) ))
cpu_of() {  # PID -> CPU, its CPU time and its reaped children's in microseconds (-1: gone)
    local st f
    CPU=-1
    read -r st < "/proc/$1/stat" 2>/dev/null || return
    f=(${st##*) })
    CPU=$(( (f[11] + f[12] + f[13] + f[14]) * TICK_US ))
}
spent() {  # PID START_T CPU0 SHARE_US -> SPENT=1 when the item has used its time: its
    # share of the wall clock (SHARE_US) past lim and its CPU time past lim too, or the
    # wall clock since START_T past hard
    SPENT=0
    (( $4 > lim )) || return 0
    now
    if (( T - $2 > hard )); then SPENT=1; return 0; fi
    cpu_of "$1"
    (( CPU < 0 || CPU - $3 >= lim )) && SPENT=1
    return 0
}
# a sleep without a fork: after a memory kill the cgroup is still full while the victim's
# memory is freed, and a fork then can make the OOM killer take this shell instead
exec {nap}<> <(:)
snooze() { read -r -t "$1" -u "$nap" _ 2>/dev/null; }
oomcount() {  # -> OOM, the sandbox's OOM-kill count (0 when it can't be read, as the
    # backends then report no memory kill either)
    local f k v
    OOM=0
    for f in "${CRUXFORGE_OOM_EVENTS:-}" /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control; do
        [ -n "$f" ] && [ -r "$f" ] || continue
        while read -r k v; do
            if [ "$k" = oom_kill ]; then OOM=$v; return; fi
        done < "$f"
    done
}
set -m  # each segment in its own process group, so a kill takes all it forked
declare -a seg_start=() seg_pid=() seg_item=() seg_t=() seg_v=() seg_bg=() seg_cut=()
declare -a seg_o0=() seg_e0=() seg_c=()
notes=""
declare -A redo=() retried=()
retry=""
run_item() {  # the program from item $1, first in line for the OOM killer (not us)
    echo 1000 > /proc/self/oom_score_adj 2>/dev/null
    exec "${cmd[@]}" "$1"
}
_start() {
    local s=$1 i=${#seg_start[@]}
    : > "$V.s$i"
    CRUXFORGE_VERDICTS="$V.s$i" run_item "$s" > "$V.o$i" 2> "$V.e$i" < /dev/null &
    seg_o0[i]=0 seg_e0[i]=0
    seg_start[i]=$s seg_pid[i]=$! seg_item[i]="" seg_bg[i]=0 seg_cut[i]="" seg_v[i]=0 seg_c[i]=0
    now; seg_t[i]=$T
}
stop_pid() { kill -KILL -- "-$1" 2>/dev/null; wait "$1" 2>/dev/null; }
stop() { stop_pid "${seg_pid[$1]}"; }
alive() {  # -> ALIVE, segments still running
    local j
    ALIVE=0
    for j in "${!seg_start[@]}"; do [ -n "${seg_pid[j]}" ] && ALIVE=$((ALIVE + 1)); done
}
cmd=("$@")
_start 0
running=1
now; tick=$T
while (( running )); do
    snooze 0.05
    running=0
    now; dt=$((T - tick)) tick=$T
    alive; m=$(( ALIVE > 0 ? ALIVE : 1 ))
    for i in "${!seg_start[@]}"; do
        [ -n "${seg_pid[i]}" ] || continue
        pid=${seg_pid[i]}
        seg_v[i]=$((seg_v[i] + dt / m))
        last_item "$V.s$i"; now
        if [ -n "$LAST" ] && [ "$LAST" != "${seg_item[i]}" ]; then
            if (( seg_bg[i] )); then  # a suspect finished in time: stop the segment
                stop "$i"; seg_pid[i]=""; seg_cut[i]=$LAST
                notes+="BATCH SLOW ${seg_item[i]}"$'\n'; redo[${seg_item[i]}]=1
                continue
            fi
            seg_item[i]=$LAST seg_t[i]=$T seg_v[i]=0
            cpu_of "$pid"; seg_c[i]=$(( CPU > 0 ? CPU : 0 ))
            # output so far belongs to earlier items (it can only undercount this one's)
            size "$V.o$i"; seg_o0[i]=$SZ
            size "$V.e$i"; seg_e0[i]=$SZ
        fi
        size "$V.o$i"; so=$SZ
        size "$V.e$i"; se=$SZ
        if (( so > cap || se > cap )); then
            stop "$i"; seg_pid[i]=""
            if [ -z "${seg_item[i]}" ]; then
                notes+="BATCH NOSTART ${seg_start[i]} FLOOD 0"$'\n'; head -c 20000 -- "$V.e$i" >&2
            else
                why=FLOOD
                (( so - seg_o0[i] > cap || se - seg_e0[i] > cap )) && why=FLOODED
                notes+="BATCH END ${seg_item[i]} $why 0"$'\n'
                [ "$why" = FLOOD ] && redo[${seg_item[i]}]=1
                if (( ! seg_bg[i] )) && (( seg_item[i] + 1 < n )); then _start $((seg_item[i] + 1)); fi
            fi
            running=1; continue
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null; rc=$?
            (( rc == 137 )) && snooze 0.3  # let a memory kill's victim go first
            kill -KILL -- "-$pid" 2>/dev/null
            seg_pid[i]=""
            last_item "$V.s$i"
            if (( seg_bg[i] )); then
                if [ -n "$LAST" ] && [ "$LAST" != "${seg_item[i]}" ]; then
                    seg_cut[i]=$LAST; notes+="BATCH SLOW ${seg_item[i]}"$'\n'
                elif (( rc == 0 )) && tail -n 1 "$V.s$i" | grep -qx DONE; then
                    notes+="BATCH SLOW ${seg_item[i]}"$'\n'
                else
                    notes+="BATCH END ${seg_item[i]} EXIT $rc"$'\n'
                fi
                redo[${seg_item[i]}]=1
            elif (( rc == 0 )) && tail -n 1 "$V.s$i" | grep -qx DONE; then
                :  # finished
            elif [ -z "$LAST" ]; then
                alive
                if (( ALIVE )) && [ -z "${retried[${seg_start[i]}]:-}" ]; then
                    retried[${seg_start[i]}]=1 retry=${seg_start[i]}
                else
                    notes+="BATCH NOSTART ${seg_start[i]} EXIT $rc"$'\n'
                    head -c 20000 -- "$V.e$i" >&2; head -c 20000 -- "$V.o$i" >&2
                fi
            else
                notes+="BATCH END $LAST EXIT $rc"$'\n'; redo[$LAST]=1
                if (( LAST + 1 < n )); then _start $((LAST + 1)); running=1; fi
            fi
            continue
        fi
        running=1
        if (( seg_bg[i] )); then
            spent "$pid" "${seg_t[i]}" "${seg_c[i]}" "${seg_v[i]}"
            if (( SPENT )); then
                why=STALL rss=0
                read -r _ rss _ < "/proc/$pid/statm" 2>/dev/null || rss=0
                (( rss * 4096 > mem / 2 )) && why=STALLMEM
                stop "$i"; seg_pid[i]=""; notes+="BATCH END ${seg_item[i]} $why 0"$'\n'
                [ "$why" = STALLMEM ] && redo[${seg_item[i]}]=1
            fi
        elif [ -z "${seg_item[i]}" ]; then
            spent "$pid" "${seg_t[i]}" 0 $(( T - seg_t[i] ))
            if (( SPENT )); then
                stop "$i"; seg_pid[i]=""; notes+="BATCH NOSTART ${seg_start[i]} STALL 0"$'\n'
                head -c 20000 -- "$V.e$i" >&2; head -c 20000 -- "$V.o$i" >&2
            fi
        elif (( T - seg_t[i] > suspect )); then  # leave it running; go on without it
            seg_bg[i]=1
            if (( seg_item[i] + 1 < n )); then _start $((seg_item[i] + 1)); fi
        fi
    done
    if [ -n "$retry" ]; then  # a start that failed beside others: again when alone
        alive
        if (( ! ALIVE )); then _start "$retry"; retry=""; fi
        running=1
    fi
done
for i in "${!seg_start[@]}"; do  # a stopped suspect's file ends where the next item began
    if [ -n "${seg_cut[i]}" ]; then
        sed -n "/^ITEM ${seg_cut[i]}\$/q;p" "$V.s$i" >> "$V"
    else
        cat -- "$V.s$i" >> "$V"
    fi
    rm -f -- "$V.s$i" "$V.o$i" "$V.e$i"
done
printf '%s' "$notes" >> "$V"

alone() {  # k: item k by itself, in a fresh process stopped when item k+1 begins
    local k=$1 f="$V.a$1" why="" rc=0 pid t0 o0 so se decoy
    : > "$f"
    oomcount; o0=$OOM
    # a decoy first in line for the OOM killer after the item: while a killed item's memory
    # is being freed the cgroup is still full, and the next kill would otherwise take us
    ( echo 1000 > /proc/self/oom_score_adj; exec sleep 100000 ) 2>/dev/null &
    decoy=$!
    CRUXFORGE_VERDICTS="$f" CRUXFORGE_BATCH_ALONE=1 run_item "$k" > "$f.o" 2> "$f.e" < /dev/null &
    pid=$!
    now; t0=$T
    while [ -z "$why" ]; do
        snooze 0.02
        # sizes before the marker: output seen before item k+1 began is item k's
        size "$f.o"; so=$SZ
        size "$f.e"; se=$SZ
        if grep -aqx -e "ITEM $((k + 1))" -e DONE "$f"; then
            why=DONE
        elif (( so > cap || se > cap )); then
            why=FLOODED
        elif ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null; rc=$?
            (( rc == 137 )) && snooze 0.3  # let a memory kill's victim go first
            if grep -aqx -e "ITEM $((k + 1))" -e DONE "$f"; then why=DONE; else why=EXIT; fi
            pid=""
        else
            now
            spent "$pid" "$t0" 0 $(( T - t0 ))
            (( SPENT )) && why=TIMEOUT
        fi
    done
    now
    [ -n "$pid" ] && stop_pid "$pid"
    stop_pid "$decoy"
    snooze 0.01
    oomcount
    printf 'BATCH ALONE %d %s %d %d %d\n' "$k" "$why" "$rc" $(( OOM > o0 )) $(( T - t0 )) >> "$V"
    sed -n "/^ITEM $((k + 1))\$/q;/^DONE\$/q;/^ITEM $k\$/d;p" "$f" >> "$V"
    printf 'BATCH ALONE-END %d\n' "$k" >> "$V"
    printf '=== crux alone %d ===\n' "$k" >&2
    head -c 4000 -- "$f.e" >&2
    printf '\n=== crux alone end ===\n' >&2
    rm -f -- "$f" "$f.o" "$f.e"
}
if (( rerun )); then
    for k in $(printf '%s\n' "${!redo[@]}" | sort -n); do alone "$k"; done
fi
exit 0
