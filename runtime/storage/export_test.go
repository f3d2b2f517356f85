package storage

// SetPurgePages makes purge list pages of n versions and purge_drive stop
// after budget versions a call, until the test ends.
func SetPurgePages(n, budget int) (restore func()) {
	oldN, oldB := purgePageSize, purgeDriveBudget
	purgePageSize, purgeDriveBudget = n, int64(budget)
	return func() { purgePageSize, purgeDriveBudget = oldN, oldB }
}
