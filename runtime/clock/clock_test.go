package clock

import (
	"sync"
	"testing"
	"time"
)

func TestManualMovesOnlyWhenTold(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewManual(start)
	time.Sleep(time.Millisecond)
	if !c.Now().Equal(start) {
		t.Fatalf("the clock moved by itself: %v", c.Now())
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Advance(time.Minute) }()
	}
	wg.Wait()
	c.Advance(-time.Second)
	if want := start.Add(10*time.Minute - time.Second); !c.Now().Equal(want) {
		t.Fatalf("now %v, want %v", c.Now(), want)
	}
}
