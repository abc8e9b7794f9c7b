package e164_test

import (
	"fmt"

	"github.com/cdrvault/cdrvault/e164"
)

func ExampleParse() {
	national, _ := e164.Parse("0803 123 4567", "NG")
	international, _ := e164.Parse("+234 (0) 803 123 4567", "")
	fmt.Println(national, national == international)

	_, err := e164.Parse("0803 123 4567", "")
	fmt.Println(err)
	// Output:
	// +2348031234567 true
	// e164: invalid number "080XXXXXXXX": no leading '+' and no region given
}

func ExampleNumber_Obfuscate() {
	n := e164.MustParse("+14155551234", "")
	fmt.Println(n.Obfuscate(), n.Masked())
	// Output: +1415555XXXX +141XXXXXXXX
}
