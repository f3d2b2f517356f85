// Package call holds Acquire's wire envelope (byte-compatible with the
// original Python Acquire's Service._function), its typed errors and the Go
// client that speaks it.
package call

import (
	"errors"
	"fmt"
)

// Error is the typed error that crosses the wire: a class and a message,
// never a stack trace. Two Errors match under errors.Is when their classes
// are equal, so callers can test for a class without caring about the text.
type Error struct {
	Class   string `json:"class"`
	Module  string `json:"module,omitempty"`
	Message string `json:"error"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Class
	}
	return e.Class + ": " + e.Message
}

// Is matches on class alone.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Class == e.Class
}

// Errorf makes a typed error of the given class.
func Errorf(class *Error, format string, args ...any) *Error {
	return &Error{Class: class.Class, Module: class.Module, Message: fmt.Sprintf(format, args...)}
}

func class(name string) *Error { return &Error{Class: name, Module: "acquire"} }

// The classes every service may answer with. Services add their own with
// NewClass; the names are part of the protocol, so they never change.
var (
	ErrPermission      = &Error{Class: "PermissionError", Module: "builtins"}
	ErrUnpacking       = class("UnpackingError")
	ErrUnknownFunction = class("UnknownFunctionError")
	ErrBadArguments    = class("BadArgumentsError")
	ErrTooLarge        = class("RequestTooLargeError")
	ErrClock           = class("RequestTimeError")
	ErrReplay          = class("ReplayError")
	ErrIdempotency     = class("IdempotencyConflictError")
	ErrInProgress      = class("InProgressError")
	ErrSignature       = class("SignatureError")
	ErrNotFound        = class("NotFoundError")
	ErrExists          = class("AlreadyExistsError")
	ErrInternal        = class("InternalError")
	ErrUnavailable     = class("ServiceUnavailableError")
	ErrBusy            = class("BusyError")
)

// NewClass declares a service-specific error class.
func NewClass(name string) *Error { return class(name) }
