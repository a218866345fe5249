// Package packaging has no code: it holds the description of the tentacle
// .deb and .rpm (nfpm.yaml), their maintainer scripts (scripts/deb,
// scripts/rpm), the Debian copyright file and lintian overrides, and the
// program that builds both packages with nfpm used as a library (mkpkg).
// `make package` writes them into dist/.
//
// Its tests build the packages with `make package` and check them: the
// scripts with shellcheck, the .deb with lintian, the .rpm's file list and
// scripts against the .deb's, and, as root on a Debian system, the whole
// life of the .deb: install, start through the init script, serve a file as
// the pandora user, reload, stop, purge, and the machine left as found. A
// missing tool skips its test, saying which Debian package provides it.
package packaging
