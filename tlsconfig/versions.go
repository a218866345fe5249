package tlsconfig

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// defaultMinVersion and defaultMaxVersion bound the protocol range used when
// no specific version is requested. TLS 1.2 as the floor matches Debian's
// OpenSSL configuration (MinProtocol = TLSv1.2), which is what the Perl
// reference implementation effectively negotiates on a current system even
// though IO::Socket::SSL itself only excludes SSLv2/SSLv3.
const (
	defaultMinVersion = tls.VersionTLS12
	defaultMaxVersion = tls.VersionTLS13
)

// versionsAscending lists the protocol versions crypto/tls implements, lowest
// first; exclusions are evaluated against this list.
var versionsAscending = []uint16{
	tls.VersionTLS10,
	tls.VersionTLS11,
	tls.VersionTLS12,
	tls.VersionTLS13,
}

// versionKind classifies one token of an SSL_version string.
type versionKind int

const (
	versionUnknown  versionKind = iota
	versionGeneric              // SSLv23 and friends: "whatever the library allows"
	versionSpecific             // exactly one TLS version
	versionSSL                  // SSLv2 or SSLv3: recognised but not implemented by Go
)

// classifyVersion maps one (already lower-cased, un-negated) token to its
// meaning. Besides the spellings IO::Socket::SSL accepts (SSLv2, SSLv3,
// SSLv23, SSLv2/3, TLSv1, TLSv1_1, TLSv11, ...), it also accepts the dotted
// form used by OpenSSL's MinProtocol setting ("TLSv1.2") and the generic
// words "TLS" and "any", because administrators copy version strings from
// both worlds.
func classifyVersion(tok string) (versionKind, uint16) {
	switch tok {
	case "sslv23", "sslv2/3", "tls", "any":
		return versionGeneric, 0
	case "sslv2", "sslv3":
		return versionSSL, 0
	}
	rest, ok := strings.CutPrefix(tok, "tlsv1")
	if !ok {
		return versionUnknown, 0
	}
	// Accept "", "_N", ".N" and "N" after "TLSv1".
	if rest != "" && (rest[0] == '_' || rest[0] == '.') {
		rest = rest[1:]
		if rest == "" {
			return versionUnknown, 0
		}
	}
	switch rest {
	case "", "0":
		return versionSpecific, tls.VersionTLS10
	case "1":
		return versionSpecific, tls.VersionTLS11
	case "2":
		return versionSpecific, tls.VersionTLS12
	case "3":
		return versionSpecific, tls.VersionTLS13
	}
	return versionUnknown, 0
}

// ParseVersion interprets an IO::Socket::SSL SSL_version string (the value of
// the Tentacle -z option) and returns the protocol range to put into
// tls.Config.MinVersion and MaxVersion.
//
// The string is a colon-separated list, matched case-insensitively, in which
// at most one entry selects a protocol and any entry prefixed with "!"
// excludes one:
//
//   - "", "SSLv23", "SSLv2/3", "TLS" or "any" select the library default,
//     TLS 1.2 to TLS 1.3. The floor is 1.2 because Debian's OpenSSL refuses
//     older versions unless asked, so that is what the reference
//     implementation negotiates on a current system.
//   - "TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3" (also written "TLSv1.2",
//     "TLSv12") select exactly that version, as IO::Socket::SSL does by
//     creating a version-specific OpenSSL context. This is the only way to
//     enable TLS 1.0 or 1.1.
//   - "!TLSv1_1" etc. remove a version from the selection; "!SSLv2" and
//     "!SSLv3" are accepted and have no effect because Go never speaks SSL.
//
// For example "SSLv23:!SSLv3:!SSLv2:!TLSv1:!TLSv1_1" yields TLS 1.2-1.3 and
// "SSLv23:!TLSv1_2" yields TLS 1.3 only.
//
// It is an error, naming the offending entry, to select SSLv2 or SSLv3 (Go
// does not implement them), to select two different protocols (IO::Socket::SSL
// refuses that too), to use an unknown entry, or to exclude every version.
// The returned min and max are always non-zero on success, so that Go's
// implicit defaults never apply.
func ParseVersion(s string) (minVersion, maxVersion uint16, err error) {
	var (
		selected    string // the token that selected a protocol, for messages
		selKind     = versionGeneric
		selVersion  uint16
		excludedSet = map[uint16]bool{}
	)
	for raw := range strings.SplitSeq(s, ":") {
		tok := strings.TrimSpace(raw)
		if tok == "" {
			continue
		}
		neg := strings.HasPrefix(tok, "!")
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(tok, "!")))
		kind, v := classifyVersion(name)
		switch {
		case kind == versionUnknown:
			return 0, 0, fmt.Errorf("unknown TLS version %q in %q", tok, s)
		case neg && kind == versionGeneric:
			return 0, 0, fmt.Errorf("cannot exclude %q in TLS version %q: only specific versions can be excluded", tok, s)
		case neg && kind == versionSSL:
			// Go never negotiates SSLv2/SSLv3, so the exclusion is already in effect.
		case neg:
			excludedSet[v] = true
		case kind == versionSSL:
			return 0, 0, fmt.Errorf("TLS version %q in %q is not supported: SSLv2 and SSLv3 are insecure and not implemented", tok, s)
		default:
			if selected != "" && (kind != selKind || v != selVersion) {
				return 0, 0, fmt.Errorf("TLS version %q in %q conflicts with %q: only one protocol can be selected (use \"!\" to exclude versions instead)", tok, s, selected)
			}
			selected, selKind, selVersion = tok, kind, v
		}
	}

	lo, hi := uint16(defaultMinVersion), uint16(defaultMaxVersion)
	if selKind == versionSpecific {
		lo, hi = selVersion, selVersion
	}
	var remaining []uint16
	for _, v := range versionsAscending {
		if v >= lo && v <= hi && !excludedSet[v] {
			remaining = append(remaining, v)
		}
	}
	if len(remaining) == 0 {
		return 0, 0, fmt.Errorf("TLS version %q excludes every supported version (%s to %s)", s, tls.VersionName(lo), tls.VersionName(hi))
	}
	// crypto/tls can only express a contiguous range. With the ranges above a
	// gap cannot arise today, but check rather than silently widen the range
	// should defaultMinVersion ever be lowered.
	for i := 1; i < len(remaining); i++ {
		if remaining[i] != nextVersion(remaining[i-1]) {
			return 0, 0, fmt.Errorf("TLS version %q leaves a non-contiguous set of versions, which cannot be configured", s)
		}
	}
	return remaining[0], remaining[len(remaining)-1], nil
}

// nextVersion returns the protocol version following v in versionsAscending,
// or 0 if v is the last one.
func nextVersion(v uint16) uint16 {
	for i, w := range versionsAscending {
		if w == v && i+1 < len(versionsAscending) {
			return versionsAscending[i+1]
		}
	}
	return 0
}
