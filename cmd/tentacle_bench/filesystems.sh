#!/bin/sh
# filesystems.sh: run tentacle_bench on the file systems that Pandora FMS
# servers store their data on, a journaled ext4 (Debian, Ubuntu) and XFS
# (Rocky Linux, RHEL), each made fresh with mkfs's
# defaults in an image file on a loop device, then on the machine's own
# disk (BENCH_FS_PARENT). The small-file ratios depend on the file system
# more than on anything else: a development machine's own disk may be
# neither (this one's root is ext4 without a journal).
#
# The small-file target (>= 70% of raw) is judged on the fresh ext4 at 16
# and 64 clients and on the fresh XFS at 16 (tentacle_bench -judge); the
# other cells are reported with their CPU ceiling. The script ends by
# printing the reported cells, then the judged ones, last.
#
# Usage, as root: cmd/tentacle_bench/filesystems.sh [tentacle_bench flags]
# (make bench-fs BENCH_FLAGS='...' does the same after make build).
# Environment:
#   BENCH_FS          file systems to measure (default "ext4 xfs host";
#                     host is BENCH_FS_PARENT itself, whatever it is)
#   BENCH_FS_PARENT   where the images go (default /var/tmp; needs about
#                     10 GiB free per file system for the default tests;
#                     the images are sparse and removed at the end)
#   BENCH_FS_REPORTS  when set, a directory that gets report-FS.md per run
#                     (otherwise they go in the work directory, removed)
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

reports=${BENCH_FS_REPORTS:-$work/reports}
mkdir -p "$reports"
ran=
for fs in ${BENCH_FS:-ext4 xfs host}; do
	case $fs in
	ext4) judge=16,64 ;;
	xfs) judge=16 ;;
	host) judge= ;;
	*) fail "unknown file system $fs (ext4, xfs or host)" ;;
	esac
	if [ "$fs" = host ]; then
		dir=${BENCH_FS_PARENT:-/var/tmp}
		echo "== host: $dir as it is (nothing judged)" >&2
	else
		img=$work/$fs.img
		truncate -s 24G "$img"
		case $fs in
		ext4) mkfs.ext4 -q -F "$img" ;;
		xfs) mkfs.xfs -q -f "$img" ;;
		esac
		dev=$(losetup --direct-io=on --find --show "$img")
		loops="$loops $dev"
		dir=$work/mnt-$fs
		mkdir "$dir"
		mount "$dev" "$dir"
		chmod 1777 "$dir"
		echo "== $fs on $dev (image $img; judged at $judge clients)" >&2
	fi
	go run ./cmd/tentacle_bench -dir "$dir" -judge "$judge" -o "$reports/report-$fs.md" "$@"
	ran="$ran $fs"
done

# small_cells FS judged|reported: the small-file lines of FS's summary
# that are judged (their result is PASS or FAIL) or only reported.
small_cells() {
	grep '^| small files (' "$reports/report-$1.md" | while IFS= read -r line; do
		case $2:$line in
		judged:*"| **PASS** |" | judged:*"| **FAIL** |" | reported:*"| reported, not judged |")
			printf '%-5s %s\n' "$1" "$line"
			;;
		esac
	done
}
echo
echo "== Small files, reported with their CPU ceiling, not judged"
for fs in $ran; do small_cells "$fs" reported; done
echo
echo "== Small files, judged (>= 70% of raw: fresh ext4 at 16 and 64 clients, fresh XFS at 16)"
for fs in $ran; do small_cells "$fs" judged; done
