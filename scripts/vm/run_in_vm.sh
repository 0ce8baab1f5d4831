#!/usr/bin/env bash
# run_in_vm.sh [options] [--] COMMAND [ARGS...]
#
# Boots Debian's kernel (prepared by ensure_vm.sh) under QEMU and runs COMMAND
# in it, as root, on the host's own file system: the guest's root is the host's
# "/" shared read-only over virtio 9p, with a tmpfs overlay on top, so the host's
# programs (bash, wg, ip, ping, the repo's deno) run unchanged and the guest may
# write anywhere without touching the host. The repository (and any --rw
# directory) is shared writable at its own path: results left there reach the
# host. /proc /sys /dev /dev/pts /dev/shm /run /tmp are fresh in the guest.
#
# COMMAND's stdout and stderr stream live to ours; kernel messages stay out of
# them (they go to a console log, shown on failure or with --verbose). Exits
# with COMMAND's status; 124 when --timeout killed the VM; 125 when the VM
# failed before reporting a status. COMMAND's stdin is /dev/null.
#
# Options:
#   --cwd DIR            working directory in the guest (default: the current one)
#   --env NAME=VALUE     set a variable for COMMAND (repeatable); --env NAME
#                        passes the host's value. COMMAND starts from a clean
#                        environment: PATH (standard sbin/bin dirs), HOME=/root,
#                        USER, LOGNAME, and these.
#   --rw DIR             also share DIR writable (repeatable; the repo always is)
#   --root overlay|ro    guest root: host "/" under a tmpfs overlay (default),
#                        or bare read-only 9p (writes outside --rw dirs fail)
#   --mem MB             guest memory (default 2048)
#   --cpus N             vCPUs (default 2)
#   --cmdline EXTRA      appended to the kernel command line (repeatable),
#                        e.g. rcupdate.rcu_normal=1
#   --timeout SECONDS    kill QEMU after this long (default 1800; 0: never)
#   --ulimit-stack KB    stack limit for COMMAND (default 65536: a 10,000-peer
#                        `wg set` needs ~1.5 MB of argv, which must fit in it)
#   --modprobe MODULES   load these comma-separated modules before COMMAND
#   --accel auto|tcg|kvm auto (default): KVM only where /proc/cpuinfo has
#                        vmx or svm and /dev/kvm opens, else TCG
#   --init chroot|systemd  run COMMAND from the initramfs in a chroot (default),
#                        or boot the host's systemd as PID 1 and run it from a
#                        unit (vm-job.service; only sysinit and basic start)
#   --verbose            show the QEMU command line and the console log live
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

die() { # usage and setup errors: before any VM exists
  echo "run_in_vm: $*" >&2
  exit 125
}

cwd=$PWD
mem=2048
cpus=2
timeout_s=1800
stack_kb=65536
root_mode=overlay
init_mode=chroot
accel=auto
verbose=0
modules=""
extra_cmdline=()
envs=()
rw_dirs=("$repo")

need_arg() { [ "$#" -ge 2 ] || die "$1 needs a value"; }
while [ "$#" -gt 0 ]; do
  case "$1" in
    --cwd) need_arg "$@"; cwd=$2; shift 2 ;;
    --env)
      need_arg "$@"
      name=${2%%=*}
      [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "--env $2: not NAME=VALUE or NAME"
      if [[ "$2" == *=* ]]; then
        envs+=("$2")
      elif [ -n "${!name+x}" ]; then
        envs+=("$name=${!name}")
      fi
      shift 2
      ;;
    --rw) need_arg "$@"; rw_dirs+=("$2"); shift 2 ;;
    --root) need_arg "$@"; root_mode=$2; shift 2 ;;
    --mem) need_arg "$@"; mem=$2; shift 2 ;;
    --cpus) need_arg "$@"; cpus=$2; shift 2 ;;
    --cmdline) need_arg "$@"; extra_cmdline+=("$2"); shift 2 ;;
    --timeout) need_arg "$@"; timeout_s=$2; shift 2 ;;
    --ulimit-stack) need_arg "$@"; stack_kb=$2; shift 2 ;;
    --modprobe) need_arg "$@"; modules=$2; shift 2 ;;
    --accel) need_arg "$@"; accel=$2; shift 2 ;;
    --init) need_arg "$@"; init_mode=$2; shift 2 ;;
    --verbose) verbose=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[ "$#" -gt 0 ] || die "no command given (usage: run_in_vm.sh [options] -- COMMAND [ARGS...])"
for n in "$mem" "$cpus" "$timeout_s" "$stack_kb"; do
  [[ "$n" =~ ^[0-9]+$ ]] || die "not a whole number: $n"
done
case "$root_mode" in overlay | ro) ;; *) die "--root must be overlay or ro" ;; esac
case "$init_mode" in chroot | systemd) ;; *) die "--init must be chroot or systemd" ;; esac
if [ "$init_mode" = systemd ]; then
  [ "$root_mode" = overlay ] || die "--init systemd needs --root overlay"
  [ -x /lib/systemd/systemd ] || die "--init systemd: no /lib/systemd/systemd (apt-get install systemd)"
fi
[[ "$modules" =~ ^[A-Za-z0-9_,-]*$ ]] || die "--modprobe takes comma-separated module names"
[ "$(id -u)" -eq 0 ] || die "run as root (9p passthrough keeps the host's owners and modes)"

# Host paths as the guest will see them: absolute, symlinks resolved (the
# guest mounts the writable shares at these exact paths).
cwd=$(cd "$cwd" 2>/dev/null && pwd -P) || die "--cwd: no such directory"
for i in "${!rw_dirs[@]}"; do
  d=$(cd "${rw_dirs[$i]}" 2>/dev/null && pwd -P) || die "--rw ${rw_dirs[$i]}: no such directory"
  [[ "$d" != *$'\n'* ]] || die "--rw: newline in path"
  [ "$d" != / ] || die "--rw /: use --root overlay instead"
  rw_dirs[i]=$d
done
# The guest replaces these with fresh mounts: a working directory there is only
# visible when it is shared (--rw).
case "$cwd/" in
  /tmp/* | /run/* | /dev/* | /proc/* | /sys/*)
    shared=0
    for d in "${rw_dirs[@]}"; do
      case "$cwd/" in "$d"/*) shared=1 ;; esac
    done
    top=${cwd#/}
    [ "$shared" = 1 ] || die "--cwd $cwd: the guest mounts a fresh /${top%%/*}: share the directory with --rw"
    ;;
esac
# Parents before children, duplicates dropped: a parent mounted later would hide
# the child.
mapfile -t rw_dirs < <(printf '%s\n' "${rw_dirs[@]}" | LC_ALL=C sort -u)

vm_env=$(bash "$here/ensure_vm.sh") || exit 125
while IFS='=' read -r k v; do
  case "$k" in
    VM_KERNEL) kernel=$v ;;
    VM_INITRD) initrd=$v ;;
  esac
done <<<"$vm_env"
if [ -z "${kernel:-}" ] || [ -z "${initrd:-}" ]; then
  die "ensure_vm.sh printed no kernel/initrd"
fi

if [ "$accel" = auto ]; then
  accel=tcg
  # /dev/kvm alone is not enough: a paravirtual nested KVM (no vmx/svm flags)
  # fails to run a stock kernel with -cpu host.
  if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then accel=kvm; fi
fi
case "$accel" in
  kvm) accel_args=(-accel kvm -cpu host) ;;
  # -cpu max: the default qemu64 model lacks SSE4/AVX, which Deno (V8) wants.
  tcg) accel_args=(-accel "tcg,thread=multi" -cpu max) ;;
  *) die "--accel must be auto, tcg or kvm" ;;
esac

job=$(mktemp -d "${TMPDIR:-/tmp}/wg-vm.XXXXXX")
qemu_pid=""
tail_pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  # Only the processes this script started, by pid.
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill -TERM "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  for p in "${tail_pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$job"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# What the guest's /init reads (see guest_init.sh).
{
  echo "root $root_mode"
  echo "init $init_mode"
  echo "hostname wg-vm"
  for i in "${!rw_dirs[@]}"; do echo "rw rw$i ${rw_dirs[$i]}"; done
} >"$job/config"

# What runs in the chroot, under `env -i`. printf %q quotes for bash, and bash
# (the host's own) is what reads it.
{
  echo '# generated by run_in_vm.sh'
  printf 'export PATH=%q HOME=/root USER=root LOGNAME=root\n' /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  for e in "${envs[@]}"; do printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"; done
  printf 'ulimit -s %q || { echo "run_in_vm: guest: cannot set ulimit -s %q" >&2; exit 125; }\n' "$stack_kb" "$stack_kb"
  if [ -n "$modules" ]; then
    printf 'modprobe -a %s || { echo "run_in_vm: guest: modprobe %s failed" >&2; exit 125; }\n' "${modules//,/ }" "$modules"
  fi
  printf 'cd -- %q || { echo "run_in_vm: guest: cannot cd to %q" >&2; exit 125; }\n' "$cwd" "$cwd"
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$job/run.sh"
: >"$job/stdout"
: >"$job/stderr"

# QEMU option values: a comma inside them must be doubled.
q() { printf '%s' "${1//,/,,}"; }

cmdline="console=ttyS0 quiet panic=-1 ${extra_cmdline[*]}"
# q35 rather than pc: measured, the command starts ~0.3 s sooner under TCG.
# -no-reboot with panic=-1: a kernel panic ends QEMU instead of looping.
qemu=(qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot
  "${accel_args[@]}" -machine q35 -smp "$cpus" -m "$mem"
  -kernel "$kernel" -initrd "$initrd" -append "$cmdline"
  -chardev "file,id=con,path=$(q "$job/console.log")" -serial chardev:con
  # readonly=on: QEMU itself refuses writes to the host's root; multidevs=remap
  # keeps inode numbers unique across the host's mounts.
  -fsdev "local,id=fsroot,path=/,security_model=passthrough,readonly=on,multidevs=remap"
  -device "virtio-9p-pci,fsdev=fsroot,mount_tag=hostroot"
  -fsdev "local,id=fsjob,path=$(q "$job"),security_model=passthrough"
  -device "virtio-9p-pci,fsdev=fsjob,mount_tag=vmjob")
for i in "${!rw_dirs[@]}"; do
  qemu+=(-fsdev "local,id=fsrw$i,path=$(q "${rw_dirs[$i]}"),security_model=passthrough,multidevs=remap"
    -device "virtio-9p-pci,fsdev=fsrw$i,mount_tag=rw$i")
done
if [ "$verbose" = 1 ]; then
  printf 'run_in_vm: %q' "${qemu[0]}" >&2
  printf ' %q' "${qemu[@]:1}" >&2
  printf '\n' >&2
fi

# timeout(1) kills QEMU (its child, by pid) after the limit; QEMU's own
# messages go to a file, shown on failure or with --verbose.
timeout -k 5 "$timeout_s" "${qemu[@]}" </dev/null >"$job/qemu.log" 2>&1 &
qemu_pid=$!

# Live output: the guest writes COMMAND's stdout/stderr into files on the job
# share (cache=none: each write reaches the host file before it returns), and
# tail follows them until QEMU is gone, then reads what is left.
tail -c +1 -s 0.1 -f --pid="$qemu_pid" "$job/stdout" &
tail_pids+=($!)
tail -c +1 -s 0.1 -f --pid="$qemu_pid" "$job/stderr" >&2 &
tail_pids+=($!)
if [ "$verbose" = 1 ]; then
  tail -c +1 -s 0.1 -F --pid="$qemu_pid" "$job/console.log" 2>/dev/null | sed 's/^/[console] /' >&2 &
  tail_pids+=($!)
fi

rc=0
wait "$qemu_pid" || rc=$?
qemu_pid=""
for p in "${tail_pids[@]}"; do wait "$p" || true; done
tail_pids=()

show_console() {
  if [ -s "$job/qemu.log" ]; then
    echo "run_in_vm: QEMU said:" >&2
    tail -n 20 "$job/qemu.log" >&2
  fi
  if [ -s "$job/console.log" ]; then
    echo "run_in_vm: last console lines:" >&2
    tail -n 40 "$job/console.log" | tr -d '\r' >&2
  else
    echo "run_in_vm: the console log is empty (the kernel printed nothing; try --verbose)" >&2
  fi
}

if [ -f "$job/status" ]; then
  status=$(cat "$job/status")
  [ "$verbose" = 0 ] || echo "run_in_vm: guest exit status $status, QEMU exit status $rc" >&2
  exit "$status"
fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "run_in_vm: timed out after ${timeout_s}s: killed QEMU" >&2
  show_console
  exit 124
fi
echo "run_in_vm: the VM stopped without reporting an exit status (QEMU exit status $rc)" >&2
show_console
exit 125
