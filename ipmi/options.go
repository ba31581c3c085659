package ipmi

import (
	"time"

	"github.com/rs/zerolog"
)

// Interface is how the reader reaches the BMC.
type Interface string

// Interfaces (ipmitool's -I names).
const (
	// InterfaceLANPlus is IPMI v2.0 RMCP+ over UDP (the default).
	InterfaceLANPlus Interface = "lanplus"
	// InterfaceLAN is IPMI v1.5 over UDP.
	InterfaceLAN Interface = "lan"
	// InterfaceOpen is the in-band system interface, /dev/ipmi0 (Linux OpenIPMI driver).
	InterfaceOpen Interface = "open"
)

// DefaultPort is the RMCP port (IPMI v2.0 §13.1.1).
const DefaultPort = 623

type config struct {
	username, password string
	iface              Interface
	cipherSuite        int
	requestTimeout     time.Duration
	retries            int
	sdrCacheDir        string
	maxSELEntries      int
	maxSELReads        int
	maxSDRRecords      int
	maxFRUBytes        int
	readFRU            bool
	logger             zerolog.Logger
}

func defaultConfig() config {
	return config{
		iface:          InterfaceLANPlus,
		cipherSuite:    3,
		requestTimeout: 2 * time.Second,
		retries:        1,
		maxSELEntries:  200,
		maxSELReads:    DefaultMaxSELReads,
		maxSDRRecords:  DefaultMaxSDRRecords,
		maxFRUBytes:    DefaultMaxFRUBytes,
		readFRU:        true,
		logger:         zerolog.Nop(),
	}
}

// Option configures a Client. Options are applied once, by New.
type Option func(*config)

// WithCredentials sets the user name and password of the session. Pass
// them from the environment or a file, never from a command line.
func WithCredentials(username, password string) Option {
	return func(c *config) { c.username, c.password = username, password }
}

// WithInterface selects lanplus (default), lan or open.
func WithInterface(i Interface) Option { return func(c *config) { c.iface = i } }

// WithCipherSuite sets the RMCP+ cipher suite (default 3). Only suites
// with AES confidentiality work with go-ipmi v0.9.1: 3, 8, 12, 17; others
// fail New with ErrUnsupported.
func WithCipherSuite(id int) Option { return func(c *config) { c.cipherSuite = id } }

// WithRequestTimeout bounds one request's wait for its response (default
// 2 s); the context passed to Scan bounds the whole scan.
func WithRequestTimeout(d time.Duration) Option { return func(c *config) { c.requestTimeout = d } }

// WithRetries sets how often a request that got no answer is resent (default 1).
func WithRetries(n int) Option { return func(c *config) { c.retries = n } }

// WithSDRCacheDir keeps each BMC's SDR repository (and FRU data) in dir,
// reused while the repository's addition and erase timestamps are
// unchanged (Get SDR Repository Info, IPMI v2.0 §33.9). Empty: no disk
// cache; the Client still caches in memory between its scans.
func WithSDRCacheDir(dir string) Option { return func(c *config) { c.sdrCacheDir = dir } }

// WithMaxSELEntries bounds how many SEL entries the first scan reads: the
// newest n (default 200). Later scans read only entries added since.
func WithMaxSELEntries(n int) Option { return func(c *config) { c.maxSELEntries = n } }

// Bounds on what one scan reads from a BMC, so that a broken or hostile
// one (a SEL or SDR repository that never ends, a flood, a huge FRU claim)
// costs a bounded number of requests and bounded memory, and ends with a
// warning that says so.
const (
	// DefaultMaxSELReads bounds the Get SEL Entry requests of one scan.
	// Get SEL Info reports the free space in a 16-bit byte count (IPMI
	// v2.0 §31.2, Table 31-2), so a SEL that can report its space holds at
	// most 65535/16 = 4095 of the 16-byte records (§32).
	DefaultMaxSELReads = 4096
	// DefaultMaxSDRRecords bounds the records read from the SDR
	// repository (§33). Real repositories hold tens to a few hundred.
	DefaultMaxSDRRecords = 2048
	// DefaultMaxFRUBytes bounds the bytes read from one FRU device. The
	// common header locates the chassis, board and product areas by
	// offsets of at most 255x8 bytes, each area at most 255x8 bytes long
	// (Platform Management FRU Information Storage Definition v1.0 §8,
	// §10-12), so those areas end within 4080 bytes.
	DefaultMaxFRUBytes = 4096
)

// WithMaxSELReads bounds the SEL entries one scan reads (Get SEL Entry,
// IPMI v2.0 §31.5), whatever Get SEL Info claims (default
// DefaultMaxSELReads). A walk also stops when it has read more entries
// than Get SEL Info counted (a SEL that never ends) or meets a record id
// twice (a loop); each is a warning on the snapshot, and the next scan
// goes on from where this one stopped. n <= 0 keeps the default.
func WithMaxSELReads(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxSELReads = n
		}
	}
}

// WithMaxSDRRecords bounds the records read from the SDR repository (Get
// SDR, IPMI v2.0 §33.12), whatever Get SDR Repository Info claims
// (default DefaultMaxSDRRecords). A repository that goes past it, past
// its own record count, or whose next-record chain loops is read that far
// and reported in a warning. n <= 0 keeps the default.
func WithMaxSDRRecords(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxSDRRecords = n
		}
	}
}

// WithMaxFRUBytes bounds the bytes read from one FRU device (Read FRU
// Data, IPMI v2.0 §34.2), whatever Get FRU Inventory Area Info claims
// (default DefaultMaxFRUBytes). n <= 0 keeps the default; values under 8
// (the common header) are raised to 8.
func WithMaxFRUBytes(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxFRUBytes = max(n, 8)
		}
	}
}

// WithoutFRU skips FRU inventory reads.
func WithoutFRU() Option { return func(c *config) { c.readFRU = false } }

// WithLogger hands the reader a logger (default: none).
func WithLogger(l zerolog.Logger) Option { return func(c *config) { c.logger = l } }
