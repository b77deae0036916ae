package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/agenttrail/agenttrail/clients/go/client"
	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
)

func init() {
	register(command{name: "append", summary: "append events from JSON lines (a file or stdin)", setup: appendCommand})
}

// maxLine is the longest input line accepted: well above the largest event
// a server accepts by default (1 MiB), in JSON.
const maxLine = 16 << 20

func appendCommand(fs *flag.FlagSet, out, errOut io.Writer) func(context.Context, []string) error {
	conn := addConnFlags(fs)
	inFlight := fs.Int("in-flight", 256, "most events sent and not yet answered")
	maxMessage := fs.Int("max-message-size", client.DefaultMaxRequestSize, "largest request sent, in `bytes`: the server's --max-message-size; a larger event is refused here, not sent")
	output := addOutputFlag(fs, "json", "json", "table")
	setUsage(fs, "agenttrail append [flags] [FILE]", `
Append events to the log. FILE (or stdin when FILE is absent or "-") holds
one agenttrail.v1.Event per line in protojson; blank lines are skipped.
Events are streamed to the server as they are read, with at most
--in-flight awaiting their receipts.

For each event one result line is printed, in input order: with --output
json (the default) a JSON object with the input line number and either
event_id, log_index, leaf_hash (hex) and duplicate, or the rejection's code,
message and field. The exit status is 1 if any event was not appended.

An event too large is refused on its own, naming its size and the limit,
and the lines after it go on: over --max-message-size it is not sent, over
the server's --max-event-size (1 MiB by default) the server refuses it.`)
	return func(ctx context.Context, args []string) error {
		if len(args) > 1 {
			return usageError{fmt.Sprintf("at most one FILE, got %d arguments", len(args))}
		}
		if *inFlight < 1 {
			return usageError{"--in-flight must be at least 1"}
		}
		if *maxMessage < 1024 {
			return usageError{"--max-message-size must be at least 1024"}
		}
		in := io.Reader(os.Stdin)
		name := "stdin"
		if len(args) == 1 && args[0] != "-" {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			in, name = f, args[0]
		}
		c, err := conn.dial()
		if err != nil {
			return err
		}
		defer c.Close()
		return appendLines(ctx, c, in, name, *inFlight, *maxMessage, newResultPrinter(out, output.v))
	}
}

// slot is one input line on its way to the output: an event sent, whose
// result comes from the appender, or a line that failed before sending.
type slot struct {
	line int
	err  error      // set when the line was not sent
	code codes.Code // of err
}

// appendLines streams the events of in to the server and prints a result
// per event, in input order.
func appendLines(ctx context.Context, c *client.Client, in io.Reader, name string, inFlight, maxMessage int, p *resultPrinter) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a, err := c.NewAppender(ctx, client.WithMaxInFlight(inFlight), client.WithMaxRequestSize(maxMessage))
	if err != nil {
		code := errCode(err)
		return exitError{code: 1, msg: fmt.Sprintf("opening the append stream: %s: %s%s", codeName(code), status.Convert(streamCause(err)).Message(), streamHint(code))}
	}
	slots := make(chan slot, inFlight)
	printed := make(chan error, 1)
	go func() { printed <- p.run(slots, a.Results(), cancel) }()

	stoppedAt := 0 // the line at which the stream's end stopped reading
	readErr := func() error {
		defer close(slots)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 64<<10), maxLine)
		for line := 1; sc.Scan(); line++ {
			text := bytes.TrimSpace(sc.Bytes())
			if len(text) == 0 {
				continue
			}
			ev := new(agenttrailv1.Event)
			if err := protojson.Unmarshal(text, ev); err != nil {
				slots <- slot{line: line, err: fmt.Errorf("not an agenttrail.v1.Event in protojson: %v", err), code: codes.InvalidArgument}
				continue
			}
			if err := a.Send(ctx, ev); err != nil {
				if a.Err() != nil || ctx.Err() != nil {
					// The stream ended: report this line, read no more.
					slots <- slot{line: line, err: errors.New(notSent(err)), code: errCode(err)}
					stoppedAt = line
					return nil
				}
				code := codes.InvalidArgument // did not encode; the stream goes on
				if errors.Is(err, client.ErrTooLarge) {
					code = codes.ResourceExhausted
				}
				slots <- slot{line: line, err: err, code: code}
				continue
			}
			slots <- slot{line: line}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return fmt.Errorf("%s: a line is longer than %d MiB", name, maxLine>>20)
			}
			return fmt.Errorf("reading %s: %w", name, err)
		}
		return nil
	}()
	if readErr != nil {
		cancel()
	} else {
		a.CloseSend()
	}
	printErr := <-printed
	for range a.Results() { // the stream is closing or cancelled: let it end, so Err says why
	}
	switch {
	case readErr != nil:
		return readErr
	case printErr != nil:
		return printErr
	case a.Err() != nil:
		err := streamEnded(a.Err(), p.appended, p.appended+p.failed)
		if stoppedAt > 0 {
			err.msg += fmt.Sprintf("; input after line %d was not read", stoppedAt)
		}
		return err
	case p.failed > 0:
		return exitError{code: 1, msg: fmt.Sprintf("%d of %s not appended", p.failed, count(p.failed+p.appended, "event"))}
	}
	return nil
}

// resultPrinter prints one line per input event.
type resultPrinter struct {
	w                io.Writer
	table            bool
	appended, failed int
}

func newResultPrinter(w io.Writer, format string) *resultPrinter {
	return &resultPrinter{w: w, table: format == "table"}
}

// resultLine is the JSON of one result: a receipt's fields, or a
// rejection's.
type resultLine struct {
	Line      int     `json:"line"`
	EventID   string  `json:"event_id,omitempty"`
	LogIndex  *uint64 `json:"log_index,omitempty"`
	LeafHash  string  `json:"leaf_hash,omitempty"`
	Duplicate *bool   `json:"duplicate,omitempty"`
	Code      string  `json:"code,omitempty"`
	Message   string  `json:"message,omitempty"`
	Field     string  `json:"field,omitempty"`
}

// run prints a line for each slot, taking the result of each event sent
// from results, until slots is closed and every result is printed. When
// the output fails it calls stop and goes on consuming, without printing,
// until slots is closed.
func (p *resultPrinter) run(slots <-chan slot, results <-chan client.Result, stop func()) (err error) {
	w := bufio.NewWriter(p.w)
	defer func() {
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
	}()
	if p.table {
		fmt.Fprintf(w, "%-6s %-7s %-36s %s\n", "LINE", "INDEX", "EVENT_ID", "RESULT")
	}
	for s := range slots {
		l := resultLine{Line: s.line}
		switch {
		case s.err != nil:
			l.Code, l.Message = codeName(s.code), s.err.Error()
		default:
			r, ok := <-results
			if !ok {
				if err == nil {
					err = errors.New("the append stream ended without a result for an event sent")
				}
				stop()
				continue
			}
			l.EventID = r.Event.GetEventId()
			var rej *client.RejectionError
			switch {
			case r.Err == nil:
				idx, dup := r.Receipt.GetLogIndex(), r.Receipt.GetDuplicate()
				l.LogIndex, l.LeafHash, l.Duplicate = &idx, hex.EncodeToString(r.Receipt.GetLeafHash()), &dup
			case errors.As(r.Err, &rej):
				l.Code, l.Message, l.Field = codeName(rej.Code), rej.Message, rej.Field
			default: // unacknowledged: the stream ended
				l.Code, l.Message = codeName(errCode(r.Err)), unacknowledged(r.Err)
			}
		}
		if l.Code == "" {
			p.appended++
		} else {
			p.failed++
		}
		if err != nil {
			continue
		}
		if err = p.write(w, l); err == nil && len(slots) == 0 {
			err = w.Flush() // show results as they come when input is slow
		}
		if err != nil {
			stop()
		}
	}
	return err
}

func (p *resultPrinter) write(w io.Writer, l resultLine) error {
	if !p.table {
		b, err := json.Marshal(l)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	result := "appended"
	index := "-"
	if l.LogIndex != nil {
		index = fmt.Sprint(*l.LogIndex)
		if *l.Duplicate {
			result = "duplicate: already in the log"
		}
	}
	if l.Code != "" {
		result = l.Code + ": " + l.Message
	}
	_, err := fmt.Fprintf(w, "%-6d %-7s %-36s %s\n", l.Line, index, orNone(l.EventID), result)
	return err
}

// unacknowledged says what became of an event whose stream ended before the
// server answered it, and advises sending it again only where that can
// succeed: after a broken connection or an overloaded server, not when the
// server refused the stream itself (a wrong key, a role that may not
// append).
func unacknowledged(err error) string {
	code := errCode(err)
	switch code {
	case codes.Unauthenticated, codes.PermissionDenied, codes.Unimplemented, codes.InvalidArgument,
		codes.FailedPrecondition, codes.NotFound, codes.OutOfRange, codes.AlreadyExists:
		return "not appended: the server refused the stream: " + status.Convert(streamCause(err)).Message()
	case codes.Canceled:
		return "not acknowledged: the command was interrupted; it may or may not be stored: sending it again (same event_id) is safe"
	}
	return "not acknowledged before the stream ended (" + codeName(code) + "); it may or may not be stored: sending it again (same event_id) is safe"
}

// notSent is the message of an event that was not sent because the stream
// had ended.
func notSent(err error) string {
	return strings.Replace(unacknowledged(err), "not acknowledged", "not sent", 1)
}

// streamEnded is the error of an append whose stream ended early: what the
// server said, what to do about it, and how many events made it.
func streamEnded(err error, appended, total int) exitError {
	code := errCode(err)
	msg := status.Convert(streamCause(err)).Message()
	return exitError{code: 1, msg: fmt.Sprintf("the append stream ended: %s: %s%s; %d of %s appended", codeName(code), msg, streamHint(code), appended, count(total, "event"))}
}

// streamHint says what to do about a stream that ended with code.
func streamHint(code codes.Code) string {
	switch code {
	case codes.Unauthenticated:
		return ": check the API key in --key or AGENTTRAIL_KEY"
	case codes.PermissionDenied:
		return ": appending needs a key of role agent"
	case codes.Unavailable:
		return ": is the server running at --addr? Events not acknowledged may be sent again (same event_id)"
	}
	return ""
}

// streamCause is the gRPC status error inside a result's error, or err.
func streamCause(err error) error {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus().Err()
	}
	return err
}

// errCode is the gRPC code of an error, context errors included.
func errCode(err error) codes.Code {
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return status.Code(err)
}

// codeName is the google.rpc.Code name of a gRPC code, as in
// "INVALID_ARGUMENT".
func codeName(c codes.Code) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CODE_%d", c)
}

var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN", codes.InvalidArgument: "INVALID_ARGUMENT",
	codes.DeadlineExceeded: "DEADLINE_EXCEEDED", codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED", codes.OutOfRange: "OUT_OF_RANGE",
	codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}
