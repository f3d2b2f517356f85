package host

import "time"

// DeployedJobLease is the compute lease of deployment name's instance.
func DeployedJobLease(h *Host, name string) time.Duration {
	return h.lookup(name).inner.Compute.Lease()
}

// HostForTest opens (once) and returns the host a Lazy serves from.
func (l *Lazy) HostForTest() (*Host, error) { return l.host() }
