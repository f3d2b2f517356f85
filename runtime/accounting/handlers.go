package accounting

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/store"
)

// farFuture stands for "no upper bound" in statements.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func info(rec *accountRecord) *AccountInfo {
	return &AccountInfo{ID: rec.ID, Name: rec.Name, Owners: rec.Owners, Overdraft: rec.Overdraft, Created: rec.Created}
}

func (a *Accounting) handleCreateAccount(ctx context.Context, args *CreateAccountArgs) (*AccountInfo, error) {
	if !namePattern.MatchString(args.Name) {
		return nil, call.Errorf(call.ErrBadArguments, "account name %q must match %s", clip(args.Name), namePattern)
	}
	if args.Overdraft.IsNegative() {
		return nil, call.Errorf(ErrOverdraft, "overdraft %s is negative", args.Overdraft)
	}
	c, err := a.authorise(ctx, args.Credentials, CreateAccountResource(args.Name, args.Overdraft))
	if err != nil {
		return nil, err
	}
	if args.Overdraft.IsPositive() {
		if err := a.admin(ctx, c, "grant an overdraft"); err != nil {
			return nil, err
		}
	}
	id := AccountID(c.Owner, args.Name)
	rec := &accountRecord{ID: id, Name: args.Name, Owners: []Owner{c.Owner}, Overdraft: args.Overdraft,
		Created: a.svc.Now().UTC().Truncate(time.Microsecond)}
	var old accountRecord
	_, err = a.b.GetJSON(ctx, accountKey(id), &old)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := a.checkAccountLimit(ctx, c.Owner); err != nil {
			return nil, err
		}
		if _, err := a.b.PutJSONIfAbsent(ctx, accountKey(id), rec); errors.Is(err, store.ErrPrecondition) {
			// A concurrent create of the same name: whoever made the ledger
			// account first wins, the other answers AlreadyExists below.
			if _, err := a.b.GetJSON(ctx, accountKey(id), &old); err != nil {
				return nil, err
			}
			if err := a.finishable(ctx, &old, args); err != nil {
				return nil, err
			}
			rec = &old
		} else if err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		// The record exists: either the account exists (a second create of
		// one name), or a crash stopped its creation, which we finish.
		if err := a.finishable(ctx, &old, args); err != nil {
			return nil, err
		}
		rec = &old
	}
	if _, err := a.b.PutJSONIfAbsent(ctx, userPrefix(c.Owner)+store.EncodeName(id), struct {
		ID string `json:"id"`
	}{id}); err != nil && !errors.Is(err, store.ErrPrecondition) {
		return nil, err
	}
	_, err = a.l.CreateAccount(ctx, ledger.AccountSpec{ID: id, Owner: c.ledgerOwner(), Name: rec.Name, Overdraft: rec.Overdraft})
	if err != nil {
		return nil, typed(err)
	}
	out := info(rec)
	b, err := a.l.Balance(ctx, id)
	if err != nil {
		return nil, typed(err)
	}
	out.Balance = &b
	return out, nil
}

// finishable says whether an existing record may be finished by this
// create: only when its ledger account was never made and it asks the same.
func (a *Accounting) finishable(ctx context.Context, old *accountRecord, args *CreateAccountArgs) error {
	_, err := a.l.GetAccount(ctx, old.ID)
	if err == nil {
		return call.Errorf(call.ErrExists, "you already have an account named %q (%s)", old.Name, old.ID)
	}
	if !errors.Is(err, ledger.ErrNoAccount) {
		return typed(err)
	}
	if old.Overdraft != args.Overdraft {
		return call.Errorf(call.ErrExists, "an account named %q is being created with another overdraft", old.Name)
	}
	return nil
}

// admin refuses anyone but an admin of the accounting service (a user:
// services are never admins) to do what.
func (a *Accounting) admin(ctx context.Context, c *caller, what string) error {
	if c.ServiceURL == "" {
		ok, err := a.svc.IsAdmin(ctx, c.IdentityURL, c.UserUID)
		if err != nil || ok {
			return err
		}
	}
	return call.Errorf(call.ErrPermission, "only admins of the accounting service may %s", what)
}

// handleSetOverdraft sets an account's overdraft limit (admins only): the
// only way an overdraft is granted after creation, and the only way one
// reaches a user's or a service's account at all.
func (a *Accounting) handleSetOverdraft(ctx context.Context, args *SetOverdraftArgs) (*ledger.Balance, error) {
	c, err := a.authorise(ctx, args.Credentials, SetOverdraftResource(args.Account, args.Limit))
	if err != nil {
		return nil, err
	}
	if err := a.admin(ctx, c, "set an overdraft"); err != nil {
		return nil, err
	}
	if _, err := a.account(ctx, args.Account); err != nil {
		return nil, err
	}
	b, err := a.l.SetOverdraft(ctx, args.Account, args.Limit, c.summary)
	if err != nil {
		return nil, typed(err)
	}
	return &b, nil
}

func (a *Accounting) checkAccountLimit(ctx context.Context, o Owner) error {
	page, err := a.b.List(ctx, userPrefix(o), "", MaxAccountsPerUser)
	if err != nil {
		return err
	}
	if len(page.Items) >= MaxAccountsPerUser {
		return call.Errorf(ErrAccountLimit, "a user may have at most %d accounts", MaxAccountsPerUser)
	}
	return nil
}

func (a *Accounting) handleListAccounts(ctx context.Context, args *AuthArgs) (*AccountList, error) {
	c, err := a.authorise(ctx, args.Credentials, ListAccountsResource)
	if err != nil {
		return nil, err
	}
	pre := userPrefix(c.Owner)
	page, err := a.b.List(ctx, pre, "", MaxAccountsPerUser)
	if err != nil {
		return nil, err
	}
	out := &AccountList{Accounts: []*AccountInfo{}}
	for _, it := range page.Items {
		id, err := store.DecodeName(it.Key[len(pre):])
		if err != nil {
			return nil, err
		}
		rec, err := a.account(ctx, id)
		if err != nil {
			return nil, err
		}
		b, err := a.l.Balance(ctx, id)
		if errors.Is(err, ledger.ErrNoAccount) {
			continue // creation stopped half-way; a retry of create_account finishes it
		}
		if err != nil {
			return nil, typed(err)
		}
		ai := info(rec)
		ai.Balance = &b
		out.Accounts = append(out.Accounts, ai)
	}
	slices.SortFunc(out.Accounts, func(x, y *AccountInfo) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

func (a *Accounting) handleBalance(ctx context.Context, args *BalanceArgs) (*ledger.Balance, error) {
	c, err := a.authorise(ctx, args.Credentials, BalanceResource(args.Account))
	if err != nil {
		return nil, err
	}
	if _, err := a.owned(ctx, c, args.Account); err != nil {
		return nil, err
	}
	var b ledger.Balance
	if args.At.IsZero() {
		b, err = a.l.Balance(ctx, args.Account)
	} else {
		b, err = a.l.BalanceAt(ctx, args.Account, args.At)
	}
	if err != nil {
		return nil, typed(err)
	}
	return &b, nil
}

func (a *Accounting) handleStatement(ctx context.Context, args *StatementArgs) (*ledger.StatementPage, error) {
	c, err := a.authorise(ctx, args.Credentials, StatementResource(args.Account))
	if err != nil {
		return nil, err
	}
	if _, err := a.owned(ctx, c, args.Account); err != nil {
		return nil, err
	}
	if args.PageSize < 0 || args.PageSize > MaxStatementPage {
		return nil, call.Errorf(call.ErrBadArguments, "page_size must be 1..%d", MaxStatementPage)
	}
	if args.PageSize == 0 {
		args.PageSize = DefaultStatementPage
	}
	to := args.To
	if to.IsZero() {
		to = farFuture
	}
	if !args.From.Before(to) {
		return nil, call.Errorf(call.ErrBadArguments, "from must be before to")
	}
	read := a.l.Statement
	if args.Newest {
		read = a.l.StatementNewest
	}
	page, err := read(ctx, args.Account, args.From, to, args.PageToken, args.PageSize)
	if err != nil {
		return nil, typed(err)
	}
	if page.Lines == nil {
		page.Lines = []ledger.Line{}
	}
	return &page, nil
}

func (a *Accounting) handleTransfer(ctx context.Context, args *TransferArgs) (*ledger.TransferResult, error) {
	if args.To == ledger.MintAccount {
		return nil, call.Errorf(call.ErrBadArguments, "the mint cannot be paid into")
	}
	c, err := a.authorise(ctx, args.Credentials, TransferResource(args))
	if err != nil {
		return nil, err
	}
	if _, err := a.owned(ctx, c, args.From); err != nil {
		return nil, err
	}
	if _, err := a.account(ctx, args.To); err != nil {
		return nil, err
	}
	if err := ledger.CheckID("transfer", args.ID); err != nil {
		return nil, typed(err)
	}
	req := ledger.TransferRequest{ID: transferID(c, args.ID), From: args.From, To: args.To, Amount: args.Amount,
		Description: args.Description, Authorisation: c.summary}
	if !args.ReceiptBy.IsZero() {
		req.ReceiptBy = receiptBy(args.ReceiptBy)
		if req.ReceiptBy.After(a.svc.Now().Add(MaxReceiptByAhead)) {
			return nil, call.Errorf(call.ErrBadArguments, "receipt_by is more than %s ahead", MaxReceiptByAhead)
		}
		if err := a.recordProvisional(ctx, &req); err != nil {
			return nil, err
		}
	}
	res, err := a.l.Transfer(ctx, req)
	if err != nil {
		return nil, typed(err)
	}
	return &res, nil
}

// recordProvisional remembers a provisional transfer's sides before the
// ledger records it (idempotently; another content under the id is a
// conflict, as it would be in the ledger).
func (a *Accounting) recordProvisional(ctx context.Context, req *ledger.TransferRequest) error {
	if err := ledgerID(req.ID); err != nil {
		return err
	}
	p := provisionalRecord{ID: req.ID, From: req.From, To: req.To, Amount: req.Amount, ReceiptBy: req.ReceiptBy}
	_, err := a.b.PutJSONIfAbsent(ctx, provisionalKey(req.ID), &p)
	if errors.Is(err, store.ErrPrecondition) {
		var old provisionalRecord
		if _, err := a.b.GetJSON(ctx, provisionalKey(req.ID), &old); err != nil {
			return err
		}
		if old.From != p.From || old.To != p.To || old.Amount != p.Amount || !old.ReceiptBy.Equal(p.ReceiptBy) {
			return call.Errorf(ErrTransferConflict, "transfer id %s was used with other content", req.ID)
		}
		return nil
	}
	return err
}

// ledgerID checks an id the way the ledger will, before any record is
// written under it.
func ledgerID(id string) error {
	if len(id) == 0 || len(id) > ledger.MaxIDBytes || strings.ContainsAny(id, " /\\") {
		return call.Errorf(call.ErrBadArguments, "transfer id %q is malformed", clip(id))
	}
	return nil
}

func (a *Accounting) provisional(ctx context.Context, id string) (*provisionalRecord, error) {
	if err := ledgerID(id); err != nil {
		return nil, err
	}
	var p provisionalRecord
	if _, err := a.b.GetJSON(ctx, provisionalKey(id), &p); errors.Is(err, store.ErrNotFound) {
		return nil, call.Errorf(call.ErrNotFound, "no provisional transfer %q", clip(id))
	} else if err != nil {
		return nil, err
	}
	return &p, nil
}

func (a *Accounting) handleReceipt(ctx context.Context, args *ReceiptArgs) (*ledger.TransferResult, error) {
	c, err := a.authorise(ctx, args.Credentials, ReceiptResource(args.ID, args.Amount))
	if err != nil {
		return nil, err
	}
	p, err := a.provisional(ctx, args.ID)
	if err != nil {
		return nil, err
	}
	if _, err := a.owned(ctx, c, p.To); err != nil {
		return nil, call.Errorf(call.ErrPermission, "only the payee's owners may receipt transfer %s", args.ID)
	}
	res, err := a.l.Receipt(ctx, args.ID, args.Amount, c.summary)
	if err != nil {
		return nil, typed(err)
	}
	return &res, nil
}

func (a *Accounting) handleRefund(ctx context.Context, args *RefundArgs) (*ledger.TransferResult, error) {
	c, err := a.authorise(ctx, args.Credentials, RefundResource(args.ID))
	if err != nil {
		return nil, err
	}
	p, err := a.provisional(ctx, args.ID)
	if err != nil {
		return nil, err
	}
	if _, err := a.owned(ctx, c, p.To); err != nil {
		return nil, call.Errorf(call.ErrPermission, "only the payee's owners may refund transfer %s", args.ID)
	}
	res, err := a.l.Refund(ctx, args.ID, c.summary)
	if err != nil {
		return nil, typed(err)
	}
	return &res, nil
}

func (a *Accounting) handleDeposit(ctx context.Context, args *DepositArgs) (*ledger.TransferResult, error) {
	c, err := a.authorise(ctx, args.Credentials, DepositResource(args))
	if err != nil {
		return nil, err
	}
	if err := a.admin(ctx, c, "deposit"); err != nil {
		return nil, err
	}
	if _, err := a.account(ctx, args.Account); err != nil {
		return nil, err
	}
	if err := ledger.CheckID("deposit", args.ID); err != nil {
		return nil, typed(err)
	}
	res, err := a.l.Transfer(ctx, ledger.TransferRequest{ID: depositID(c, args.ID), From: ledger.MintAccount, To: args.Account,
		Amount: args.Amount, Description: args.Description, Authorisation: c.summary})
	if err != nil {
		return nil, typed(err)
	}
	return &res, nil
}
