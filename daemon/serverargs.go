package daemon

import (
	"errors"
	"strconv"
	"strings"

	"tentacle/envfile"
	"tentacle/options"
	"tentacle/setup"
)

// keyOption maps the variables that become tentacle_server options to their
// letters: an error or an override on that letter is reported on the
// variable.
var keyOption = []struct {
	key    string
	letter byte
}{
	{keyStoragePath, 's'}, {keyPort, 'p'}, {keyAddr, 'a'}, {keyUser, 'U'}, {keyConfigFile, 'F'},
}

// extOptions splits TENTACLE_EXT_OPTS into c.ExtOpts, refuses the options
// a service cannot take, and returns the option letters it gives.
func (l *cfgLoader) extOptions(c *Config) map[byte]bool {
	v := l.get(keyExtOpts)
	if !v.set {
		return nil
	}
	words, err := envfile.SplitShellWords(v.value)
	if err != nil {
		l.fail(v.failHidden(err.Error(), nil))
		return nil
	}
	c.ExtOpts = words
	ext := options.ScanServer(words)
	for _, letter := range []byte{'d', 'S', 'h', 'w'} {
		if ext[letter] {
			l.fail(v.failHidden(extForbidden[letter], nil))
		}
	}
	return ext
}

// extForbidden explains the TENTACLE_EXT_OPTS options that make no sense
// for a service.
var extForbidden = map[byte]string{
	'd': "-d: tentacle_serverd must stay in the foreground, where the service manager starts, watches and stops it; remove -d",
	'S': "-S: it controls tentacle_server's Windows service; tentacle_serverd is itself the service, remove -S",
	'h': "-h: asking for help would stop the start; run tentacle_server -h to see the options, and remove -h",
	'w': setup.ErrPasswordPrompt.Error(),
}

// server builds the tentacle_server arguments, parses them and fills the
// rest of c.
func (l *cfgLoader) server(c *Config, ext map[byte]bool) error {
	storage, port, addr := l.get(keyStoragePath), l.get(keyPort), l.get(keyAddr)
	user, conf, extVar := l.get(keyUser), l.get(keyConfigFile), l.get(keyExtOpts)
	hasConf := conf.set || ext['F']

	withStorage := storage.set || !hasConf && !ext['b']
	withFilters := !extVar.set && !hasConf
	build := func() []string {
		var args []string
		if withStorage {
			args = append(args, "-s", valueOr(storage, defaultStoragePath))
		}
		if port.set || !hasConf {
			args = append(args, "-p", valueOr(port, strconv.Itoa(options.DefaultPort)))
		}
		if addr.set {
			args = append(args, "-a", addr.value)
		}
		args = append(args, "-U", valueOr(user, options.DefaultUser))
		if conf.set {
			args = append(args, "-F", conf.value)
		}
		if extVar.set {
			args = append(args, c.ExtOpts...)
		} else if withFilters {
			args = append(args, "-i", defaultFilters)
		}
		return args
	}

	args := build()
	srv, err := options.ParseServer(args)
	var usage *options.UsageError
	if err != nil && !withStorage && !ext['s'] && errors.As(err, &usage) && usage.Option == "-s" {
		// The -F file has no directory either: use the daemon's.
		withStorage = true
		args = build()
		srv, err = options.ParseServer(args)
	}
	if err == nil && !withFilters && !extVar.set && srv.Filters == "" {
		// Nor has it filters: Pandora FMS needs its own.
		withFilters = true
		args = build()
		srv, err = options.ParseServer(args)
	}
	if err != nil {
		return l.attribute(err, ext)
	}

	for _, o := range keyOption {
		if v := l.get(o.key); v.set && ext[o.letter] {
			l.warn("%s: %s is overridden by -%c in %s (%s)", v.where(), o.key, o.letter, keyExtOpts, extVar.where())
		}
	}
	if srv.Daemon {
		// Only the -F file can have set it: -d itself was refused.
		l.warn("config %s: daemon 1 is ignored: tentacle_serverd stays in the foreground, where the service manager watches it", srv.ConfigFile)
		srv.Daemon = false
	}
	l.warnings = append(l.warnings, srv.Warnings...)

	c.ServerArgs, c.Server = args, srv
	c.StoragePath, c.Port, c.User, c.ConfigFile = srv.Directory, srv.Port, srv.User, srv.ConfigFile
	c.Addr = strings.Join(srv.Addresses, ",")
	if c.Addr == "0" {
		c.Addr = ""
	}
	return nil
}

// attribute turns an error of options.ParseServer into one naming the
// variable the offending argument came from. The arguments built from the
// variables are always well formed, so usage errors come from
// TENTACLE_EXT_OPTS, as do errors on any option it gives (it comes last, so
// its value is the one used). Errors inside the -F file already name that
// file and key, and are returned as they are.
func (l *cfgLoader) attribute(err error, ext map[byte]bool) error {
	extVar := l.get(keyExtOpts)
	var ve *options.ValueError
	if !errors.As(err, &ve) {
		if extVar.set {
			return extVar.failHidden("", err)
		}
		return err
	}
	if ve.File != "" || len(ve.Option) != 2 {
		return err
	}
	letter := ve.Option[1]
	if ext[letter] {
		return extVar.failHidden("", err)
	}
	for _, o := range keyOption {
		if o.letter != letter {
			continue
		}
		v := l.get(o.key)
		reason := ve.Reason
		if ve.Err != nil {
			reason += ": " + options.CauseText(ve.Err)
		}
		e := v.fail(reason)
		e.Value, e.Err = ve.Value, err
		return e
	}
	return err
}

// valueOr returns the variable's value, or def when it is not set.
func valueOr(v cfgVar, def string) string {
	if v.set {
		return v.value
	}
	return def
}
