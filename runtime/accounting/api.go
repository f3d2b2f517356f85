package accounting

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/ledger"
)

// The resource each function's authorisation must name. A resource binds
// the operation and its content (ids, amounts, times), so an authorisation
// signed for one call is refused for any other.

// CreateAccountResource is "create_account <name> overdraft <amount>".
func CreateAccountResource(name string, overdraft ledger.Amount) string {
	return "create_account " + name + " overdraft " + overdraft.String()
}

// SetOverdraftResource is "set_overdraft <account> limit <amount>".
func SetOverdraftResource(account string, limit ledger.Amount) string {
	return "set_overdraft " + account + " limit " + limit.String()
}

// ListAccountsResource is "list_accounts".
const ListAccountsResource = "list_accounts"

// BalanceResource is "balance <account>".
func BalanceResource(account string) string { return "balance " + account }

// StatementResource is "statement <account>".
func StatementResource(account string) string { return "statement " + account }

// TransferResource is "transfer <id> from <from> to <to> amount <amount>",
// then " receipt_by <RFC 3339, ms, UTC>" for a provisional transfer and
// " description <first 16 bytes of its SHA-256, hex>" when there is one.
func TransferResource(a *TransferArgs) string {
	var b strings.Builder
	b.WriteString("transfer " + a.ID + " from " + a.From + " to " + a.To + " amount " + a.Amount.String())
	if !a.ReceiptBy.IsZero() {
		b.WriteString(" receipt_by " + receiptBy(a.ReceiptBy).Format(time.RFC3339Nano))
	}
	if a.Description != "" {
		b.WriteString(" description " + digest(a.Description))
	}
	return b.String()
}

// ReceiptResource is "receipt <id> <amount>".
func ReceiptResource(id string, amount ledger.Amount) string {
	return "receipt " + id + " " + amount.String()
}

// RefundResource is "refund <id>".
func RefundResource(id string) string { return "refund " + id }

// DepositResource is "deposit <id> to <account> amount <amount>", then
// " description <digest>" as for transfers.
func DepositResource(a *DepositArgs) string {
	s := "deposit " + a.ID + " to " + a.Account + " amount " + a.Amount.String()
	if a.Description != "" {
		s += " description " + digest(a.Description)
	}
	return s
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

// receiptBy is the precision the ledger keeps (milliseconds, UTC).
func receiptBy(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// CreateAccountArgs creates an account owned by the caller. Only an admin
// may create one with an overdraft; anyone else passes zero.
type CreateAccountArgs struct {
	auth.Credentials
	Name      string        `json:"name"`
	Overdraft ledger.Amount `json:"overdraft"`
}

// SetOverdraftArgs sets Account's overdraft limit to Limit (admins only).
type SetOverdraftArgs struct {
	auth.Credentials
	Account string        `json:"account"`
	Limit   ledger.Amount `json:"limit"`
}

// AccountInfo describes an account (and, where asked, its balance).
type AccountInfo struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Owners    []Owner         `json:"owners"`
	Overdraft ledger.Amount   `json:"overdraft"` // the limit it was created with
	Created   time.Time       `json:"created"`
	Balance   *ledger.Balance `json:"balance,omitempty"`
}

// AuthArgs carries only an authorisation.
type AuthArgs struct {
	auth.Credentials
}

// AccountList is the caller's accounts, by name.
type AccountList struct {
	Accounts []*AccountInfo `json:"accounts"`
}

// BalanceArgs asks an account's balance now, or at a past time.
type BalanceArgs struct {
	auth.Credentials
	Account string    `json:"account"`
	At      time.Time `json:"at,omitzero"`
}

// StatementArgs asks one page of an account's entries in [From, To).
// A zero To means up to now.
type StatementArgs struct {
	auth.Credentials
	Account   string    `json:"account"`
	From      time.Time `json:"from,omitzero"`
	To        time.Time `json:"to,omitzero"`
	PageToken string    `json:"page_token,omitempty"`
	PageSize  int       `json:"page_size,omitempty"`
	// Newest lists newest first (from To back to From); a page token of
	// one direction is refused by the other.
	Newest bool `json:"newest,omitempty"`
}

// TransferArgs moves Amount from the caller's account From to any account
// To, under the client-chosen id ID. A ReceiptBy makes it provisional.
type TransferArgs struct {
	auth.Credentials
	ID          string        `json:"id"`
	From        string        `json:"from"`
	To          string        `json:"to"`
	Amount      ledger.Amount `json:"amount"`
	Description string        `json:"description,omitempty"`
	ReceiptBy   time.Time     `json:"receipt_by,omitzero"`
}

// ReceiptArgs receipts Amount (at most the transfer's) of a provisional
// transfer into the caller's account.
type ReceiptArgs struct {
	auth.Credentials
	ID     string        `json:"id"`
	Amount ledger.Amount `json:"amount"`
}

// RefundArgs gives a provisional transfer into the caller's account back.
type RefundArgs struct {
	auth.Credentials
	ID string `json:"id"`
}

// DepositArgs creates money in Account from the mint (admins only).
type DepositArgs struct {
	auth.Credentials
	ID          string        `json:"id"`
	Account     string        `json:"account"`
	Amount      ledger.Amount `json:"amount"`
	Description string        `json:"description,omitempty"`
}
