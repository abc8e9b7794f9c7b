package redaction

import (
	"context"
	"fmt"
)

// RecordSubjectAccess audits a subject access request answered from
// workspace ws ("subject.access"): the entry's subject is the keyed HMAC
// of subject (the number, or the looked-up IDs joined by ','), its count
// the records handed out, and Result.Affected that count; nothing else
// changes. Under a request ID a repeat writes nothing. A workspace that
// does not exist is an error matching cdrstore.ErrNotFound.
func (r *Redactor) RecordSubjectAccess(ctx context.Context, ws, subject string, records int) (Result, error) {
	if records < 0 {
		return Result{}, fmt.Errorf("redaction: subject access: negative count")
	}
	return r.run(ctx, ws, call{action: ActionSubjectAccess, args: subject}, func(o *op) error {
		o.entry.Subject = o.tx.SubjectHMAC(subject)
		o.res.Affected = records
		return nil
	})
}
