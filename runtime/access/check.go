package access

import (
	"context"
	"errors"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/store"
)

func (a *Access) handleCheck(ctx context.Context, args *CheckArgs) (*Answer, error) {
	out, err := a.check(ctx, args.Credentials, CheckResource(args.Query), []Query{args.Query})
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

func (a *Access) handleBatchCheck(ctx context.Context, args *BatchCheckArgs) (*Answers, error) {
	if len(args.Queries) == 0 || len(args.Queries) > MaxBatchCheck {
		return nil, call.Errorf(call.ErrBadArguments, "batch_check takes 1..%d queries", MaxBatchCheck)
	}
	out, err := a.check(ctx, args.Credentials, BatchCheckResource(args.Queries), args.Queries)
	if err != nil {
		return nil, err
	}
	return &Answers{Answers: out}, nil
}

// check verifies who asks, then answers each query. Queries are checked
// (and the asker's right to each) before any is answered.
func (a *Access) check(ctx context.Context, cr auth.Credentials, resource string, qs []Query) ([]Answer, error) {
	for i := range qs {
		if err := checkQuery(&qs[i]); err != nil {
			return nil, err
		}
	}
	asker, err := a.asker(ctx, cr, resource)
	if err != nil {
		return nil, err
	}
	for i := range qs {
		if err := asker.mayAsk(ctx, a, &qs[i]); err != nil {
			return nil, err
		}
	}
	out := make([]Answer, len(qs))
	for i, q := range qs {
		if out[i], err = a.answer(ctx, q); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func checkQuery(q *Query) error {
	switch {
	case q.Action != ActionRequest && q.Action != ActionUse:
		return call.Errorf(call.ErrBadArguments, "action %q is not %q or %q", clip(q.Action), ActionRequest, ActionUse)
	case !namePattern.MatchString(q.Resource):
		return call.Errorf(call.ErrBadArguments, "resource name %q must match %s", clip(q.Resource), namePattern)
	case (q.IdentityURL == "") != (q.UserUID == ""):
		return call.Errorf(call.ErrBadArguments, "name a user by identity_url and user_uid together, or neither (yourself)")
	case len(q.IdentityURL) > 512 || len(q.UserUID) > 128:
		return call.Errorf(call.ErrBadArguments, "user named by over-long identifiers")
	}
	return nil
}

// asker is who asks a check: a trusted service, or a user.
type asker struct {
	service string
	user    *user
	admin   *bool // looked up once, when first needed
}

func (a *Access) asker(ctx context.Context, cr auth.Credentials, resource string) (*asker, error) {
	if cr.Service != nil && cr.Authorisation == nil {
		url, err := a.sv.Verify(ctx, cr.Service, resource)
		if err != nil {
			return nil, err
		}
		return &asker{service: url}, nil
	}
	u, err := a.authoriseUser(ctx, cr, resource)
	if err != nil {
		return nil, err
	}
	return &asker{user: u}, nil
}

// mayAsk fills in an unnamed user (the asker) and checks the asker may
// ask about the user named: a trusted service or an admin about anyone,
// a user about themself only (grants say what a user bought).
func (k *asker) mayAsk(ctx context.Context, a *Access, q *Query) error {
	if k.service != "" {
		if q.UserUID == "" {
			return call.Errorf(call.ErrBadArguments, "a service must name the user it asks about")
		}
		return nil
	}
	if q.UserUID == "" {
		q.IdentityURL, q.UserUID = k.user.IdentityURL, k.user.UserUID
	}
	if q.IdentityURL == k.user.IdentityURL && q.UserUID == k.user.UserUID {
		return nil
	}
	if k.admin == nil {
		ok, err := a.svc.IsAdmin(ctx, k.user.IdentityURL, k.user.UserUID)
		if err != nil {
			return err
		}
		k.admin = &ok
	}
	if !*k.admin {
		return call.Errorf(call.ErrPermission, "you may ask only about yourself")
	}
	return nil
}

// answer answers one query from the catalogue (request) or the grants (use).
func (a *Access) answer(ctx context.Context, q Query) (Answer, error) {
	ans := Answer{Query: q}
	if !a.v.Identities.Trusts(q.IdentityURL) {
		ans.Reason = "the user's identity service is not trusted here"
		return ans, nil
	}
	if q.Action == ActionUse {
		var g Grant
		_, err := a.b.GetJSON(ctx, grantKey(q.IdentityURL, q.UserUID, q.Resource), &g)
		switch {
		case errors.Is(err, store.ErrNotFound):
			ans.Reason = "no grant of " + q.Resource
		case err != nil:
			return ans, err
		default:
			ans.Allowed, ans.Reason = true, "granted by request "+g.RequestID+" at "+g.Time.Format(time.RFC3339)
		}
		return ans, nil
	}
	r, err := a.resource(ctx, q.Resource)
	switch {
	case errors.Is(err, call.ErrNotFound):
		ans.Reason = "no resource " + q.Resource + " in the catalogue"
	case err != nil:
		return ans, err
	case r.allows(q.IdentityURL, q.UserUID):
		ans.Allowed, ans.Reason = true, "the catalogue allows it, for "+r.Price.String()
	default:
		ans.Reason = "the catalogue lists other users for " + q.Resource
	}
	return ans, nil
}
