package setup

import (
	"errors"
	"fmt"
	"net"

	"tentacle/privileges"
	"tentacle/protocol"
)

// ErrPasswordPrompt refuses -w where there is no terminal to ask on: a
// service (tentacle_serverd, or tentacle_server -S) must be given a key
// without a password.
var ErrPasswordPrompt = errors.New("-w: a service has no terminal to ask for the key's password on; use a key without a password that only root and the server's user may read (0640 root:pandora, say), and remove -w")

// Startup is what one program's start adds to the sequence every server
// follows (Instance.Start).
type Startup struct {
	// Identity is the user to become when started as root; nil means
	// look up the options' user (-U).
	Identity *privileges.Identity
	// Activated are sockets that systemd passed: they are served instead
	// of binding the options' addresses.
	Activated []net.Listener
	// AsRoot, when set, runs once the sockets are bound and before root
	// is given up, with the user that will be taken (nil when not
	// root): the place to open files that the user could not open, and
	// to hand them over.
	AsRoot func(id *privileges.Identity) error
}

// Start is the start-up that tentacle_server and tentacle_serverd share,
// in the order that keeps root no longer than needed: bind the sockets (or
// take systemd's), do what needs root, give root up for good, then open
// and check the storage as the user who will write there.
func (in *Instance) Start(st Startup) error {
	if len(st.Activated) > 0 {
		in.UseListeners(st.Activated)
		in.Logger.Log(protocol.LevelNotice, fmt.Sprintf("Using %d socket(s) from systemd; the port and addresses configured are ignored", len(st.Activated)))
	} else if err := in.Listen(); err != nil {
		return err
	}
	id := st.Identity
	if id == nil && privileges.IsRoot() {
		var err error
		if id, err = privileges.Lookup(in.Options.User); err != nil {
			return fmt.Errorf("started as root, and cannot give root up (-U %s): %w", in.Options.User, err)
		}
	}
	if st.AsRoot != nil {
		if err := st.AsRoot(id); err != nil {
			return err
		}
	}
	if id != nil && privileges.IsRoot() {
		if err := privileges.Drop(id); err != nil {
			return fmt.Errorf("started as root, and cannot give root up (-U %s): %w", id.Name, err)
		}
		in.Logger.Log(protocol.LevelNotice, fmt.Sprintf("Running as user %s (uid %d, gid %d)", id.Name, id.UID, id.GID))
	}
	return in.OpenStorage()
}
