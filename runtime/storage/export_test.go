package storage

import "time"

// SetPurgePages makes purge list pages of n versions and purge_drive stop
// after budget versions a call, until the test ends.
func SetPurgePages(n, budget int) (restore func()) {
	oldN, oldB := purgePageSize, purgeDriveBudget
	purgePageSize, purgeDriveBudget = n, int64(budget)
	return func() { purgePageSize, purgeDriveBudget = oldN, oldB }
}

// SetPacing makes the data handler's timings short for a test: the wait
// for a PUT's first byte and the longest pause are both pause, and a
// transfer must average minRate bytes a second after grace.
func (s *Storage) SetPacing(pause, grace time.Duration, minRate int64) {
	s.pace = pacing{start: pause, stall: pause, queue: DataQueueTimeout, grace: grace, minRate: minRate}
}
