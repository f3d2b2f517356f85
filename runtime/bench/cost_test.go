package bench

import (
	"context"
	"fmt"
	"testing"
)

// costPins are the requests each operation makes, as measured with
// costPinOps operations per line (the means depend on how many run: the
// ledger's pages fill as they go). Every class is a ceiling: a change
// that adds a request to any operation fails here and must say why in
// docs/design/cost.md; a change that saves one is told to lower the pin.
// Invocations are exact: they follow from the protocol.
const costPinOps = 3

type costPin struct {
	put, condPut, get, list, del float64
	invocations                  float64
	chunkPuts, chunkGets         float64 // exact: a 32 MiB file is 4 chunks
}

var costPins = map[string]costPin{
	CostRegister:     {put: 1, condPut: 5, get: 1, invocations: 1},
	CostLogin:        {condPut: 10, get: 5, invocations: 2},
	CostBalance:      {condPut: 1, get: 1, invocations: 1},
	CostTransfer:     {condPut: 4, get: 1, invocations: 1},
	CostProvisional:  {condPut: 12, get: 6, del: 1, invocations: 2},
	CostChequeCash:   {condPut: 10, get: 3, invocations: 2},
	CostInvoiceIssue: {condPut: 6, get: 1, invocations: 1},
	CostInvoicePay:   {condPut: 8, get: 4, invocations: 1},
	// Per MiB of a 32 MiB file in 8 MiB chunks.
	CostUpload:   {condPut: 12.0 / 32, get: 8.0 / 32, list: 1.0 / 32, invocations: 2.0 / 32, chunkPuts: 4.0 / 32},
	CostDownload: {condPut: 1.0 / 32, get: 4.0 / 32, invocations: 1.0 / 32, chunkGets: 4.0 / 32},
	CostJob:      {put: 5, condPut: 33, get: 13, list: 1, del: 5, invocations: 8},
}

func TestCostPerOperationIsPinned(t *testing.T) {
	if testing.Short() {
		t.Skip("counts every operation on a real host (about 20 s)")
	}
	rep, err := RunCost(context.Background(), CostConfig{Ops: costPinOps, FileBytes: DefaultCostFileBytes}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Operations) != len(costPins) {
		t.Fatalf("%d operations counted, %d pinned", len(rep.Operations), len(costPins))
	}
	const eps = 1e-9
	for _, o := range rep.Operations {
		pin, ok := costPins[o.Name]
		if !ok {
			t.Errorf("%s: not pinned", o.Name)
			continue
		}
		got := o.Store
		for _, c := range []struct {
			class     string
			got, want float64
		}{{"put", got.Put, pin.put}, {"conditional put", got.CondPut, pin.condPut}, {"get", got.Get, pin.get},
			{"list", got.List, pin.list}, {"delete", got.Delete, pin.del}} {
			switch {
			case c.got > c.want+eps:
				t.Errorf("%s: %s requests %s per %s, pinned at %s: a regression (or explain it in docs/design/cost.md and raise the pin)",
					o.Name, c.class, fmt.Sprint(c.got), o.Per, fmt.Sprint(c.want))
			case c.got < c.want-eps:
				t.Logf("%s: %s requests %v per %s, below the pin %v: lower it", o.Name, c.class, c.got, o.Per, c.want)
			}
		}
		if o.Invocations < pin.invocations-eps || o.Invocations > pin.invocations+eps {
			t.Errorf("%s: %v invocations per %s, want %v", o.Name, o.Invocations, o.Per, pin.invocations)
		}
		if o.ChunkPuts != pin.chunkPuts || o.ChunkGets != pin.chunkGets {
			t.Errorf("%s: chunks put %v, got %v per %s; want %v, %v", o.Name, o.ChunkPuts, o.ChunkGets, o.Per, pin.chunkPuts, pin.chunkGets)
		}
		for cloud, usd := range o.USDPerMillion {
			if usd <= 0 {
				t.Errorf("%s: priced at %v on %s", o.Name, usd, cloud)
			}
		}
	}
}

// A price is its requests at the class prices plus its invocations at
// the request fee and the billed duration (at least the minimum).
func TestPricePerMillion(t *testing.T) {
	p := Price{PutPerM: 5, GetPerM: 0.4, ListPerM: 5, DeletePerM: 0, InvokePerM: 0.2, PerGBSecond: 0.00001, MemoryGB: 0.5, MinBilledMs: 100}
	o := OpCost{Store: Requests{Put: 1, CondPut: 2, Get: 10, List: 1, Delete: 3}, ChunkPuts: 1, ChunkGets: 2, Invocations: 2, InvokeMs: 20}
	// requests: (1+2+1)*5 + (10+2)*0.4 + 1*5 = 29.8; invocations: 2*(0.2 + 1e6*0.1*0.5*0.00001) = 2*0.7 = 1.4
	if got := p.PerMillion(o); got < 31.2-1e-9 || got > 31.2+1e-9 {
		t.Fatalf("priced %v, want 31.2", got)
	}
	o.InvokeMs = 250.2 // billed 251 ms, over the minimum
	if got := p.PerMillion(o); got < 29.8+2*(0.2+1e6*0.251*0.5*0.00001)-1e-9 || got > 29.8+2*(0.2+1e6*0.251*0.5*0.00001)+1e-9 {
		t.Fatalf("priced %v", got)
	}
}
