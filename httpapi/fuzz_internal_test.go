package httpapi

import (
	"strings"
	"testing"

	"github.com/cdrvault/cdrvault/e164"
)

// FuzzDecodeRedact: any body decodes to a request or a problem, never a
// panic, and an accepted request names a valid product and direction.
func FuzzDecodeRedact(f *testing.F) {
	for _, s := range []string{
		`{"id":"209ab3c7536542b91e8b5aef032f6861","product":"sms","type":"outbound"}`,
		`{"id":"x","product":"VerifySDK","type":"Inbound"}`,
		`{"id":"x","product":"sms2"}`, `{"id":1}`, `[]`, `{`, `null`, `{"id":"","product":"sms"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, p, d, prob := decodeRedact(strings.NewReader(body))
		if prob != nil {
			if prob.title == "" || prob.typ == "" {
				t.Fatalf("problem without title or type: %+v", prob)
			}
			return
		}
		if req.ID == nil || *req.ID == "" || !p.Valid() || !d.Valid() {
			t.Fatalf("accepted a bad request: %+v %q %q", req, p, d)
		}
	})
}

// FuzzParseContactNumber: the path parameter parser accepts only
// canonical, valid numbers, and masking never panics.
func FuzzParseContactNumber(f *testing.F) {
	for _, s := range []string{"+2348031234567", "2348031234567", "+234", "+12005550100", "", "+44 7911 123456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := ParseContactNumber(s)
		if ok && n.String() != s {
			t.Fatalf("accepted %q as %q", s, n)
		}
		if ok {
			if _, err := e164.Parse(s, ""); err != nil {
				t.Fatalf("accepted an invalid number")
			}
		}
		_ = MaskPath("/v1/contacts/" + s)
	})
}
