package e164

import (
	"fmt"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestScratch(t *testing.T) {
	for _, c := range [][2]string{
		{"+44 7700 900123", ""}, {"07700 900123", "GB"}, {"+999 123", ""}, {"+1 555 0100", ""}, {"+1 200 555 0100", ""},
		{"+1 415 555 0100", ""}, {"+49 30 12", ""}, {"+234 803 123 456", ""}, {"+234 803 12345", ""}, {"+44 20 7946 000", ""},
		{"+49 1511 234567", ""}, {"+33 1 23 45 67 8", ""}, {"+33 0 12 34 56 78", ""}, {"+44 1234 567", ""}, {"+1 415 555 267", ""},
		{"+1 415 555 26711", ""}, {"+27 82 123 456", ""}, {"+81 90 1234 567", ""}, {"+91 12345 67890", ""}, {"+91 98123 4567", ""},
		{"+2348031234567", "ZZ"}, {"+800 1234 5678", ""}, {"+882 1234 5678", ""}, {"+6834001", ""}, {"+290 22158", ""},
		{"+44 7911 123456", ""}, {"+55 11 9123 4567", ""}, {"+254 712 34567", ""}, {"+254 1234", ""},
		{"+33 6 12 34 56 78 9", ""}, {"+81 3 1234 5678", ""}, {"+1 123 456 7890", ""}, {"+7 912 345 67 89", ""},
	} {
		pn, err := phonenumbers.Parse(c[0], c[1])
		if err != nil {
			fmt.Printf("%-22q %s parse err %v\n", c[0], c[1], err)
			continue
		}
		fmt.Printf("%-22q %s %s poss=%v valid=%v region=%s\n", c[0], c[1], phonenumbers.Format(pn, phonenumbers.E164), phonenumbers.IsPossibleNumberWithReason(pn), phonenumbers.IsValidNumber(pn), phonenumbers.GetRegionCodeForNumber(pn))
	}
	fmt.Println(phonenumbers.GetCountryCodeForRegion("ZZ"), phonenumbers.GetCountryCodeForRegion("XX"), phonenumbers.GetCountryCodeForRegion("001"), phonenumbers.GetCountryCodeForRegion("ng"))
}
