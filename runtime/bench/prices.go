package bench

import "math"

// PricesAsOf is the date of the price table below and of the one in
// docs/design/cost.md, which says where each figure comes from. Change
// both together.
const PricesAsOf = "2026-12-07"

// Price is one cloud's list prices for what an operation uses: store
// requests by class and function invocations, in USD per million
// requests and per second of a function's memory and CPU.
type Price struct {
	Cloud   string `json:"cloud"`
	Regions string `json:"regions"`
	// Store requests, USD per million. A conditional put is billed as a
	// put on all three clouds.
	PutPerM    float64 `json:"put_per_million"`
	GetPerM    float64 `json:"get_per_million"`
	ListPerM   float64 `json:"list_per_million"`
	DeletePerM float64 `json:"delete_per_million"`
	// Invocations, USD per million, plus the billed duration: memory
	// (GiB × seconds) and, where billed apart (Cloud Run), vCPU seconds.
	InvokePerM   float64 `json:"invoke_per_million"`
	PerGBSecond  float64 `json:"per_gb_second"`
	PerCPUSecond float64 `json:"per_vcpu_second"`
	MemoryGB     float64 `json:"memory_gb"`
	VCPUs        float64 `json:"vcpus"`
	// MinBilledMs is the shortest duration billed per invocation.
	MinBilledMs float64 `json:"min_billed_ms"`
}

// Prices are the three clouds' list prices as of PricesAsOf
// (docs/design/cost.md): on-demand, no free tier, no committed-use
// discount, the deployers' default sizes.
var Prices = []Price{
	{Cloud: "aws", Regions: "us-east-1: Lambda arm64 512 MB + S3 Standard",
		PutPerM: 5, GetPerM: 0.4, ListPerM: 5, DeletePerM: 0,
		InvokePerM: 0.2, PerGBSecond: 0.0000133334, MemoryGB: 0.5, MinBilledMs: 1},
	{Cloud: "gcp", Regions: "us-central1: Cloud Run (request-based, 1 vCPU, 512 MiB) + Cloud Storage Standard",
		PutPerM: 5, GetPerM: 0.4, ListPerM: 5, DeletePerM: 0,
		InvokePerM: 0.4, PerGBSecond: 0.0000025, PerCPUSecond: 0.000024, MemoryGB: 0.5, VCPUs: 1, MinBilledMs: 100},
	{Cloud: "azure", Regions: "East US: Functions Consumption 512 MB + Blob Storage Hot LRS",
		PutPerM: 5, GetPerM: 0.4, ListPerM: 5, DeletePerM: 0,
		InvokePerM: 0.2, PerGBSecond: 0.000016, MemoryGB: 0.5, MinBilledMs: 100},
}

// PerMillion is what a million of o's units cost on this cloud: its
// store requests (the chunks' straight puts and gets included) and its
// invocations, each billed for the duration measured here or the
// cloud's minimum. Storage at rest and data transfer are left out.
func (p Price) PerMillion(o OpCost) float64 {
	r := o.CloudRequests()
	usd := (r.Put+r.CondPut)*p.PutPerM + r.Get*p.GetPerM + r.List*p.ListPerM + r.Delete*p.DeletePerM
	billedS := math.Max(math.Ceil(o.InvokeMs), p.MinBilledMs) / 1000
	perInvoke := p.InvokePerM + 1e6*billedS*(p.MemoryGB*p.PerGBSecond+p.VCPUs*p.PerCPUSecond)
	return usd + o.Invocations*perInvoke
}
