//go:build !unix

package daemon

import "errors"

// diskFree is not measured here: the report leaves the module out.
func diskFree(string) (int64, error) { return 0, errors.New("not measured on this system") }

// osVersion is not known here.
func osVersion() string { return "" }
