package server

import (
	"container/list"
	"sync"

	"google.golang.org/protobuf/proto"

	agenttrailv1 "github.com/agenttrail/agenttrail/gen/go/agenttrail/v1"
	"github.com/agenttrail/agenttrail/store"
)

// ViewCache keeps the developer views already rendered: the masked event
// of each entry, encoded, by its leaf hash and the version of the
// redaction policy that masked it. Masking reads every content string of
// an event, and developers read the same sessions again and again (a
// query, then a tail of the same session, then the same query with another
// filter); a hit costs one decode, as the full view does.
//
// A leaf hash commits to the event's header and content digest, so a
// cached view is the view of exactly that content. It is used only while
// the content is present: an entry read erased is never served from the
// cache, and its cached view is dropped then. The cache holds at most its
// byte budget of encoded views, the least recently used going first. It is
// safe for concurrent use.
type ViewCache struct {
	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	lru      *list.List // of *viewCacheEntry, most recent first
	byKey    map[viewKey]*list.Element
}

type viewKey struct {
	leaf   [32]byte
	policy string
}

type viewCacheEntry struct {
	key  viewKey
	view []byte
}

// viewCacheOverhead is what one cached view costs beyond its bytes: the
// list element, the map entry and the key.
const viewCacheOverhead = 160

// NewViewCache returns a cache of at most maxBytes of views. A budget of 0
// or less returns nil, which caches nothing.
func NewViewCache(maxBytes int64) *ViewCache {
	if maxBytes <= 0 {
		return nil
	}
	return &ViewCache{maxBytes: maxBytes, lru: list.New(), byKey: map[viewKey]*list.Element{}}
}

// get returns a new event decoded from the cached view of a key.
func (c *ViewCache) get(k viewKey) (*agenttrailv1.Event, bool) {
	c.mu.Lock()
	el, ok := c.byKey[k]
	var b []byte
	if ok {
		c.lru.MoveToFront(el)
		b = el.Value.(*viewCacheEntry).view
	}
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	ev := new(agenttrailv1.Event)
	if err := proto.Unmarshal(b, ev); err != nil {
		return nil, false
	}
	return ev, true
}

// put caches the view of a key, when it fits in the budget.
func (c *ViewCache) put(k viewKey, ev *agenttrailv1.Event) {
	b, err := proto.Marshal(ev)
	if err != nil {
		return
	}
	size := int64(len(b)) + viewCacheOverhead + int64(len(k.policy))
	if size > c.maxBytes/8 {
		return // one huge event must not flush the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[k]; ok {
		c.lru.MoveToFront(el)
		return
	}
	c.byKey[k] = c.lru.PushFront(&viewCacheEntry{key: k, view: b})
	c.bytes += size
	for c.bytes > c.maxBytes {
		c.evict(c.lru.Back())
	}
}

// forget drops every cached view of a leaf.
func (c *ViewCache) forget(leaf [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, el := range c.byKey {
		if k.leaf == leaf {
			c.evict(el)
		}
	}
}

func (c *ViewCache) evict(el *list.Element) {
	e := c.lru.Remove(el).(*viewCacheEntry)
	delete(c.byKey, e.key)
	c.bytes -= int64(len(e.view)) + viewCacheOverhead + int64(len(e.key.policy))
}

// Len returns how many views the cache holds.
func (c *ViewCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// maskedEvent returns the developer view of a stored entry's event: from the
// cache when it holds it, or masked by red and then cached.
func (c *ViewCache) maskedEvent(e *store.Entry, red EventRedactor) (*agenttrailv1.Event, error) {
	if c == nil || e.ContentState != store.ContentPresent {
		if c != nil && e.ContentState == store.ContentErased {
			c.forget(e.LeafHash)
		}
		ev, err := e.Event()
		if err != nil {
			return nil, err
		}
		red.Mask(ev)
		return ev, nil
	}
	k := viewKey{leaf: e.LeafHash, policy: red.Version()}
	if ev, ok := c.get(k); ok {
		return ev, nil
	}
	ev, err := e.Event()
	if err != nil {
		return nil, err
	}
	red.Mask(ev)
	c.put(k, ev)
	return ev, nil
}
