package main

import (
	"runtime"
	"sync"
)

// pipeline spreads the checking of a stream of items over every core and
// hands the items back in the order they came: export and online verify
// receive a range of entries on one goroutine, check each (its commitment,
// content digest and inclusion proof: pure CPU) on any core, and handle the
// results in log order on one goroutine, so that the first entry in log
// order that fails is the one reported, as when checking one by one.
//
// add gives an item; work runs on it on some worker; done runs on the items
// in the order add gave them, one at a time. Once done fails, the items
// still queued are dropped and add reports that error, so that the caller
// stops reading. close waits for the items given and returns done's first
// error. Items travel in chunks, to keep the hand-offs few.
type pipeline[T any] struct {
	work func(*T)
	done func(*T) error

	cur   *pipelineChunk[T]
	jobs  chan *pipelineChunk[T]
	order chan *pipelineChunk[T]
	idle  chan struct{} // closed when done has seen every chunk

	mu  sync.Mutex
	err error
}

type pipelineChunk[T any] struct {
	items []T
	ready chan struct{} // closed once work ran on every item
}

// pipelineChunkSize is how many items a hand-off carries.
const pipelineChunkSize = 64

func newPipeline[T any](work func(*T), done func(*T) error) *pipeline[T] {
	n := runtime.GOMAXPROCS(0)
	p := &pipeline[T]{
		work:  work,
		done:  done,
		jobs:  make(chan *pipelineChunk[T], 2*n),
		order: make(chan *pipelineChunk[T], 4*n),
		idle:  make(chan struct{}),
	}
	for range n {
		go func() {
			for c := range p.jobs {
				for i := range c.items {
					p.work(&c.items[i])
				}
				close(c.ready)
			}
		}()
	}
	go func() {
		defer close(p.idle)
		for c := range p.order {
			<-c.ready
			if p.failed() != nil {
				continue
			}
			for i := range c.items {
				if err := p.done(&c.items[i]); err != nil {
					p.mu.Lock()
					p.err = err
					p.mu.Unlock()
					break
				}
			}
		}
	}()
	return p
}

func (p *pipeline[T]) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// add queues an item. It returns done's error once done has failed.
func (p *pipeline[T]) add(item T) error {
	if err := p.failed(); err != nil {
		return err
	}
	if p.cur == nil {
		p.cur = &pipelineChunk[T]{items: make([]T, 0, pipelineChunkSize), ready: make(chan struct{})}
	}
	p.cur.items = append(p.cur.items, item)
	if len(p.cur.items) == pipelineChunkSize {
		p.send()
	}
	return nil
}

func (p *pipeline[T]) send() {
	c := p.cur
	p.cur = nil
	// In order first: done waits for the chunks in the order sent.
	p.order <- c
	p.jobs <- c
}

// close hands on the last items, waits until done has seen every item and
// returns its first error. It must be called once, after the last add.
func (p *pipeline[T]) close() error {
	if p.cur != nil {
		p.send()
	}
	close(p.order)
	close(p.jobs)
	<-p.idle
	return p.failed()
}
