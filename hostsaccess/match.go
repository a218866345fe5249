package hostsaccess

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// unknownName is the placeholder libwrap uses for information it does not
// have; the KNOWN daemon pattern is defined as "anything but this".
const unknownName = "unknown"

// query holds what a rule is matched against, prepared once per check so
// that every pattern sees the same normalised view of the client.
type query struct {
	daemon string
	addr   netip.Addr // IPv4-mapped addresses already turned into IPv4; zone kept
	text   string     // addr as text without zone, the form libwrap compares words with
}

// newQuery normalises the daemon name and client address. A mapped
// address (::ffff:a.b.c.d) is matched as plain IPv4 because that is what
// the client really is, and because rules are almost always written with
// IPv4 patterns for IPv4 clients.
func newQuery(daemon string, addr netip.Addr) *query {
	if daemon == "" {
		daemon = unknownName
	}
	q := &query{daemon: daemon, addr: addr.Unmap()}
	if q.addr.IsValid() {
		q.text = q.addr.WithZone("").String()
	}
	return q
}

// pattern is one item of a daemon or client list.
type pattern interface {
	matches(q *query) bool
}

// patternList is a daemon or client list cut into groups at each EXCEPT.
// groups[0] says what the list covers, groups[1] what is carved out of it,
// groups[2] what is put back, and so on.
type patternList struct {
	groups [][]pattern
}

// matches applies the EXCEPT rule: a group counts only if none of the
// groups after it (evaluated the same way) takes the client back out.
func (l patternList) matches(q *query) bool {
	return l.matchFrom(0, q)
}

func (l patternList) matchFrom(i int, q *query) bool {
	if i >= len(l.groups) || !anyMatches(l.groups[i], q) {
		return false
	}
	return !l.matchFrom(i+1, q)
}

func anyMatches(ps []pattern, q *query) bool {
	for _, p := range ps {
		if p.matches(q) {
			return true
		}
	}
	return false
}

// constant is a pattern whose answer does not depend on the query: ALL,
// and every form that needs information this package never looks up.
type constant bool

func (c constant) matches(*query) bool { return bool(c) }

// knownDaemon is KNOWN in a daemon list: any daemon name but "unknown".
type knownDaemon struct{}

func (knownDaemon) matches(q *query) bool { return !strings.EqualFold(q.daemon, unknownName) }

// textKind says how a textPattern compares its word.
type textKind int

const (
	textExact  textKind = iota // whole string, ignoring case
	textPrefix                 // word ends in '.': leading part of the string
	textSuffix                 // word starts with '.': trailing part of the string
)

// textPattern compares a word with the daemon name or the address text the
// way libwrap's string matching does: case-insensitively, as a prefix when
// the word ends with a dot and as a suffix when it starts with one.
type textPattern struct {
	kind     textKind
	word     string
	onDaemon bool // compare with the daemon name rather than the address text
}

func newTextPattern(word string, onDaemon bool) textPattern {
	kind := textExact
	switch {
	case strings.HasPrefix(word, "."):
		kind = textSuffix
	case strings.HasSuffix(word, "."):
		kind = textPrefix
	}
	return textPattern{kind: kind, word: word, onDaemon: onDaemon}
}

func (p textPattern) matches(q *query) bool {
	s := q.text
	if p.onDaemon {
		s = q.daemon
	}
	switch p.kind {
	case textSuffix:
		n := len(s) - len(p.word)
		return n > 0 && strings.EqualFold(s[n:], p.word)
	case textPrefix:
		return len(s) >= len(p.word) && strings.EqualFold(s[:len(p.word)], p.word)
	default:
		return strings.EqualFold(s, p.word)
	}
}

// ipv4Net matches IPv4 clients whose address ANDed with mask equals net.
// Exact addresses, "a.b.c." prefixes, net/mask and CIDR all become this.
// The mask need not be contiguous, as libwrap allows.
type ipv4Net struct {
	net, mask uint32
}

func (p ipv4Net) matches(q *query) bool {
	if !q.addr.Is4() {
		return false
	}
	return ipv4Uint(q.addr)&p.mask == p.net
}

// ipv6Net matches IPv6 clients inside prefix. When zone is set the client
// must carry the same zone; otherwise the client's zone is ignored.
type ipv6Net struct {
	prefix netip.Prefix // zone-free and masked
	zone   string
}

func (p ipv6Net) matches(q *query) bool {
	if !q.addr.Is6() {
		return false
	}
	if p.zone != "" && q.addr.Zone() != p.zone {
		return false
	}
	return p.prefix.Contains(q.addr.WithZone(""))
}

func ipv4Uint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// prefixMask returns the IPv4 mask with the top bits set; bits must be in
// 0..32.
func prefixMask(bits int) uint32 {
	if bits == 0 {
		return 0
	}
	return ^uint32(0) << (32 - bits)
}

// parseDaemonPattern interprets one item of a daemon list.
func parseDaemonPattern(word string) (pattern, error) {
	if len(word) > 1 {
		if _, _, ok := splitAt(word[1:], '@'); ok {
			// daemon@host: the host part is the server address the client
			// connected to, which a bare client address does not tell us.
			return constant(false), nil
		}
	}
	switch {
	case strings.EqualFold(word, "ALL"):
		return constant(true), nil
	case strings.EqualFold(word, "KNOWN"):
		return knownDaemon{}, nil
	}
	return newTextPattern(word, true), nil
}

// parseClientPattern interprets one item of a client list. Forms that need
// a lookup this package never makes become constant(false); malformed
// addresses are errors so that a typo cannot go unnoticed.
func parseClientPattern(word string) (pattern, error) {
	if len(word) > 1 {
		if _, _, ok := splitAt(word[1:], '@'); ok {
			return constant(false), nil // user@host needs an ident query
		}
	}
	switch {
	case word[0] == '@':
		return constant(false), nil // NIS netgroup
	case word[0] == '/':
		return constant(false), nil // patterns read from another file
	case strings.EqualFold(word, "ALL"):
		return constant(true), nil
	// The host name is never looked up, so every client is one whose name
	// is unknown: libwrap's host name is then the string "unknown", which
	// fails KNOWN (name and address known) and LOCAL (a known name without
	// a dot), is not "paranoid" (a name that does not map back to the
	// address), and is exactly what UNKNOWN compares with.
	case strings.EqualFold(word, "UNKNOWN"):
		return constant(true), nil
	case strings.EqualFold(word, "KNOWN"),
		strings.EqualFold(word, "LOCAL"),
		strings.EqualFold(word, "PARANOID"):
		return constant(false), nil
	}
	if netText, maskText, ok := splitAt(word, '/'); ok {
		return parseNetMask(netText, maskText)
	}
	if word[0] == '[' {
		return parseBracketed(word)
	}
	if word[0] != '.' && strings.Trim(word, "0123456789.") == "" {
		return parseIPv4Word(word)
	}
	// Host names, domain suffixes and other words: compared with the
	// address text, as libwrap does before it tries the host name.
	return newTextPattern(word, false), nil
}

// parseIPv4Word handles a word made only of digits and dots: either a full
// dotted quad or a prefix of one to three octets followed by a dot.
func parseIPv4Word(word string) (pattern, error) {
	if !strings.HasSuffix(word, ".") {
		a, err := netip.ParseAddr(word)
		if err != nil {
			return nil, fmt.Errorf("not an IPv4 address: %w", err)
		}
		return ipv4Net{net: ipv4Uint(a), mask: ^uint32(0)}, nil
	}
	octets := strings.Split(strings.TrimSuffix(word, "."), ".")
	if len(octets) > 3 {
		return nil, errors.New("IPv4 prefix has more than three octets")
	}
	var net uint32
	for i, o := range octets {
		v, err := parseOctet(o)
		if err != nil {
			return nil, fmt.Errorf("IPv4 prefix octet %d: %w", i+1, err)
		}
		net |= uint32(v) << (24 - 8*i)
	}
	return ipv4Net{net: net, mask: prefixMask(8 * len(octets))}, nil
}

// parseOctet accepts the decimal forms an address printed by this package
// can contain: 0 to 255 with no leading zeros, since a prefix with them
// could never equal the start of an address's text.
func parseOctet(s string) (int, error) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("bad octet %q", s)
	}
	v, err := strconv.Atoi(s)
	if err != nil || v > 255 {
		return 0, fmt.Errorf("bad octet %q", s)
	}
	return v, nil
}

// parseBits parses a decimal prefix length between 0 and limit.
func parseBits(s string, limit int) (int, error) {
	if s == "" || len(s) > 3 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("bad prefix length %q", s)
	}
	v, err := strconv.Atoi(s)
	if err != nil || v > limit {
		return 0, fmt.Errorf("prefix length %q out of range 0-%d", s, limit)
	}
	return v, nil
}

// parseBracketed handles "[v6addr]", optionally with a zone.
func parseBracketed(word string) (pattern, error) {
	a, err := parseBracketAddr(word)
	if err != nil {
		return nil, err
	}
	if a.Is4In6() {
		return ipv4Net{net: ipv4Uint(a.Unmap()), mask: ^uint32(0)}, nil
	}
	return ipv6Net{prefix: netip.PrefixFrom(a.WithZone(""), 128), zone: a.Zone()}, nil
}

// parseBracketAddr extracts the IPv6 address from "[...]".
func parseBracketAddr(word string) (netip.Addr, error) {
	if len(word) < 2 || word[0] != '[' || word[len(word)-1] != ']' {
		return netip.Addr{}, errors.New(`IPv6 address must be written as "[address]"`)
	}
	a, err := netip.ParseAddr(word[1 : len(word)-1])
	if err != nil {
		return netip.Addr{}, fmt.Errorf("bad IPv6 address: %w", err)
	}
	if !a.Is6() {
		return netip.Addr{}, errors.New("square brackets must hold an IPv6 address")
	}
	return a, nil
}

// parseNetMask handles "a.b.c.d/m.m.m.m", "a.b.c.d/n" and "[v6net]/n".
// An IPv4 network with bits set outside its mask is rejected: libwrap
// compares it unmasked, so such a rule would silently never apply.
func parseNetMask(netText, maskText string) (pattern, error) {
	if strings.HasPrefix(netText, "[") {
		a, err := parseBracketAddr(netText)
		if err != nil {
			return nil, err
		}
		bits, err := parseBits(maskText, 128)
		if err != nil {
			return nil, err
		}
		if a.Is4In6() && bits >= 96 {
			p := netip.PrefixFrom(a.Unmap(), bits-96).Masked()
			return ipv4Net{net: ipv4Uint(p.Addr()), mask: prefixMask(p.Bits())}, nil
		}
		p := netip.PrefixFrom(a.WithZone(""), bits).Masked()
		return ipv6Net{prefix: p, zone: a.Zone()}, nil
	}

	netAddr, err := netip.ParseAddr(netText)
	if err != nil || !netAddr.Is4() {
		return nil, fmt.Errorf("bad network %q: want a dotted-quad IPv4 address or [IPv6]", netText)
	}
	var mask uint32
	if strings.Contains(maskText, ".") {
		m, err := netip.ParseAddr(maskText)
		if err != nil || !m.Is4() {
			return nil, fmt.Errorf("bad netmask %q: want a dotted quad or a prefix length", maskText)
		}
		mask = ipv4Uint(m)
	} else {
		bits, err := parseBits(maskText, 32)
		if err != nil {
			return nil, err
		}
		mask = prefixMask(bits)
	}
	net := ipv4Uint(netAddr)
	if net&^mask != 0 {
		return nil, fmt.Errorf("network %s has bits set outside mask %s", netText, maskText)
	}
	return ipv4Net{net: net, mask: mask}, nil
}
