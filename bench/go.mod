module github.com/cdrvault/cdrvault/bench

go 1.26.0

replace github.com/cdrvault/cdrvault => ../

require (
	github.com/cdrvault/cdrvault v0.0.0-00010101000000-000000000000
	github.com/mattn/go-sqlite3 v1.14.53
	github.com/stretchr/testify v1.11.1
	github.com/timshannon/bolthold v0.0.0-20240314194003-30aac6950928
	go.etcd.io/bbolt v1.5.0
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/nyaruka/phonenumbers v1.8.1 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
