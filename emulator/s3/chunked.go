package s3

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// awsChunked decodes request bodies sent with Content-Encoding aws-chunked,
// which the AWS SDKs use for streaming uploads and for flexible checksums
// sent as trailers. gofakes3 only understands the signed variant and stores
// trailer bodies raw, chunk headers included; this middleware hands it the
// plain bytes and the decoded Content-Length instead, and checks a CRC32 or
// CRC32C trailer against the data.
func awsChunked(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sha := r.Header.Get("X-Amz-Content-Sha256")
		if !strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") && !strings.HasPrefix(sha, "STREAMING-") {
			next.ServeHTTP(w, r)
			return
		}
		size, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		if err != nil || size < 0 {
			writeError(w, http.StatusBadRequest, "MissingContentLength", "aws-chunked upload without a valid x-amz-decoded-content-length")
			return
		}
		dec := newChunkDecoder(r.Body, r.Header.Get("X-Amz-Trailer"))
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(dec)
		r2.ContentLength = size
		r2.Header.Set("Content-Length", strconv.FormatInt(size, 10))
		r2.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		// Transfer headers are not object metadata: gofakes3 stores every
		// X-Amz-* header and would echo these back on GET.
		for _, h := range []string{"X-Amz-Decoded-Content-Length", "X-Amz-Trailer"} {
			r2.Header.Del(h)
		}
		if enc := strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(r.Header.Get("Content-Encoding"), "aws-chunked", ""), ",", " ")); enc != "" {
			r2.Header.Set("Content-Encoding", strings.Join(strings.Fields(enc), ", "))
		} else {
			r2.Header.Del("Content-Encoding")
		}
		next.ServeHTTP(w, r2)
	})
}

// chunkDecoder reads the aws-chunked framing:
//
//	<hex size>[;chunk-signature=...]\r\n<data>\r\n ... 0[;...]\r\n<trailers>\r\n
type chunkDecoder struct {
	r         *bufio.Reader
	remaining int64 // bytes left in the current chunk
	started   bool
	done      bool
	trailer   string    // name of the checksum trailer announced, lower case
	sum       hash.Hash // running checksum for that trailer, nil when none
}

func newChunkDecoder(body io.Reader, trailer string) *chunkDecoder {
	d := &chunkDecoder{r: bufio.NewReaderSize(body, 64<<10), trailer: strings.ToLower(strings.TrimSpace(trailer))}
	switch d.trailer {
	case "x-amz-checksum-crc32":
		d.sum = crc32.NewIEEE()
	case "x-amz-checksum-crc32c":
		d.sum = crc32.New(crc32.MakeTable(crc32.Castagnoli))
	}
	return d
}

var errChunkFormat = errors.New("malformed aws-chunked body")

func (d *chunkDecoder) Read(p []byte) (int, error) {
	for d.remaining == 0 {
		if d.done {
			return 0, io.EOF
		}
		if err := d.nextChunk(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > d.remaining {
		p = p[:d.remaining]
	}
	n, err := d.r.Read(p)
	d.remaining -= int64(n)
	if d.sum != nil {
		d.sum.Write(p[:n])
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// nextChunk consumes the CRLF ending the previous chunk and the next chunk
// header; at the final zero-size chunk it reads and checks the trailers.
func (d *chunkDecoder) nextChunk() error {
	if d.started {
		if err := d.expectCRLF(); err != nil {
			return err
		}
	}
	d.started = true
	line, err := d.readLine()
	if err != nil {
		return err
	}
	sizeText, _, _ := strings.Cut(line, ";")
	size, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
	if err != nil || size < 0 {
		return fmt.Errorf("%w: chunk size %q", errChunkFormat, sizeText)
	}
	if size > 0 {
		d.remaining = size
		return nil
	}
	d.done = true
	return d.readTrailers()
}

func (d *chunkDecoder) readTrailers() error {
	for {
		line, err := d.readLine()
		if err == io.EOF || (err == nil && line == "") {
			return nil
		}
		if err != nil {
			return err
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return fmt.Errorf("%w: trailer %q", errChunkFormat, line)
		}
		if d.sum != nil && strings.EqualFold(strings.TrimSpace(name), d.trailer) {
			want := strings.TrimSpace(value)
			got := base64.StdEncoding.EncodeToString(d.sum.Sum(nil))
			if got != want {
				return fmt.Errorf("%s mismatch: body has %s, trailer says %s", d.trailer, got, want)
			}
		}
	}
}

func (d *chunkDecoder) readLine() (string, error) {
	line, err := d.r.ReadString('\n')
	if err != nil {
		if err == io.EOF && line == "" {
			return "", io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

func (d *chunkDecoder) expectCRLF() error {
	var crlf [2]byte
	if _, err := io.ReadFull(d.r, crlf[:]); err != nil {
		return fmt.Errorf("%w: %v", errChunkFormat, err)
	}
	if !bytes.Equal(crlf[:], []byte("\r\n")) {
		return fmt.Errorf("%w: chunk not followed by CRLF", errChunkFormat)
	}
	return nil
}

// writeError answers in S3's XML error shape.
func writeError(w http.ResponseWriter, code int, s3Code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(code)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", s3Code, msg)
}

// partialChecksums drops whole-object checksum headers from 206 responses.
// gofakes3 echoes the checksum stored at upload on every GET; on a ranged
// GET the SDK would check the partial body against it and fail.
func partialChecksums(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&checksumFilter{ResponseWriter: w}, r)
	})
}

type checksumFilter struct {
	http.ResponseWriter
}

func (f *checksumFilter) WriteHeader(code int) {
	if code == http.StatusPartialContent {
		for k := range f.Header() {
			if strings.HasPrefix(k, "X-Amz-Checksum-") {
				f.Header().Del(k)
			}
		}
	}
	f.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (f *checksumFilter) Unwrap() http.ResponseWriter { return f.ResponseWriter }
