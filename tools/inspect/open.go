package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/dispersy-go/dispersy/database"
)

// SQLite file header fields (https://www.sqlite.org/fileformat.html §1.3).
const (
	sqliteHeaderSize    = 100
	sqliteMagic         = "SQLite format 3\x00"
	userVersionOffset   = 60 // PRAGMA user_version, big-endian
	applicationIDOffset = 68 // PRAGMA application_id, big-endian
	// storeApplicationID is the application id of a dispersy-go store
	// (the ASCII bytes "DSPG"; database/schema.go).
	storeApplicationID = 0x44535047
)

// checkFile inspects the header of path without opening it as a database,
// so that inspect never creates, initialises or upgrades a file:
// database.Open would create a missing file, initialise an empty one and
// migrate an older schema. It returns one sentence for the user.
func checkFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", path)
	case err != nil:
		return fmt.Errorf("cannot read %s: %v", path, unwrapPath(err))
	case fi.IsDir():
		return fmt.Errorf("%s is a folder, not a store file", path)
	}
	h, err := fileHeader(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", path, unwrapPath(err))
	}
	if h == nil || string(h[:len(sqliteMagic)]) != sqliteMagic {
		return fmt.Errorf("%s is not a SQLite file, so not a dispersy-go store", path)
	}
	app := binary.BigEndian.Uint32(h[applicationIDOffset:])
	version := int(binary.BigEndian.Uint32(h[userVersionOffset:]))
	latest := database.SchemaVersion()
	switch {
	case app != storeApplicationID:
		return fmt.Errorf("%s is a SQLite file of another application (application id %#x), not a dispersy-go store", path, app)
	case version > latest:
		return fmt.Errorf("%s has store schema version %d, newer than this tool's %d: use the inspect of a newer release", path, version, latest)
	case version < latest:
		return fmt.Errorf("%s has store schema version %d, older than this tool's %d; inspect never upgrades a store: use the inspect of the release that wrote it", path, version, latest)
	}
	return nil
}

// fileHeader returns the current SQLite header of the database at path:
// the first page as the write-ahead log has it when a committed
// transaction there rewrote it (a node that is running, or that stopped
// before a checkpoint), else the first bytes of the file. It returns nil
// when the file is shorter than a header and the log has none.
func fileHeader(path string) ([]byte, error) {
	if h, err := walHeader(path + "-wal"); err != nil || h != nil {
		return h, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := make([]byte, sqliteHeaderSize)
	if _, err := io.ReadFull(f, h); err != nil {
		return nil, nil
	}
	return h, nil
}

// WAL file layout (https://www.sqlite.org/fileformat.html §4).
const (
	walHeaderSize      = 32
	walFrameHeaderSize = 24
	walMagic           = 0x377f0682 // | 1: checksums in big-endian words
)

// walHeader returns the database header from the newest committed copy of
// page 1 in the write-ahead log walPath, or nil when there is no log or no
// committed page 1 in it. Frames are read as SQLite reads them: only those
// with the log's salts and a valid running checksum, up to the last commit.
func walHeader(walPath string) ([]byte, error) {
	f, err := os.Open(walPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hdr [walHeaderSize]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return nil, nil
	}
	magic := binary.BigEndian.Uint32(hdr[0:])
	if magic&^1 != walMagic {
		return nil, nil
	}
	var order binary.ByteOrder = binary.LittleEndian
	if magic&1 == 1 {
		order = binary.BigEndian
	}
	pageSize := int(binary.BigEndian.Uint32(hdr[8:]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return nil, nil
	}
	s0, s1 := walChecksum(order, 0, 0, hdr[:24])
	if s0 != binary.BigEndian.Uint32(hdr[24:]) || s1 != binary.BigEndian.Uint32(hdr[28:]) {
		return nil, nil
	}
	frame := make([]byte, walFrameHeaderSize+pageSize)
	var pending, committed []byte
	for {
		if _, err := io.ReadFull(f, frame); err != nil {
			break
		}
		if string(frame[8:16]) != string(hdr[16:24]) { // salts
			break
		}
		s0, s1 = walChecksum(order, s0, s1, frame[:8])
		s0, s1 = walChecksum(order, s0, s1, frame[walFrameHeaderSize:])
		if s0 != binary.BigEndian.Uint32(frame[16:]) || s1 != binary.BigEndian.Uint32(frame[20:]) {
			break
		}
		if binary.BigEndian.Uint32(frame[0:]) == 1 {
			pending = append(pending[:0], frame[walFrameHeaderSize:walFrameHeaderSize+sqliteHeaderSize]...)
		}
		if binary.BigEndian.Uint32(frame[4:]) != 0 && pending != nil { // a commit frame
			committed = append(committed[:0], pending...)
			pending = nil
		}
	}
	return committed, nil
}

// walChecksum continues SQLite's WAL checksum over b (a multiple of 8
// bytes), reading 32-bit words in order.
func walChecksum(order binary.ByteOrder, s0, s1 uint32, b []byte) (uint32, uint32) {
	for i := 0; i+8 <= len(b); i += 8 {
		s0 += order.Uint32(b[i:]) + s1
		s1 += order.Uint32(b[i+4:]) + s0
	}
	return s0, s1
}

// openStore checks path and opens it. The store is only read: no method
// that writes (Apply) is ever called, and checkFile has excluded every
// case in which database.Open itself would write.
func openStore(path string) (*database.Store, error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	s, err := database.Open(path, database.Options{ReadConns: -1, ReadOnly: true})
	if err != nil {
		var ve *database.VersionError
		switch {
		case errors.As(err, &ve):
			return nil, fmt.Errorf("%s cannot be read by this tool: %v", path, err)
		case errors.Is(err, database.ErrCorrupt):
			return nil, fmt.Errorf("%s is damaged: %v", path, err)
		case errors.Is(err, database.ErrForeign):
			return nil, fmt.Errorf("%s is not a dispersy-go store", path)
		case errors.Is(err, database.ErrLocked):
			return nil, fmt.Errorf("%s is locked by another program; try again when it is idle", path)
		}
		return nil, fmt.Errorf("cannot open %s: %v", path, err)
	}
	return s, nil
}

// unwrapPath drops the operation and path of an *os.PathError, which the
// sentence around it already names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
