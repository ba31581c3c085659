package main

import (
	"os"
	"path/filepath"
)

// defaultSDRCacheDir is where IPMI SDR caches live unless --sdr-cache
// says otherwise: the user's cache directory, or none if there is none.
func defaultSDRCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "prefail", "sdr")
}
