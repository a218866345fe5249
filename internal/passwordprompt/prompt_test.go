package passwordprompt

import (
	"errors"
	"io"
	"os"
	"testing"
)

func TestAskFromPipe(t *testing.T) {
	tests := []struct {
		input string
		want  string
		err   error
	}{
		{"secret\nsecret\n", "secret", nil},
		{"with space\r\nwith space", "with space", nil},
		{"one\ntwo\n", "", ErrMismatch},
		{"only once\n", "", io.EOF},
	}
	for _, tt := range tests {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, tt.input)
		w.Close()
		got, err := Ask(r, io.Discard, "Password")
		r.Close()
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("Ask(%q) = %q, %v; want %q, %v", tt.input, got, err, tt.want, tt.err)
		}
	}
}
