//go:build !unix

package detach

// Start is not available here.
func Start(args []string, stdin string) (int, error) { return 0, ErrUnsupported }
