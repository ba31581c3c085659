package main

import (
	"context"
	"fmt"
	"os"

	"github.com/prefail/prefail/agent"
)

// Environment variables the scan command reads credentials from.
const (
	envUsername = "PREFAIL_USERNAME"
	envPassword = "PREFAIL_PASSWORD"
)

// secret is a password. It prints and marshals as "[redacted]" so that a
// struct holding one can be logged without leaking it.
type secret = agent.Secret

// credentials are the account one target is scanned with, and where each
// half came from (for debug logs; never the password itself).
type credentials struct {
	Username       string
	Password       secret
	UsernameSource string
	PasswordSource string
}

// readPasswordFile returns the first line of path, without its line
// ending. Errors never include the file's content.
func readPasswordFile(ctx context.Context, path string) (secret, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return agent.ReadPasswordFile(path) // one reader for the CLI and the config
}

// passwordFileLooseMode reports whether path can be read by group or
// others (a warning, not an error: some deployments use ACLs).
func passwordFileLooseMode(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().Perm()&0o077 != 0
}

// credentialSources are the command-wide sources of credentials.
type credentialSources struct {
	flagUsername     string // --username
	flagPasswordFile string // --password-file
	flagPassword     secret // the content of --password-file, read once
	envUsername      string // PREFAIL_USERNAME
	envPassword      secret // PREFAIL_PASSWORD
}

// resolveCredentials picks the account for t. Precedence, for each of
// username and password: the targets file's per-target setting, then the
// command-line flag (--username, --password-file), then the environment
// (PREFAIL_USERNAME, PREFAIL_PASSWORD). Neither set means an anonymous
// scan; only one of them set is an error.
func resolveCredentials(ctx context.Context, t *target, src credentialSources) (credentials, error) {
	var c credentials
	switch {
	case t.Username != "":
		c.Username, c.UsernameSource = t.Username, t.Where+" username="
	case src.flagUsername != "":
		c.Username, c.UsernameSource = src.flagUsername, "--username"
	case src.envUsername != "":
		c.Username, c.UsernameSource = src.envUsername, envUsername
	}
	switch {
	case t.PasswordFile != "":
		p, err := readPasswordFile(ctx, t.PasswordFile)
		if err != nil {
			return c, fmt.Errorf("%s: %w", t.Where, err)
		}
		c.Password, c.PasswordSource = p, "password-file "+t.PasswordFile
	case src.flagPasswordFile != "":
		c.Password, c.PasswordSource = src.flagPassword, "--password-file "+src.flagPasswordFile
	case src.envPassword != "":
		c.Password, c.PasswordSource = src.envPassword, envPassword
	}
	switch {
	case c.Password != "" && c.Username == "":
		return c, fmt.Errorf("a password (from %s) but no username: set %s, --username, or username= in the targets file", c.PasswordSource, envUsername)
	case c.Username != "" && c.Password == "":
		return c, fmt.Errorf("username %q (from %s) but no password: set %s, --password-file, or password-file= in the targets file", c.Username, c.UsernameSource, envPassword)
	}
	return c, nil
}
