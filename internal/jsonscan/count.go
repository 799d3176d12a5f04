package jsonscan

import "fmt"

// SyntaxError says where a document stopped being valid JSON.
type SyntaxError struct {
	Offset int // byte offset of the first byte that could not be accepted
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("invalid JSON at byte %d", e.Offset) }

// CountRecords validates a request body and counts the records it carries:
// the elements of a top-level array, or of every array found directly under
// a key of a top-level object ({"data": [...]}, {"batch": [...]}). A
// top-level object with no array counts as one record.
func CountRecords(b []byte) (int, error) {
	i := skipSpace(b, 0)
	if i >= len(b) {
		return 0, &SyntaxError{Offset: i}
	}
	var n int
	var ok bool
	switch b[i] {
	case '[':
		n, i, ok = countArray(b, i)
	case '{':
		n, i, ok = countObject(b, i)
	default:
		i, ok = scanValue(b, i)
		n = 1
	}
	if !ok {
		return 0, &SyntaxError{Offset: i}
	}
	if i = skipSpace(b, i); i != len(b) {
		return 0, &SyntaxError{Offset: i}
	}
	return n, nil
}

// countArray counts the elements of the array at b[i] == '['.
func countArray(b []byte, i int) (n, end int, ok bool) {
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return 0, i + 1, true
	}
	for {
		if i, ok = scanValue(b, skipSpace(b, i)); !ok {
			return n, i, false
		}
		n++
		i = skipSpace(b, i)
		if i >= len(b) {
			return n, i, false
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return n, i + 1, true
		default:
			return n, i, false
		}
	}
}

// countObject sums the lengths of the arrays directly under the object's
// keys; an object without arrays is one record.
func countObject(b []byte, i int) (n, end int, ok bool) {
	arrays := false
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return 1, i + 1, true
	}
	for {
		if i, ok = scanKey(b, i); !ok {
			return n, i, false
		}
		if i < len(b) && b[i] == '[' {
			var c int
			if c, i, ok = countArray(b, i); !ok {
				return n, i, false
			}
			n += c
			arrays = true
		} else if i, ok = scanValue(b, i); !ok {
			return n, i, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return n, i, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			if !arrays {
				n = 1
			}
			return n, i + 1, true
		default:
			return n, i, false
		}
	}
}
