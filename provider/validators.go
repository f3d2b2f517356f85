package provider

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/url"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

type validatorString = validator.String

// urlValidator refuses a value that is not an absolute http(s) URL without
// credentials, query or fragment, at plan time, naming the attribute.
type urlValidator struct{}

// httpURL validates an http(s) service or host URL.
func httpURL() validator.String { return urlValidator{} }

func (urlValidator) Description(context.Context) string {
	return "must be an http(s) URL (http(s)://host[:port][/path]) without credentials, query or fragment, at most 512 bytes"
}

func (v urlValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v urlValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if msg := checkURL(req.ConfigValue.ValueString()); msg != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid URL",
			fmt.Sprintf("%s: %s (%s).", req.Path, msg, v.Description(ctx)))
	}
}

// checkURL says what is wrong with raw as a service URL, or "".
func checkURL(raw string) string {
	if len(raw) > MaxURLBytes {
		return fmt.Sprintf("the URL is over %d bytes", MaxURLBytes)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Sprintf("%q is not a URL", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q does not start with http:// or https://", raw)
	case u.Host == "":
		return fmt.Sprintf("%q has no host", raw)
	case u.User != nil:
		return "the URL must not carry credentials"
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Sprintf("%q must not have a query or fragment", raw)
	}
	return ""
}

// ed25519KeyValidator checks a base64 Ed25519 public key (32 bytes).
type ed25519KeyValidator struct{}

func (ed25519KeyValidator) Description(context.Context) string {
	return "a base64 Ed25519 public key (32 bytes), as `acquire cluster key` prints it"
}

func (v ed25519KeyValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v ed25519KeyValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	raw, err := base64.StdEncoding.DecodeString(req.ConfigValue.ValueString())
	if err != nil || len(raw) != ed25519.PublicKeySize {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid public key", "must be "+v.Description(ctx))
	}
}
