package access

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/accounting"
	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/ledger"
)

// Resource is one catalogue entry: what it costs, which service and
// function fulfil it, and who may request it.
type Resource struct {
	Name       string        `json:"name"`
	Price      ledger.Amount `json:"price"`
	ServiceURL string        `json:"service_url"`
	Function   string        `json:"function"`
	// Users lists the users allowed to request it, each as
	// "<user uid>@<identity service URL>" (UserRef): a UID is unique only
	// within its identity service. Empty allows any user of a trusted
	// identity service.
	Users       []string `json:"users,omitempty"`
	Description string   `json:"description,omitempty"`
	// HoldS is how long a request's payment is held before it must be
	// settled (the provisional transfer's receipt_by), in seconds; 0 means
	// HoldFor. Resources fulfilled later (deferred: jobs) need longer.
	HoldS   int64     `json:"hold_s,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
}

// UserRef is how a catalogue entry names a user: the UID and the identity
// service that issued it, together, so no other identity service's user
// with the same UID matches.
func UserRef(identityURL, userUID string) string { return userUID + "@" + identityURL }

// allows says whether the catalogue lets the user (identityURL, uid)
// request r: both must match a listed user.
func (r *Resource) allows(identityURL, uid string) bool {
	return len(r.Users) == 0 || slices.Contains(r.Users, UserRef(identityURL, uid))
}

// SetResourceArgs adds or replaces a catalogue entry (admins).
type SetResourceArgs struct {
	auth.Credentials
	Resource Resource `json:"resource"`
}

// SetResourceResource is "set_resource <name> <digest of the entry>".
func SetResourceResource(r *Resource) string {
	c := *r
	c.Updated = time.Time{}
	raw, _ := json.Marshal(&c) // a struct of strings and amounts always marshals
	return "set_resource " + r.Name + " " + digest(string(raw))
}

// RemoveResourceArgs removes a catalogue entry (admins).
type RemoveResourceArgs struct {
	auth.Credentials
	Name string `json:"name"`
}

// RemoveResourceResource is "remove_resource <name>".
func RemoveResourceResource(name string) string { return "remove_resource " + name }

// ListResourcesResource is what list_resources' authorisation names.
const ListResourcesResource = "list_resources"

// ListResourcesArgs carries the caller's authorisation.
type ListResourcesArgs struct {
	auth.Credentials
}

// Catalogue is the list of resources, by name.
type Catalogue struct {
	Resources []*Resource `json:"resources"`
}

// RequestArgs asks for a resource, paid by Cheque (written to this
// service, for at least the price), under the client's RequestID.
type RequestArgs struct {
	auth.Credentials
	RequestID string             `json:"request_id"`
	Resource  string             `json:"resource"`
	Details   string             `json:"details,omitempty"`
	Cheque    *accounting.Cheque `json:"cheque"`
}

// RequestResource is "request <request id> resource <name> cheque <cheque
// uid> details <digest>".
func RequestResource(a *RequestArgs) string {
	uid := ""
	if a.Cheque != nil {
		uid = a.Cheque.UID
	}
	return "request " + a.RequestID + " resource " + a.Resource + " cheque " + uid + " details " + digest(a.Details)
}

// Outcomes of a request. OutcomePending is a deferred fulfilment's
// outcome until the fulfilling service settles it.
const (
	OutcomeGranted = "granted"
	OutcomeFailed  = "failed"
	OutcomePending = "pending"
)

// Deferred is the shape a fulfiller answers when the outcome will be
// known only later (a job that has yet to run): a JSON object with
// "deferred": true, and anything else the user should see (a job id).
// The payment stays held until the fulfiller calls settle.
type Deferred struct {
	Deferred bool `json:"deferred"`
}

// Settlements a fulfilling service reports for a deferred request.
const (
	SettleSucceeded = "succeeded" // receipt the held payment
	SettleFailed    = "failed"    // refund it
	SettleCancelled = "cancelled" // refund it
)

// SettleArgs is a fulfilling service's report, in its own name, of how a
// deferred request ended. Message (at most MaxSettleMessageBytes) is shown
// to the user on failure.
type SettleArgs struct {
	auth.Credentials
	RequestUID string `json:"request_uid"`
	Outcome    string `json:"outcome"`
	Message    string `json:"message,omitempty"`
}

// SettleResource is "settle <request uid> outcome <outcome> message <digest>".
func SettleResource(a *SettleArgs) string {
	return "settle " + a.RequestUID + " outcome " + a.Outcome + " message " + digest(a.Message)
}

// Grant is what a granted request gave: the answer to the user.
type Grant struct {
	RequestID   string          `json:"request_id"`
	RequestUID  string          `json:"request_uid"`
	Resource    string          `json:"resource"`
	IdentityURL string          `json:"identity_url"`
	UserUID     string          `json:"user_uid"`
	Price       ledger.Amount   `json:"price"`
	Transfer    string          `json:"transfer"`
	Outcome     string          `json:"outcome"`
	Result      json.RawMessage `json:"result,omitempty"`
	Time        time.Time       `json:"time"`
}

// FulfilArgs is what the access service sends the fulfilling service's
// function, with its own service authorisation over FulfilResource.
// RequestUID is stable across retries: a fulfiller should be idempotent
// by it (a request whose first run crashed mid-call asks again).
type FulfilArgs struct {
	auth.Credentials
	RequestUID  string        `json:"request_uid"`
	Resource    string        `json:"resource"`
	IdentityURL string        `json:"identity_url"`
	UserUID     string        `json:"user_uid"`
	Price       ledger.Amount `json:"price"`
	Details     string        `json:"details,omitempty"`
	// HoldUntil is when the held payment returns to the user by itself: a
	// deferred fulfiller must settle before it.
	HoldUntil time.Time `json:"hold_until,omitzero"`
}

// FulfilResource is "fulfil <request uid> resource <name> user <uid>
// price <amount> details <digest> hold_until <RFC 3339 ms>".
func FulfilResource(a *FulfilArgs) string {
	return "fulfil " + a.RequestUID + " resource " + a.Resource + " user " + a.UserUID + " price " + a.Price.String() +
		" details " + digest(a.Details) + " hold_until " + a.HoldUntil.UTC().Format(time.RFC3339Nano)
}

// Actions check answers about.
const (
	ActionRequest = "request" // may the user request the resource (the catalogue's rule)?
	ActionUse     = "use"     // does the user hold a grant of the resource?
)

// Query is one question: may the user do Action on Resource? An empty
// user means the caller.
type Query struct {
	IdentityURL string `json:"identity_url,omitempty"`
	UserUID     string `json:"user_uid,omitempty"`
	Action      string `json:"action"`
	Resource    string `json:"resource"`
}

// Answer answers one Query.
type Answer struct {
	Query
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason"`
}

// CheckArgs asks one question.
type CheckArgs struct {
	auth.Credentials
	Query Query `json:"query"`
}

// CheckResource is "check <digest of the query>".
func CheckResource(q Query) string { return "check " + digestJSON(q) }

// BatchCheckArgs asks up to MaxBatchCheck questions at once.
type BatchCheckArgs struct {
	auth.Credentials
	Queries []Query `json:"queries"`
}

// BatchCheckResource is "batch_check <digest of the queries>".
func BatchCheckResource(qs []Query) string { return "batch_check " + digestJSON(qs) }

// Answers are batch_check's answers, in the order asked.
type Answers struct {
	Answers []Answer `json:"answers"`
}

func digestJSON(v any) string {
	raw, _ := json.Marshal(v) // queries are strings only
	return digest(string(raw))
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

// hasControl reports control characters, which no name or URL may hold.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
