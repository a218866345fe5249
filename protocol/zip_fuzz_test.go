package protocol

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// FuzzUnzipFirst feeds arbitrary bytes to unzipFirst as a ZSEND archive.
// A ZSEND archive is the one thing a client sends that the server parses
// beyond a command line, and a ZIP is a small input that can describe a
// huge output, so whatever the bytes and the cap, unzipFirst must:
//
//   - never panic, and never give the destination more than the cap;
//   - report the destination's write error as such (wrapped, so that
//     receiveArchive can tell ErrStorage), never as the archive's fault,
//     and otherwise return nil, ErrTooBig or ErrBadArchive, exactly one;
//   - when it returns nil, have written exactly the first member's content
//     as archive/zip reads it, and returned that count.
//
// The destination is a disk with room for at most 1 MiB (less when the
// fuzzer says so), which bounds memory whatever the archive inflates to
// and exercises the full-disk path.
func FuzzUnzipFirst(f *testing.F) {
	addZipSeeds(f)
	f.Fuzz(func(t *testing.T, archive []byte, max int64, room uint32) {
		max &= math.MaxInt64 // the callers' caps are never negative: fold
		disk := &fuzzDisk{room: int(min(room, maxFuzzRoom))}
		n, err := unzipFirst(disk, bytes.NewReader(archive), int64(len(archive)), max)

		if int64(disk.buf.Len()) > max {
			t.Fatalf("wrote %d bytes, cap %d", disk.buf.Len(), max)
		}
		if n != int64(disk.buf.Len()) {
			t.Fatalf("returned %d, wrote %d", n, disk.buf.Len())
		}
		kinds := 0
		for _, kind := range []error{ErrTooBig, ErrBadArchive, errFuzzDiskFull} {
			if errors.Is(err, kind) {
				kinds++
			}
		}
		if err != nil && kinds != 1 {
			t.Fatalf("error %q is not exactly one of too big, bad archive, disk full", err)
		}
		if disk.full != errors.Is(err, errFuzzDiskFull) {
			t.Fatalf("disk full %v, error %v: a storage failure must be told from the archive's", disk.full, err)
		}

		// What archive/zip itself reads, up to a byte more than any disk.
		ref := readFirstMember(archive, maxFuzzRoom+1)
		got := disk.buf.Bytes()
		switch {
		case ref.broken != nil:
			if !errors.Is(err, ErrBadArchive) || n != 0 {
				t.Fatalf("archive/zip: %v; unzipFirst: %d bytes, %v", ref.broken, n, err)
			}
		case ref.declared > uint64(max):
			if !errors.Is(err, ErrTooBig) || n != 0 {
				t.Fatalf("member declares %d bytes, cap %d; unzipFirst: %d bytes, %v", ref.declared, max, n, err)
			}
		case ref.openErr != nil:
			if !errors.Is(err, ErrBadArchive) || n != 0 {
				t.Fatalf("archive/zip: %v; unzipFirst: %d bytes, %v", ref.openErr, n, err)
			}
		case ref.readErr == nil && len(ref.content) <= disk.room:
			if err != nil || !bytes.Equal(got, ref.content) {
				t.Fatalf("archive/zip reads %d bytes; unzipFirst: %d bytes, %v", len(ref.content), n, err)
			}
		case ref.readErr == nil && len(ref.content) <= maxFuzzRoom:
			if !errors.Is(err, errFuzzDiskFull) || !bytes.Equal(got, ref.content[:disk.room]) {
				t.Fatalf("archive/zip reads %d bytes, the disk holds %d; unzipFirst: %d bytes, %v", len(ref.content), disk.room, n, err)
			}
		default:
			// The member is more than any disk holds or is cut short by a
			// fault. Both readers stop at the same fault in the same
			// stream, but a read that crosses the declared size is
			// dropped whole, and they read in pieces of different sizes:
			// a full disk or a bad archive, whichever unzipFirst meets
			// first, after a prefix of the same stream.
			if !errors.Is(err, ErrBadArchive) && !errors.Is(err, errFuzzDiskFull) ||
				!bytes.HasPrefix(got, ref.content) && !bytes.HasPrefix(ref.content, got) {
				t.Fatalf("archive/zip: %d bytes, %v; unzipFirst: %d bytes, %v", len(ref.content), ref.readErr, n, err)
			}
		}
	})
}

// maxFuzzRoom is the most a fuzzDisk holds: enough for any member a
// fuzzer makes up, little enough for memory.
const maxFuzzRoom = 1 << 20

// errFuzzDiskFull is what fuzzDisk returns once it has no room left.
var errFuzzDiskFull = errors.New("fuzz disk full")

// fuzzDisk is the destination of an inflated upload: it keeps what it is
// given until room bytes are stored, then fails as a full disk would,
// storing what still fits of the write that overflows it.
type fuzzDisk struct {
	buf  bytes.Buffer
	room int
	full bool
}

func (d *fuzzDisk) Write(p []byte) (int, error) {
	if free := d.room - d.buf.Len(); len(p) > free {
		d.buf.Write(p[:free])
		d.full = true
		return free, errFuzzDiskFull
	}
	return d.buf.Write(p)
}

// firstMember is archive/zip's own reading of an archive's first member:
// the oracle for unzipFirst.
type firstMember struct {
	broken   error  // no archive, or no member
	declared uint64 // the member's uncompressed size, as the directory says
	openErr  error  // the member does not open
	content  []byte // what reading it gave, up to the limit
	readErr  error  // why the reading stopped, if not at the end
}

func readFirstMember(archive []byte, limit int64) firstMember {
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil && !(errors.Is(err, zip.ErrInsecurePath) && zr != nil) {
		return firstMember{broken: err}
	}
	if len(zr.File) == 0 {
		return firstMember{broken: errors.New("no member")}
	}
	m := zr.File[0]
	ref := firstMember{declared: m.UncompressedSize64}
	rc, err := m.Open()
	if err != nil {
		ref.openErr = err
		return ref
	}
	defer rc.Close()
	ref.content, ref.readErr = io.ReadAll(io.LimitReader(rc, limit))
	return ref
}

// addZipSeeds adds each of zipSeeds with caps around its first member's
// size, the client's cap and a disk too small for it.
func addZipSeeds(f *testing.F) {
	for _, s := range zipSeeds(f) {
		for _, max := range []int64{0, s.size - 1, s.size, s.size + 1, DefaultMaxSize, math.MaxInt64 - 1} {
			f.Add(s.archive, max, uint32(maxFuzzRoom))
		}
		f.Add(s.archive, int64(DefaultMaxSize), uint32(s.size/2))
	}
}

// zipSeed is an archive and the size of its first member's content.
type zipSeed struct {
	archive []byte
	size    int64
}

// zipSeeds are real archives, made with archive/zip: stored and deflated
// members, an empty one, two members, a directory first, a member that
// inflates a thousandfold, the same whose directory understates its size
// (a lie the size check alone would believe), a corrupt and a truncated
// archive, what writeZip itself sends for ZRECV, and two that are not
// archives.
func zipSeeds(tb testing.TB) []zipSeed {
	text := []byte(strings.Repeat("Tentacle agent data, line after line.\n", 4))
	zeros := make([]byte, 64<<10)
	modified := time.Unix(1700000000, 0)

	type member struct {
		name   string
		method uint16
		data   []byte
		lie    int // the size the directory states instead, if not 0
	}
	build := func(members ...member) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, m := range members {
			if m.lie != 0 {
				var raw bytes.Buffer
				fw, _ := flate.NewWriter(&raw, flate.BestCompression)
				fw.Write(m.data)
				fw.Close()
				w, err := zw.CreateRaw(&zip.FileHeader{Name: m.name, Method: zip.Deflate, Modified: modified,
					CRC32: crc32.ChecksumIEEE(m.data), CompressedSize64: uint64(raw.Len()), UncompressedSize64: uint64(m.lie)})
				if err != nil {
					tb.Fatal(err)
				}
				w.Write(raw.Bytes())
				continue
			}
			w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: m.method, Modified: modified})
			if err != nil {
				tb.Fatal(err)
			}
			if _, err := w.Write(m.data); err != nil {
				tb.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			tb.Fatal(err)
		}
		return buf.Bytes()
	}

	corrupt := build(member{name: "corrupt.data", method: zip.Deflate, data: text})
	zr, err := zip.NewReader(bytes.NewReader(corrupt), int64(len(corrupt)))
	if err != nil {
		tb.Fatal(err)
	}
	off, err := zr.File[0].DataOffset()
	if err != nil {
		tb.Fatal(err)
	}
	corrupt[off+int64(zr.File[0].CompressedSize64)/2] ^= 0xff // inside the deflate stream
	truncated := build(member{name: "truncated.data", method: zip.Deflate, data: text})
	truncated = truncated[:len(truncated)/2]
	var ours bytes.Buffer
	if err := writeZip(&ours, bytes.NewReader(text), "zrecv.data", modified); err != nil {
		tb.Fatal(err)
	}

	n := int64(len(text))
	return []zipSeed{
		{build(member{name: "stored.data", method: zip.Store, data: text}), n},
		{build(member{name: "deflated.data", method: zip.Deflate, data: text}), n},
		{build(member{name: "empty.data", method: zip.Deflate}), 0},
		{build(member{name: "first.data", method: zip.Deflate, data: text[:50]}, member{name: "second.data", method: zip.Store, data: text}), 50},
		{build(member{name: "dir/", method: zip.Store}, member{name: "dir/file.data", method: zip.Deflate, data: text}), 0},
		{build(member{name: "bomb.data", method: zip.Deflate, data: zeros}), int64(len(zeros))},
		{build(member{name: "lie.data", data: text, lie: 10}), 10},
		{build(member{name: "lying-bomb.data", data: zeros, lie: 1000}), 1000},
		{corrupt, n},
		{truncated, n},
		{ours.Bytes(), n},
		{nil, 0},
		{[]byte("PK\x05\x06" + strings.Repeat("\x00", 18)), 0},
	}
}
