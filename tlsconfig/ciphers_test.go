package tlsconfig

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"tentacle/internal/testharness"
)

func TestParseCiphers(t *testing.T) {
	var goDefaults []uint16
	for _, s := range tls.CipherSuites() {
		if supportsBelowTLS13(s) {
			goDefaults = append(goDefaults, s.ID)
		}
	}
	without := func(ids []uint16, drop ...uint16) []uint16 {
		return slices.DeleteFunc(slices.Clone(ids), func(id uint16) bool { return slices.Contains(drop, id) })
	}

	tests := []struct {
		name   string
		in     string
		want   []uint16 // compared as a set; nil means "want nil"
		empty  bool     // want an empty, non-nil slice
		errHas string
	}{
		{name: "empty", in: ""},
		{name: "blank", in: "  "},
		{name: "openssl name", in: "AES256-SHA", want: []uint16{tls.TLS_RSA_WITH_AES_256_CBC_SHA}},
		{name: "lower case", in: "aes256-sha", want: []uint16{tls.TLS_RSA_WITH_AES_256_CBC_SHA}},
		{name: "ecdhe rsa gcm", in: "ECDHE-RSA-AES128-GCM-SHA256", want: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
		{name: "ecdsa chacha", in: "ECDHE-ECDSA-CHACHA20-POLY1305", want: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}},
		{name: "rsa gcm", in: "AES128-GCM-SHA256", want: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}},
		{name: "3des", in: "DES-CBC3-SHA", want: []uint16{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}},
		{name: "iana name", in: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", want: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
		{
			name: "colon list", in: "ECDHE-RSA-AES256-GCM-SHA384:AES256-SHA",
			want: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_RSA_WITH_AES_256_CBC_SHA},
		},
		{
			name: "comma and space list", in: "AES128-SHA, AES256-SHA  ECDHE-RSA-AES128-SHA",
			want: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA},
		},
		{name: "duplicates", in: "AES256-SHA:TLS_RSA_WITH_AES_256_CBC_SHA", want: []uint16{tls.TLS_RSA_WITH_AES_256_CBC_SHA}},

		// Keywords and modifiers.
		{name: "DEFAULT", in: "DEFAULT"},
		{name: "ALL", in: "ALL"},
		{name: "HIGH with common exclusions", in: "HIGH:!aNULL:!MD5:!eNULL:!EXPORT:@STRENGTH"},
		{name: "high lower case", in: "high"},
		{name: "keyword plus 1.3 suite", in: "HIGH:TLS_AES_256_GCM_SHA384"},
		{name: "seclevel", in: "AES256-SHA:@SECLEVEL=0", want: []uint16{tls.TLS_RSA_WITH_AES_256_CBC_SHA}},
		{name: "plus modifier", in: "AES256-SHA:+AES256-SHA", want: []uint16{tls.TLS_RSA_WITH_AES_256_CBC_SHA}},
		{
			name: "keyword plus suite", in: "HIGH:AES256-SHA",
			want: append(slices.Clone(goDefaults), tls.TLS_RSA_WITH_AES_256_CBC_SHA),
		},
		{
			name: "keyword minus suite", in: "DEFAULT:!ECDHE-RSA-AES128-SHA",
			want: without(goDefaults, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA),
		},
		{
			name: "banned before keyword", in: "!ECDHE-RSA-AES128-SHA:HIGH",
			want: without(goDefaults, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA),
		},
		{name: "keyword minus class without effect", in: "HIGH:!RC4:!3DES:-kRSA"},
		{name: "keyword minus 1.3 suite", in: "HIGH:!TLS_AES_128_GCM_SHA256"},
		{
			name: "keyword minus class", in: "AES256-SHA:HIGH:!kRSA",
			want: goDefaults,
		},
		{
			name: "exclude class", in: "AES256-SHA:ECDHE-RSA-AES256-SHA:!kRSA",
			want: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA},
		},
		{
			name: "exclude 3DES", in: "DES-CBC3-SHA:ECDHE-RSA-DES-CBC3-SHA:AES128-SHA:!3DES",
			want: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA},
		},
		{
			name: "bang is permanent", in: "!AES128-SHA:AES128-SHA:AES256-SHA",
			want: []uint16{tls.TLS_RSA_WITH_AES_256_CBC_SHA},
		},
		{
			name: "minus is not permanent", in: "AES128-SHA:-AES128-SHA:AES128-SHA",
			want: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA},
		},

		// TLS 1.3 suites are accepted but cannot be configured.
		{name: "tls13 only", in: "TLS_AES_256_GCM_SHA384", empty: true},
		{name: "tls13 pair", in: "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256", empty: true},
		{name: "tls13 plus 1.2", in: "TLS_AES_128_GCM_SHA256:AES256-SHA", want: []uint16{tls.TLS_RSA_WITH_AES_256_CBC_SHA}},

		// Errors name the offending entry.
		{name: "unknown", in: "AES256-SHA:NOPE-CIPHER", errHas: `"NOPE-CIPHER"`},
		{name: "unsupported by go", in: "DHE-RSA-AES256-SHA", errHas: `"DHE-RSA-AES256-SHA"`},
		{name: "class combination", in: "ECDHE+AESGCM", errHas: `"ECDHE+AESGCM"`},
		{name: "unknown keyword", in: "MEDIUM", errHas: `"MEDIUM"`},
		{name: "only exclusions", in: "!aNULL:!MD5", errHas: "selects no cipher suite"},
		{name: "everything excluded", in: "AES256-SHA:!AES256-SHA", errHas: "selects no cipher suite"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCiphers(tt.in)
			switch {
			case tt.errHas != "":
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("ParseCiphers(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.errHas)
				}
			case err != nil:
				t.Fatalf("ParseCiphers(%q): %v", tt.in, err)
			case tt.empty:
				if got == nil || len(got) != 0 {
					t.Fatalf("ParseCiphers(%q) = %#v, want empty non-nil slice", tt.in, got)
				}
			case tt.want == nil:
				if got != nil {
					t.Fatalf("ParseCiphers(%q) = %v, want nil (Go defaults)", tt.in, names(got))
				}
			default:
				if !sameSet(got, tt.want) {
					t.Fatalf("ParseCiphers(%q) = %v, want %v", tt.in, names(got), names(tt.want))
				}
			}
		})
	}
}

// TestCipherTableComplete makes a new suite in a future Go release visible:
// every suite crypto/tls implements must have an OpenSSL name.
func TestCipherTableComplete(t *testing.T) {
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		o, ok := openSSLNames[s.Name]
		if !ok {
			t.Errorf("no OpenSSL name for %s", s.Name)
			continue
		}
		if got, err := ParseCiphers(o); err != nil || (supportsBelowTLS13(s) && !sameSet(got, []uint16{s.ID})) {
			t.Errorf("ParseCiphers(%q) = %v, %v; want %s", o, names(got), err, s.Name)
		}
	}
}

// TestCipherNamesMatchOpenSSL cross-checks the OpenSSL names against the
// installed openssl, which prints both names with -stdname.
func TestCipherNamesMatchOpenSSL(t *testing.T) {
	openssl := testharness.NeedTool(t, "openssl", "openssl")
	out, err := exec.Command(openssl, "ciphers", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0").Output()
	if err != nil {
		t.Skipf("openssl ciphers -stdname failed (%v); cannot cross-check", err)
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// Format: "IANA_NAME - OPENSSL-NAME TLSv1.2 Kx=... "
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[1] != "-" {
			continue
		}
		if want, ok := openSSLNames[fields[0]]; ok {
			checked++
			if want != fields[2] {
				t.Errorf("%s: table has %q, openssl says %q", fields[0], want, fields[2])
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d suites cross-checked; openssl output format changed?\n%s", checked, out)
	}
	t.Logf("cross-checked %d of %d OpenSSL names", checked, len(openSSLNames))
}

func sameSet(a, b []uint16) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b)) && len(a) > 0 == (len(b) > 0)
}

func names(ids []uint16) []string {
	var out []string
	for _, id := range ids {
		out = append(out, cipherSuiteName(id))
	}
	return out
}

// cipherSuiteName returns the OpenSSL name of a suite for messages, falling
// back to the IANA name.
func cipherSuiteName(id uint16) string {
	name := tls.CipherSuiteName(id)
	if o, ok := openSSLNames[name]; ok {
		return o
	}
	return name
}
