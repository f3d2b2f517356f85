package accounting

// Cross-region transfers: a user here pays an account in another
// accounting service's ledger (a peer region) through runtime/settlement.
// This file wires that protocol into the service: the user's functions
// (transfer_out, transfer_status), the peer's function (settle_credit,
// callable only by an explicitly trusted peer accounting service, signed
// with its service certificate), the admins' view of the positions, and
// the authenticated call to a peer.

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/ledger"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/settlement"
)

// Error classes of cross-region transfers. The names are part of the
// protocol.
var (
	// ErrPeerUnreachable: the peer accounting service did not answer in
	// time. The transfer is in flight, the money held here; a retry with
	// the same id, or the service's sweep, finishes it once it answers.
	ErrPeerUnreachable = call.NewClass("PeerUnreachableError")
	// ErrPeerNotTrusted: the named service is not a settlement peer here.
	ErrPeerNotTrusted = call.NewClass("PeerNotTrustedError")
	// ErrTransferAborted: the peer did not credit the payee (credit_by
	// passed, no such account, a limit); the money came back.
	ErrTransferAborted = call.NewClass("TransferAbortedError")
)

// MaxSettlementPeers bounds the peers one accounting service settles with.
const MaxSettlementPeers = 64

// openSettlement makes the Settler and the peers' verifier.
func (a *Accounting) openSettlement(o Options) error {
	if len(o.SettlementPeers) > MaxSettlementPeers {
		return errors.New("accounting: too many settlement peers")
	}
	peers := map[string]settlement.Peer{}
	trusted := map[string]bool{}
	for _, u := range o.SettlementPeers {
		u = strings.TrimRight(strings.TrimSpace(u), "/")
		if u == "" || u == a.svc.URL() {
			continue
		}
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") || len(u) > settlement.MaxPeerURLBytes {
			return errors.New("accounting: settlement peer " + clip(u) + " must be an http(s) accounting service URL")
		}
		peers[u] = &httpPeer{c: o.Client, url: u, self: a.svc}
		trusted[u] = true
	}
	certs := o.PeerCerts
	if certs == nil {
		certs = auth.ServiceCertsFrom(o.Client)
	}
	// Its own verifier: a peer is trusted to settle, nothing more (it owns
	// no accounts here and cashes no cheques unless TrustedServices says).
	a.peerV = &auth.ServiceVerifier{Certs: certs, Clock: a.svc.Clock(), Audience: a.svc.URL(), Services: trusted}
	s, err := settlement.New(settlement.Config{Self: a.svc.URL(), Bucket: a.b, Ledger: a.l, Clock: a.svc.Clock(),
		Peers:   func(u string) (settlement.Peer, bool) { p, ok := peers[u]; return p, ok },
		Payable: a.payableByPeer, OnHold: a.recordHold, CreditLimit: o.PeerCreditLimit, Window: o.SettlementWindow, Log: a.svc.Logger()})
	if err != nil {
		return err
	}
	a.settler = s
	a.peers = slices.Sorted(func(yield func(string) bool) {
		for u := range peers {
			if !yield(u) {
				return
			}
		}
	})
	return nil
}

func (a *Accounting) registerSettlement() {
	s := a.svc
	// No framework idempotency records: the settlement is idempotent per
	// id on both sides, which saves two writes per call.
	service.Handle(s, "transfer_out", service.Options{}, a.handleTransferOut)
	service.Handle(s, "transfer_status", service.Options{}, a.handleTransferStatus)
	service.Handle(s, "settle_credit", service.Options{}, a.handleSettleCredit)
	service.Handle(s, "settlement_positions", service.Options{}, a.handlePositions)
	service.Handle(s, "ledger_audit", service.Options{}, a.handleAudit)
}

// Settler returns the settlement (for the host's sweep and tests).
func (a *Accounting) Settler() *settlement.Settler { return a.settler }

// payableByPeer: a peer may pay into any account this service opened for a
// user or a service (never the mint or a settlement account).
func (a *Accounting) payableByPeer(ctx context.Context, acc string) (string, error) {
	_, err := a.account(ctx, acc)
	if errors.Is(err, call.ErrNotFound) || errors.Is(err, call.ErrPermission) {
		return "no account " + clip(acc), nil
	}
	return "", err
}

// recordHold lets the payee of a peer's provisional transfer receipt or
// refund its hold here, as any provisional transfer (handleReceipt).
func (a *Accounting) recordHold(ctx context.Context, req ledger.TransferRequest) error {
	return a.recordProvisional(ctx, &req)
}

// SettlementID is the settlement id of the cross-region transfer o asked
// for under its own id: scoped to o like TransferID, so nobody can take
// or block another's ids.
func SettlementID(o Owner, id string) string { return "xt-" + ownerScoped("xtransfer", o, id) }

// TransferOutArgs pays Amount from the caller's account From to the
// account To at the peer accounting service Peer, under the caller's id.
type TransferOutArgs struct {
	auth.Credentials
	ID          string        `json:"id"`
	From        string        `json:"from"`
	Peer        string        `json:"peer"`
	To          string        `json:"to"`
	Amount      ledger.Amount `json:"amount"`
	Description string        `json:"description,omitempty"`
	// ReceiptBy makes it provisional: held at the peer until the payee
	// receipts or refunds it there, or until then.
	ReceiptBy time.Time `json:"receipt_by,omitzero"`
}

// TransferOutResource is "transfer_out <id> from <from> to <to> at <peer>
// amount <amount>", then " description <digest>" when there is one, then
// " receipt_by <RFC 3339 ms UTC>" when provisional.
func TransferOutResource(a *TransferOutArgs) string {
	s := "transfer_out " + a.ID + " from " + a.From + " to " + a.To + " at " + a.Peer + " amount " + a.Amount.String()
	if a.Description != "" {
		s += " description " + digest(a.Description)
	}
	if !a.ReceiptBy.IsZero() {
		s += " receipt_by " + stamp(a.ReceiptBy)
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano) }

func (a *Accounting) handleTransferOut(ctx context.Context, args *TransferOutArgs) (*settlement.Status, error) {
	c, err := a.authorise(ctx, args.Credentials, TransferOutResource(args))
	if err != nil {
		return nil, err
	}
	if _, err := a.owned(ctx, c, args.From); err != nil {
		return nil, err
	}
	if err := ledger.CheckID("transfer", args.ID); err != nil {
		return nil, typed(err)
	}
	if err := checkAmount(args.Amount); err != nil {
		return nil, err
	}
	if !args.ReceiptBy.IsZero() && args.ReceiptBy.After(a.svc.Now().Add(MaxReceiptByAhead)) {
		return nil, call.Errorf(call.ErrBadArguments, "receipt_by is more than %s ahead", MaxReceiptByAhead)
	}
	st, err := a.settler.Send(ctx, settlement.Out{ID: SettlementID(c.Owner, args.ID), From: args.From, Peer: args.Peer,
		To: args.To, Amount: args.Amount, Description: args.Description, Authorisation: c.summary, ReceiptBy: args.ReceiptBy})
	if err != nil {
		return nil, settlementTyped(err)
	}
	return &st, nil
}

func checkAmount(x ledger.Amount) error {
	if !x.IsPositive() || x.Cmp(ledger.MaxAmount) > 0 {
		return call.Errorf(call.ErrBadArguments, "amount %s is not in (0, %s]", x, ledger.MaxAmount)
	}
	return nil
}

// settlementTyped maps settlement errors to the service's classes.
func settlementTyped(err error) error {
	m := err.Error()
	switch {
	case errors.Is(err, settlement.ErrPeerUnreachable):
		return call.Errorf(ErrPeerUnreachable, "%s (the money is held until the peer answers; retry with the same id, or wait for the sweep)", m)
	case errors.Is(err, settlement.ErrUnknownPeer):
		return call.Errorf(ErrPeerNotTrusted, "%s", m)
	case errors.Is(err, settlement.ErrConflict):
		return call.Errorf(ErrTransferConflict, "%s", m)
	case errors.Is(err, settlement.ErrAborted):
		return call.Errorf(ErrTransferAborted, "%s", m)
	case errors.Is(err, settlement.ErrInvalid):
		return call.Errorf(call.ErrBadArguments, "%s", m)
	case errors.Is(err, settlement.ErrNoTransfer):
		return call.Errorf(call.ErrNotFound, "%s", m)
	}
	return typed(err)
}

// TransferStatusArgs asks where a cross-region transfer stands: ID is the
// caller's own id, or the settlement id (xt-...) of a transfer from one
// of the caller's accounts.
type TransferStatusArgs struct {
	auth.Credentials
	ID string `json:"id"`
}

// TransferStatusResource is "transfer_status <id>".
func TransferStatusResource(id string) string { return "transfer_status " + id }

func (a *Accounting) handleTransferStatus(ctx context.Context, args *TransferStatusArgs) (*settlement.Status, error) {
	c, err := a.authorise(ctx, args.Credentials, TransferStatusResource(args.ID))
	if err != nil {
		return nil, err
	}
	id := args.ID
	if !strings.HasPrefix(id, "xt-") {
		if err := ledger.CheckID("transfer", id); err != nil {
			return nil, typed(err)
		}
		id = SettlementID(c.Owner, id)
	}
	st, err := a.settler.Status(ctx, id)
	if errors.Is(err, settlement.ErrNoTransfer) || errors.Is(err, settlement.ErrInvalid) {
		return nil, call.Errorf(call.ErrNotFound, "no cross-region transfer %q of yours", clip(args.ID))
	}
	if err != nil {
		return nil, settlementTyped(err)
	}
	if _, err := a.owned(ctx, c, st.From); err != nil {
		// Someone else's transfer answers as if it did not exist.
		return nil, call.Errorf(call.ErrNotFound, "no cross-region transfer %q of yours", clip(args.ID))
	}
	return &st, nil
}

// SettleCreditArgs is a peer's request to credit To (see
// settlement.CreditRequest), signed by the peer's service certificate.
type SettleCreditArgs struct {
	auth.Credentials
	settlement.CreditRequest
}

// SettleCreditResource is "settle_credit <id> to <to> amount <amount>
// credit_by <RFC 3339 ms UTC>", then " description <digest>", then
// " receipt_by <RFC 3339 ms UTC>" for a hold.
func SettleCreditResource(r *settlement.CreditRequest) string {
	s := "settle_credit " + r.ID + " to " + r.To + " amount " + r.Amount.String() + " credit_by " + stamp(r.CreditBy)
	if r.Description != "" {
		s += " description " + digest(r.Description)
	}
	if !r.ReceiptBy.IsZero() {
		s += " receipt_by " + stamp(r.ReceiptBy)
	}
	return s
}

func (a *Accounting) handleSettleCredit(ctx context.Context, args *SettleCreditArgs) (*settlement.CreditAnswer, error) {
	if args.Authorisation != nil || args.Service == nil {
		return nil, call.Errorf(call.ErrPermission, "settle_credit is for peer accounting services, with a service authorisation")
	}
	peer, err := a.peerV.Verify(ctx, args.Service, SettleCreditResource(&args.CreditRequest))
	if err != nil {
		return nil, err
	}
	ans, err := a.settler.Credit(ctx, peer, args.CreditRequest)
	if err != nil {
		return nil, settlementTyped(err)
	}
	return &ans, nil
}

// Positions is this service's settlement position with each peer.
type Positions struct {
	Positions []settlement.Position `json:"positions"`
}

// PositionsResource is "settlement_positions".
const PositionsResource = "settlement_positions"

func (a *Accounting) handlePositions(ctx context.Context, args *AuthArgs) (*Positions, error) {
	c, err := a.authorise(ctx, args.Credentials, PositionsResource)
	if err != nil {
		return nil, err
	}
	if err := a.admin(ctx, c, "read the settlement positions"); err != nil {
		return nil, err
	}
	return a.SettlementPositions(ctx)
}

// SettlementPositions reads the position with every configured peer.
func (a *Accounting) SettlementPositions(ctx context.Context) (*Positions, error) {
	out := &Positions{Positions: []settlement.Position{}}
	for _, u := range a.peers {
		p, err := a.settler.Position(ctx, u)
		if err != nil {
			return nil, typed(err)
		}
		out.Positions = append(out.Positions, p)
	}
	return out, nil
}

// httpPeer is a peer accounting service reached by an authenticated call:
// this service signs settle_credit with its own certificate, for the
// peer's URL alone.
type httpPeer struct {
	c    *call.Client
	url  string
	self *service.Service
}

func (p *httpPeer) Credit(ctx context.Context, req settlement.CreditRequest) (settlement.CreditAnswer, error) {
	var out settlement.CreditAnswer
	err := service.SignedCall(ctx, p.c, p.url, p.self, "settle_credit", SettleCreditResource(&req), func(cr auth.Credentials) any {
		return &SettleCreditArgs{Credentials: cr, CreditRequest: req}
	}, &out, false)
	return out, err
}

// The user's client.

// OutTransfer is what a user asks to pay to another region.
type OutTransfer struct {
	ID          string
	From        string
	Peer        string // the peer accounting service's URL
	To          string // an account id in the peer's ledger
	Amount      ledger.Amount
	Description string
	ReceiptBy   time.Time // provisional until then (zero: direct)
}

// TransferOut pays from one of the caller's accounts to an account at a
// peer accounting service. The same t again returns where the first
// stands (finishing it if it can), never paying twice.
func (c *Client) TransferOut(ctx context.Context, s auth.Signer, t OutTransfer) (*settlement.Status, error) {
	args := &TransferOutArgs{ID: t.ID, From: t.From, Peer: t.Peer, To: t.To, Amount: t.Amount, Description: t.Description,
		ReceiptBy: t.ReceiptBy}
	var out settlement.Status
	return &out, c.authCall(ctx, s, "transfer_out", TransferOutResource(args), func(a auth.Credentials) any {
		args.Credentials = a
		return args
	}, &out, false)
}

// TransferStatus reads where one of the caller's cross-region transfers
// stands (id: the caller's own id, or its xt- settlement id).
func (c *Client) TransferStatus(ctx context.Context, s auth.Signer, id string) (*settlement.Status, error) {
	var out settlement.Status
	return &out, c.authCall(ctx, s, "transfer_status", TransferStatusResource(id), func(a auth.Credentials) any {
		return &TransferStatusArgs{Credentials: a, ID: id}
	}, &out, false)
}

// SettlementPositions reads the service's position with each peer
// (admins only).
func (c *Client) SettlementPositions(ctx context.Context, s auth.Signer) (*Positions, error) {
	var out Positions
	return &out, c.authCall(ctx, s, "settlement_positions", PositionsResource, func(a auth.Credentials) any {
		return &AuthArgs{Credentials: a}
	}, &out, false)
}
