#!/bin/sh
# Seed corpus of the qcow2 fuzzer: tiny images (512-byte clusters, a few
# KiB each) made by qemu-img and qemu-io, one per feature.
# Usage: make-fuzz-seeds.sh DIR
set -e
dir=$1
mkdir -p "$dir"
cd "$dir"
command -v qemu-img >/dev/null || { echo "qemu-img missing: no seeds" >&2; exit 0; }
q() { qemu-img create -q -f qcow2 -o cluster_size=512,"$1" "$2" 64k; }
io() { qemu-io -f qcow2 -c "$2" "$1" >/dev/null; }
rm -f ./*.qcow2 ./*.raw
q compat=1.1 plain.qcow2
io plain.qcow2 "write -P 0x11 0 3k"
io plain.qcow2 "write -z 4k 2k"
io plain.qcow2 "discard 1k 512"
q compat=0.10 v2.qcow2
io v2.qcow2 "write -P 0x22 512 2k"
q refcount_bits=1 refcount1.qcow2
io refcount1.qcow2 "write -P 0x33 8k 1k"
q refcount_bits=64 refcount64.qcow2
io refcount64.qcow2 "write -P 0x44 0 4k"
q compat=1.1 snapshot.qcow2
io snapshot.qcow2 "write -P 0x55 0 2k"
qemu-img snapshot -c s1 snapshot.qcow2
io snapshot.qcow2 "write -P 0x56 1k 2k"
qemu-img create -q -f raw src.raw 16k
qemu-io -f raw -c "write -P 0x66 0 8k" src.raw >/dev/null
qemu-img convert -c -O qcow2 -o cluster_size=512 src.raw zlib.qcow2
qemu-img convert -c -O qcow2 -o cluster_size=512,compression_type=zstd src.raw zstd.qcow2
qemu-img create -q -f qcow2 -o cluster_size=512 -b missing.raw -F raw -u backing.qcow2 64k
io plain.qcow2 "write -P 0x77 60k 4k"
rm -f src.raw
