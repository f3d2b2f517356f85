package storage

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/openacquire/acquire/runtime/call"
	"github.com/openacquire/acquire/runtime/service"
	"github.com/openacquire/acquire/runtime/store"
)

// parMAC is what is stored of a PAR's secret: a keyed hash, so the store
// alone cannot be turned into working links.
func (s *Storage) parMAC(id, secret string) string {
	return s.svc.Keys().MAC("storage-par", []byte("acquire-storage-par-v1\n"+id+"\n"+secret))
}

func (s *Storage) handleCreatePAR(ctx context.Context, a *CreatePARArgs) (*NewPAR, error) {
	p, err := s.authorise(ctx, a.Credentials, CreatePARResource(a))
	if err != nil {
		return nil, err
	}
	d, _, err := s.access(ctx, a.Drive, p, RoleOwner)
	if err != nil {
		return nil, err
	}
	if a.Mode != PARRead && a.Mode != PARWrite && a.Mode != PARReadWrite {
		return nil, call.Errorf(call.ErrBadArguments, "mode %q (want read, write or readwrite)", clip(a.Mode))
	}
	name := ""
	if a.Name != "" {
		if name, err = CleanName(a.Name); err != nil {
			return nil, err
		}
	}
	now := s.now()
	if !a.Expires.After(now) || a.Expires.Sub(now) > MaxPARLife {
		return nil, call.Errorf(call.ErrBadArguments, "a PAR expires in the future, at most %s ahead", MaxPARLife)
	}
	mine, err := s.b.ListAll(ctx, driveParsPre+d.ID+"/", MaxPARsPerDrive)
	if errors.Is(err, store.ErrTooMany) || len(mine) >= MaxPARsPerDrive {
		return nil, call.Errorf(ErrTooMany, "a drive has at most %d PARs", MaxPARsPerDrive)
	} else if err != nil {
		return nil, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	secret := base64.RawURLEncoding.EncodeToString(raw[:])
	par := PAR{ID: service.NewID(), Drive: d.Name, DriveID: d.ID, Name: name, Mode: a.Mode, Expires: a.Expires.UTC(),
		Created: now, CreatedBy: p}
	par.SecretMAC = s.parMAC(par.ID, secret)
	// The index first: a PAR not in it could not be listed or counted.
	if _, err := s.b.Put(ctx, driveParKey(d.ID, par.ID), nil); err != nil {
		return nil, err
	}
	if _, err := s.b.PutJSONIfAbsent(ctx, parKey(par.ID), &par); err != nil {
		return nil, err
	}
	par.SecretMAC = ""
	return &NewPAR{PAR: par, Link: Link(s.svc.URL(), par.ID, secret)}, nil
}

func (s *Storage) handleListPARs(ctx context.Context, a *DriveArgs) (*PARList, error) {
	p, err := s.authorise(ctx, a.Credentials, ListPARsResource(a.Drive))
	if err != nil {
		return nil, err
	}
	d, _, err := s.access(ctx, a.Drive, p, RoleOwner)
	if err != nil {
		return nil, err
	}
	items, err := s.b.ListAll(ctx, driveParsPre+d.ID+"/", MaxPARsPerDrive)
	if err != nil {
		return nil, err
	}
	out := &PARList{PARs: []PAR{}}
	for _, it := range items {
		var par PAR
		if _, err := s.b.GetJSON(ctx, parKey(strings.TrimPrefix(it.Key, driveParsPre+d.ID+"/")), &par); err != nil {
			continue // an index entry whose PAR was never written
		}
		par.SecretMAC = ""
		out.PARs = append(out.PARs, par)
	}
	return out, nil
}

func (s *Storage) handleRevokePAR(ctx context.Context, a *PARArgs) (*PAR, error) {
	p, err := s.authorise(ctx, a.Credentials, RevokePARResource(a.PAR))
	if err != nil {
		return nil, err
	}
	if !isID(a.PAR) {
		return nil, call.Errorf(call.ErrNotFound, "no PAR %q", clip(a.PAR))
	}
	var par PAR
	for range MaxUpdateAttempts {
		v, err := s.b.GetJSON(ctx, parKey(a.PAR), &par)
		if errors.Is(err, store.ErrNotFound) {
			return nil, call.Errorf(call.ErrNotFound, "no PAR %q", a.PAR)
		} else if err != nil {
			return nil, err
		}
		if _, _, err := s.access(ctx, par.Drive, p, RoleOwner); err != nil {
			return nil, err
		}
		if par.Revoked {
			break
		}
		par.Revoked = true
		if _, err = s.b.PutJSONIfVersion(ctx, parKey(a.PAR), &par, v); err == nil {
			break
		} else if !errors.Is(err, store.ErrPrecondition) {
			return nil, err
		}
	}
	par.SecretMAC = ""
	return &par, nil
}

func isID(s string) bool { return len(s) == 32 && strings.Trim(s, "0123456789abcdef") == "" }

// usePAR checks a PAR key and its mode, and answers the PAR, its drive
// and the principal its actions are recorded under. Every refusal but
// expiry and revocation is PARInvalidError, saying nothing of which part
// was wrong.
func (s *Storage) usePAR(ctx context.Context, k PARKey, write bool) (*PAR, *Drive, Principal, error) {
	invalid := call.Errorf(ErrPARInvalid, "no such PAR, or a wrong secret")
	if !isID(k.ID) || k.Secret == "" || len(k.Secret) > 256 {
		return nil, nil, Principal{}, invalid
	}
	var par PAR
	_, err := s.b.GetJSON(ctx, parKey(k.ID), &par)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, Principal{}, invalid
	} else if err != nil {
		return nil, nil, Principal{}, err
	}
	if !hmac.Equal([]byte(par.SecretMAC), []byte(s.parMAC(k.ID, k.Secret))) {
		return nil, nil, Principal{}, invalid
	}
	switch {
	case par.Revoked:
		return nil, nil, Principal{}, call.Errorf(ErrPARRevoked, "PAR %s was revoked", par.ID)
	case !s.now().Before(par.Expires):
		return nil, nil, Principal{}, call.Errorf(ErrPARExpired, "PAR %s expired at %s", par.ID, par.Expires.Format(time.RFC3339))
	case write && par.Mode == PARRead:
		return nil, nil, Principal{}, call.Errorf(ErrAccessDenied, "PAR %s is read-only", par.ID)
	case !write && par.Mode == PARWrite:
		return nil, nil, Principal{}, call.Errorf(ErrAccessDenied, "PAR %s is write-only", par.ID)
	}
	d, _, err := s.getDrive(ctx, par.Drive)
	if err != nil {
		return nil, nil, Principal{}, err
	}
	if d.ID != par.DriveID {
		// The drive was replaced by another of the same name: the PAR was not for it.
		return nil, nil, Principal{}, invalid
	}
	par.SecretMAC = ""
	return &par, d, Principal{PAR: par.ID}, nil
}

// parName resolves a name a PAR call gives: relative to the drive for a
// drive PAR; a file PAR allows its own file only.
func parName(par *PAR, name string) (string, error) {
	if par.Name == "" {
		return CleanName(name)
	}
	if name == "" {
		return par.Name, nil
	}
	n, err := CleanName(name)
	if err != nil {
		return "", err
	}
	if n != par.Name {
		return "", call.Errorf(ErrAccessDenied, "this PAR is for %q only", par.Name)
	}
	return n, nil
}

// anonymous hides which users uploaded the versions a link's holder sees:
// the link grants the files, not knowledge of the drive's users. Uploads
// through a link keep the link's id.
func anonymous(vs []FileVersion) []FileVersion {
	for i := range vs {
		vs[i].UploadedBy.IdentityURL, vs[i].UploadedBy.UserUID = "", ""
	}
	return vs
}

func parLimit(par *PAR) urlLimit { return urlLimit{until: par.Expires, who: Principal{PAR: par.ID}} }

func (s *Storage) registerPAR() {
	sv := s.svc
	idem := service.Options{Idempotent: true}
	service.Handle(sv, "par_info", service.Options{}, func(ctx context.Context, a *PARCallArgs) (*PAR, error) {
		par, _, _, err := s.usePARAny(ctx, a.PARKey)
		if par != nil {
			par.CreatedBy = Principal{} // the link's holder need not learn who made it
		}
		return par, err
	})
	service.Handle(sv, "par_list_files", service.Options{}, func(ctx context.Context, a *PARCallArgs) (*FileList, error) {
		par, d, _, err := s.usePAR(ctx, a.PARKey, false)
		if err != nil {
			return nil, err
		}
		if par.Name != "" {
			rec, err := s.getVersion(ctx, d, par.Name, 0)
			if err != nil {
				return nil, err
			}
			return &FileList{Files: anonymous([]FileVersion{rec.FileVersion})}, nil
		}
		list, err := s.listFiles(ctx, d, a.Prefix, a.Page, a.Limit)
		if list != nil {
			list.Files = anonymous(list.Files)
		}
		return list, err
	})
	service.Handle(sv, "par_list_versions", service.Options{}, func(ctx context.Context, a *PARCallArgs) (*VersionList, error) {
		par, d, _, err := s.usePAR(ctx, a.PARKey, false)
		if err != nil {
			return nil, err
		}
		name, err := parName(par, a.Name)
		if err != nil {
			return nil, err
		}
		list, err := s.listVersions(ctx, d, name, a.Page, a.Limit)
		if list != nil {
			list.Versions = anonymous(list.Versions)
		}
		return list, err
	})
	service.Handle(sv, "par_open_file", service.Options{}, func(ctx context.Context, a *PARCallArgs) (*Download, error) {
		par, d, _, err := s.usePAR(ctx, a.PARKey, false)
		if err != nil {
			return nil, err
		}
		name, err := parName(par, a.Name)
		if err != nil {
			return nil, err
		}
		dl, err := s.open(ctx, d, name, a.Version, a.From, parLimit(par))
		if dl != nil {
			dl.File = anonymous([]FileVersion{dl.File})[0]
		}
		return dl, err
	})
	service.Handle(sv, "par_put_inline", idem, func(ctx context.Context, a *PARCallArgs) (*FileVersion, error) {
		par, d, p, err := s.usePAR(ctx, a.PARKey, true)
		if err != nil {
			return nil, err
		}
		name, err := parName(par, a.Name)
		if err != nil {
			return nil, err
		}
		return s.putInline(ctx, d, p, name, a.Data, a.SHA256)
	})
	service.Handle(sv, "par_begin_upload", idem, func(ctx context.Context, a *PARCallArgs) (*Upload, error) {
		par, d, p, err := s.usePAR(ctx, a.PARKey, true)
		if err != nil {
			return nil, err
		}
		name, err := parName(par, a.Name)
		if err != nil {
			return nil, err
		}
		return s.beginUpload(ctx, d, p, name, a.Size, a.ChunkReq, parLimit(par))
	})
	service.Handle(sv, "par_upload_status", service.Options{}, func(ctx context.Context, a *PARCallArgs) (*Upload, error) {
		_, _, p, err := s.usePAR(ctx, a.PARKey, true)
		if err != nil {
			return nil, err
		}
		return s.uploadStatus(ctx, a.Upload, p)
	})
	service.Handle(sv, "par_upload_urls", service.Options{}, func(ctx context.Context, a *PARCallArgs) (*ChunkURLs, error) {
		par, _, p, err := s.usePAR(ctx, a.PARKey, true)
		if err != nil {
			return nil, err
		}
		u, _, err := s.openUpload(ctx, a.Upload, p)
		if err != nil {
			return nil, err
		}
		urls, err := s.putURLs(ctx, u, a.From, a.Count, parLimit(par))
		return &ChunkURLs{URLs: urls}, err
	})
	service.Handle(sv, "par_commit_upload", idem, func(ctx context.Context, a *PARCallArgs) (*FileVersion, error) {
		_, d, p, err := s.usePAR(ctx, a.PARKey, true)
		if err != nil {
			return nil, err
		}
		return s.commit(ctx, d, p, a.Upload, a.Chunks, a.SHA256)
	})
}

// usePARAny checks a PAR whatever its mode (par_info).
func (s *Storage) usePARAny(ctx context.Context, k PARKey) (*PAR, *Drive, Principal, error) {
	par, d, p, err := s.usePAR(ctx, k, false)
	if errors.Is(err, ErrAccessDenied) {
		return s.usePAR(ctx, k, true)
	}
	return par, d, p, err
}
