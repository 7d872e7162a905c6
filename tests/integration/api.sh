#!/usr/bin/env bash
# The control socket (--api-socket), clean stops and seccomp, on the `idle`
# guest program (tests/guest/idle.c), driven with build/minivmm-ctl.
# usage: tests/integration/api.sh BUILD
# Prints "ok NAME" / "not ok NAME: reason" and closes with
# "N passed, N failed, N skipped". Without a usable /dev/kvm it skips.
set -u
build=${1:-build}
vmm=$build/minivmm
ctl=$build/minivmm-ctl
elf=$build/guest/idle.elf
TESTS=(api_socket_mode api_info api_mtree api_flatview api_iommu api_pci api_xp api_pause_resume
       api_errors api_oversized api_flood api_powerdown api_quit api_stale_socket
       api_not_a_socket sigterm_stop terminal_ctrl_a_x seccomp_kills seccomp_false seccomp_log)

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
skip_all_without_kvm "control socket tests" "${#TESTS[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/minivmm-api.XXXXXX")
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
not_ok() {
    echo "not ok $1: $2"
    failed=$((failed + 1))
    [ -s "$work/stderr" ] && tail -n 5 "$work/stderr" | sed 's/^/  | /'
}
check() {  # NAME REASON COMMAND...: ok when COMMAND succeeds
    local name=$1 reason=$2; shift 2
    if "$@"; then ok "$name"; else not_ok "$name" "$reason"; fi
}

sock=$work/api.sock
# start_idle [minivmm options...]: idle in the background; waits for its
# counter line and sets `counter` (its address) and `pid`.
start_idle() {
    : >"$work/serial"
    "$vmm" --kernel "$elf" --serial "file=$work/serial" --test-device "log=$work/td.log" \
        "$@" </dev/null >/dev/null 2>"$work/stderr" &
    pid=$!
    counter=
    for _ in $(seq 100); do
        counter=$(sed -n 's/^idle: counter at \(0x[0-9a-f]*\)$/\1/p' "$work/serial")
        [ -n "$counter" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# wait_exit: minivmm's exit status within 10 s (kills it after that: 137).
wait_exit() {
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid"
    status=$?
    pid=
}
req() { "$ctl" "$sock" "$@"; }
# The counter's value, as the hex of its 8 bytes.
read_counter() { req xp "{\"address\": $((counter)), \"size\": 8}" | sed -n 's/.*"data":"\([0-9a-f]*\)".*/\1/p'; }

if ! start_idle --api-socket "path=$sock" --iommu --edu; then
    for t in "${TESTS[@]:0:12}"; do not_ok "$t" "idle did not start"; done
else
    check api_socket_mode "mode $(stat -c %a "$sock")" [ "$(stat -c %a "$sock")" = 600 ]

    out=$(req info)
    check api_info "$out" grep -q '^{"return":{"version":"[0-9.]*","state":"running","vcpus":1,"memory":536870912,"devices":\[.*{"id":"com1","class":"serial"}.*{"id":"vtd","class":"vtd"}' <<<"$out"
    out=$(req mtree)
    check api_mtree "$(head -c 200 <<<"$out")" grep -q '"return":"address-space: memory\\n.*ram-below-4g' <<<"$out"
    out=$(req flatview)
    check api_flatview "$(head -c 200 <<<"$out")" grep -q '"return":"FlatView (memory):\\n.*FlatView (io)' <<<"$out"
    out=$(req iommu)
    check api_iommu "$out" grep -qx '{"return":{"translation":false,"interrupt-remapping":false,"queued-invalidation":false,"root-table":0,"iotlb-hits":0,"iotlb-misses":0,"faults":0,"fault-status":0}}' <<<"$out"
    # Names from pci.ids under the API thread's seccomp filter (they are looked
    # up before it), BARs, interrupt state and the IOMMU.
    out=$(req pci)
    check api_pci "$(head -c 300 <<<"$out")" grep -q \
        '^{"return":{"functions":\[{"bdf":"00:00.0","id":"pcihost0","vendor-id":6966,"device-id":8,.*"vendor":"Red Hat, Inc.","device":"QEMU PCIe Host bridge",.*"class-name":"Host bridge",.*{"bdf":"00:01.0","id":"edu0","vendor-id":4660,"device-id":4584,.*"iommu":true,"bars":\[{"index":0,"type":"mem32","prefetchable":false,"address":[0-9]*,"size":1048576,"enabled":false}\],"interrupts":{"mode":"INTx","intx-pin":"A","intx-gsi":[0-9]*,"intx-disabled":false,"msi":{"enabled":false,"vectors":1,"max-vectors":1,"64bit":true,"maskable":false},"msix":null}}' <<<"$out"

    a=$(read_counter); sleep 0.3; b=$(read_counter)
    bad=$(req xp '{"address": 0, "size": 4097}'; req xp '{"address": 17592186044416, "size": 1}'; req xp '{"address": -1, "size": 1}')
    if [ "${#a}" = 16 ] && [ "$a" != "$b" ] && [ "$(grep -c '"error"' <<<"$bad")" = 3 ] &&
       grep -q 'size must be 1..4096' <<<"$bad" && grep -q 'is not readable' <<<"$bad"; then
        ok api_xp
    else
        not_ok api_xp "counter $a then $b; errors: $bad"
    fi

    p1=$(req pause); state=$(req info | grep -o '"state":"[a-z]*"')
    a=$(read_counter); sleep 0.3; b=$(read_counter); again=$(req pause)
    r1=$(req resume); sleep 0.3; c=$(read_counter); r2=$(req resume)
    if [ "$p1" = '{"return":{}}' ] && [ "$state" = '"state":"paused"' ] && [ "$a" = "$b" ] &&
       [ "$again" = '{"error":{"message":"already paused"}}' ] && [ "$r1" = '{"return":{}}' ] &&
       [ "$c" != "$b" ] && [ "$r2" = '{"error":{"message":"not paused"}}' ]; then
        ok api_pause_resume
    else
        not_ok api_pause_resume "pause $p1 ($state), counter $a $b $c, again $again, resume $r1 / $r2"
    fi

    out=$(printf '%s\n' 'not json' '{}' '[1]' '{"command": 7}' '{"command": "nope"}' \
          '{"command": "info", "arguments": 3}' '{"command": "info"}' | "$ctl" "$sock" --raw)
    # Each expected line is exact, or a prefix when it ends in '*'.
    want='{"error":{"message":"malformed JSON: *
{"error":{"message":"the request has no \"command\" string"}}
{"error":{"message":"a request is a JSON object"}}
{"error":{"message":"the request has no \"command\" string"}}
{"error":{"message":"unknown command '"'nope'"'"}}
{"error":{"message":"\"arguments\" must be an object"}}
{"return":{"version"*'
    lines_match() {
        [ "$(wc -l <<<"$1")" = "$(wc -l <<<"$2")" ] || return 1
        paste -d '\n' <(echo "$1") <(echo "$2") | while IFS= read -r w && IFS= read -r g; do
            if [ "${w: -1}" = '*' ]; then [ "${g:0:${#w}-1}" = "${w%\*}" ] || exit 1
            else [ "$g" = "$w" ] || exit 1; fi
        done
    }
    check api_errors "$out" lines_match "$want" "$out"

    out=$( { head -c 10000 /dev/zero | tr '\0' 'x'; echo; echo '{"command": "info"}'; } | "$ctl" "$sock" --raw)
    check api_oversized "$out" lines_match '{"error":{"message":"request longer than 4096 bytes"}}
{"return":{"version"*' "$out"

    # A client that sends without reading: dropped once 1 MiB of replies wait;
    # meanwhile the guest runs and another client is served.
    yes '{"command": "mtree"}' | head -n 100000 | timeout 20 "$ctl" "$sock" --raw >/dev/null 2>&1 &
    flood=$!
    sleep 1
    a=$(read_counter); sleep 0.3; b=$(read_counter); info=$(req info)
    wait "$flood"
    if [ -n "$a" ] && [ "$a" != "$b" ] && grep -q '"return"' <<<"$info" &&
       grep -q 'dropping a client that does not read its replies' "$work/stderr"; then
        ok api_flood
    else
        not_ok api_flood "counter $a -> $b, info ${info:0:60}"
    fi

    out=$(req powerdown)
    wait_exit
    if [ "$out" = '{"return":{}}' ] && [ "$status" = 0 ] && grep -qx 'idle: power button' "$work/serial" &&
       ! [ -e "$sock" ]; then
        ok api_powerdown
    else
        not_ok api_powerdown "reply $out, status $status, socket left: $([ -e "$sock" ] && echo yes)"
    fi
fi

if start_idle --api-socket "path=$sock"; then
    out=$(req quit); wait_exit
    check api_quit "reply $out, status $status" [ "$out" = '{"return":{}}' -a "$status" = 0 -a ! -e "$sock" ]
else
    not_ok api_quit "idle did not start"
fi

# A socket left by a minivmm that was killed is reused; a live one is refused.
if start_idle --api-socket "path=$sock"; then
    kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
    if [ -S "$sock" ] && start_idle --api-socket "path=$sock"; then
        "$vmm" --kernel "$elf" --serial off --api-socket "path=$sock" </dev/null >/dev/null 2>"$work/second"
        second=$?
        req quit >/dev/null; wait_exit
        check api_stale_socket "second instance: status $second, $(cat "$work/second")" \
            grep -q "is in use by another process" "$work/second"
    else
        not_ok api_stale_socket "no restart over the stale socket"
    fi
else
    not_ok api_stale_socket "idle did not start"
fi

: >"$work/file"
"$vmm" --kernel "$elf" --serial off --api-socket "path=$work/file" </dev/null >/dev/null 2>"$work/stderr"
status=$?
if [ "$status" = 2 ] && grep -q "exists and is not a socket" "$work/stderr"; then
    ok api_not_a_socket
else
    not_ok api_not_a_socket "status $status"
fi

# SIGTERM: vCPUs stopped, the guest's output flushed, status 10.
if start_idle; then
    kill -TERM "$pid"; wait_exit
    if [ "$status" = 10 ] && grep -q "stopping on SIGTERM" "$work/stderr" &&
       grep -q '^idle: counter at' "$work/serial"; then
        ok sigterm_stop
    else
        not_ok sigterm_stop "status $status"
    fi
else
    not_ok sigterm_stop "idle did not start"
fi

# The terminal path under seccomp: raw mode on a pty, input read by the serial
# I/O thread, Ctrl-A x ends minivmm with 0 and the terminal is restored.
(sleep 1.5; printf 'ab\001x') | timeout 20 script -qec \
    "$vmm --kernel $elf --cmdline tty 2>$work/stderr" /dev/null >"$work/tty.out"
status=$?
if [ "$status" = 0 ] && grep -aq '^idle: counter at' "$work/tty.out"; then
    ok terminal_ctrl_a_x
else
    not_ok terminal_ctrl_a_x "status $status"
fi

# Seccomp: the vCPU thread's forbidden call ends minivmm with 12 and a message.
"$vmm" --kernel "$elf" --serial "file=$work/serial" --test-device "log=$work/td.log" \
    --cmdline forbidden=1 </dev/null >/dev/null 2>"$work/stderr"
status=$?
if [ "$status" = 12 ] && grep -qx \
    "minivmm: seccomp: the vcpu thread (vcpu0) made a forbidden system call: uname (63); exiting with status 12" \
    "$work/stderr"; then
    ok seccomp_kills
else
    not_ok seccomp_kills "status $status"
fi

for mode in false log; do
    if start_idle --cmdline forbidden=1 --seccomp "$mode" --api-socket "path=$sock"; then
        req quit >/dev/null; wait_exit
        if [ "$status" = 0 ] && grep -qx "syscall returned" "$work/td.log" &&
           grep -qx "idle: forbidden call returned" "$work/serial"; then
            ok "seccomp_$mode"
        else
            not_ok "seccomp_$mode" "status $status"
        fi
    else
        not_ok "seccomp_$mode" "idle did not start"
    fi
done

summary
