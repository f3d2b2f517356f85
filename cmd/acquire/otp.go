package main

import (
	"encoding/base32"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/spf13/cobra"
)

// Bounds on what an otpauth URI may ask for.
const (
	maxOTPPeriodSeconds = 3600
	minOTPDigits        = 6
	maxOTPDigits        = 8
	maxSecretBytes      = 1024
	// minSecretBytes is RFC 4226's floor for shared secrets as authenticator
	// apps apply it (80 bits); Acquire's own secrets are 160 bits.
	minSecretBytes = 10
)

func newOTPCmd(g *globals) *cobra.Command {
	cmd := groupCmd("otp", "One-time password (TOTP) tools",
		`Tools for RFC 6238 time-based one-time passwords, the codes authenticator
apps show.`)
	cmd.AddCommand(newOTPCodeCmd(g))
	return cmd
}

type otpJSON struct {
	Code       string    `json:"code"`
	Time       time.Time `json:"time"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
}

// otpSpec is how to make codes: a base32 secret and the TOTP parameters.
type otpSpec struct {
	secret    string
	period    uint
	digits    otp.Digits
	algorithm otp.Algorithm
}

func newOTPCodeCmd(g *globals) *cobra.Command {
	var secret, uri, at string
	var secretStdin bool
	cmd := &cobra.Command{
		Use:   "code (--secret BASE32 | --uri otpauth://... | --secret-stdin) [--time RFC3339]",
		Short: "Print the current TOTP code of a secret, like oathtool --totp",
		Long: `Print the time-based one-time code of a secret: the 6 digits an authenticator
app would show now (or at --time). Acquire's codes are HMAC-SHA-1, 6 digits,
30 s steps; an otpauth:// URI may ask for other parameters, which are honoured.

A secret on the command line is visible to other users in the process list:
prefer --secret-stdin, which reads a base32 secret or an otpauth:// URI from
the first line of stdin.`,
		Example: `  acquire otp code --secret JBSWY3DPEHPK3PXP
  acquire otp code --uri 'otpauth://totp/Acquire:alice?secret=JBSWY3DPEHPK3PXP&issuer=Acquire'
  acquire otp code --secret-stdin < secret.txt
  acquire otp code --secret JBSWY3DPEHPK3PXP --time 2026-01-02T15:04:05Z`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n := 0
			for _, set := range []bool{secret != "", uri != "", secretStdin} {
				if set {
					n++
				}
			}
			if n != 1 {
				return usagef("give exactly one of --secret, --uri or --secret-stdin")
			}
			t := g.now()
			if at != "" {
				var err error
				if t, err = time.Parse(time.RFC3339, at); err != nil {
					return usagef("--time must be RFC 3339, like 2026-01-02T15:04:05Z: %v", err)
				}
			}
			if secretStdin {
				line, err := g.readLine("secret")
				if err != nil {
					return err
				}
				if line = strings.TrimSpace(line); strings.HasPrefix(strings.ToLower(line), "otpauth://") {
					uri = line
				} else {
					secret = line
				}
			}
			spec, err := parseOTPSpec(secret, uri)
			if err != nil {
				return err
			}
			code, err := totp.GenerateCodeCustom(spec.secret, t, totp.ValidateOpts{Period: spec.period,
				Digits: spec.digits, Algorithm: spec.algorithm})
			if err != nil {
				return usagef("cannot make a code from this secret: %v", err)
			}
			period := int64(spec.period)
			from := time.Unix(t.Unix()/period*period, 0).UTC()
			out := otpJSON{Code: code, Time: t.UTC(), ValidFrom: from, ValidUntil: from.Add(time.Duration(period) * time.Second)}
			return g.emit(out, func(w io.Writer) { fmt.Fprintln(w, code) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&secret, "secret", "", "base32 secret (spaces and dashes are ignored)")
	f.StringVar(&uri, "uri", "", "otpauth://totp/... URI, as 'user register' prints")
	f.BoolVar(&secretStdin, "secret-stdin", false, "read the secret or otpauth URI from the first line of stdin")
	f.StringVar(&at, "time", "", "make the code for this time (RFC 3339) instead of now")
	return cmd
}

// parseOTPSpec reads a bare secret (Acquire's parameters) or an otpauth URI.
func parseOTPSpec(secret, uri string) (*otpSpec, error) {
	spec := &otpSpec{secret: secret, period: 30, digits: otp.DigitsSix, algorithm: otp.AlgorithmSHA1}
	if uri != "" {
		key, err := otp.NewKeyFromURL(uri)
		if err != nil {
			return nil, usagef("--uri is not a URI: %v", err)
		}
		if !strings.EqualFold(strings.SplitN(uri, ":", 2)[0], "otpauth") || key.Type() != "totp" {
			return nil, usagef("--uri must be an otpauth://totp/ URI")
		}
		spec.secret, spec.period, spec.digits, spec.algorithm = key.Secret(), uint(key.Period()), key.Digits(), key.Algorithm()
		if spec.period < 1 || spec.period > maxOTPPeriodSeconds {
			return nil, usagef("the URI's period must be 1 to %d seconds", maxOTPPeriodSeconds)
		}
		if spec.digits < minOTPDigits || spec.digits > maxOTPDigits {
			return nil, usagef("the URI's digits must be %d to %d", minOTPDigits, maxOTPDigits)
		}
	}
	s, err := normaliseSecret(spec.secret)
	if err != nil {
		return nil, err
	}
	spec.secret = s
	return spec, nil
}

// normaliseSecret accepts base32 as people copy it: any case, spaces,
// dashes, with or without padding.
func normaliseSecret(s string) (string, error) {
	s = strings.ToUpper(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(s))
	s = strings.TrimRight(s, "=")
	if s == "" {
		return "", usagef("empty secret")
	}
	if len(s) > maxSecretBytes {
		return "", usagef("secret over %d characters", maxSecretBytes)
	}
	// Go's unpadded decoder takes lengths base32 cannot have (1, 3 or 6
	// characters past a whole 8), which the TOTP library then refuses.
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
	if rem := len(s) % 8; err != nil || rem == 1 || rem == 3 || rem == 6 {
		return "", usagef("secret is not base32")
	}
	if len(b) < minSecretBytes {
		return "", usagef("secret of %d bits; a TOTP secret has at least %d (%d base32 characters)", 8*len(b), 8*minSecretBytes, (8*minSecretBytes+4)/5)
	}
	return s, nil
}
