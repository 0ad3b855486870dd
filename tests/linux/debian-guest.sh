#!/usr/bin/env bash
# Builds a small Linux guest from Debian's own packages: the kernel of
# linux-image-amd64 and a busybox-static initramfs.
#
# usage: debian-guest.sh CACHE_DIR OUT_DIR test|demo
#   CACHE_DIR keeps the downloaded .deb files between runs.
#   OUT_DIR receives vmlinuz and initramfs.gz.
#   test: /init prints "VIVARIUM-LINUX-OK cpus=N" and powers off.
#   demo: /init brings up the network with DHCP and gives a shell on the
#         console; leaving the shell powers the VM off.
# Prints nothing on stdout but progress lines starting with '#'.
set -euo pipefail

fail() {
  echo "debian-guest: $*" >&2
  exit 1
}

[ "$#" -eq 3 ] || fail "usage: $0 CACHE_DIR OUT_DIR test|demo"
cache_dir=$1
out_dir=$2
mode=$3
case "$mode" in
  test|demo) ;;
  *) fail "unknown mode '$mode': use test or demo" ;;
esac

for tool in apt-get apt-cache dpkg-deb cpio gzip find; do
  command -v "$tool" >/dev/null || fail "'$tool' not found; this needs a Debian system (./dev installs the rest)"
done

mkdir -p "$cache_dir" "$out_dir"
cache_dir=$(cd "$cache_dir" && pwd)
work_dir=$(mktemp -d "$cache_dir/build.XXXXXX")
trap 'rm -rf "$work_dir"' EXIT

# --- fetch the Debian packages (kept in the cache between runs) -----------

apt_lists_refreshed=false
refresh_apt_lists() {
  $apt_lists_refreshed && return 1
  apt_lists_refreshed=true
  if [ "$(id -u)" -eq 0 ]; then
    echo "# apt-get update (package lists missing or stale)"
    apt-get update -q >&2 || return 1
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    echo "# sudo apt-get update (package lists missing or stale)"
    sudo -n apt-get update -q >&2 || return 1
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
    if ! (cd "$cache_dir" && apt-get download -q "$pkg" >&2); then
      if ! refresh_apt_lists || ! (cd "$cache_dir" && apt-get download -q "$pkg" >&2); then
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
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/etc" "$root/tmp"
cp "$work_dir/busybox/bin/busybox" "$root/bin/busybox"

# Both inits start alike; the kernel opened /dev/console from its built-in
# initramfs, and devtmpfs makes sure there is one even if that changes.
cat >"$root/init" <<'EOF'
#!/bin/busybox sh
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
if $bb mount -t devtmpfs devtmpfs /dev; then
  exec </dev/console >/dev/console 2>&1
fi
EOF

if [ "$mode" = test ]; then
  cat >>"$root/init" <<'EOF'
# PID 1 of the Linux boot test: report what the kernel sees, then power off.
cpus=$($bb grep -c '^processor' /proc/cpuinfo)
echo "VIVARIUM-LINUX-OK cpus=$cpus"
$bb poweroff -f
EOF
else
  # Debian builds the virtio drivers as modules; the kernel finds our
  # virtio-mmio devices through ACPI (LNRO0005), QEMU's through PCI. Listed
  # in load order: each after the modules it needs.
  modules="virtio_ring virtio virtio_mmio virtio_pci_legacy_dev virtio_pci_modern_dev
           virtio_pci failover net_failover virtio_net virtio_blk virtio_console
           virtio-rng virtio_balloon"
  mkdir -p "$root/lib/modules"
  for module in $modules; do
    ko=$(find "$work_dir/kernel/lib/modules" -name "$module.ko" -print -quit)
    [ -n "$ko" ] || fail "$kernel_deb holds no $module.ko"
    cp "$ko" "$root/lib/modules/"
  done
  cat >>"$root/init" <<EOF
# PID 1 of the demo VM: the virtio drivers, the network by DHCP, then a shell
# on the console.
\$bb --install -s /bin
export PATH=/bin
for module in $(echo $modules); do
  insmod /lib/modules/\$module.ko
done
EOF
  cat >>"$root/init" <<'EOF'
hostname vivarium-demo
ip link set lo up
if ip link show eth0 >/dev/null 2>&1; then
  ip link set eth0 up
  udhcpc -q -n -t 5 -i eth0 -s /etc/udhcpc.script >/dev/null 2>&1 &&
    echo "network: $(ip -4 -o addr show eth0 | awk '{ print $4 }')"
fi
echo
echo "Debian's Linux $(uname -r) on Vivarium, $(grep -c '^processor' /proc/cpuinfo) vCPUs."
echo "This is a busybox shell; 'exit' powers the VM off."
setsid cttyhack sh -l
poweroff -f
EOF
  # udhcpc leaves applying the lease to a script.
  cat >"$root/etc/udhcpc.script" <<'EOF'
#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for r in $router; do ip route add default via "$r" dev "$interface"; break; done
    : >/etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
    ;;
esac
EOF
  chmod 755 "$root/etc/udhcpc.script"
fi
chmod 755 "$root/init"

(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -9 >"$work_dir/initramfs.gz"
# Only complete files reach OUT_DIR.
mv "$work_dir/initramfs.gz" "$out_dir/initramfs.gz"
cp "$vmlinuz" "$out_dir/vmlinuz.tmp" && mv "$out_dir/vmlinuz.tmp" "$out_dir/vmlinuz"
echo "# built $out_dir/vmlinuz and $out_dir/initramfs.gz ($mode)"
