// Command mkpkg builds the tentacle .deb and .rpm packages from
// packaging/nfpm.yaml with nfpm, used as a library. `make package` builds
// and runs it after building the binaries and compressing the manual pages:
//
//	go -C packaging/mkpkg build -o "$PWD/dist/.pkgbuild/mkpkg" .
//	dist/.pkgbuild/mkpkg -build dist/.pkgbuild -out dist [-version V] [-arch amd64]
//
// It is a module of its own (tentacle/packaging/mkpkg, with its own go.mod)
// so that nfpm and its many dependencies stay out of tentacle's go.mod; it
// imports nothing from tentacle.
//
// It runs from the repository root, to which the yaml's relative paths
// refer. The yaml sees ${VERSION}, ${ARCH} and ${PKG_BUILD} (the -build
// directory); other variables come from the environment.
//
// Without -version, the version comes from git (see packageVersion);
// outside a git checkout it is 0.1.0. -print-version prints it and exits.
// The files' modification time is SOURCE_DATE_EPOCH when set, else the
// commit's date, so that a commit always gives the same packages.
//
// mkpkg also writes the Debian changelog, PKG_BUILD/changelog.gz, that the
// yaml puts in the .deb.
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the rpm packager
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "mkpkg: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mkpkg", flag.ContinueOnError)
	config := fs.String("config", "packaging/nfpm.yaml", "nfpm package description")
	version := fs.String("version", "", "package version (default: from git)")
	arch := fs.String("arch", "amd64", "Go architecture of the binaries")
	build := fs.String("build", "", "directory of the built binaries and compressed manual pages (required)")
	out := fs.String("out", "dist", "directory to write the packages to")
	formats := fs.String("formats", "deb,rpm", "package formats, separated by commas")
	printVersion := fs.Bool("print-version", false, "print the package version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	git, inGit := readGit(".")
	v := fallbackVersion
	if *version != "" {
		var err error
		if v, err = checkVersion(*version); err != nil {
			return err
		}
	} else if inGit {
		v = packageVersion(git)
	}
	if *printVersion {
		fmt.Fprintln(stdout, v)
		return nil
	}
	if *build == "" {
		return errors.New("-build is required")
	}

	mtime, err := buildTime(git, inGit)
	if err != nil {
		return err
	}

	vars := map[string]string{"VERSION": v, "ARCH": *arch, "PKG_BUILD": *build}
	cfg, err := nfpm.ParseFileWithEnvMapping(*config, func(name string) string {
		if val, ok := vars[name]; ok {
			return val
		}
		return os.Getenv(name)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	cfg.MTime = mtime

	changelog := debianChangelog(cfg.Name, v, cfg.Maintainer, sourceNote(git, inGit), mtime)
	if err := writeGzip(filepath.Join(*build, "changelog.gz"), changelog); err != nil {
		return err
	}

	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}

	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for format := range strings.SplitSeq(*formats, ",") {
		target, err := pack(&cfg, strings.TrimSpace(format), *out)
		if err != nil {
			return fmt.Errorf("%s: %w", format, err)
		}
		fmt.Fprintln(stdout, target)
	}
	return nil
}

// buildTime is the time the packages' files carry: SOURCE_DATE_EPOCH when
// set (reproducible builds), else the commit's date, else now.
func buildTime(git gitState, inGit bool) (time.Time, error) {
	if sde := os.Getenv("SOURCE_DATE_EPOCH"); sde != "" {
		sec, err := strconv.ParseInt(sde, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	if inGit {
		return git.Date, nil
	}
	return time.Now().UTC(), nil
}

// sourceNote says in the changelog what the packages were built from.
func sourceNote(git gitState, inGit bool) string {
	if !inGit {
		return "Built from a source tree outside git."
	}
	note := "Built from git commit " + git.Commit
	if git.Dirty {
		note += " with uncommitted changes"
	}
	return note + "."
}

// pack writes the package of one format into dir and returns its path.
func pack(cfg *nfpm.Config, format, dir string) (string, error) {
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", err
	}
	info, err := cfg.Get(format)
	if err != nil {
		return "", err
	}
	info = nfpm.WithDefaults(info)
	target := filepath.Join(dir, packager.ConventionalFileName(info))
	info.Target = target
	f, err := os.Create(target)
	if err != nil {
		return "", err
	}
	if err := packager.Package(info, f); err != nil {
		f.Close()
		os.Remove(target)
		return "", err
	}
	return target, f.Close()
}

// debianChangelog is a one-entry changelog in Debian's format, for the
// native package's /usr/share/doc/<name>/changelog.gz.
func debianChangelog(name, version, maintainer, change string, date time.Time) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s (%s) unstable; urgency=medium\n\n", name, version)
	fmt.Fprintf(&b, "  * %s\n\n", change)
	fmt.Fprintf(&b, " -- %s  %s\n", maintainer, date.UTC().Format(time.RFC1123Z))
	return b.Bytes()
}

// writeGzip writes data to path gzipped at the best compression, with no
// file name and no time in the header (like gzip -9n), so that the result
// depends on the content alone.
func writeGzip(path string, data []byte) error {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
