package main

import (
	"errors"
	"strings"

	"github.com/deploykit/deploykit/go/manifest"
	"github.com/deploykit/deploykit/go/tfmodel"
)

// Exit codes of the common client CLI.
const (
	exitOK       = 0
	exitMismatch = 1
	exitInput    = 2
	exitModel    = 3
)

// cliError carries the exit code and the "<what>" of the one-line message.
type cliError struct {
	code int
	what string
	err  error
}

func (e *cliError) Error() string {
	if e.what == "" {
		return e.err.Error()
	}
	return e.what + ": " + e.err.Error()
}
func (e *cliError) Unwrap() error { return e.err }

func fail(code int, what string, err error) error { return &cliError{code: code, what: what, err: err} }

func usage(msg string) error { return fail(exitInput, "usage", errors.New(msg)) }

// failModel wraps an error from the manifest or tfmodel packages with its exit code.
func failModel(what string, err error) error { return fail(classCode(err), what, err) }

// classCode maps the library's error classes to exit codes: bad input (including a
// malformed manifest and failed input checks) is 2, everything about loading the model is 3.
func classCode(err error) int {
	switch {
	case errors.Is(err, manifest.ErrVersion):
		return exitModel
	case errors.Is(err, tfmodel.ErrInput), errors.Is(err, manifest.ErrInvalid), errors.Is(err, manifest.ErrBadInput),
		errors.Is(err, manifest.ErrUnknownModel), errors.Is(err, manifest.ErrUnknownFormat):
		return exitInput
	}
	return exitModel
}

// exitCode is the process exit code of an error run returned.
func exitCode(err error) int {
	var ce *cliError
	if errors.As(err, &ce) {
		return ce.code
	}
	return classCode(err)
}

// oneLine is the message without the "error: " prefix; TensorFlow's multi-line messages
// are folded unless verbose.
func oneLine(err error, verbose bool) string {
	msg := err.Error()
	if !verbose {
		msg = strings.ReplaceAll(msg, "\n", " ")
	}
	return msg
}
