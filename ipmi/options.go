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

// WithoutFRU skips FRU inventory reads.
func WithoutFRU() Option { return func(c *config) { c.readFRU = false } }

// WithLogger hands the reader a logger (default: none).
func WithLogger(l zerolog.Logger) Option { return func(c *config) { c.logger = l } }
