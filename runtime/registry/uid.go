package registry

import (
	"regexp"
	"strings"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// A service UID says which registry issued it, so any registry (or
// client) can send a lookup to the service's home:
//
//	stor-0123456789abcdef@fedcba9876543210   a storage service of region fedcba9876543210
//	regi-fedcba9876543210                    that region's registry (it names its own region)
//	stor-0123456789abcdef                    issued before federation: home is the registry that holds it
//
// A region ID is the hex part of its registry's own UID, which the
// registry gives itself on first setup and never changes: existing
// registries have one already, so their old UIDs stay valid and their
// region needs no new setting.
var (
	uidPattern    = regexp.MustCompile(`^([a-z][a-z0-9_-]{0,3})-([0-9a-f]{16})(?:@([0-9a-f]{16}))?$`)
	regionPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// UIDRegionSep separates a UID's own part from its home region.
const UIDRegionSep = "@"

// RegionOf is the home region a UID names: its suffix, or for a
// registry's own UID (regi-<region>) that region. "" means a UID issued
// before federation, whose home is the registry asked.
func RegionOf(uid string) string {
	m := uidPattern.FindStringSubmatch(uid)
	switch {
	case m == nil:
		return ""
	case m[3] != "":
		return m[3]
	case m[1] == Kind[:4]:
		return m[2]
	}
	return ""
}

// CheckRegion refuses a string that is not a region ID.
func CheckRegion(region string) error {
	if !regionPattern.MatchString(region) {
		return call.Errorf(call.ErrBadArguments, "region %q must be 16 lower-case hex digits (the hex part of its registry's UID)", trunc(region))
	}
	return nil
}

// registryRegion is the region of a registry, read from its UID.
func registryRegion(uid string) (string, error) {
	region, ok := strings.CutPrefix(uid, Kind[:4]+"-")
	if !ok || CheckRegion(region) != nil {
		return "", call.Errorf(ErrPeering, "registry UID %q does not name a region", trunc(uid))
	}
	return region, nil
}

// newUID makes a UID for a service of kind issued in region ("" only for
// a registry's own UID, which is its region).
func newUID(kind, region string) string {
	uid := kind[:min(4, len(kind))] + "-" + service.NewID()[:16]
	if region != "" {
		uid += UIDRegionSep + region
	}
	return uid
}

// recordKey is where a record is kept: old UIDs spell their own key, as
// before; the '@' of a federated one is escaped.
func recordKey(uid string) string { return recordsPrefix + store.EncodeName(uid) }

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
