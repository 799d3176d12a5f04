package webui

import "sync"

// hub fans change notifications out to the pages listening on /events.
// A notification only says what changed; the page fetches the new HTML,
// so a slow browser that misses some loses nothing but intermediate
// states.
type hub struct {
	mu   sync.Mutex
	subs map[chan event]struct{}
}

type event struct {
	kind string // runs, requests, invocations, build, s3
	id   string // webhook id or handler name, when there is one
}

func newHub() *hub { return &hub{subs: map[chan event]struct{}{}} }

func (h *hub) subscribe() (<-chan event, func()) {
	ch := make(chan event, 64)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

// publish never blocks: a subscriber whose buffer is full misses the
// event, and catches up with the next one.
func (h *hub) publish(e event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
		}
	}
}
