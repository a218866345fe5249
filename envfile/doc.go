// Package envfile reads tentacle_serverd's env file
// (/etc/default/tentacle_serverd, /etc/sysconfig/tentacle_serverd) and
// splits TENTACLE_EXT_OPTS into the words a shell would make of it.
//
// Shell scripts source the env file, and a unit may also give it to
// systemd's EnvironmentFile=; the two read some text differently, and a
// configuration that two programs read differently is a bug waiting for the
// day the other one reads it. So only what both read alike is accepted,
// and anything else is refused with its line and the reason:
//
//   - KEY=value lines, optionally after "export "; blank lines; "#"
//     comments, also after a value;
//   - the value is one shell word: plain text, '...' and "...", joined if
//     need be, with the shell's escapes;
//   - nothing is expanded or run: "$" and "`" outside single quotes,
//     unquoted operators (; | & < > ( )), a leading "~", unquoted blanks
//     inside a value, a backslash that a shell would drop, and an unquoted
//     "{" after export (bash brace-expands export's arguments) are refused;
//   - a value ends on its line.
//
// TENTACLE_EXT_OPTS is split by the same reader of shell words, so that an
// administrator writes what they would type after tentacle_server, quotes
// included, and is told when a shell would have expanded something rather
// than handed the characters.
package envfile
