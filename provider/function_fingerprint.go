package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/function"

	"github.com/openacquire/acquire/runtime/crypto"
)

// MaxPEMBytes bounds the PEM text the fingerprint function reads (a
// 4096-bit public key's PEM is about 800 bytes).
const MaxPEMBytes = 16 << 10

var _ function.Function = (*fingerprintFunction)(nil)

// fingerprintFunction is provider::acquire::fingerprint(pem): the
// fingerprint Acquire gives a public key, so HCL can compare a key it holds
// with the key_fingerprint / cert_fingerprint a service publishes.
type fingerprintFunction struct{}

// NewFingerprintFunction constructs provider::acquire::fingerprint.
func NewFingerprintFunction() function.Function { return &fingerprintFunction{} }

func (f *fingerprintFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "fingerprint"
}

func (f *fingerprintFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "Fingerprint of an Acquire public key",
		Description: "Returns the fingerprint Acquire gives an RSA public key: the MD5 of its canonical PEM text " +
			"(64-column base64, \\n line ends), as colon-separated hex pairs (\"aa:bb:...\"). It is what a service " +
			"publishes as key_fingerprint and cert_fingerprint, so a key can be compared with a service's.",
		Parameters: []function.Parameter{
			function.StringParameter{
				Name:        "public_key_pem",
				Description: "An RSA public key (2048 to 4096 bits) as PEM: \"PUBLIC KEY\" (PKIX) or \"RSA PUBLIC KEY\" (PKCS#1).",
			},
		},
		Return: function.StringReturn{},
	}
}

func (f *fingerprintFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var pemText string
	resp.Error = function.ConcatFuncErrors(req.Arguments.Get(ctx, &pemText))
	if resp.Error != nil {
		return
	}
	fp, msg := fingerprintOf(pemText)
	if msg != "" {
		resp.Error = function.NewArgumentFuncError(0, msg)
		return
	}
	resp.Error = function.ConcatFuncErrors(resp.Result.Set(ctx, fp))
}

// fingerprintOf is the fingerprint of a PEM public key, or why there is none.
func fingerprintOf(pemText string) (fp, msg string) {
	if len(pemText) > MaxPEMBytes {
		return "", "the PEM text is over 16 KiB; an RSA public key is about 450 to 800 bytes"
	}
	k, err := crypto.ParsePublicPEM([]byte(pemText))
	if err != nil {
		return "", "not an RSA public key in PEM form (" + err.Error() + ")"
	}
	return k.Fingerprint(), ""
}
