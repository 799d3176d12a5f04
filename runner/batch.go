package runner

import (
	"encoding/json"
	"fmt"
)

// Record is one line of the NDJSON file.
type Record struct {
	Line   int64 // 1-based line number in the file
	Offset int64 // byte offset of the line in the (decompressed) file
	// Raw is the line as read, without its line ending: a JSON object
	// unless the runner was told to pass invalid lines on. It is only
	// valid until Sink.Send returns.
	Raw []byte
	// Request is the job's request (label name, settings), for mappings
	// that use it. Mappings must not modify it.
	Request *Request
}

// Decode unmarshals the record into v, with an error that names the line.
func (r Record) Decode(v any) error {
	if err := json.Unmarshal(r.Raw, v); err != nil {
		return fmt.Errorf("line %d: invalid JSON: %s", r.Line, jsonErrText(err))
	}
	return nil
}

// Batch is a group of consecutive records handed to a Sink in one call.
type Batch struct {
	Seq     int      // 1-based batch number within the job
	Records []Record // in file order
	// Request is the job's request, for sinks that use settings or the
	// label name. Sinks must not modify it.
	Request *Request

	buf  []byte // backing storage for the records' Raw
	ends []int  // end of each record in buf
	end  int64  // offset just past the batch's last line
}

// Lines describes the batch's line range for messages ("lines 1-500").
func (b *Batch) Lines() string {
	if len(b.Records) == 0 {
		return "no lines"
	}
	first, last := b.Records[0].Line, b.Records[len(b.Records)-1].Line
	if first == last {
		return fmt.Sprintf("line %d", first)
	}
	return fmt.Sprintf("lines %d-%d", first, last)
}

// size is the number of record bytes held.
func (b *Batch) size() int { return len(b.buf) }

// add copies a record into the batch. Raw is set by seal, once the buffer
// has stopped growing.
func (b *Batch) add(raw []byte, off, line int64) {
	b.buf = append(b.buf, raw...)
	b.Records = append(b.Records, Record{Line: line, Offset: off, Raw: nil})
	b.ends = append(b.ends, len(b.buf))
}

// seal points each record's Raw into the batch's buffer.
func (b *Batch) seal() {
	start := 0
	for i, end := range b.ends {
		b.Records[i].Raw = b.buf[start:end:end]
		b.Records[i].Request = b.Request
		start = end
	}
}

// reset empties the batch for reuse, keeping its storage.
func (b *Batch) reset() {
	b.Records = b.Records[:0]
	b.buf = b.buf[:0]
	b.ends = b.ends[:0]
	b.Seq, b.end, b.Request = 0, 0, nil
}
