#!/usr/bin/env bash
# Boots Debian's own Linux kernel under vivctl twice, as a bzImage and as a
# PVH ELF (the vmlinux inside that bzImage), with a busybox initramfs whose
# /init prints a marker line and powers off.
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

for tool in apt-get apt-cache dpkg-deb cpio gzip timeout find; do
  command -v "$tool" >/dev/null || fail "'$tool' not found; this test needs a Debian system (./dev installs the rest)"
done

mkdir -p "$cache_dir"
cache_dir=$(cd "$cache_dir" && pwd)
work_dir=$(mktemp -d "$cache_dir/run.XXXXXX")
trap 'rm -rf "$work_dir"' EXIT

# --- fetch the Debian packages (kept in the cache between runs) -----------

apt_lists_refreshed=false
refresh_apt_lists() {
  $apt_lists_refreshed && return 1
  apt_lists_refreshed=true
  if [ "$(id -u)" -eq 0 ]; then
    echo "# apt-get update (package lists missing or stale)"
    apt-get update -q || return 1
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    echo "# sudo apt-get update (package lists missing or stale)"
    sudo -n apt-get update -q || return 1
  else
    return 1
  fi
}

# The versioned image package that the linux-image-amd64 metapackage points to.
kernel_package_name() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }'
}

kernel_pkg=$(kernel_package_name || true)
if [ -z "$kernel_pkg" ] && refresh_apt_lists; then
  kernel_pkg=$(kernel_package_name || true)
fi
[ -n "$kernel_pkg" ] ||
  fail "cannot tell which kernel linux-image-amd64 depends on; run 'apt-get update' as root and retry"
echo "# kernel package: $kernel_pkg"

# download VAR PACKAGE: sets VAR to the path of PACKAGE_*.deb in the cache,
# downloading it unless an earlier run did.
download() {
  local var=$1 pkg=$2 debs
  debs=("$cache_dir/${pkg}"_*.deb)
  if [ ! -e "${debs[0]}" ]; then
    echo "# apt-get download $pkg"
    if ! (cd "$cache_dir" && apt-get download -q "$pkg"); then
      if ! refresh_apt_lists || ! (cd "$cache_dir" && apt-get download -q "$pkg"); then
        fail "apt-get download $pkg failed; run 'apt-get update' as root and retry"
      fi
    fi
    debs=("$cache_dir/${pkg}"_*.deb)
  fi
  [ -e "${debs[0]}" ] || fail "apt-get download $pkg left no ${pkg}_*.deb in $cache_dir"
  [ "${#debs[@]}" -eq 1 ] || fail "several cached versions of $pkg in $cache_dir: delete them and retry"
  printf -v "$var" '%s' "${debs[0]}"
}

kernel_deb=
busybox_deb=
download kernel_deb "$kernel_pkg"
download busybox_deb busybox-static

dpkg-deb -x "$kernel_deb" "$work_dir/kernel"
dpkg-deb -x "$busybox_deb" "$work_dir/busybox"
vmlinuz=$(find "$work_dir/kernel/boot" -maxdepth 1 -name 'vmlinuz-*' -print -quit)
[ -n "$vmlinuz" ] || fail "$kernel_deb holds no boot/vmlinuz-*"
[ -x "$work_dir/busybox/bin/busybox" ] || fail "$busybox_deb holds no bin/busybox"

# --- initramfs --------------------------------------------------------------

root=$work_dir/initramfs
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys"
cp "$work_dir/busybox/bin/busybox" "$root/bin/busybox"
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# PID 1 of the Linux boot test: report what the kernel sees, then power off.
bb=/bin/busybox
$bb mount -t proc proc /proc
# The kernel opened /dev/console from its built-in initramfs; devtmpfs makes
# sure there is one even if that changes.
if $bb mount -t devtmpfs devtmpfs /dev; then
  exec </dev/console >/dev/console 2>&1
fi
cpus=$($bb grep -c '^processor' /proc/cpuinfo)
echo "VIVARIUM-LINUX-OK cpus=$cpus"
$bb poweroff -f
EOF
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -9 >"$work_dir/initramfs.gz"

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
