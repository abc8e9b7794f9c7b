package cdrstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"slices"
)

// This file reads bbolt's on-disk format where bbolt's API does not
// reach: the meta pages (checkFileSize, to refuse a truncated file; Scrub,
// to find a commit's free page list) and the free page list itself. Scrub
// reads them with pread from the file (never from bbolt's memory map),
// and only while they cannot change under it: a commit's meta page until
// the commit after next overwrites it (the caller checks the txid it
// finds), and a commit's free page list as long as that commit is the
// newest (the caller holds the writer lock) or an open read transaction
// began at it (bbolt then keeps the page pending, unwritten).
// TestBoltFormatPinned pins the layout against bbolt's own view of a file.
//
//	page header:  id u64 · flags u16 · count u16 · overflow u32     (16 bytes)
//	meta (at 16): magic u32 · version u32 · pageSize u32 · flags u32 ·
//	              root pgid u64 · root sequence u64 · freelist pgid u64 ·
//	              pgid u64 (high-water mark) · txid u64 · checksum u64
//	              (FNV-64a of the 56 bytes before it)
//	freelist:     count u16 in the header; 0xFFFF means the first u64
//	              after the header holds the count. Then count page IDs,
//	              u64 each, sorted: the free and the pending pages.
//
// Integers are in the machine's byte order, which bbolt writes its structs
// in: little-endian on every platform this module is built for.
const (
	boltPageHeader   = 16
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	boltFreelistFlag = 0x10
	boltMetaSumTo    = boltPageHeader + 56 // the checksum's offset in the page
)

// boltMeta is what the store reads of one commit's meta page.
type boltMeta struct {
	pageSize uint32
	freelist uint64 // page ID of the commit's free page list
	pgid     uint64 // high-water mark: the commit uses pages below it
	txid     uint64
}

// errBoltFormat is wrapped by the errors of this file: the file does not
// hold what bbolt's format says it should.
var errBoltFormat = errors.New("bbolt file format")

// readBoltMeta parses the meta page that page begins with; ok is false when
// it is not one (no magic, wrong version, bad checksum).
func readBoltMeta(page []byte) (m boltMeta, ok bool) {
	if len(page) < boltMetaSumTo+8 {
		return boltMeta{}, false
	}
	le := binary.LittleEndian
	h := fnv.New64a()
	h.Write(page[boltPageHeader:boltMetaSumTo])
	if le.Uint32(page[boltPageHeader:]) != boltMagic || le.Uint32(page[boltPageHeader+4:]) != boltVersion ||
		h.Sum64() != le.Uint64(page[boltMetaSumTo:]) {
		return boltMeta{}, false
	}
	return boltMeta{
		pageSize: le.Uint32(page[boltPageHeader+8:]),
		freelist: le.Uint64(page[boltPageHeader+32:]),
		pgid:     le.Uint64(page[boltPageHeader+40:]),
		txid:     le.Uint64(page[boltPageHeader+48:]),
	}, true
}

// readMeta reads the meta page i (0 or 1) of f.
func readMeta(f *os.File, i int64, pageSize int) (boltMeta, error) {
	var b [boltMetaSumTo + 8]byte
	if _, err := f.ReadAt(b[:], i*int64(pageSize)); err != nil {
		return boltMeta{}, fmt.Errorf("read meta page %d: %w", i, err)
	}
	m, ok := readBoltMeta(b[:])
	if !ok {
		return boltMeta{}, fmt.Errorf("meta page %d: %w", i, errBoltFormat)
	}
	return m, nil
}

// readCommitMeta reads the meta page of commit txid, which bbolt writes to
// page txid%2. ok is false when that page holds another commit (the
// commit after next overwrote it) or fails its checksum (it is being
// written).
func readCommitMeta(f *os.File, txid uint64, pageSize int) (m boltMeta, ok bool, err error) {
	m, err = readMeta(f, int64(txid%2), pageSize)
	if errors.Is(err, errBoltFormat) {
		return boltMeta{}, false, nil
	}
	if err != nil {
		return boltMeta{}, false, err
	}
	return m, m.txid == txid, nil
}

// readFreelist reads the free page list of the commit described by m: the
// sorted IDs of its free and pending pages.
func readFreelist(f *os.File, m boltMeta, pageSize int) ([]uint64, error) {
	off := int64(m.freelist) * int64(pageSize)
	var hdr [boltPageHeader + 8]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return nil, fmt.Errorf("read free page list %d: %w", m.freelist, err)
	}
	ne := binary.LittleEndian
	if ne.Uint64(hdr[0:]) != m.freelist || ne.Uint16(hdr[8:])&boltFreelistFlag == 0 {
		return nil, fmt.Errorf("page %d is not a free page list: %w", m.freelist, errBoltFormat)
	}
	count, start := uint64(ne.Uint16(hdr[10:])), int64(boltPageHeader)
	if count == 0xFFFF {
		count, start = ne.Uint64(hdr[boltPageHeader:]), boltPageHeader+8
	}
	overflow := uint64(ne.Uint32(hdr[12:]))
	if uint64(start)+count*8 > (overflow+1)*uint64(pageSize) {
		return nil, fmt.Errorf("free page list %d: %d IDs overflow its %d pages: %w", m.freelist, count, overflow+1, errBoltFormat)
	}
	raw := make([]byte, count*8)
	if _, err := f.ReadAt(raw, off+start); err != nil {
		return nil, fmt.Errorf("read free page list %d: %w", m.freelist, err)
	}
	ids := make([]uint64, count)
	for i := range ids {
		ids[i] = ne.Uint64(raw[8*i:])
		if ids[i] < 2 || ids[i] >= m.pgid {
			return nil, fmt.Errorf("free page list %d: page %d out of range: %w", m.freelist, ids[i], errBoltFormat)
		}
	}
	if !slices.IsSorted(ids) {
		slices.Sort(ids)
	}
	return ids, nil
}

// contains reports whether the sorted ids hold id.
func contains(ids []uint64, id uint64) bool {
	_, ok := slices.BinarySearch(ids, id)
	return ok
}
