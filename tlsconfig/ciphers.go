package tlsconfig

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// openSSLNames gives the OpenSSL name of every cipher suite crypto/tls
// implements, keyed by the IANA name crypto/tls reports. The Tentacle -u
// option is handed to OpenSSL by the Perl implementation, so existing
// configurations use these names. The table only supplies names: which
// suites exist is taken from tls.CipherSuites and tls.InsecureCipherSuites
// (see buildCipherTable), and a test checks that every suite Go implements
// has an entry here, so a suite added by a future Go release is noticed.
var openSSLNames = map[string]string{
	// TLS 1.3: OpenSSL uses the IANA names.
	"TLS_AES_128_GCM_SHA256":       "TLS_AES_128_GCM_SHA256",
	"TLS_AES_256_GCM_SHA384":       "TLS_AES_256_GCM_SHA384",
	"TLS_CHACHA20_POLY1305_SHA256": "TLS_CHACHA20_POLY1305_SHA256",

	// ECDHE key exchange, ECDSA authentication.
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA":          "ECDHE-ECDSA-AES128-SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA":          "ECDHE-ECDSA-AES256-SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256":       "ECDHE-ECDSA-AES128-SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256":       "ECDHE-ECDSA-AES128-GCM-SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384":       "ECDHE-ECDSA-AES256-GCM-SHA384",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
	"TLS_ECDHE_ECDSA_WITH_RC4_128_SHA":              "ECDHE-ECDSA-RC4-SHA",

	// ECDHE key exchange, RSA authentication.
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA":          "ECDHE-RSA-AES128-SHA",
	"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA":          "ECDHE-RSA-AES256-SHA",
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256":       "ECDHE-RSA-AES128-SHA256",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256":       "ECDHE-RSA-AES128-GCM-SHA256",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384":       "ECDHE-RSA-AES256-GCM-SHA384",
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
	"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA":         "ECDHE-RSA-DES-CBC3-SHA",
	"TLS_ECDHE_RSA_WITH_RC4_128_SHA":              "ECDHE-RSA-RC4-SHA",

	// Static RSA key exchange.
	"TLS_RSA_WITH_AES_128_CBC_SHA":    "AES128-SHA",
	"TLS_RSA_WITH_AES_256_CBC_SHA":    "AES256-SHA",
	"TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
	"TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
	"TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
	"TLS_RSA_WITH_3DES_EDE_CBC_SHA":   "DES-CBC3-SHA",
	"TLS_RSA_WITH_RC4_128_SHA":        "RC4-SHA",
}

// cipherTable is the lookup structure built once from crypto/tls.
type cipherTable struct {
	// byName maps upper-cased OpenSSL and IANA names to the suite.
	byName map[string]*tls.CipherSuite
	// byID maps suite IDs to the suite.
	byID map[uint16]*tls.CipherSuite
	// defaults are the TLS <= 1.2 suites Go enables when Config.CipherSuites
	// is nil; used when a keyword such as HIGH is combined with other entries.
	defaults []uint16
}

var ciphers = buildCipherTable()

// buildCipherTable indexes every suite crypto/tls implements, secure or not,
// under its IANA name and, when known, its OpenSSL name. Insecure suites are
// included on purpose: the reference implementation lets an administrator
// select e.g. DES-CBC3-SHA for an old peer, and refusing that here would
// break such installations; they are never enabled unless named.
func buildCipherTable() cipherTable {
	t := cipherTable{byName: map[string]*tls.CipherSuite{}, byID: map[uint16]*tls.CipherSuite{}}
	for _, s := range tls.CipherSuites() {
		t.add(s)
		if supportsBelowTLS13(s) {
			t.defaults = append(t.defaults, s.ID)
		}
	}
	for _, s := range tls.InsecureCipherSuites() {
		t.add(s)
	}
	return t
}

func (t cipherTable) add(s *tls.CipherSuite) {
	t.byID[s.ID] = s
	t.byName[strings.ToUpper(s.Name)] = s
	if o, ok := openSSLNames[s.Name]; ok {
		t.byName[strings.ToUpper(o)] = s
	}
}

// supportsBelowTLS13 reports whether s can be negotiated with TLS 1.2 or
// earlier, i.e. whether Config.CipherSuites governs it at all.
func supportsBelowTLS13(s *tls.CipherSuite) bool {
	return slices.ContainsFunc(s.SupportedVersions, func(v uint16) bool { return v < tls.VersionTLS13 })
}

// isTLS13Only reports whether s is a TLS 1.3 suite, which crypto/tls does not
// allow to be configured.
func isTLS13Only(s *tls.CipherSuite) bool { return !supportsBelowTLS13(s) }

// cipherKeywords are the OpenSSL cipher-string keywords accepted as "the
// library's default selection". OpenSSL's ALL and HIGH include suites Go
// deliberately leaves out of its default (static RSA key exchange, CBC-SHA256,
// 3DES); mapping them to Go's default keeps the common "HIGH:!aNULL:!MD5"
// style configurations working without resurrecting weak suites.
var cipherKeywords = map[string]bool{"DEFAULT": true, "ALL": true, "HIGH": true}

// cipherClasses are OpenSSL class names that are honoured when excluded
// ("!RC4", "-kRSA") because crypto/tls implements members of them. Other
// class names in an exclusion (aNULL, eNULL, EXPORT, LOW, MD5, PSK, SRP,
// DSS, CAMELLIA, ...) refer only to suites Go does not implement and are
// therefore already excluded; they are ignored.
var cipherClasses = map[string]func(*tls.CipherSuite) bool{
	"RC4":  func(s *tls.CipherSuite) bool { return strings.Contains(s.Name, "_RC4_") },
	"3DES": func(s *tls.CipherSuite) bool { return strings.Contains(s.Name, "_3DES_") },
	"KRSA": func(s *tls.CipherSuite) bool { return strings.HasPrefix(s.Name, "TLS_RSA_") },
	"RSA":  func(s *tls.CipherSuite) bool { return strings.HasPrefix(s.Name, "TLS_RSA_") }, // OpenSSL: RSA is an alias of kRSA
}

// ParseCiphers interprets an OpenSSL cipher list (the value of the Tentacle
// -u option, passed to OpenSSL's SSL_CTX_set_cipher_list by the reference
// implementation) and returns the value for tls.Config.CipherSuites.
//
// Entries are separated by ':', ',' or white space and matched
// case-insensitively:
//
//   - An OpenSSL suite name ("AES256-SHA", "ECDHE-RSA-AES128-GCM-SHA256") or
//     IANA name ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") of any suite
//     crypto/tls implements selects that suite, including ones Go considers
//     insecure, because the administrator asked for it explicitly.
//   - "DEFAULT", "ALL" and "HIGH" select Go's default suites. OpenSSL's ALL
//     and HIGH also contain suites Go leaves out of its default on purpose
//     (static RSA key exchange, CBC-SHA256, 3DES); following Go keeps the
//     common "HIGH:!aNULL:!MD5" style lists working without reviving them.
//     Other OpenSSL keywords (MEDIUM, LOW, COMPLEMENTOFDEFAULT, ...) are
//     errors.
//   - TLS 1.3 suite names ("TLS_AES_256_GCM_SHA384") are accepted but have no
//     effect: crypto/tls does not allow TLS 1.3 suites to be restricted (they
//     are all AEAD and considered safe), so this option only governs TLS 1.2
//     and earlier.
//   - Entries starting with '!' or '-' remove suites: an exact suite name
//     removes that suite, and the classes RC4, 3DES, kRSA and RSA remove
//     their members. '!' also prevents later entries from adding it back, as
//     in OpenSSL. Other class exclusions (!aNULL, !eNULL, !EXPORT, !MD5, ...)
//     name suites Go never offers and are ignored.
//   - Entries starting with '+' (move to end) or '@' (@STRENGTH,
//     @SECLEVEL=n) only affect ordering or OpenSSL's security level and are
//     ignored: crypto/tls orders suites itself and ignores Config order.
//
// An entry that is none of the above, including OpenSSL's combined class
// expressions such as "ECDHE+AESGCM", is an error naming that entry, so a
// typo cannot silently change what is negotiated.
//
// The result is nil, meaning "Go's defaults", when s is empty or selects
// exactly what a keyword selects (e.g. "HIGH:!aNULL:!RC4"), so that Go's own
// policy, including its GODEBUG switches, keeps applying. It is an empty,
// non-nil slice when s names TLS 1.3 suites but leaves no TLS 1.2 suite,
// meaning only TLS 1.3 can be negotiated; Server and Client then require TLS
// 1.3, or fail if the version option forbids it. A list that selects nothing
// at all (for example only exclusions, or every named suite excluded again)
// is an error, as it is in OpenSSL.
func ParseCiphers(s string) ([]uint16, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ':' || r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(fields) == 0 {
		return nil, nil
	}
	sel := cipherSelection{banned: map[uint16]bool{}}
	for _, f := range fields {
		if err := sel.apply(f); err != nil {
			return nil, fmt.Errorf("%w in cipher list %q", err, s)
		}
	}
	switch {
	case !sel.anyInclude:
		return nil, fmt.Errorf("cipher list %q selects no cipher suite", s)
	case sel.useDefault && !sel.concrete:
		// Leave the choice to crypto/tls so its own policy (and GODEBUG
		// settings) keep applying.
		return nil, nil
	case len(sel.selected) == 0 && !sel.sawTLS13:
		return nil, fmt.Errorf("cipher list %q selects no cipher suite: every selected suite is excluded", s)
	case len(sel.selected) == 0:
		return []uint16{}, nil
	}
	return sel.selected, nil
}

// cipherSelection is a cipher list read so far, entry by entry.
type cipherSelection struct {
	selected   []uint16
	banned     map[uint16]bool
	useDefault bool // a keyword was used
	concrete   bool // the result differs from what the keywords alone select
	anyInclude bool // at least one entry selected something
	sawTLS13   bool // a TLS 1.3 suite was named
}

// apply reads one entry of the list: a suite, a keyword or a class, to
// add, or (after "!" or "-") to remove; "@" and "+" entries are ignored.
func (sel *cipherSelection) apply(f string) error {
	switch f[0] {
	case '@', '+':
		return nil
	case '!', '-':
		name := strings.ToUpper(f[1:])
		ban := f[0] == '!'
		if st, ok := ciphers.byName[name]; ok {
			if !isTLS13Only(st) {
				sel.remove(func(c *tls.CipherSuite) bool { return c.ID == st.ID }, ban)
			}
		} else if match, ok := cipherClasses[name]; ok {
			sel.remove(match, ban)
		}
		return nil
	}
	name := strings.ToUpper(f)
	if cipherKeywords[name] {
		sel.useDefault, sel.anyInclude = true, true
		sel.include(ciphers.defaults...)
		return nil
	}
	st, ok := ciphers.byName[name]
	if !ok {
		return fmt.Errorf("unknown cipher %q", f)
	}
	sel.anyInclude = true
	if isTLS13Only(st) {
		sel.sawTLS13 = true
		return nil
	}
	sel.concrete = true
	sel.include(st.ID)
	return nil
}

// remove deletes the matching suites from the selection and, for '!',
// bans them from being added later. Only a removal that changes what a
// keyword selected makes the result concrete, so "HIGH:!RC4" still means
// "Go's defaults".
func (sel *cipherSelection) remove(match func(*tls.CipherSuite) bool, ban bool) {
	if ban {
		for id, st := range ciphers.byID {
			if match(st) {
				sel.banned[id] = true
			}
		}
	}
	before := len(sel.selected)
	sel.selected = slices.DeleteFunc(sel.selected, func(id uint16) bool { return match(ciphers.byID[id]) })
	if len(sel.selected) != before {
		sel.concrete = true
	}
}

// include adds suites that are not banned; narrowing a keyword's set by a
// ban makes the result concrete.
func (sel *cipherSelection) include(ids ...uint16) {
	for _, id := range ids {
		switch {
		case sel.banned[id]:
			sel.concrete = true
		case !slices.Contains(sel.selected, id):
			sel.selected = append(sel.selected, id)
		}
	}
}
