//go:build !linux

package protocol

import (
	"errors"
	"net"
	"os"
	"time"
)

var errNoSplice = errors.New("splice not available")

// spliceUpload is Linux only; elsewhere uploads take the copying path.
func spliceUpload(*os.File, *net.TCPConn, int64, time.Duration) (int64, error, error) {
	return 0, nil, errNoSplice
}
