package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/openacquire/acquire/runtime/auth"
	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/crypto"
	"github.com/openacquire/acquire/runtime/identity"
)

const benchPassword = "bench password 1"

// benchLogins measures approve_login, the step bounded by the password
// hash. Each approval spends a single-use second factor, so users are
// registered up front with enough recovery codes between them; the
// session keys are made once and reused, since their generation is the
// client's cost, not the service's.
func benchLogins(ctx context.Context, env *hostEnv, cfg Config, rep *Report, progress func(string)) error {
	c := call.NewClient(&call.MemoryPins{})
	id := &identity.Client{C: c, URL: env.h.ServiceURL("identity")}
	key, err := crypto.GenerateKey()
	if err != nil {
		return err
	}
	for _, n := range cfg.Concurrency {
		argonBound := busyCores(n, rep.Cores) * 1000 / rep.Costs.PasswordMs
		fullBound := busyCores(n, rep.Cores) * 1000 / (rep.Costs.PasswordMs + 2*rep.Costs.DecryptMs + rep.Costs.SignMs)
		progress(fmt.Sprintf("login approvals, %d concurrent: registering users", n))
		codes, err := recoveryCodes(ctx, id, cfg.Logins, fmt.Sprintf("b%d", n))
		if err != nil {
			return err
		}
		sessions, err := pendingSessions(ctx, c, id.URL, key, codes)
		if err != nil {
			return err
		}
		progress(fmt.Sprintf("login approvals, %d concurrent", n))
		f, err := load(ctx, n, 0, len(codes), func(ctx context.Context, i int) error {
			_, err := id.Approve(ctx, sessions[i], benchPassword, identity.LoginOptions{RecoveryCode: codes[i].code})
			return err
		})
		if err != nil {
			return err
		}
		f.Name, f.BoundName, f.BoundPerSec, f.Target = "login approvals", "min(clients, cores) / argon2id", argonBound, 0.85
		rep.Figures = append(rep.Figures, withRatio(f))
		g := f
		g.Name, g.BoundName, g.BoundPerSec, g.Target = "login approvals (vs full bound)", "min(clients, cores) / (argon2id + envelope RSA)", fullBound, 0
		rep.Figures = append(rep.Figures, withRatio(g))
	}
	return nil
}

type userCode struct{ user, code string }

func recoveryCodes(ctx context.Context, id *identity.Client, n int, prefix string) ([]userCode, error) {
	var out []userCode
	for u := 0; len(out) < n; u++ {
		name := fmt.Sprintf("%s-user-%d-%d", prefix, u, time.Now().UnixNano()%1e6)
		reg, err := id.Register(ctx, name, benchPassword)
		if err != nil {
			return nil, err
		}
		for _, rc := range reg.RecoveryCodes {
			if len(out) < n {
				out = append(out, userCode{user: name, code: rc})
			}
		}
	}
	return out, nil
}

func pendingSessions(ctx context.Context, c *call.Client, url string, key *crypto.PrivateKey, codes []userCode) ([]*identity.Session, error) {
	pem := string(key.Public().PEM())
	out := make([]*identity.Session, len(codes))
	for i, uc := range codes {
		var res identity.RequestLoginResult
		err := c.Call(ctx, url, "request_login", &identity.RequestLoginArgs{Username: uc.user, KeyPublic: pem, CertPublic: pem}, &res)
		if err != nil {
			return nil, err
		}
		out[i] = &identity.Session{IdentityURL: url, SessionUID: res.SessionUID, Username: uc.user, Key: key, Cert: key}
	}
	return out, nil
}

// benchVerify measures authorisation checks by a service's verifier with
// a warm session cache: one RSA-PSS verification each, no network.
func benchVerify(ctx context.Context, env *hostEnv, cfg Config, rep *Report, progress func(string)) error {
	c := call.NewClient(&call.MemoryPins{})
	id := &identity.Client{C: c, URL: env.h.ServiceURL("identity")}
	codes, err := recoveryCodes(ctx, id, 1, "verify")
	if err != nil {
		return err
	}
	s, _, err := id.Login(ctx, codes[0].user, benchPassword, identity.LoginOptions{RecoveryCode: codes[0].code})
	if err != nil {
		return err
	}
	a, err := s.Authorise("bench resource", time.Now())
	if err != nil {
		return err
	}
	v := &auth.Verifier{Lookup: identity.Lookup(c)}
	if _, err := v.Verify(ctx, a, "bench resource"); err != nil {
		return err
	}
	for _, n := range cfg.Concurrency {
		bound := busyCores(n, rep.Cores) * 1000 / rep.Costs.VerifyMs
		progress(fmt.Sprintf("authorisation verifications, %d concurrent", n))
		f, err := load(ctx, n, cfg.Duration, 0, func(ctx context.Context, _ int) error {
			_, err := v.Verify(ctx, a, "bench resource")
			return err
		})
		if err != nil {
			return err
		}
		f.Name, f.BoundName, f.BoundPerSec, f.Target = "authorisation verifications (warm cache)", "min(clients, cores) / RSA verify", bound, 0
		rep.Figures = append(rep.Figures, withRatio(f))
	}
	return nil
}
