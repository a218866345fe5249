package daemon

import (
	"fmt"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// notifier tells systemd how the daemon is doing (sd_notify): READY=1 once
// it serves, so that `systemctl start` returns only then and units ordered
// after it find it listening; RELOADING=1 and STOPPING=1 around reloads and
// stops; STATUS= for `systemctl status`; and watchdog pings. Without
// systemd (no NOTIFY_SOCKET) every call does nothing.
type notifier struct{}

func (notifier) send(state string) {
	sd.SdNotify(false, state)
}

// Ready says the daemon serves.
func (n notifier) Ready() { n.send(sd.SdNotifyReady) }

// Reloading says a reload has begun; call Ready when it is done.
func (n notifier) Reloading() {
	n.send(fmt.Sprintf("%s\nMONOTONIC_USEC=%d", sd.SdNotifyReloading, monotonicMicros()))
}

// Stopping says the daemon is shutting down.
func (n notifier) Stopping() { n.send(sd.SdNotifyStopping) }

// Status sets the line `systemctl status` shows.
func (n notifier) Status(s string) { n.send("STATUS=" + s) }

// WatchdogInterval is how often to ping the watchdog: half the interval
// systemd set (WATCHDOG_USEC), or 0 when it set none.
func (notifier) WatchdogInterval() time.Duration {
	d, err := sd.SdWatchdogEnabled(false)
	if err != nil || d <= 0 {
		return 0
	}
	return d / 2
}

// Watchdog pings the watchdog.
func (n notifier) Watchdog() { n.send(sd.SdNotifyWatchdog) }
