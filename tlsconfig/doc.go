// Package tlsconfig turns the Tentacle command-line TLS options into a
// crypto/tls configuration that behaves like the Perl reference
// implementation, which is built on IO::Socket::SSL and OpenSSL.
//
// The package exists so that tentacle_server and tentacle_client accept
// exactly the files and option strings that existing Pandora FMS
// installations already use: PEM certificates and keys written by OpenSSL
// (including passphrase-protected keys in both the legacy "Proc-Type:
// 4,ENCRYPTED" form and the PKCS#8 "ENCRYPTED PRIVATE KEY" form), OpenSSL
// cipher names such as "AES256-SHA" and IO::Socket::SSL version strings such
// as "SSLv23:!TLSv1:!TLSv1_1". Anything that cannot be honoured faithfully is
// reported as an error when the configuration is built, naming the offending
// token, so that a misconfiguration stops the program at startup instead of
// surfacing later as an obscure handshake failure.
//
// Verification policy mirrors the reference programs:
//
//   - Server: a certificate and key are mandatory; with a CA file every client
//     must present a certificate that chains to that CA.
//   - Client: without a CA file the server is not authenticated at all (the
//     reference client's -c and -e/-k modes); with a CA file the server's
//     certificate chain is verified against that CA but, like the reference
//     client, its host name is not checked.
//
// The package performs no I/O other than reading the named files, and never
// prompts, logs or exits: the callers own the user interaction.
package tlsconfig
