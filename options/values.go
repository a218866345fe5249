package options

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"
)

// number describes a numeric setting: its name in messages and its bounds.
type number struct {
	what string
	min  int64
	max  int64
	// hardMax marks a maximum that is part of the setting's meaning (port
	// numbers), so messages always state it; other maxima only guard
	// against overflow and are mentioned when exceeded.
	hardMax bool
}

// Settings shared by the server and the client.
var (
	portNumber      = number{what: "port", min: 1, max: 65535, hardMax: true}
	proxyPortNumber = number{what: "relay port", min: 1, max: 65535, hardMax: true}
	timeoutNumber   = number{what: "timeout in seconds", min: 1, max: math.MaxInt32}
	retriesNumber   = number{what: "number of retries", min: 1, max: math.MaxInt32}
	maxConnNumber   = number{what: "maximum connections", min: 1, max: math.MaxInt32}
	maxSizeNumber   = number{what: "maximum file size in bytes", min: 1, max: math.MaxInt64}
	blockSizeNumber = number{what: "block size in bytes", min: 1, max: math.MaxInt32}
	proxyStringPort = number{what: "proxy port", min: 1, max: 65535, hardMax: true}
)

// parse checks a setting's value against the number's rules. Like the
// reference's /^\d+$/, only plain digits are accepted (no sign, no blanks);
// leading zeros are read as decimal, as Perl does. The maxima for counts and
// times (2147483647) are not in the reference; they keep the value usable
// as an int and as a time.Duration everywhere.
func (n number) parse(st setting) (int64, error) {
	expect := fmt.Sprintf("%s must be a whole number ≥ %d", n.what, n.min)
	if n.hardMax {
		expect = fmt.Sprintf("%s must be a whole number from %d to %d", n.what, n.min, n.max)
	}
	if !allDigits(st.value) {
		return 0, st.fail(expect)
	}
	v, err := strconv.ParseInt(st.value, 10, 64)
	if err != nil || v > n.max {
		if n.hardMax {
			return 0, st.fail(expect)
		}
		return 0, st.fail(fmt.Sprintf("%s is too large (at most %d)", n.what, n.max))
	}
	if v < n.min {
		return 0, st.fail(expect)
	}
	return v, nil
}

// parseInt is parse for settings stored in an int; every such number has a
// maximum that fits.
func (n number) parseInt(st setting) (int, error) {
	v, err := n.parse(st)
	return int(v), err
}

// checkRegularFile checks that a TLS file named by a setting exists and is
// a regular file (after following symbolic links), as the reference's -f
// test does. Whether it is readable is left to the code that loads it,
// which may run under another user.
func checkRegularFile(st setting, what string) error {
	fi, err := os.Stat(st.value)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return st.fail(what + " does not exist")
		}
		return st.failErr("cannot check the "+what, err)
	}
	if !fi.Mode().IsRegular() {
		return st.fail(what + " is not a regular file")
	}
	return nil
}
