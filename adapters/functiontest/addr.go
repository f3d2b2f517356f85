package functiontest

import (
	"net"
	"testing"
)

// Port is the port of a host:port address.
func Port(tb testing.TB, addr string) string {
	tb.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	return port
}
