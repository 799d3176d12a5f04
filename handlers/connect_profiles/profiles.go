package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/customerprofiles"
	"github.com/aws/aws-sdk-go-v2/service/customerprofiles/types"
	"golang.org/x/time/rate"
)

// profilesAPI is the part of the Customer Profiles client the sink uses.
type profilesAPI interface {
	CreateProfile(ctx context.Context, in *customerprofiles.CreateProfileInput, optFns ...func(*customerprofiles.Options)) (*customerprofiles.CreateProfileOutput, error)
}

type sinkConfig struct {
	Domain      string
	Concurrency int
	PerSecond   float64
}

// sink creates one profile per record, a few at a time.
type sink struct {
	api   profilesAPI
	cfg   sinkConfig
	limit *rate.Limiter
}

func newSink(api profilesAPI, cfg sinkConfig) *sink {
	cfg.Concurrency = max(cfg.Concurrency, 1)
	lim := rate.NewLimiter(rate.Inf, 1)
	if cfg.PerSecond > 0 {
		lim = rate.NewLimiter(rate.Limit(cfg.PerSecond), 1)
	}
	return &sink{api: api, cfg: cfg, limit: lim}
}

// Send creates the batch's profiles. A record the API refuses is a record
// error; a missing domain or permission stops the job (every record would
// fail the same way).
func (s *sink) Send(ctx context.Context, b *runner.Batch) error {
	var (
		mu      sync.Mutex
		recErrs runner.RecordErrors
		fatal   error
		wg      sync.WaitGroup
	)
	work := make(chan runner.Record)
	for range s.cfg.Concurrency {
		wg.Go(func() {
			for r := range work {
				err := s.create(ctx, r)
				if err == nil {
					continue
				}
				mu.Lock()
				if runner.IsFatal(err) && fatal == nil {
					fatal = err
				}
				recErrs = append(recErrs, runner.RecordError{Line: r.Line, Err: err})
				mu.Unlock()
			}
		})
	}
	for _, r := range b.Records {
		work <- r
	}
	close(work)
	wg.Wait()
	if fatal != nil {
		return fatal
	}
	if len(recErrs) > 0 {
		sort.Slice(recErrs, func(i, j int) bool { return recErrs[i].Line < recErrs[j].Line })
		return recErrs
	}
	return nil
}

func (s *sink) create(ctx context.Context, r runner.Record) error {
	var rec map[string]any
	if err := r.Decode(&rec); err != nil {
		return err
	}
	in := profileInput(s.cfg.Domain, rec)
	if err := s.limit.Wait(ctx); err != nil {
		return err
	}
	_, err := s.api.CreateProfile(ctx, in)
	var notFound *types.ResourceNotFoundException
	var denied *types.AccessDeniedException
	switch {
	case errors.As(err, &notFound):
		return runner.Fatal(fmt.Errorf("Customer Profiles domain %q not found: %w", s.cfg.Domain, err))
	case errors.As(err, &denied):
		return runner.Fatal(fmt.Errorf("not allowed to create profiles in %q (the role needs profile:CreateProfile): %w", s.cfg.Domain, err))
	}
	return err
}

// The record fields each profile field is read from, first match wins.
var (
	profileFields = []struct {
		set  func(*customerprofiles.CreateProfileInput, *string)
		keys []string
	}{
		{func(in *customerprofiles.CreateProfileInput, v *string) { in.FirstName = v }, []string{"first_name", "given_name", "firstname"}},
		{func(in *customerprofiles.CreateProfileInput, v *string) { in.LastName = v }, []string{"last_name", "surname", "lastname"}},
		{func(in *customerprofiles.CreateProfileInput, v *string) { in.EmailAddress = v }, []string{"email", "email_address"}},
		{func(in *customerprofiles.CreateProfileInput, v *string) { in.PhoneNumber = v }, []string{"phone", "phone_number"}},
		{func(in *customerprofiles.CreateProfileInput, v *string) { in.BirthDate = v }, []string{"birthdate", "birth_date"}},
		{func(in *customerprofiles.CreateProfileInput, v *string) { in.AccountNumber = v }, []string{"amperity_id", "account_number"}},
	}
	addressFields = []struct {
		set  func(*types.Address, *string)
		keys []string
	}{
		{func(a *types.Address, v *string) { a.Address1 = v }, []string{"address", "address1", "street"}},
		{func(a *types.Address, v *string) { a.Address2 = v }, []string{"address2"}},
		{func(a *types.Address, v *string) { a.City = v }, []string{"city"}},
		{func(a *types.Address, v *string) { a.State = v }, []string{"state"}},
		{func(a *types.Address, v *string) { a.PostalCode = v }, []string{"postal", "postal_code", "zip"}},
		{func(a *types.Address, v *string) { a.Country = v }, []string{"country"}},
	}
)

// text is a field's value as a string, nil when absent, null or blank:
// Customer Profiles rejects empty strings.
func text(rec map[string]any, keys ...string) *string {
	for _, k := range keys {
		v, ok := rec[k]
		if !ok || v == nil {
			continue
		}
		s := strings.TrimSpace(fmt.Sprint(v))
		if s != "" {
			return aws.String(s)
		}
	}
	return nil
}

// profileInput maps a record to CreateProfile: known fields to profile
// fields, address fields into Address, the rest (non-empty) into
// Attributes.
func profileInput(domain string, rec map[string]any) *customerprofiles.CreateProfileInput {
	in := &customerprofiles.CreateProfileInput{DomainName: aws.String(domain)}
	used := map[string]bool{}
	for _, f := range profileFields {
		if v := text(rec, f.keys...); v != nil {
			f.set(in, v)
		}
		for _, k := range f.keys {
			used[k] = true
		}
	}
	var addr types.Address
	hasAddr := false
	for _, f := range addressFields {
		if v := text(rec, f.keys...); v != nil {
			f.set(&addr, v)
			hasAddr = true
		}
		for _, k := range f.keys {
			used[k] = true
		}
	}
	if hasAddr {
		in.Address = &addr
	}
	for k := range rec {
		if used[k] {
			continue
		}
		if v := text(rec, k); v != nil {
			if in.Attributes == nil {
				in.Attributes = map[string]string{}
			}
			in.Attributes[k] = *v
		}
	}
	return in
}
