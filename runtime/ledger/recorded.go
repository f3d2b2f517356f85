package ledger

import "context"

// Recorded returns the request recorded under a transfer id (ErrNoTransfer
// if none), without finishing or changing anything: for callers that
// recorded one of two exclusive requests under an id and must learn which.
func (l *Ledger) Recorded(ctx context.Context, id string) (TransferRequest, error) {
	rec, _, err := l.record(ctx, id)
	if err != nil {
		return TransferRequest{}, err
	}
	return rec.TransferRequest, nil
}
