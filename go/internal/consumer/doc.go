// Package consumer holds only a test: it builds testdata/consumer, a program in a module of
// its own that requires github.com/deploykit/deploykit/go (through a replace directive to
// this checkout, as the proxy cannot serve an unpublished version), with the cgo flags that
// pkg-config prints for the tensorflow.pc that `make setup-go` writes, exactly as
// go/README.md tells a user to, and runs it on the test export.
package consumer
