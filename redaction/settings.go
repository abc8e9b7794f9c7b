package redaction

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
)

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("1h", "2160h").
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Defaults of a workspace's settings.
const (
	DefaultPrematureWindow = time.Hour
	DefaultRetentionMonths = 13
)

// Settings is a workspace's policy. The zero value of each field means its
// default.
type Settings struct {
	// Products the workspace may redact by ID; empty means all.
	Products []cdrstore.Product `json:"products,omitempty"`
	// PrematureWindow is how long after started_at a record may not yet
	// be redacted by ID. Zero means DefaultPrematureWindow.
	PrematureWindow Duration `json:"premature_window,omitempty"`
	// Retention says how long records are kept.
	Retention Retention `json:"retention"`
	// AutoRedact lists policies applied by AutoRedact.
	AutoRedact []AutoRedactPolicy `json:"auto_redact,omitempty"`
	// MediaExpiry removes media references this long after started_at,
	// whatever the content policy; zero means media follow the content
	// policy (and their own expires_at).
	MediaExpiry Duration `json:"media_expiry,omitempty"`
}

// Retention is how many calendar months records are kept, overall and per
// product.
type Retention struct {
	Months    int                      `json:"months,omitempty"`     // 0 means DefaultRetentionMonths
	ByProduct map[cdrstore.Product]int `json:"by_product,omitempty"` // overrides Months
}

// AutoRedactPolicy discards content and obfuscates the counterparty of a
// product's records once they are older than Hold.
type AutoRedactPolicy struct {
	Product   cdrstore.Product   `json:"product"`
	Direction cdrstore.Direction `json:"direction,omitempty"` // empty: both
	Content   bool               `json:"content"`             // discard body, transcript, recording, media
	Address   bool               `json:"address"`             // obfuscate the counterparty's last four digits
	Hold      Duration           `json:"hold"`                // 0..6h, or 15, 30, 60 or 90 days
}

// DefaultSettings returns the settings of a workspace that has none.
func DefaultSettings() Settings { return Settings{} }

// Premature returns the premature-redaction window.
func (s Settings) Premature() time.Duration {
	if s.PrematureWindow == 0 {
		return DefaultPrematureWindow
	}
	return time.Duration(s.PrematureWindow)
}

// Provisioned reports whether the workspace may redact product p.
func (s Settings) Provisioned(p cdrstore.Product) bool {
	return len(s.Products) == 0 || slices.Contains(s.Products, p)
}

// RetentionMonths returns how many calendar months records of p are kept.
func (s Settings) RetentionMonths(p cdrstore.Product) int {
	if m, ok := s.Retention.ByProduct[p]; ok {
		return m
	}
	if s.Retention.Months == 0 {
		return DefaultRetentionMonths
	}
	return s.Retention.Months
}

// allowedHold reports whether h is one of the hold windows policies allow:
// 0 to 6 hours, or 15, 30, 60 or 90 days.
func allowedHold(h time.Duration) bool {
	if h >= 0 && h <= 6*time.Hour {
		return true
	}
	for _, d := range []int{15, 30, 60, 90} {
		if h == time.Duration(d)*24*time.Hour {
			return true
		}
	}
	return false
}

// Validate reports the first setting that cannot be applied.
func (s Settings) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidSettings}, args...)...)
	}
	for _, p := range s.Products {
		if !p.Valid() {
			return bad("unknown product %q", p)
		}
	}
	if s.PrematureWindow < 0 || time.Duration(s.PrematureWindow) > 30*24*time.Hour {
		return bad("premature_window must be between 0 and 720h")
	}
	if s.Retention.Months < 0 || s.Retention.Months > 1200 {
		return bad("retention months must be between 1 and 1200")
	}
	for p, m := range s.Retention.ByProduct {
		if !p.Valid() {
			return bad("retention for unknown product %q", p)
		}
		if m < 1 || m > 1200 {
			return bad("retention for %s must be between 1 and 1200 months", p)
		}
	}
	for i, a := range s.AutoRedact {
		if !a.Product.Valid() {
			return bad("auto_redact[%d]: unknown product %q", i, a.Product)
		}
		if a.Direction != "" && !a.Direction.Valid() {
			return bad("auto_redact[%d]: direction must be inbound or outbound", i)
		}
		if !allowedHold(time.Duration(a.Hold)) {
			return bad("auto_redact[%d]: hold must be 0 to 6h, or 15, 30, 60 or 90 days", i)
		}
		if !a.Content && !a.Address {
			return bad("auto_redact[%d]: neither content nor address", i)
		}
	}
	if s.MediaExpiry < 0 {
		return bad("media_expiry is negative")
	}
	return nil
}

var settingsKey = []byte("policy")

// LoadSettings reads the settings of workspace ws inside tx. A workspace
// without settings gets DefaultSettings.
func LoadSettings(tx *cdrstore.Tx, ws string) (Settings, error) {
	kv, err := tx.Bucket(ws, cdrstore.BucketSettings)
	if err != nil {
		return Settings{}, err
	}
	raw := kv.Get(settingsKey)
	if raw == nil {
		return DefaultSettings(), nil
	}
	var s Settings
	if err := json.Unmarshal(raw, &s); err != nil {
		return Settings{}, &cdrstore.CorruptionError{Workspace: ws, Bucket: string(cdrstore.BucketSettings), Key: string(settingsKey), Err: err}
	}
	return s, nil
}

// Settings returns the settings of workspace ws.
func (r *Redactor) Settings(ws string) (Settings, error) {
	var s Settings
	err := r.s.View(func(tx *cdrstore.Tx) error {
		var err error
		s, err = LoadSettings(tx, ws)
		return err
	})
	return s, err
}

// SetSettings replaces the settings of workspace ws and appends a
// "settings.change" audit entry holding the old and the new value. Setting
// the same value again writes nothing.
func (r *Redactor) SetSettings(ctx context.Context, ws string, s Settings) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	newRaw, err := json.Marshal(s)
	if err != nil {
		return Result{}, err
	}
	return r.run(ctx, ws, call{action: ActionSettingsChange, args: string(newRaw)}, func(op *op) error {
		old, err := LoadSettings(op.tx, ws)
		if err != nil {
			return err
		}
		oldRaw, _ := json.Marshal(old)
		if string(oldRaw) == string(newRaw) {
			op.noAudit = true
			return nil
		}
		kv, err := op.tx.Bucket(ws, cdrstore.BucketSettings)
		if err != nil {
			return err
		}
		if err := op.step("settings"); err != nil {
			return err
		}
		if err := kv.Put(settingsKey, newRaw); err != nil {
			return err
		}
		// A new policy starts its auto-redaction passes from the beginning.
		if err := resetWatermarks(kv); err != nil {
			return err
		}
		op.entry.Detail = truncate(string(oldRaw)+" -> "+string(newRaw), 1024)
		return nil
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// resetWatermarks deletes every auto-redaction watermark of a workspace's
// settings bucket kv: the next run starts each pass from the beginning.
func resetWatermarks(kv *cdrstore.KV) error {
	var marks [][]byte
	for k := range kv.Scan([]byte("wm/"), nil) {
		marks = append(marks, k)
	}
	for _, k := range marks {
		if err := kv.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
