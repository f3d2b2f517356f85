package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/storage"
)

func newFileCmd(g *globals) *cobra.Command {
	sf := &storageFlags{}
	cmd := groupCmd("file", "Upload, download, list and delete files in drives",
		`Every upload of a name makes a new version of it; downloads fetch the latest
version unless --version says otherwise. Names are paths inside the drive:
"a/../b" is "b", and a name that climbs out of its drive ("../x") is refused.

Large files travel in chunks straight to the store (or to the host serving it),
several at a time, never whole in memory; each chunk is checked against its
SHA-256. An interrupted upload resumes: run the same command again and only the
missing chunks are sent (the unfinished upload is remembered in
$XDG_STATE_HOME/acquire/uploads). A progress bar is drawn on stderr when it is a
terminal.`+storageHelp)
	sf.add(cmd)
	cmd.AddCommand(newFileUploadCmd(g, sf), newFileDownloadCmd(g, sf), newFileLsCmd(g, sf),
		newFileVersionsCmd(g, sf), newFileRmCmd(g, sf))
	return cmd
}

func newFileUploadCmd(g *globals, sf *storageFlags) *cobra.Command {
	var chunkBytes int64
	var fresh bool
	cmd := &cobra.Command{
		Use:   "upload FILE DRIVE [NAME] [--chunk-bytes N] [--no-resume]",
		Short: "Upload a local file as the next version of NAME (default: its base name)",
		Long: `Upload FILE as the next version of NAME in DRIVE (NAME defaults to FILE's base
name). FILE "-" reads standard input, which is first spooled to a temporary
file (the service needs an upload's size before its first chunk), so NAME is
then required and an interrupted upload of it cannot be resumed.`,
		Example: `  acquire file upload ./report.pdf docs
  acquire file upload ./big.tar photos/2026 backups/big.tar -o json
  tar c ./photos | acquire file upload - backups photos.tar`,
		Args: cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := uploadName(args[0], args[2:])
			if err != nil {
				return err
			}
			st, err := g.storage(sf)
			if err != nil {
				return err
			}
			up := func(ctx context.Context, r io.Reader, size int64, o storage.UploadOptions) (*storage.FileVersion, error) {
				return st.c.Upload(ctx, st.s, args[1], name, r, size, o)
			}
			v, err := g.upload(transferContext(cmd), up, resumeKey{st.c.URL, st.s.UserUID, args[1], name}, args[0], chunkBytes, fresh)
			if err != nil {
				return g.closedRemotely(st.s, err)
			}
			return g.emit(v, func(w io.Writer) {
				fmt.Fprintf(w, "Uploaded %s to %s as version %d (%d bytes, sha256 %s).\n", args[0], v.Drive+"/"+v.Name, v.Version, v.Size, v.SHA256)
			})
		},
	}
	cmd.Flags().Int64Var(&chunkBytes, "chunk-bytes", 0, "chunk size in bytes (default: the service's)")
	cmd.Flags().BoolVar(&fresh, "no-resume", false, "start afresh even if an earlier upload of this file was interrupted")
	return cmd
}

// uploadFunc uploads size bytes from r: as a user or through a PAR.
type uploadFunc func(ctx context.Context, r io.Reader, size int64, o storage.UploadOptions) (*storage.FileVersion, error)

// upload sends path, resuming an interrupted upload of the same file to
// the same place, and remembers this one until it is committed.
func (g *globals) upload(ctx context.Context, up uploadFunc, key resumeKey, path string, chunkBytes int64, fresh bool) (*storage.FileVersion, error) {
	if path == "-" {
		return g.uploadStdin(ctx, up, chunkBytes)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("%v", err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, usagef("%s is not a regular file", path)
	}
	rs, err := g.resumeState(key, path, fi)
	if err != nil {
		return nil, err
	}
	o := storage.UploadOptions{ChunkBytes: chunkBytes, OnBegin: func(u storage.Upload) { rs.save(u.ID) }}
	if !fresh {
		o.Resume = rs.load()
	}
	if o.Resume != "" && g.output == outputText {
		fmt.Fprintf(g.stderr, "resuming upload %s\n", o.Resume)
	}
	bar := g.progressBar("upload "+filepath.Base(path), fi.Size())
	defer bar.Finish()
	o.Progress = func(done, _ int64) { bar.Set(done) }
	v, err := up(ctx, f, fi.Size(), o)
	if err != nil && o.Resume != "" && staleUpload(err) {
		g.log.Info("the remembered upload cannot be resumed; starting afresh", "upload", o.Resume, "err", err)
		if _, serr := f.Seek(0, io.SeekStart); serr != nil {
			return nil, serr
		}
		o.Resume = ""
		v, err = up(ctx, f, fi.Size(), o)
	}
	if err == nil {
		rs.clear()
	}
	return v, err
}

// uploadName is the name an upload of file gets: the NAME argument if
// given, else the file's base name (standard input has none).
func uploadName(file string, rest []string) (string, error) {
	if len(rest) > 0 {
		return rest[0], nil
	}
	if file == "-" {
		return "", usagef("give a NAME to upload standard input as")
	}
	return filepath.Base(file), nil
}

// uploadStdin spools standard input to a temporary file, at most
// storage.MaxFileBytes, and uploads that: the service needs an upload's
// size before its first chunk, and memory stays bounded. There is nothing
// to resume from afterwards (the input is gone once read), so no resume
// state is kept.
func (g *globals) uploadStdin(ctx context.Context, up uploadFunc, chunkBytes int64) (*storage.FileVersion, error) {
	tmp, err := os.CreateTemp("", "acquire-stdin-*")
	if err != nil {
		return nil, err
	}
	defer func() { _ = tmp.Close(); _ = os.Remove(tmp.Name()) }()
	n, err := io.Copy(tmp, io.LimitReader(g.stdin, storage.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading standard input: %w", err)
	}
	if n > storage.MaxFileBytes {
		return nil, call.Errorf(storage.ErrFileTooLarge, "standard input is longer than %d bytes", int64(storage.MaxFileBytes))
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	bar := g.progressBar("upload stdin", n)
	defer bar.Finish()
	return up(ctx, tmp, n, storage.UploadOptions{ChunkBytes: chunkBytes, Progress: func(done, _ int64) { bar.Set(done) }})
}

// staleUpload: the remembered upload is gone, finished or expired.
func staleUpload(err error) bool {
	for _, c := range []error{storage.ErrUploadExpired, storage.ErrUploadState, storage.ErrIncomplete, call.ErrNotFound} {
		if errors.Is(err, c) {
			return true
		}
	}
	return false
}

func newFileDownloadCmd(g *globals, sf *storageFlags) *cobra.Command {
	var out string
	var version int64
	cmd := &cobra.Command{
		Use:   "download DRIVE NAME [-O PATH] [--version N]",
		Short: "Download a file (the latest version, or --version N)",
		Long: `Download NAME from DRIVE into PATH (default: NAME's base name in the current
folder; "-" writes to stdout). The file appears at PATH only once every byte
has arrived and matched its SHA-256; an existing file there is replaced.`,
		Example: `  acquire file download docs report.pdf
  acquire file download docs report.pdf --version 2 -O old.pdf`,
		Args: downloadArgs(2, exactArgs(2, "DRIVE and NAME")),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := g.storage(sf)
			if err != nil {
				return err
			}
			dest := out
			if dest == "" {
				dest = filepath.Base(args[1])
			}
			v, err := g.download(dest, func(w io.Writer, p storage.Progress) (*storage.FileVersion, error) {
				return st.c.Download(transferContext(cmd), st.s, args[0], args[1], w, storage.DownloadOptions{Version: version, Progress: p})
			})
			if err != nil {
				return g.closedRemotely(st.s, err)
			}
			return g.downloaded(v, dest)
		},
	}
	cmd.Flags().StringVarP(&out, "output-file", "O", "", `where to write it ("-": stdout)`)
	cmd.Flags().Int64Var(&version, "version", 0, "version to fetch (default: the latest)")
	return cmd
}

// download writes what fetch streams into dest, atomically: a temporary
// file beside it, renamed over dest once complete.
func (g *globals) download(dest string, fetch func(io.Writer, storage.Progress) (*storage.FileVersion, error)) (*storage.FileVersion, error) {
	var bar progress = noProgress{}
	p := func(done, total int64) {
		if _, ok := bar.(noProgress); ok && done == 0 {
			bar = g.progressBar("download", total)
		}
		bar.Set(done)
	}
	defer func() { bar.Finish() }()
	if dest == "-" {
		return fetch(g.stdout, p)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".part-*")
	if err != nil {
		return nil, destError(dest, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // after the rename there is nothing left to remove
	v, err := fetch(tmp, p)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dest)
	}
	if err == nil {
		err = syncDir(filepath.Dir(dest))
	}
	return v, err
}

// destError says why -O cannot be written, naming the path given, not
// the temporary file beside it.
func destError(dest string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, fs.ErrNotExist) {
		return usagef("-O %s: the folder %s does not exist", dest, filepath.Dir(dest))
	}
	return usagef("-O %s: cannot write in %s: %v", dest, filepath.Dir(dest), err)
}

// syncDir flushes a directory, so a file just renamed into it is still
// there after a crash (the file's bytes were flushed before the rename).
// Windows cannot flush a directory handle; NTFS journals the rename.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func (g *globals) downloaded(v *storage.FileVersion, dest string) error {
	if dest == "-" {
		return nil // stdout holds the bytes; nothing else may go there
	}
	return g.emit(v, func(w io.Writer) {
		fmt.Fprintf(w, "Downloaded %s version %d to %s (%d bytes, sha256 %s).\n", v.Drive+"/"+v.Name, v.Version, dest, v.Size, v.SHA256)
	})
}

func newFileLsCmd(g *globals, sf *storageFlags) *cobra.Command {
	var page string
	var limit int
	cmd := &cobra.Command{
		Use:   "ls DRIVE [--limit N] [--page TOKEN]",
		Short: "List a drive's files (the latest version of each)",
		Args:  exactArgs(1, "exactly one DRIVE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := storageCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.FileList, error) {
				return st.c.ListFiles(ctx, st.s, args[0], page, limit)
			})
			if err != nil {
				return err
			}
			return g.emit(list, func(w io.Writer) { printVersions(w, list.Files, list.Next) })
		},
	}
	pageFlags(cmd, &page, &limit)
	return cmd
}

func newFileVersionsCmd(g *globals, sf *storageFlags) *cobra.Command {
	var page string
	var limit int
	cmd := &cobra.Command{
		Use:   "versions DRIVE NAME [--limit N] [--page TOKEN]",
		Short: "List a file's versions, oldest first",
		Args:  exactArgs(2, "DRIVE and NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := storageCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.VersionList, error) {
				return st.c.ListVersions(ctx, st.s, args[0], args[1], page, limit)
			})
			if err != nil {
				return err
			}
			return g.emit(list, func(w io.Writer) { printVersions(w, list.Versions, list.Next) })
		},
	}
	pageFlags(cmd, &page, &limit)
	return cmd
}

func pageFlags(cmd *cobra.Command, page *string, limit *int) {
	cmd.Flags().StringVar(page, "page", "", "continue a listing from the token a previous page printed")
	cmd.Flags().IntVar(limit, "limit", 0, "at most this many per page (default: the service's)")
}

func printVersions(w io.Writer, vs []storage.FileVersion, next string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tBYTES\tUPLOADED\tBY\tSHA256")
	for _, v := range vs {
		size := fmt.Sprint(v.Size)
		if v.Deleted {
			size = "(deleted)"
		}
		by := v.UploadedBy.UserUID
		if v.UploadedBy.PAR != "" {
			by = "par:" + v.UploadedBy.PAR
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", shown(v.Name), v.Version, size, when(v.Time), dash(by), dash(v.SHA256))
	}
	_ = tw.Flush()
	if next != "" {
		fmt.Fprintf(w, "more: --page %s\n", next)
	}
}

func newFileRmCmd(g *globals, sf *storageFlags) *cobra.Command {
	var purge, keep bool
	cmd := &cobra.Command{
		Use:   "rm DRIVE NAME [--purge | --keep]",
		Short: "Delete a file (keeping or purging its versions, by the drive's rule)",
		Long: `Delete NAME from DRIVE. By the drive's delete rule (see 'acquire drive create'),
either a tombstone version is added and older versions stay fetchable with
--version (keep), or every version and its bytes are removed (purge). --purge
and --keep override the rule for this delete.`,
		Args: exactArgs(2, "DRIVE and NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if purge && keep {
				return usagef("give --purge or --keep, not both")
			}
			var p *bool
			if purge || keep {
				p = &purge
			}
			v, err := storageCall(g, cmd, sf, func(ctx context.Context, st *storageSession) (*storage.FileVersion, error) {
				return st.c.DeleteFile(ctx, st.s, args[0], args[1], p)
			})
			if err != nil {
				return err
			}
			return g.emit(v, func(w io.Writer) {
				fmt.Fprintf(w, "Deleted %s/%s (latest version %d).\n", args[0], args[1], v.Version)
			})
		},
	}
	cmd.Flags().BoolVar(&purge, "purge", false, "remove every version and its bytes")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep older versions (add a tombstone)")
	return cmd
}
