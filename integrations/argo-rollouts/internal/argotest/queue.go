package argotest

import (
	"sync"
	"time"
)

// manualQueue is the controller's work queue, driven by the test: the controller's worker gets
// an item only when the test hands one over (process), and every requeue the controller asks
// for — after an informer event, an interval or an error — is dropped, since the test decides
// when the next reconcile happens.
type manualQueue struct {
	items    chan any
	done     chan any
	shut     chan struct{}
	shutOnce sync.Once
}

func newManualQueue() *manualQueue {
	return &manualQueue{items: make(chan any), done: make(chan any, 1), shut: make(chan struct{})}
}

// process hands item to the worker and waits until it is done with it.
func (q *manualQueue) process(item any) {
	q.items <- item
	<-q.done
}

func (q *manualQueue) Get() (any, bool) {
	select {
	case item := <-q.items:
		return item, false
	case <-q.shut:
		return nil, true
	}
}

func (q *manualQueue) Done(item any) { q.done <- item }

func (q *manualQueue) ShutDown() { q.shutOnce.Do(func() { close(q.shut) }) }

func (q *manualQueue) ShutDownWithDrain() { q.ShutDown() }

func (q *manualQueue) ShuttingDown() bool {
	select {
	case <-q.shut:
		return true
	default:
		return false
	}
}

func (q *manualQueue) Add(any)                     {}
func (q *manualQueue) Len() int                    { return 0 }
func (q *manualQueue) AddAfter(any, time.Duration) {}
func (q *manualQueue) AddRateLimited(any)          {}
func (q *manualQueue) Forget(any)                  {}
func (q *manualQueue) NumRequeues(any) int         { return 0 }
