package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/wallet"
)

// Exit codes: part of the CLI's contract with scripts (see rootLong).
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitAuth        = 3
	exitLocked      = 4
	exitNotFound    = 5
	exitUnreachable = 6
	exitRefused     = 7 // the ledger refused the operation (see 'acquire account --help')
	exitAnomalies   = 8 // an audit found anomalies (see 'acquire account audit --help')
)

// Error classes the CLI itself reports (the others come from services).
const (
	classUsage       = "UsageError"
	classNotLoggedIn = "NotLoggedInError"
	classTransport   = "TransportError"
	classTimeout     = "TimeoutError"
	classCanceled    = "CanceledError"
	classWallet      = "WalletError"
	classGeneric     = "Error"
)

// exitCodes maps error classes to exit codes; other classes exit 1.
var exitCodes = map[string]int{
	classUsage:                  exitUsage,
	"BadArgumentsError":         exitUsage, // a service found an argument malformed (an amount of 0 or -5, ...)
	"UsernameError":             exitUsage,
	"WeakPasswordError":         exitUsage,
	"PasswordError":             exitAuth,
	"OTPError":                  exitAuth,
	"OTPReusedError":            exitAuth,
	"UnknownUserError":          exitAuth,
	"AuthorisationError":        exitAuth,
	"IdentityNotTrustedError":   exitAuth,
	"ServiceNotTrustedError":    exitRefused,
	"NotPeeredError":            exitNotFound,
	"RegionUnreachableError":    exitUnreachable,
	"AuthorisationExpiredError": exitAuth,
	"SessionClosedError":        exitAuth,
	"SessionError":              exitAuth,
	classNotLoggedIn:            exitAuth,
	"AccountLockedError":        exitLocked,
	"NotFoundError":             exitNotFound,
	"AlreadyExistsError":        exitNotFound,
	classTransport:              exitUnreachable,
	"ServiceUnavailableError":   exitUnreachable,
	classTimeout:                exitUnreachable,
	"TransferConflictError":     exitNotFound,
	"InsufficientFundsError":    exitRefused,
	"PayeeLimitError":           exitRefused,
	"OverReceiptError":          exitRefused,
	"AlreadyResolvedError":      exitRefused,
	"TransferExpiredError":      exitRefused,
	"TransferRefusedError":      exitRefused,
	"NotProvisionalError":       exitRefused,
	"OverdraftError":            exitRefused,
	"AccountLimitError":         exitRefused,
}

// answeredError ends a command that printed its whole answer with a
// typed exit code other than success (an audit that found anomalies):
// nothing more goes to stdout, so JSON output stays one document.
type answeredError struct {
	class, message string
	code           int
}

func (e *answeredError) Error() string { return e.class + ": " + e.message }

// usageError is a mistake in how the command was called.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return &usageError{fmt.Errorf(format, args...)} }

// classify turns any error into the class, message and exit code the CLI
// reports.
func classify(err error) (class, message string, code int) {
	class, message = classGeneric, err.Error()
	var ue *usageError
	var ce *call.Error
	var te *call.TransportError
	var closed *wallet.ClosedError
	switch {
	case errors.As(err, &ue):
		class = classUsage
	case errors.As(err, &ce):
		class, message = ce.Class, ce.Message
		if message == "" {
			message = ce.Class
		}
	case errors.Is(err, context.DeadlineExceeded):
		class = classTimeout
	case errors.As(err, &te):
		class = classTransport
	case errors.Is(err, context.Canceled):
		class = classCanceled
	case errors.As(err, &closed):
		class, message = "SessionClosedError", closed.Error()
	case errors.Is(err, wallet.ErrNoSession):
		class = classNotLoggedIn
	case errors.Is(err, wallet.ErrUnseal), errors.Is(err, wallet.ErrCorrupt), errors.Is(err, wallet.ErrBusy),
		errors.Is(err, wallet.ErrLimit):
		class = classWallet
	}
	code, ok := exitCodes[class]
	if !ok {
		code = exitError
	}
	return class, message, code
}

// errorJSON is how errors look with --output json.
type errorJSON struct {
	Error struct {
		Class   string `json:"class"`
		Message string `json:"message"`
	} `json:"error"`
}

// report prints an error the way the output mode asks and returns the exit
// code: JSON on stdout, or "error: <class>: <message>" on stderr.
func report(g *globals, err error, hint string) int {
	class, message, code := classify(err)
	if g.output == outputJSON {
		var e errorJSON
		e.Error.Class, e.Error.Message = class, message
		_ = writeJSON(g.stdout, e)
		return code
	}
	// A service's message may quote what another user wrote.
	fmt.Fprintf(g.stderr, "error: %s: %s\n", shown(class), escapeText(message, true))
	if hint != "" {
		fmt.Fprintln(g.stderr, hint)
	}
	return code
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// emit prints a result: v as one JSON object, or text written by text,
// through safeWriter (text printers pass other users' text through shown).
func (g *globals) emit(v any, text func(w io.Writer)) error {
	if g.output == outputJSON {
		return writeJSON(g.stdout, v)
	}
	text(safeWriter{g.stdout})
	return nil
}

// when formats a time for people: UTC, to the second.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// until says how far ahead (or behind) t is, for people.
func until(t, now time.Time) string {
	d := t.Sub(now).Round(time.Minute)
	if d < 0 {
		return "expired " + (-d).String() + " ago"
	}
	return "in " + d.String()
}
