package auth

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// MaxTrustedIdentities bounds a trust list: every entry is a service a
// verifier may call, and a session cache per entry.
const MaxTrustedIdentities = 64

// TrustedIdentities lists the identity services, by URL, whose users a
// service accepts. It is the one place that decision lives: an empty list
// trusts none (there is no "trust any"), and a verifier refuses an
// authorisation naming any other identity service before it contacts it.
// Federation adds peer regions' identity services to these lists.
type TrustedIdentities []string

// Trusts says whether identityURL is on the list, compared exactly.
func (t TrustedIdentities) Trusts(identityURL string) bool { return slices.Contains(t, identityURL) }

// Check refuses a list a service should not run with: more than
// MaxTrustedIdentities entries, or an entry that is not an http(s) URL
// with a host and no query, fragment or credentials.
func (t TrustedIdentities) Check() error {
	if len(t) > MaxTrustedIdentities {
		return fmt.Errorf("at most %d trusted identity services, not %d", MaxTrustedIdentities, len(t))
	}
	for _, s := range t {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, " \t\r\n,") || len(s) > 512 {
			return fmt.Errorf("trusted identity %q must be an http(s) service URL", trunc(s))
		}
	}
	return nil
}

// ParseTrustedIdentities reads a comma-separated list (a setting or an
// environment variable) and checks it.
func ParseTrustedIdentities(text string) (TrustedIdentities, error) {
	var t TrustedIdentities
	for s := range strings.SplitSeq(text, ",") {
		if s = strings.TrimRight(strings.TrimSpace(s), "/"); s != "" && !t.Trusts(s) {
			t = append(t, s)
		}
	}
	return t, t.Check()
}

// String is the comma-separated form ParseTrustedIdentities reads.
func (t TrustedIdentities) String() string { return strings.Join(t, ",") }

// describe names the list in an error: every entry, or "none".
func (t TrustedIdentities) describe() string {
	if len(t) == 0 {
		return "none"
	}
	return trunc(strings.Join(t, ", "))
}
