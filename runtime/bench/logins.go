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
		measure := func(c *Costs) { env.meter.rsa(c); env.meter.password(c) }
		f, costs, err := measured(ctx, measure, workload{conc: n, total: len(codes), rounds: loginRounds,
			op: func(ctx context.Context, _, i int) error {
				_, err := id.Approve(ctx, sessions[i], benchPassword, identity.LoginOptions{RecoveryCode: codes[i].code})
				return err
			}})
		if err != nil {
			return err
		}
		argonBound, hashMs := passwordBound(n, rep.Cores, costs)
		callMs := busyCores(n, rep.Cores) * 1000 / bound(n, rep.Cores, 2*costs.DecryptMs+costs.SignMs, costs.CallParallelPerSec)
		fullBound := busyCores(n, rep.Cores) * 1000 / (hashMs + callMs)
		f.Name, f.BoundName, f.BoundPerSec, f.Target = "login approvals", "argon2id alone: one core, or all cores hashing together", argonBound, targetAt(n, rep.Cores, 0.85)
		f.Costs = costs
		rep.Figures = append(rep.Figures, withRatio(f))
		g := f
		g.Name, g.BoundName, g.BoundPerSec, g.Target = "login approvals (vs full bound)", "argon2id + the envelope's RSA, same way", fullBound, 0
		rep.Figures = append(rep.Figures, withRatio(g))
	}
	return nil
}

// passwordBound is how many hashes per second n clients can drive: one
// core's rate for one client, the measured all-cores rate from as many
// clients as cores. It returns the rate and the per-hash core time it implies.
func passwordBound(n, cores int, c Costs) (perSec, hashMs float64) {
	perSec = bound(n, cores, c.PasswordMs, c.PasswordParallelPerSec)
	return perSec, busyCores(n, cores) * 1000 / perSec
}

type userCode struct{ user, code string }

// codesPerUser keeps concurrent approvals mostly on distinct users, as
// real logins are; codes are handed out round-robin across users.
const codesPerUser = 3

func recoveryCodes(ctx context.Context, id *identity.Client, n int, prefix string) ([]userCode, error) {
	users := (n + codesPerUser - 1) / codesPerUser
	regs := make([]*identity.RegisterResult, users)
	for u := range regs {
		name := fmt.Sprintf("%s-user-%d-%d", prefix, u, time.Now().UnixNano()%1e6)
		reg, err := id.Register(ctx, name, benchPassword)
		if err != nil {
			return nil, err
		}
		regs[u] = reg
	}
	out := make([]userCode, 0, n)
	for i := 0; len(out) < n; i++ {
		reg := regs[i%users]
		out = append(out, userCode{user: reg.Username, code: reg.RecoveryCodes[i/users]})
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
	const audience = "https://bench.invalid/verifier"
	a, err := s.Authorise(audience, "bench resource", time.Now())
	if err != nil {
		return err
	}
	v := &auth.Verifier{Lookup: identity.Lookup(c), Audience: audience}
	if _, err := v.Verify(ctx, a, "bench resource"); err != nil {
		return err
	}
	for _, n := range cfg.Concurrency {
		progress(fmt.Sprintf("authorisation verifications, %d concurrent", n))
		f, costs, err := measured(ctx, env.meter.rsa, workload{conc: n, d: cfg.Duration, rounds: timedRounds,
			op: func(ctx context.Context, _, _ int) error {
				_, err := v.Verify(ctx, a, "bench resource")
				return err
			}})
		if err != nil {
			return err
		}
		bound := bound(n, rep.Cores, costs.VerifyMs, costs.VerifyParallelPerSec)
		f.Name, f.BoundName, f.BoundPerSec, f.Target = "authorisation verifications (warm cache)", "RSA verify, on one core or all cores at once", bound, 0
		f.Costs = costs
		rep.Figures = append(rep.Figures, withRatio(f))
	}
	return nil
}
