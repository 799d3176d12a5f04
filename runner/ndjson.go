package runner

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// utf8BOM is stripped from the start of a file: exports from spreadsheet
// tools often carry one, and it would make the first record invalid JSON.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// errLineTooLong is returned (wrapped) for a line longer than the splitter's
// limit; the splitter skips the rest of that line so the job can go on.
var errLineTooLong = errors.New("line too long")

// lineSplitter cuts an NDJSON stream into lines of any length. Unlike
// bufio.Scanner it has no 64 KB token limit: short lines are returned from
// the read buffer without copying, long ones are assembled in a separate
// buffer up to max bytes. It accepts LF and CRLF endings, a last line
// without a newline and a leading UTF-8 BOM, and skips blank lines while
// still counting them, so line numbers match what an editor shows.
type lineSplitter struct {
	r    *bufio.Reader
	max  int    // longest line accepted, in bytes
	off  int64  // offset in the stream of the next unread byte
	line int64  // number of the last line returned
	long []byte // assembly buffer for lines longer than the read buffer
	bom  bool   // whether the BOM check has been done
	eof  bool   // whether the end of the stream was reached
}

// newLineSplitter reads from r, which starts at byte offset off and line
// number line+1 of the file (both zero for a whole file).
func newLineSplitter(r io.Reader, off, line int64, max int) *lineSplitter {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 256<<10)
	}
	return &lineSplitter{r: br, max: max, off: off, line: line, bom: off != 0}
}

// next returns the next non-blank line without its line ending, the byte
// offset where it starts, and its 1-based line number. The slice is valid
// until the following call. At the end of the stream it returns io.EOF.
// A line over the limit yields an error wrapping errLineTooLong, after which
// next can be called again.
func (s *lineSplitter) next() (line []byte, off int64, num int64, err error) {
	for {
		line, off, err = s.readLine()
		if err == io.EOF {
			s.eof = true
		}
		if err != nil && !(err == io.EOF && len(line) > 0) {
			if errors.Is(err, errLineTooLong) {
				s.line++
				return nil, off, s.line, fmt.Errorf("line %d: %w (limit %d bytes)", s.line, err, s.max)
			}
			return nil, off, s.line, err
		}
		s.line++
		if !s.bom {
			s.bom = true
			if bytes.HasPrefix(line, utf8BOM) {
				line = line[len(utf8BOM):]
				off += int64(len(utf8BOM))
			}
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimLeft(line, " \t\r")) == 0 {
			if err == io.EOF {
				return nil, s.off, s.line, io.EOF
			}
			continue
		}
		return line, off, s.line, nil
	}
}

// readLine returns one raw line without its '\n'. A final line without a
// newline comes back with io.EOF.
func (s *lineSplitter) readLine() ([]byte, int64, error) {
	start := s.off
	frag, err := s.r.ReadSlice('\n')
	s.off += int64(len(frag))
	if err == nil {
		return frag[:len(frag)-1], start, nil
	}
	if err != bufio.ErrBufferFull {
		return frag, start, err
	}
	// A line longer than the read buffer: assemble it.
	s.long = append(s.long[:0], frag...)
	tooLong := false
	for {
		frag, err = s.r.ReadSlice('\n')
		s.off += int64(len(frag))
		if !tooLong && len(s.long)+len(frag) > s.max+1 {
			tooLong = true
			s.long = s.long[:0]
		}
		if !tooLong {
			s.long = append(s.long, frag...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			if err == nil || err == io.EOF {
				return nil, start, errLineTooLong
			}
			return nil, start, err
		}
		if err == nil {
			return s.long[:len(s.long)-1], start, nil
		}
		return s.long, start, err
	}
}
