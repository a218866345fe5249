//go:build !unix

package daemon

import "tentacle/privileges"

func setUmask() {}

func chownForUser(string, *privileges.Identity) error { return nil }

func ensureDirFor(string, *privileges.Identity) error { return nil }
