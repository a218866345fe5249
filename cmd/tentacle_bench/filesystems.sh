#!/bin/sh
# filesystems.sh: run tentacle_bench on the file systems that Pandora FMS
# servers store their data on, a journaled ext4 (Debian, Ubuntu) and XFS
# (Rocky Linux, RHEL), each made fresh with mkfs's
# defaults in an image file on a loop device. The small-file ratios depend
# on the file system more than on anything else: a development machine's
# own disk may be neither (this one's root is ext4 without a journal).
#
# Usage, as root: cmd/tentacle_bench/filesystems.sh [tentacle_bench flags]
# (make bench-fs BENCH_FLAGS='...' does the same after make build).
# Environment:
#   BENCH_FS          file systems to measure (default "ext4 xfs")
#   BENCH_FS_PARENT   where the images go (default /var/tmp; needs about
#                     10 GiB free per file system for the default tests;
#                     the images are sparse and removed at the end)
#   BENCH_FS_REPORTS  when set, a directory that gets report-FS.md per run
#
# The loop devices use direct I/O, so that the page cache is not doubled;
# flushes still reach the disk below (the loop driver fsyncs its image).
set -eu

fail() {
	echo "filesystems.sh: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || fail "needs root, for losetup and mount"
for tool in losetup mount umount mkfs.ext4 mkfs.xfs go; do
	command -v "$tool" >/dev/null 2>&1 ||
		fail "$tool is missing (mkfs.xfs: apt-get install xfsprogs)"
done

work=$(mktemp -d "${BENCH_FS_PARENT:-/var/tmp}/tentacle-bench-fs.XXXXXX")
chmod 755 "$work" # the server under test runs as nobody and must get through
loops=
cleanup() {
	for mnt in "$work"/mnt-*; do
		if [ -d "$mnt" ]; then umount "$mnt" 2>/dev/null || true; fi
	done
	for dev in $loops; do losetup -d "$dev" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for fs in ${BENCH_FS:-ext4 xfs}; do
	img=$work/$fs.img
	truncate -s 24G "$img"
	case $fs in
	ext4) mkfs.ext4 -q -F "$img" ;;
	xfs) mkfs.xfs -q -f "$img" ;;
	*) fail "unknown file system $fs (ext4 or xfs)" ;;
	esac
	dev=$(losetup --direct-io=on --find --show "$img")
	loops="$loops $dev"
	mnt=$work/mnt-$fs
	mkdir "$mnt"
	mount "$dev" "$mnt"
	chmod 1777 "$mnt"
	echo "== $fs on $dev (image $img)" >&2
	if [ -n "${BENCH_FS_REPORTS:-}" ]; then
		go run ./cmd/tentacle_bench -dir "$mnt" -o "$BENCH_FS_REPORTS/report-$fs.md" "$@"
	else
		go run ./cmd/tentacle_bench -dir "$mnt" "$@"
	fi
done
