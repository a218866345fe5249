// Command tentacle_bench is the load generator that measures a Tentacle
// server against the limits of the machine it runs on.
//
// It starts the server under test as a child process (or, with -inprocess, a
// protocol.Server inside the bench) and runs three tests, each next to a raw
// baseline measured in the same run, because the machine is shared and noisy
// and only ratios can be compared from one run to the next:
//
//   - small files: 4 KiB files, one per connection (connect, SEND, QUIT), at
//     several concurrencies for a fixed time, against a loop of create, write,
//     fsync, rename and directory fsync on the same file system;
//   - one large upload (1 GiB by default), against a loopback TCP stream that
//     the bench itself writes to a file and fsyncs; the server's peak RSS
//     (VmHWM) is recorded too;
//   - many idle connections held open at once: the server's RSS with them,
//     and whether a new client still gets a file through.
//
// The tls test makes a CA, an RSA-2048 and an ECDSA P-256 server key and a
// client certificate in the work directory, then measures 4 KiB files, one
// per connection at 16 clients, over plain TCP and over TLS with each key
// (and against the -perl server with the same -e, -k and -f), and one -size
// upload over TLS against plain TCP, alternating, in the same run.
//
// With -tests haproxy it also sends the small files through a real HAProxy
// (send-proxy-v2, the server trusting it with -P) and straight to the same
// server, alternating, and reports both rates and the CPU that HAProxy
// takes, from its /proc/PID/stat.
//
// With -tests wan, 1,000 agents each send one small file, 200 at a time,
// through a delay line in the bench (a relay on loopback that holds every
// chunk 25 ms each way: this kernel has no netem), to the server and to the
// Perl reference, each run with its shipped defaults, and the report
// compares their files/s and latencies.
//
// Raw and server phases alternate over several rounds, and the rates are
// pooled. The small-file test also stores files through protocol.DirStorage
// inside the bench, without network, which splits the server's overhead into
// storage on one side and network, protocol and process on the other. With
// -perl, the Pandora FMS Perl reference server is measured the same way
// (small files, and a smaller upload since it holds files in memory).
// BENCHMARKS.md at the root of the repository explains the method and the
// results.
//
// The result is a Markdown report on standard output (and in the -o file),
// with a PASS or FAIL per target. The exit status is 0 whatever the results:
// this is a measurement, not a test. It needs Linux (/proc) and is best run as
// root, so that the server can drop to the user nobody like in production.
//
// Usage:
//
//	tentacle_bench [-server bin/tentacle_server | -inprocess] [-perl PATH] [-o FILE] [flags]
package main
