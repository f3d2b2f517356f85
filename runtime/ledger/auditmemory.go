package ledger

// WithAuditMemory bounds how many entries naming transfers Audit holds in
// memory at once (default auditMaxEntries, about 200 bytes each); past it,
// the audit checks them in parts, one more walk of the logs per part. A
// bench or test that measures the audit's peak memory against the
// ledger's size sets it to see the parts at small sizes. entries <= 0
// keeps the default.
func WithAuditMemory(entries int) Option {
	return func(l *Ledger) { l.auditMaxEntries = entries }
}
