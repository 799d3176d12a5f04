package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/amperity/lambda-runner-go/runner"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pinpoint"
	pptypes "github.com/aws/aws-sdk-go-v2/service/pinpoint/types"
	"github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"
	"github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2/types"
	"golang.org/x/time/rate"
)

type smsAPI interface {
	SendTextMessage(ctx context.Context, in *pinpointsmsvoicev2.SendTextMessageInput, optFns ...func(*pinpointsmsvoicev2.Options)) (*pinpointsmsvoicev2.SendTextMessageOutput, error)
}

type validateAPI interface {
	PhoneNumberValidate(ctx context.Context, in *pinpoint.PhoneNumberValidateInput, optFns ...func(*pinpoint.Options)) (*pinpoint.PhoneNumberValidateOutput, error)
}

type settings struct {
	Origination  string
	Template     string
	MessageField string
	PhoneField   string
	MessageType  string
	ConfigSet    string
	PerSecond    float64
	Validate     bool
}

func loadConfig(env *runner.Env) (settings, error) {
	cfg := settings{
		Origination:  env.Required("ORIGINATION_IDENTITY"),
		Template:     env.String("MESSAGE_TEMPLATE", ""),
		MessageField: env.String("MESSAGE_FIELD", ""),
		PhoneField:   env.String("PHONE_FIELD", "phone"),
		MessageType:  strings.ToUpper(env.String("MESSAGE_TYPE", "TRANSACTIONAL")),
		ConfigSet:    env.String("CONFIGURATION_SET", ""),
		PerSecond:    env.Float("SENDS_PER_SECOND", 1),
		Validate:     env.Bool("VALIDATE_NUMBERS", false),
	}
	err := env.Err()
	var more []error
	if cfg.Template == "" && cfg.MessageField == "" {
		more = append(more, errors.New("MESSAGE_TEMPLATE or MESSAGE_FIELD is required"))
	}
	if cfg.MessageType != "TRANSACTIONAL" && cfg.MessageType != "PROMOTIONAL" {
		more = append(more, fmt.Errorf("MESSAGE_TYPE=%q must be TRANSACTIONAL or PROMOTIONAL", cfg.MessageType))
	}
	if cfg.PerSecond <= 0 {
		more = append(more, fmt.Errorf("SENDS_PER_SECOND must be above 0"))
	}
	if err != nil || len(more) > 0 {
		return cfg, errors.Join(append([]error{err}, more...)...)
	}
	return cfg, nil
}

// e164 is the international format SMS APIs take: +, country code, number.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// sink sends one text per record, at the configured rate.
type sink struct {
	api      smsAPI
	validate validateAPI // nil: local checks only
	cfg      settings
	tmpl     *template.Template
	limit    *rate.Limiter
}

func newSink(api smsAPI, validate validateAPI, cfg settings) (*sink, error) {
	s := &sink{api: api, validate: validate, cfg: cfg, limit: rate.NewLimiter(rate.Limit(cfg.PerSecond), 1)}
	if cfg.Template != "" {
		t, err := template.New("message").Option("missingkey=error").Parse(cfg.Template)
		if err != nil {
			return nil, fmt.Errorf("MESSAGE_TEMPLATE: %w", err)
		}
		s.tmpl = t
	}
	return s, nil
}

// Send texts each record; a bad number or a refused message is a record
// error, a missing permission stops the job.
func (s *sink) Send(ctx context.Context, b *runner.Batch) error {
	var recErrs runner.RecordErrors
	for _, r := range b.Records {
		if err := s.send(ctx, r); err != nil {
			if runner.IsFatal(err) || ctx.Err() != nil {
				return err
			}
			recErrs = append(recErrs, runner.RecordError{Line: r.Line, Err: err})
		}
	}
	if len(recErrs) > 0 {
		return recErrs
	}
	return nil
}

func (s *sink) send(ctx context.Context, r runner.Record) error {
	var rec map[string]any
	if err := r.Decode(&rec); err != nil {
		return err
	}
	phone, msg, err := s.message(rec)
	if err != nil {
		return err
	}
	if s.validate != nil {
		out, err := s.validate.PhoneNumberValidate(ctx, &pinpoint.PhoneNumberValidateInput{
			NumberValidateRequest: &pptypes.NumberValidateRequest{PhoneNumber: aws.String(phone)}})
		if err != nil {
			return fmt.Errorf("validating %s: %w", mask(phone), err)
		}
		if t := aws.ToString(out.NumberValidateResponse.PhoneType); t == "INVALID" || t == "" {
			return fmt.Errorf("phone number %s is not valid (phone number validate says %q)", mask(phone), t)
		}
		if c := aws.ToString(out.NumberValidateResponse.CleansedPhoneNumberE164); c != "" {
			phone = c
		}
	}
	if err := s.limit.Wait(ctx); err != nil {
		return err
	}
	in := &pinpointsmsvoicev2.SendTextMessageInput{
		DestinationPhoneNumber: aws.String(phone),
		MessageBody:            aws.String(msg),
		OriginationIdentity:    aws.String(s.cfg.Origination),
		MessageType:            types.MessageType(s.cfg.MessageType),
	}
	if s.cfg.ConfigSet != "" {
		in.ConfigurationSetName = aws.String(s.cfg.ConfigSet)
	}
	_, err = s.api.SendTextMessage(ctx, in)
	var denied *types.AccessDeniedException
	if errors.As(err, &denied) {
		return runner.Fatal(fmt.Errorf("not allowed to send SMS (the role needs sms-voice:SendTextMessage): %w", err))
	}
	if err != nil {
		return fmt.Errorf("sending to %s: %w", mask(phone), err)
	}
	return nil
}

// message finds the record's phone number (checked as E.164) and text.
func (s *sink) message(rec map[string]any) (phone, msg string, err error) {
	raw, _ := rec[s.cfg.PhoneField].(string)
	phone = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "", ".", "").Replace(strings.TrimSpace(raw))
	if phone == "" {
		return "", "", fmt.Errorf("no %s", s.cfg.PhoneField)
	}
	if !e164.MatchString(phone) {
		return "", "", fmt.Errorf("phone number %s is not in E.164 format (+ and country code, e.g. +14155550100)", mask(phone))
	}
	if s.tmpl != nil {
		var buf bytes.Buffer
		if err := s.tmpl.Execute(&buf, rec); err != nil {
			return "", "", fmt.Errorf("MESSAGE_TEMPLATE: %w", err)
		}
		msg = buf.String()
	} else {
		msg, _ = rec[s.cfg.MessageField].(string)
	}
	if strings.TrimSpace(msg) == "" {
		return "", "", errors.New("empty message")
	}
	return phone, msg, nil
}

// mask keeps a phone number's last digits only: errors go to Amperity's
// status reports and logs, which should not collect customers' numbers.
func mask(phone string) string {
	if len(phone) <= 4 {
		return "****"
	}
	return strings.Repeat("*", len(phone)-4) + phone[len(phone)-4:]
}
