package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
)

// FuzzProxyHeader feeds arbitrary bytes to the PROXY header path of a
// trusted balancer's connection. Whatever arrives, the answer is a client
// address, a health check or an error that the server turns into a close
// and a log line: never a panic, never an address it cannot use, and
// never more bytes taken than the header holds. The seeds, in
// testdata/fuzz/FuzzProxyHeader, run with every go test; go test
// -fuzz=FuzzProxyHeader ./protocol/ searches further.
func FuzzProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.1 127.0.0.1 40000 41121\r\nSEND <a> SIZE 1\n"))
	f.Add(proxyHeader(f, 2, "[2001:db8::1]:1", "[::1]:41121"))
	f.Add(localHeader(2))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := bytes.NewReader(data)
		br := bufio.NewReaderSize(src, proxyReaderSize)
		client, err := readProxyHeader(br, fuzzPeer, fuzzLocal)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, errNoProxyHeader) && !errors.Is(err, errBadProxyHeader) {
				t.Fatalf("error %v is neither EOF nor a header error", err)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if client != nil {
			tcp, ok := client.(*net.TCPAddr)
			if !ok || (tcp.IP.To4() == nil && tcp.IP.To16() == nil) || tcp.Port < 0 || tcp.Port > 65535 {
				t.Fatalf("client address %#v", client)
			}
			_ = client.String()
		}
		// What follows the header is left for the commands, whole.
		consumed := len(data) - src.Len() - br.Buffered()
		if rest := data[consumed:]; consumed < 0 || !bytes.HasPrefix(rest, peekAll(br)) {
			t.Fatalf("header took %d bytes and left %q buffered of %q", consumed, peekAll(br), data)
		}
	})
}

// The connection the fuzzed bytes arrive on; a header naming it is a
// health check.
var (
	fuzzPeer  = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}
	fuzzLocal = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41121}
)

func peekAll(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return b
}
