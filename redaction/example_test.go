package redaction_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
	"github.com/cdrvault/cdrvault/redaction"
)

func exampleStore() (*cdrstore.Store, func()) {
	dir, _ := os.MkdirTemp("", "cdrvault-example")
	now := time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)
	s, err := cdrstore.Open(filepath.Join(dir, "cdrvault.db"), &cdrstore.Options{Now: func() time.Time { return now }})
	if err != nil {
		log.Fatal(err)
	}
	ada := e164.MustParse("+2348031234567", "")
	platform := e164.MustParse("+14155552671", "")
	err = s.PutBatch([]cdrstore.Record{
		{ID: "209ab3c7536542b91e8b5aef032f6861", Workspace: "acme", Product: cdrstore.ProductSMS, Direction: cdrstore.Outbound,
			From: platform, To: ada, Body: "Your code is 4711", StartedAt: now.Add(-2 * time.Hour)},
		{ID: "call-1", Workspace: "acme", Product: cdrstore.ProductVoice, Direction: cdrstore.Inbound,
			From: ada, To: platform, Transcript: []string{"I'd like to cancel"}, RecordingURL: "https://media.example.net/rec/1.mp3",
			StartedAt: now.Add(-time.Hour)},
	})
	if err != nil {
		log.Fatal(err)
	}
	return s, func() { s.Close(); os.RemoveAll(dir) }
}

func ExampleRedactor_RedactByID() {
	s, done := exampleStore()
	defer done()
	rd := redaction.New(s, nil)

	p, _ := redaction.ParseProduct("SMS") // the Node SDK's spelling
	d, _ := redaction.ParseDirection("")  // the API's default: outbound
	res, err := rd.RedactByID(context.Background(), "acme", "209ab3c7536542b91e8b5aef032f6861", p, d)
	if err != nil {
		log.Fatal(err)
	}
	r, _ := s.Get("acme", "209ab3c7536542b91e8b5aef032f6861")
	fmt.Println(res.Action, res.Affected, r.Redacted.Fields, r.To.IsValid())

	_, err = rd.RedactByID(context.Background(), "acme", "209ab3c7536542b91e8b5aef032f6861", p, cdrstore.Inbound)
	fmt.Println(err)
	// Output:
	// redact.transaction 1 body|to false
	// redaction: ID "209ab3c7536542b91e8b5aef032f6861" could not be found (type=MO)
}

func ExampleRedactor_EraseContact() {
	s, done := exampleStore()
	defer done()
	rd := redaction.New(s, nil)

	ada := e164.MustParse("0803 123 4567", "NG")
	res, err := rd.EraseContact(context.Background(), "acme", ada, "ndpr_right_to_erasure")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Erased, res.E164, res.RecordsAffected)
	r, _ := s.Get("acme", "call-1")
	fmt.Println(r.Transcript, r.RecordingURL == "", r.From == ada)

	again, _ := rd.EraseContact(context.Background(), "acme", ada, "ndpr_right_to_erasure")
	fmt.Println(again.RecordsAffected)
	// Output:
	// true +2348031234567 2
	// [[REDACTED]] true true
	// 0
}
