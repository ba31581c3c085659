package ipmi

import (
	"errors"
	"fmt"
)

// Error categories. Every error the package returns wraps one of these
// (checked with errors.Is) and names the target and the command or record
// it concerns.
var (
	// ErrMalformed: bytes from the BMC (or a capture) that do not decode.
	ErrMalformed = errors.New("malformed IPMI data")
	// ErrUnsupported: something the reader does not do (a cipher suite
	// go-ipmi cannot run, a bridged sensor, word-addressed FRU).
	ErrUnsupported = errors.New("not supported")
	// ErrTimeout: the BMC did not answer within the deadline.
	ErrTimeout = errors.New("no answer from the BMC")
	// ErrUnauthorized: the session was refused (user name, password,
	// privilege or cipher suite).
	ErrUnauthorized = errors.New("session refused")
	// ErrCompletionCode: the BMC answered with a non-zero completion code
	// (see CompletionCodeError for which).
	ErrCompletionCode = errors.New("IPMI completion code")
)

// errShort is a reply shorter than the fixed fields of its command's
// response (the command's table in the IPMI v2.0 spec).
func errShort(command string, got, want int) error {
	return fmt.Errorf("%w: reply too short for %s: %d bytes, want at least %d", ErrMalformed, command, got, want)
}
