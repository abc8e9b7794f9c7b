package cdrstore_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/cdrvault/cdrvault/e164"
)

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "cdrvault-example")
	defer os.RemoveAll(dir)

	s, err := cdrstore.Open(filepath.Join(dir, "cdrvault.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	err = s.Put(cdrstore.Record{
		ID:        "209ab3c7536542b91e8b5aef032f6861",
		Workspace: "acme",
		Product:   cdrstore.ProductSMS,
		Direction: cdrstore.Outbound,
		From:      e164.MustParse("+14155552671", ""),
		To:        e164.MustParse("0803 123 4567", "NG"),
		Body:      "Your code is 4711",
		StartedAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
	})
	if err != nil {
		log.Fatal(err)
	}
	r, err := s.Get("acme", "209ab3c7536542b91e8b5aef032f6861")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Product, r.Direction, r.To.Obfuscate())
	// Output: sms outbound +234803123XXXX
}

func ExampleTx_ByNumber() {
	dir, _ := os.MkdirTemp("", "cdrvault-example")
	defer os.RemoveAll(dir)
	s, err := cdrstore.Open(filepath.Join(dir, "cdrvault.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	ada := e164.MustParse("+2348031234567", "")
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var batch []cdrstore.Record
	for i := range 5 {
		batch = append(batch, cdrstore.Record{
			ID: fmt.Sprintf("call-%d", i), Workspace: "acme",
			Product: cdrstore.ProductVoice, Direction: cdrstore.Inbound,
			From: ada, To: e164.MustParse("+14155552671", ""),
			StartedAt: t0.Add(time.Duration(i) * time.Hour),
		})
	}
	if err := s.PutBatch(batch); err != nil {
		log.Fatal(err)
	}

	// Two pages of two records, within a time range.
	q := cdrstore.Query{Since: t0.Add(time.Hour), Limit: 2}
	for page := 1; page <= 2; page++ {
		err := s.View(func(tx *cdrstore.Tx) error {
			for r, err := range tx.ByNumber("acme", ada, q) {
				if err != nil {
					return err
				}
				fmt.Println(page, r.ID)
				q.Cursor = r.Cursor()
			}
			return nil
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// 1 call-1
	// 1 call-2
	// 2 call-3
	// 2 call-4
}

// The platform's side of an SMS may be a short code or an alphanumeric
// sender ID instead of a number; ParseAlias says which.
func ExampleParseAlias() {
	for _, s := range []string{"32665", "ACME", "+12"} {
		a, err := cdrstore.ParseAlias(s)
		if err != nil {
			fmt.Println(s, "->", err)
			continue
		}
		fmt.Println(s, "->", a.Kind)
	}
	// Output:
	// 32665 -> short code
	// ACME -> sender ID
	// +12 -> cdrstore: invalid address: neither a number, a short code nor a sender ID (which holds a letter and does not start with '+')
}
