# The batch supervisor: runs a batched program (one source holding many items) inside
# the sandbox, as the run step's command, so that no item can take the others' verdicts.
# The program takes the index of its first item as its last argument and writes
# "ITEM k" to its verdict file before item k's cases, "DONE" after the last item.
#   bash -c SCRIPT crux-batch N ITEM_US SUSPECT_US CAP MEM -- CMD...
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
#   a line) so the engine can find the culprit.
set -u
n=$1 lim=$2 suspect=$3 cap=$4 mem=$5
shift 5
[ "${1:-}" = "--" ] && shift
V=${CRUXFORGE_VERDICTS:?}
now() { T=${EPOCHREALTIME/./}; T=$((10#$T)); }
last_item() {  # FILE -> LAST = k of its last "ITEM k" line ('' if none)
    LAST=$(grep -a '^ITEM [0-9][0-9]*$' "$1" 2>/dev/null | tail -n 1)
    LAST=${LAST#ITEM }
}
size() { SZ=$(stat -c %s -- "$1" 2>/dev/null || echo 0); }
set -m  # each segment in its own process group, so a kill takes all it forked
declare -a seg_start=() seg_pid=() seg_item=() seg_t=() seg_v=() seg_bg=() seg_cut=()
declare -a seg_o0=() seg_e0=()
notes=""
_start() {
    local s=$1 i=${#seg_start[@]}
    : > "$V.s$i"
    CRUXFORGE_VERDICTS="$V.s$i" "${cmd[@]}" "$s" > "$V.o$i" 2> "$V.e$i" < /dev/null &
    seg_o0[i]=0 seg_e0[i]=0
    seg_start[i]=$s seg_pid[i]=$! seg_item[i]="" seg_bg[i]=0 seg_cut[i]="" seg_v[i]=0
    now; seg_t[i]=$T
    fg=$i
}
stop() { kill -KILL -- "-${seg_pid[$1]}" 2>/dev/null; wait "${seg_pid[$1]}" 2>/dev/null; }
cmd=("$@")
fg=""
_start 0
running=1
now; tick=$T
while (( running )); do
    sleep 0.05
    running=0
    now; dt=$((T - tick)) tick=$T m=0
    for i in "${!seg_start[@]}"; do [ -n "${seg_pid[i]}" ] && m=$((m + 1)); done
    (( m > 0 )) || m=1
    for i in "${!seg_start[@]}"; do
        [ -n "${seg_pid[i]}" ] || continue
        pid=${seg_pid[i]}
        seg_v[i]=$((seg_v[i] + dt / m))
        last_item "$V.s$i"; now
        if [ -n "$LAST" ] && [ "$LAST" != "${seg_item[i]}" ]; then
            if (( seg_bg[i] )); then  # a suspect finished in time: stop the segment
                stop "$i"; seg_pid[i]=""; seg_cut[i]=$LAST
                notes+="BATCH SLOW ${seg_item[i]}"$'\n'
                continue
            fi
            seg_item[i]=$LAST seg_t[i]=$T seg_v[i]=0
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
                if (( ! seg_bg[i] )) && (( seg_item[i] + 1 < n )); then _start $((seg_item[i] + 1)); fi
            fi
            running=1; continue
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null; rc=$?
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
            elif (( rc == 0 )) && tail -n 1 "$V.s$i" | grep -qx DONE; then
                :  # finished
            elif [ -z "$LAST" ]; then
                notes+="BATCH NOSTART ${seg_start[i]} EXIT $rc"$'\n'
                head -c 20000 -- "$V.e$i" >&2; head -c 20000 -- "$V.o$i" >&2
            else
                notes+="BATCH END $LAST EXIT $rc"$'\n'
                if (( LAST + 1 < n )); then _start $((LAST + 1)); running=1; fi
            fi
            continue
        fi
        running=1
        if (( seg_bg[i] )); then
            if (( seg_v[i] > lim )); then
                why=STALL rss=0
                read -r _ rss _ < "/proc/$pid/statm" 2>/dev/null || rss=0
                (( rss * 4096 > mem / 2 )) && why=STALLMEM
                stop "$i"; seg_pid[i]=""; notes+="BATCH END ${seg_item[i]} $why 0"$'\n'
            fi
        elif [ -z "${seg_item[i]}" ]; then
            if (( T - seg_t[i] > lim )); then
                stop "$i"; seg_pid[i]=""; notes+="BATCH NOSTART ${seg_start[i]} STALL 0"$'\n'
                head -c 20000 -- "$V.e$i" >&2; head -c 20000 -- "$V.o$i" >&2
            fi
        elif (( T - seg_t[i] > suspect )); then  # leave it running; go on without it
            seg_bg[i]=1
            if (( seg_item[i] + 1 < n )); then _start $((seg_item[i] + 1)); fi
        fi
    done
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
exit 0
