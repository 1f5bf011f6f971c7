package main

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// watcher reports file events in a set of directories (inotify), so a kill
// can land the moment the broker creates, renames, removes or writes a file:
// inside a segment roll, a retention pass or an offset commit.
type watcher struct {
	f    *os.File
	fd   int
	dirs map[int32]string
	buf  []byte
}

type fileEvent struct {
	dir, name string
	mask      uint32
}

func newWatcher() (*watcher, error) {
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	// A non-blocking descriptor becomes pollable: reads honour deadlines.
	return &watcher{f: os.NewFile(uintptr(fd), "inotify"), fd: fd, dirs: map[int32]string{}, buf: make([]byte, 64<<10)}, nil
}

func (w *watcher) add(dir string, mask uint32) error {
	wd, err := syscall.InotifyAddWatch(w.fd, dir, mask)
	if err != nil {
		return err
	}
	w.dirs[int32(wd)] = dir
	return nil
}

func (w *watcher) close() { w.f.Close() }

// wait returns the first event that match accepts, or false at the deadline.
func (w *watcher) wait(deadline time.Time, match func(fileEvent) bool) (fileEvent, bool) {
	for {
		if err := w.f.SetReadDeadline(deadline); err != nil {
			return fileEvent{}, false
		}
		n, err := w.f.Read(w.buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return fileEvent{}, false
			}
			return fileEvent{}, false
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&w.buf[off]))
			nameBytes := w.buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
			name := strings.TrimRight(string(nameBytes), "\x00")
			off += syscall.SizeofInotifyEvent + int(ev.Len)
			e := fileEvent{dir: w.dirs[ev.Wd], name: name, mask: ev.Mask}
			if match(e) {
				return e, true
			}
		}
	}
}
