package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// maxLineBytes bounds one line read from stdin (a password, a secret).
const maxLineBytes = 4096

// terminal returns stdin's file descriptor when stdin is a terminal.
func (g *globals) terminal() (int, bool) {
	f, ok := g.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// stdoutIsTerminal reports whether stdout is a terminal (for the QR code).
func (g *globals) stdoutIsTerminal() bool {
	f, ok := g.stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// readLine reads one line from stdin without its line ending.
func (g *globals) readLine(what string) (string, error) {
	if g.in == nil {
		g.in = bufio.NewReaderSize(g.stdin, maxLineBytes+2)
	}
	var sb strings.Builder
	for {
		chunk, err := g.in.ReadSlice('\n')
		sb.Write(chunk)
		if sb.Len() > maxLineBytes+2 {
			return "", usagef("%s on stdin is longer than %d bytes", what, maxLineBytes)
		}
		if err == nil || errors.Is(err, io.EOF) {
			if errors.Is(err, io.EOF) && sb.Len() == 0 {
				return "", usagef("no %s on stdin", what)
			}
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", fmt.Errorf("reading %s from stdin: %w", what, err)
		}
	}
	return strings.TrimRight(sb.String(), "\r\n"), nil
}

// promptSecret asks on the terminal without echo.
func (g *globals) promptSecret(prompt, what string) (string, error) {
	fd, ok := g.terminal()
	if !ok {
		return "", usagef("cannot prompt for %s: stdin is not a terminal", what)
	}
	fmt.Fprint(g.stderr, prompt)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(g.stderr)
	if err != nil {
		return "", fmt.Errorf("reading from the terminal: %w", err)
	}
	if len(b) > maxLineBytes {
		return "", usagef("input longer than %d bytes", maxLineBytes)
	}
	return string(b), nil
}

// promptLine asks on the terminal with echo (for one-time codes).
func (g *globals) promptLine(prompt, what string) (string, error) {
	if _, ok := g.terminal(); !ok {
		return "", usagef("cannot prompt for %s: stdin is not a terminal", what)
	}
	fmt.Fprint(g.stderr, prompt)
	s, err := g.readLine(what)
	return strings.TrimSpace(s), err
}

// password gets a password from stdin (--password-stdin), else
// $ACQUIRE_PASSWORD, else a terminal prompt, typed twice when confirm.
func (g *globals) password(fromStdin, confirm bool) (string, error) {
	if fromStdin {
		p, err := g.readLine("password")
		if err == nil && p == "" {
			err = usagef("empty password on stdin")
		}
		return p, err
	}
	if p := g.getenv(envPassword); p != "" {
		return p, nil
	}
	if _, ok := g.terminal(); !ok {
		return "", usagef("no password: use --password-stdin, set %s, or run in a terminal", envPassword)
	}
	p, err := g.promptSecret("Password: ", "the password")
	if err != nil {
		return "", err
	}
	if p == "" {
		return "", usagef("empty password")
	}
	if confirm {
		again, err := g.promptSecret("Password again: ", "the password")
		if err != nil {
			return "", err
		}
		if again != p {
			return "", usagef("the passwords do not match")
		}
	}
	return p, nil
}
