package smart

import "github.com/rs/zerolog"

// Option configures a Scanner.
type Option func(*options)

type options struct {
	sysRoot, devRoot string
	wakeStandby      bool
	devices          []string
	logger           zerolog.Logger
}

func defaultOptions() options {
	return options{sysRoot: "/sys", devRoot: "/dev", logger: zerolog.Nop()}
}

// WithSysRoot reads sysfs from dir instead of /sys (tests use a recorded
// tree).
func WithSysRoot(dir string) Option { return func(o *options) { o.sysRoot = dir } }

// WithDevRoot names device nodes under dir instead of /dev.
func WithDevRoot(dir string) Option { return func(o *options) { o.devRoot = dir } }

// WithWakeStandby reads disks even when they are spun down. By default a
// disk found in standby is reported unread, as smartd's "-n standby" does:
// waking it costs a spin-up, and a spin-up every poll wears the drive.
func WithWakeStandby(wake bool) Option { return func(o *options) { o.wakeStandby = wake } }

// WithDevices reads only these device paths (/dev/sda, /dev/nvme0)
// instead of every disk sysfs lists.
func WithDevices(paths ...string) Option {
	return func(o *options) { o.devices = append(o.devices, paths...) }
}

// WithLogger logs each probe at debug level. The default logs nothing.
func WithLogger(l zerolog.Logger) Option { return func(o *options) { o.logger = l } }
