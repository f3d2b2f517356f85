package accounting

import (
	"context"
	"time"
)

// RecordChequeOnlyForTest does the first half of a cashing (every check,
// then the cashed record) and stops, as a crash between the record and the
// ledger transfer would.
func (a *Accounting) RecordChequeOnlyForTest(ctx context.Context, args *CashChequeArgs) error {
	c, err := a.authorise(ctx, args.Credentials, CashChequeResource(args))
	if err != nil {
		return err
	}
	req, err := a.chequeTransfer(ctx, c, args)
	if err != nil {
		return err
	}
	rec := &chequeRecord{Cheque: args.Cheque, CashedBy: c.ServiceURL, Cashed: time.Now().UTC(), Transfer: *req}
	_, err = a.b.PutJSONIfAbsent(ctx, chequeRecordKey(args.Cheque), rec)
	return err
}
