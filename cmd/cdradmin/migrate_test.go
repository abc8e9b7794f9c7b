package main

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/cdrvault/cdrvault/cdrstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// A store written by an older cdradmin: inspection commands refuse it
// without changing it and say how to upgrade it; migrate does, once.
func TestMigrateAnOlderStore(t *testing.T) {
	require.Equal(t, uint32(3), cdrstore.FormatNewest, "this test names the formats")
	db := filepath.Join(t.TempDir(), "old.db")
	code, _, stderr := cli(t, "", "--db", db, "workspace", "create", "acme")
	require.Equal(t, 0, code, stderr)
	// A store with a workspace and no record is byte for byte the same in
	// format v2 but for its format number.
	raw, err := bolt.Open(db, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, raw.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("format"), binary.BigEndian.AppendUint32(nil, 2))
	}))
	require.NoError(t, raw.Close())

	before := fileHash(t, db)
	code, _, stderr = cli(t, "", "--db", db, "stats")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "format 2")
	assert.Contains(t, stderr, "cdradmin migrate")
	assert.Equal(t, before, fileHash(t, db), "an inspection command migrated the store")

	code, out, stderr := cli(t, "", "--db", db, "migrate")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "migrated "+db+" from format 2 to 3\n", out)
	code, out, _ = cli(t, "", "--db", db, "migrate")
	require.Equal(t, 0, code)
	assert.Equal(t, db+" is in format 3 already\n", out)
	code, _, stderr = cli(t, "", "--db", db, "stats")
	assert.Equal(t, 0, code, stderr)
}
