package tlsconfig

import (
	"crypto/tls"
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	const (
		v10 = tls.VersionTLS10
		v11 = tls.VersionTLS11
		v12 = tls.VersionTLS12
		v13 = tls.VersionTLS13
	)
	tests := []struct {
		in       string
		min, max uint16
		errHas   string // non-empty: expect an error containing this
	}{
		// Defaults.
		{in: "", min: v12, max: v13},
		{in: "SSLv23", min: v12, max: v13},
		{in: "sslv23", min: v12, max: v13},
		{in: "SSLv2/3", min: v12, max: v13},
		{in: "TLS", min: v12, max: v13},
		{in: "any", min: v12, max: v13},
		{in: "ANY", min: v12, max: v13},
		{in: "  SSLv23  ", min: v12, max: v13},

		// Single versions in every spelling.
		{in: "TLSv1", min: v10, max: v10},
		{in: "tlsv1", min: v10, max: v10},
		{in: "TLSv1_0", min: v10, max: v10},
		{in: "TLSv1.0", min: v10, max: v10},
		{in: "TLSv1_1", min: v11, max: v11},
		{in: "TLSv1.1", min: v11, max: v11},
		{in: "TLSv11", min: v11, max: v11},
		{in: "TLSv1_2", min: v12, max: v12},
		{in: "TLSv1.2", min: v12, max: v12},
		{in: "TLSv12", min: v12, max: v12},
		{in: "tlsv1_2", min: v12, max: v12},
		{in: "TLSv1_3", min: v13, max: v13},
		{in: "TLSv1.3", min: v13, max: v13},
		{in: "TLSv13", min: v13, max: v13},

		// Exclusions.
		{in: "SSLv23:!SSLv3:!SSLv2:!TLSv1:!TLSv1_1", min: v12, max: v13},
		{in: "SSLv23 : !SSLv2 : !SSLv3", min: v12, max: v13},
		{in: "SSLv23:!TLSv1_2", min: v13, max: v13},
		{in: "SSLv23:!TLSv1_3", min: v12, max: v12},
		{in: "!TLSv1_3", min: v12, max: v12},
		{in: "!SSLv2:!SSLv3", min: v12, max: v13},
		{in: "TLSv1_2:!TLSv1_1", min: v12, max: v12},
		{in: "TLSv1_2:TLSv12", min: v12, max: v12}, // same protocol twice
		{in: "SSLv23:", min: v12, max: v13},        // empty entry ignored

		// Errors, each naming the offending entry.
		{in: "SSLv3", errHas: `"SSLv3"`},
		{in: "SSLv2", errHas: "not supported"},
		{in: "sslv3:!TLSv1", errHas: "not supported"},
		{in: "TLSv1_4", errHas: `"TLSv1_4"`},
		{in: "TLSv2", errHas: `unknown TLS version "TLSv2"`},
		{in: "TLSv1_", errHas: `"TLSv1_"`},
		{in: "SSLv23:!TLSv9", errHas: `"!TLSv9"`},
		{in: "bogus", errHas: `"bogus"`},
		{in: "TLSv1_2:TLSv1_3", errHas: `"TLSv1_3"`},
		{in: "SSLv23:TLSv1_2", errHas: "only one protocol"},
		{in: "!SSLv23", errHas: `"!SSLv23"`},
		{in: "TLSv1_2:!TLSv1_2", errHas: "excludes every"},
		{in: "SSLv23:!TLSv1_2:!TLSv1_3", errHas: "excludes every"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			minV, maxV, err := ParseVersion(tt.in)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("ParseVersion(%q) = %x, %x, %v; want error containing %q", tt.in, minV, maxV, err, tt.errHas)
				}
				return
			}
			if err != nil || minV != tt.min || maxV != tt.max {
				t.Fatalf("ParseVersion(%q) = %s, %s, %v; want %s, %s", tt.in,
					tls.VersionName(minV), tls.VersionName(maxV), err, tls.VersionName(tt.min), tls.VersionName(tt.max))
			}
		})
	}
}
