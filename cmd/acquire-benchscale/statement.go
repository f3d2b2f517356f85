package main

import (
	"context"
	"fmt"

	"github.com/openacquire/acquire/runtime/ledger"
)

// Statements are built through the ledger itself (n deposits into one
// account, from 8 goroutines, so some share an item): an item's running
// totals are the ledger's to write.
func init() {
	lines = append(lines,
		line{
			name:  "statement: newest 100 entries (StatementNewest)",
			build: buildStatement,
			data:  "statement",
			op: func(ctx context.Context, e *env, n int) error {
				p, err := e.aux["ledger"].(*ledger.Ledger).StatementNewest(ctx, "a", zeroTime, zeroTime, "", 100)
				if err == nil && len(p.Lines) != 100 {
					err = fmt.Errorf("%d lines", len(p.Lines))
				}
				return err
			},
		},
		line{
			name:  "statement: newest 100 entries, paging from the start (before)",
			build: buildStatement,
			data:  "statement",
			op: func(ctx context.Context, e *env, n int) error {
				l := e.aux["ledger"].(*ledger.Ledger)
				token, lines := "", 0
				for {
					p, err := l.Statement(ctx, "a", zeroTime, zeroTime, token, ledger.MaxPageSize)
					if err != nil {
						return err
					}
					lines += len(p.Lines)
					if token = p.Next; token == "" {
						break
					}
				}
				if lines < n {
					return fmt.Errorf("%d lines, want at least %d", lines, n)
				}
				return nil
			},
			max: 100_000,
		},
	)
}

func buildStatement(ctx context.Context, e *env, from, to int) error {
	if from == 0 {
		l, err := ledger.New(ctx, e.b)
		if err != nil {
			return err
		}
		if _, err := l.CreateAccount(ctx, ledger.AccountSpec{ID: "a", Owner: "bench", Name: "a"}); err != nil {
			return err
		}
		e.aux["ledger"] = l
	}
	l := e.aux["ledger"].(*ledger.Ledger)
	return parallel(from, to, func(i int) error {
		_, err := l.Transfer(ctx, ledger.TransferRequest{ID: fmt.Sprintf("d%09d", i), From: ledger.MintAccount, To: "a", Amount: ledger.MustParse("1"), Description: "deposit"})
		return err
	})
}
