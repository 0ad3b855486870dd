#!/usr/bin/env bash
# Boots Debian's own Linux kernel under vivctl twice, as a bzImage and as a
# PVH ELF (the vmlinux inside that bzImage), with the busybox initramfs that
# debian-guest.sh builds: its /init prints a marker line and powers off.
#
# usage: linux-boot.sh EXTRACT_VMLINUX CACHE_DIR   (VIVCTL in the environment)
# Exit 77 (skipped) where the CPU has no hardware virtualization.
set -euo pipefail

if ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
  echo "SKIP: no hardware virtualization (vmx/svm) in /proc/cpuinfo; this machine's nested KVM cannot run an unmodified Linux kernel"
  exit 77
fi

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[ "$#" -eq 2 ] || fail "usage: $0 EXTRACT_VMLINUX CACHE_DIR (and VIVCTL in the environment)"
extract_vmlinux=$1
cache_dir=$2
vivctl=${VIVCTL:?VIVCTL must name the vivctl binary}
boot_timeout=${LINUX_BOOT_TIMEOUT:-120}   # seconds per boot
cpus=2

command -v timeout >/dev/null || fail "'timeout' not found (coreutils)"

mkdir -p "$cache_dir"
cache_dir=$(cd "$cache_dir" && pwd)
work_dir=$(mktemp -d "$cache_dir/run.XXXXXX")
trap 'rm -rf "$work_dir"' EXIT

"$(dirname "$0")/debian-guest.sh" "$cache_dir" "$work_dir" test ||
  fail "could not build the Debian guest"
vmlinuz=$work_dir/vmlinuz

# --- boot -------------------------------------------------------------------

# boot LABEL KERNEL: runs the guest, checks the marker and a clean power-off.
boot() {
  local label=$1 kernel=$2 log=$work_dir/$1.log status=0
  echo "# boot $label: $vivctl run --kernel $kernel --initrd initramfs.gz --cpus $cpus --memory 512M"
  timeout --kill-after=10 "$boot_timeout" \
    "$vivctl" run --kernel "$kernel" --initrd "$work_dir/initramfs.gz" \
    --cmdline "console=ttyS0 earlyprintk=ttyS0 panic=-1 rdinit=/init" \
    --cpus "$cpus" --memory 512M </dev/null >"$log" 2>&1 || status=$?

  local problem=
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    problem="no exit within ${boot_timeout}s"
  elif [ "$status" -ne 0 ]; then
    problem="vivctl exited with status $status (expected 0: ACPI power-off)"
  elif ! grep -aqE "^VIVARIUM-LINUX-OK cpus=$cpus"$'\r?$' "$log"; then
    problem="no line 'VIVARIUM-LINUX-OK cpus=$cpus' on the console"
  elif grep -aq 'Kernel panic' "$log"; then
    problem="the kernel panicked"   # panic=-1 resets, which also exits 0
  fi
  if [ -n "$problem" ]; then
    echo "--- last lines of the $label console ---"
    tail -n 60 "$log"
    fail "$label: $problem"
  fi
  echo "ok: $label booted, saw $cpus CPUs and powered off"
}

boot bzimage "$vmlinuz"

"$extract_vmlinux" "$vmlinuz" "$work_dir/vmlinux" ||
  fail "cannot extract vmlinux from $vmlinuz"
boot pvh "$work_dir/vmlinux"
