package e164_test

import (
	"errors"
	"fmt"

	"github.com/cdrvault/cdrvault/e164"
)

func ExampleParse() {
	national, _ := e164.Parse("0803 123 4567", "NG")
	international, _ := e164.Parse("+234 (0) 803 123 4567", "")
	fmt.Println(national, national == international, national.Region(), national.CountryCode())

	// Without a '+' a region is needed: Parse never guesses a country.
	_, err := e164.Parse("0803 123 4567", "")
	fmt.Println(err)
	// Output:
	// +2348031234567 true NG 234
	// e164: invalid number "080XXXXXXXX": no leading '+' and no region given
}

func ExampleNumber_Obfuscate() {
	n := e164.MustParse("+1 415 555 1234", "")
	fmt.Println(n.Obfuscate()) // stored once a record is redacted
	fmt.Println(n.Masked())    // for logs and errors
	// Output:
	// +1415555XXXX
	// +141XXXXXXXX
}

func ExampleParseCanonical() {
	// Stored numbers are read back with a syntax check only.
	n, err := e164.ParseCanonical("+2348031234567")
	fmt.Println(n, err)
	_, err = e164.ParseCanonical("+234 803 123 4567")
	fmt.Println(err)
	// Output:
	// +2348031234567 <nil>
	// e164: invalid number "+234XXXXXXXXXX": not a phone number
}

func ExampleNumberError() {
	_, err := e164.Parse("+44 7700 900123", "") // a range set aside for drama
	var ne *e164.NumberError
	if errors.As(err, &ne) {
		fmt.Println(errors.Is(err, e164.ErrInvalidNumber), ne.Reason, ne.Masked)
	}
	// Output:
	// true not a valid number +447XXXXXXXXX
}

func ExampleMask() {
	fmt.Println(e164.Mask("+234 (0) 803-123-4567"))
	fmt.Println(e164.Mask("call 0803 123 4567 now"))
	// Output:
	// +234XXXXXXXXXXX
	// 080XXXXXXXX
}
