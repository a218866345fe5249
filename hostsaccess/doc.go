// Package hostsaccess decides whether a client address may connect to the
// Tentacle server by reading the TCP wrappers files /etc/hosts.allow and
// /etc/hosts.deny, as the Perl server did through libwrap when started with
// -T. It is written in plain Go so the server keeps honouring the files an
// administrator already maintains without linking libwrap through cgo.
//
// Only the part of the hosts_access(5) language that can be decided from
// the client's IP address is implemented. The package never performs DNS,
// ident (RFC 931) or NIS lookups and never runs commands, so a check cannot
// stall on a slow name server and a rule cannot make the server execute
// anything.
//
// # How a decision is made
//
// The allow file is consulted first: if one of its rules applies to the
// daemon name and the client, the client is let in. Otherwise the deny
// file is consulted: if one of its rules applies, the client is turned
// away. If neither file has an applicable rule the client is let in. Only
// the first applicable rule of each file counts. A file that does not exist
// behaves like an empty one, exactly as with libwrap.
//
// # File syntax
//
// Each rule is one logical line:
//
//	daemon_list : client_list [ : option [ : option ... ] ]
//
// A backslash at the very end of a physical line joins it to the next one
// (the backslash and the line break both disappear). A '#' that is not
// preceded by a backslash starts a comment that runs to the end of the
// logical line, as patched builds of libwrap on Linux distributions do.
// Lines that are blank after removing the comment are skipped. Items in a
// list are separated by any mix of spaces, tabs and commas. A colon inside
// square brackets (an IPv6 address) does not separate fields; inside the
// option part a colon can be written as "\:".
//
// Both lists accept EXCEPT: "A EXCEPT B" applies when something in A
// applies and B does not. EXCEPT groups to the right, so
// "A EXCEPT B EXCEPT C" means A but not (B but not C).
//
// # Daemon patterns
//
//   - ALL applies to every daemon name; KNOWN to every name except
//     "unknown".
//   - A word is compared with the daemon name, ignoring case.
//   - A word ending in '.' is a prefix and a word starting with '.' a
//     suffix of the daemon name (libwrap allows both; they are rarely
//     useful).
//   - name@host never applies: deciding it needs the address the client
//     connected to, which a bare client address does not carry.
//
// # Client patterns
//
//   - ALL applies to every client.
//   - Every client is one whose host name is unknown, since names are
//     never looked up: libwrap then holds the name as the string "unknown",
//     just as when a reverse lookup finds no name. So, as libwrap
//     documents and does for such a client:
//   - UNKNOWN applies to every client. libwrap applies it to a client whose
//     name or address is unknown, and the name always is.
//   - KNOWN never applies: libwrap requires both the address and the host
//     name to be known. An allow rule "tentacle_server : KNOWN" therefore
//     lets nobody in, and a deny rule "ALL : UNKNOWN" turns every client
//     away; write such rules with addresses instead.
//   - PARANOID never applies: it asks for a name that does not map back to
//     the address, and there is no name.
//   - LOCAL never applies: it asks for a known host name without a dot.
//   - a.b.c.d applies to that IPv4 address.
//   - a.b.c. (also a.b. and a.) applies to every IPv4 address whose leading
//     octets are the ones written.
//   - a.b.c.d/m.m.m.m applies when the address, masked with m.m.m.m, equals
//     a.b.c.d; a.b.c.d/n is the same with an n-bit prefix length.
//   - [v6addr] applies to that IPv6 address and [v6net]/n to every address
//     in the n-bit prefix. If the pattern names a zone (fe80::1%eth0) the
//     client must have the same zone; otherwise zones are ignored.
//   - A client connecting as an IPv4-mapped IPv6 address (::ffff:a.b.c.d)
//     is matched as the IPv4 address a.b.c.d, and an IPv6 pattern written in
//     mapped form with a prefix length of at least 96 acts as the
//     corresponding IPv4 pattern.
//   - A word starting with '.' is compared with the end of the address
//     text, which is what libwrap tries before looking at host names. A
//     domain such as .example.com therefore never applies, while a numeric
//     suffix such as .1 does apply to 10.0.0.1.
//   - Host names, @netgroup, /file and user@host never apply: they would
//     need DNS, NIS, another file's contents or an ident query.
//
// Because those forms never apply, a rule in the deny file that relies on
// them blocks nobody and a rule in the allow file that relies on them lets
// nobody in. Write rules for this server with addresses.
//
// # Options
//
// The third and later fields are hosts_options(5) options. ALLOW makes a
// matching rule grant access and DENY makes it refuse access, whichever
// file the rule is in. TWIST would hand the connection to a shell command
// instead of the real service; the command is not run, but the client is
// refused, because with libwrap it would never have reached the service
// either. Every other known option (spawn, severity, setenv, ...) is
// checked for form and then ignored; nothing is ever executed.
//
// # Errors
//
// This package is stricter than libwrap, which writes a warning to syslog
// and carries on. Any line it cannot interpret (no colon, an empty list, a
// misplaced EXCEPT, a malformed address or net/mask, an address with bits
// set outside its mask, an unknown or misused option) makes the whole file
// invalid: [Checker.Allowed] then returns an error naming the file and line
// for every client, and the caller is expected to refuse the connection.
// A mistake therefore locks everybody out loudly instead of silently
// letting the wrong clients in.
package hostsaccess
