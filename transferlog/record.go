package transferlog

import (
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"tentacle/protocol"
)

// Record is one line of the transfer log: enough for an administrator to
// answer "did agent X's file arrive, where did it go, and if not, why" with
// grep or jq, whatever the human log said.
type Record struct {
	Time       time.Time `json:"time"`
	Client     string    `json:"client"`
	Port       int       `json:"port"`
	TLSSubject string    `json:"tls_subject,omitempty"`
	Command    string    `json:"command"`
	File       string    `json:"file"`
	Path       string    `json:"path,omitempty"`
	Bytes      int64     `json:"bytes"`
	DurationMS float64   `json:"duration_ms"`
	Result     string    `json:"result"` // ok, refused or failed
	Reason     string    `json:"reason,omitempty"`
}

// Results of a transfer, as records name them.
const (
	ResultOK      = "ok"
	ResultRefused = "refused" // the server said no: name, size, exists, ...
	ResultFailed  = "failed"  // the connection broke or the disk failed
)

// NewRecord describes a finished transfer. storageDir makes Path absolute,
// so that records stay meaningful after the storage directory moves.
func NewRecord(t protocol.Transfer, storageDir string) Record {
	r := Record{
		Time:       t.Start.Add(t.Duration),
		TLSSubject: t.TLSSubject,
		Command:    t.Command,
		File:       t.Name,
		Bytes:      t.Bytes,
		DurationMS: float64(t.Duration.Microseconds()) / 1000,
		Result:     ResultOK,
	}
	if t.Path != "" && storageDir != "" {
		r.Path = filepath.Join(storageDir, filepath.FromSlash(t.Path))
	}
	if t.Remote != nil {
		host, port, err := net.SplitHostPort(t.Remote.String())
		if err == nil {
			r.Client = host
			r.Port, _ = strconv.Atoi(port)
		} else {
			r.Client = t.Remote.String()
		}
	}
	if t.Err != nil {
		r.Result, r.Reason = ResultFailed, t.Err.Error()
		for _, refusal := range []error{protocol.ErrInvalidName, protocol.ErrTooBig, protocol.ErrExists, protocol.ErrNotExist, protocol.ErrBadArchive, protocol.ErrRefused} {
			if errors.Is(t.Err, refusal) {
				r.Result = ResultRefused
				break
			}
		}
	}
	return r
}
