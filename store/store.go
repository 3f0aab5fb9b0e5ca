package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/greenlight/greenlight/verdict"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("not found")
	// ErrExists: an analysis with this id is already stored.
	ErrExists = errors.New("already exists")
	// ErrDecided: the analysis already has its verdict (there is exactly one per analysis).
	ErrDecided = errors.New("analysis already decided")
)

// Store is every part a backend provides. Callers should ask for the smallest interface they
// use.
type Store interface {
	Analyses
	Events
	Snapshots
	Verdicts
	Audit
	Outbox
	Leases
	Retention
	// Ping checks the store can be reached (readiness).
	Ping(ctx context.Context) error
	// Close releases the store; nothing may be called after.
	Close() error
}

// Analysis is one analysis as the daemon started it.
type Analysis struct {
	ID   string
	Spec string // the analysis spec's metadata.name
	// Key is the caller's idempotency key ("" for none): unique among analyses.
	Key    string
	Labels map[string]string
	// Envs are the environment URLs given when it started (overrides of the spec's).
	Envs                map[string]string
	Baseline, Candidate string // the roles given when it started ("" = the spec's)
	// State is running until the verdict is recorded, then the verdict's decision.
	State     verdict.Decision
	Phase     verdict.Phase
	CreatedAt time.Time
	UpdatedAt time.Time
	// Verdict is the recorded verdict's JSON (nil while running).
	Verdict json.RawMessage

	// Owner and LeaseUntil, when Owner is set, are the lease CreateAnalysis takes of a new
	// analysis in the same transaction (see Leases): no other replica can take it over as it
	// starts. Reads leave them empty.
	Owner      string
	LeaseUntil time.Time
}

// Query selects analyses, newest first.
type Query struct {
	State  verdict.Decision  // "" = any
	Spec   string            // "" = any
	Labels map[string]string // every one must match
	// After is the Next of the previous page ("" = the first page).
	After string
	// Limit is the page size (0 = DefaultPageSize, at most MaxPageSize).
	Limit int
}

// Page sizes of ListAnalyses.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Page is one page of analyses; Next, when not empty, is the Query.After of the next page.
type Page struct {
	Analyses []Analysis
	Next     string
}

// Analyses stores the analyses.
type Analyses interface {
	// CreateAnalysis stores a new analysis (state running) and, in the same transaction, the
	// deliveries that announce its start (due at once, their retry window from CreatedAt).
	// When one with the same non-empty Key exists it is returned instead, with created false
	// and nothing enqueued: a key never yields two analyses, even when two calls race. A new
	// analysis's lease is taken with it when a.Owner is set.
	CreateAnalysis(ctx context.Context, a Analysis, outbox ...Delivery) (stored Analysis, created bool, err error)
	// Analysis returns one analysis with its verdict, or ErrNotFound.
	Analysis(ctx context.Context, id string) (Analysis, error)
	// AnalysisByKey returns the analysis started with an idempotency key, or ErrNotFound.
	AnalysisByKey(ctx context.Context, key string) (Analysis, error)
	ListAnalyses(ctx context.Context, q Query) (Page, error)
	// SetPhase records the phase a running analysis is in.
	SetPhase(ctx context.Context, id string, phase verdict.Phase, at time.Time) error
	// CountAnalyses counts the analyses by state.
	CountAnalyses(ctx context.Context) (map[verdict.Decision]int, error)
}

// Event is one event of an analysis, as its engine numbered it (Seq, from 1 without gaps for a
// run) and as the store ordered all of them (ID, increasing, never reused).
type Event struct {
	ID       int64
	Analysis string
	Seq      uint64
	Time     time.Time
	Kind     string
	Data     json.RawMessage
}

// Events stores each analysis's events, the newest of them only.
type Events interface {
	// AppendEvents stores events and sets their IDs; then each analysis they belong to keeps
	// only its newest keep events (keep <= 0 keeps all). (Analysis, Seq) is unique. The outbox
	// deliveries (those the events announce) are enqueued in the same transaction.
	AppendEvents(ctx context.Context, evs []Event, keep int, outbox ...Delivery) error
	// EventsAfter returns an analysis's events with Seq > afterSeq, oldest first, at most limit.
	EventsAfter(ctx context.Context, analysis string, afterSeq uint64, limit int) ([]Event, error)
	// AllEventsAfter returns every analysis's events with ID > afterID, oldest first, at most limit.
	AllEventsAfter(ctx context.Context, afterID int64, limit int) ([]Event, error)
	// LastSeq is the Seq of an analysis's newest stored event (0 when none).
	LastSeq(ctx context.Context, analysis string) (uint64, error)
	// ThinEvents keeps at most keep+1 of an analysis's events of one kind: every step-th by
	// sequence number from the oldest, and the newest. A decided analysis's tick series,
	// thinned, still shows its course; the events of other kinds are kept.
	ThinEvents(ctx context.Context, analysis, kind string, keep int) error
}

// Snapshot is the engine's saved state of one analysis: opaque bytes, the latest wins.
type Snapshot struct {
	Analysis string
	Data     []byte
	At       time.Time
}

// Snapshots stores the latest snapshot of each analysis.
type Snapshots interface {
	PutSnapshot(ctx context.Context, s Snapshot) error
	// Snapshot returns an analysis's latest snapshot, or ErrNotFound.
	Snapshot(ctx context.Context, analysis string) (Snapshot, error)
}

// Verdict is the decision of one analysis. There is exactly one per analysis; a person's
// override revises it (Revision counts from 1) and is audited in the same transaction.
type Verdict struct {
	Analysis string
	Decision verdict.Decision
	Data     json.RawMessage // the verdict's JSON
	At       time.Time       // when it was first recorded
	Revision int
}

// Verdicts stores the verdicts.
type Verdicts interface {
	// RecordVerdict stores an analysis's verdict, its final events and the deliveries that
	// announce it, all in one transaction, and sets the analysis's state; a second verdict
	// for the same analysis is ErrDecided and changes nothing.
	RecordVerdict(ctx context.Context, v Verdict, events []Event, outbox []Delivery) error
	// ReviseVerdict replaces a recorded verdict's decision and JSON (an override), with the
	// audit entry, the events and the deliveries, in one transaction; it returns the revised
	// verdict. ErrNotFound when the analysis has no verdict yet.
	ReviseVerdict(ctx context.Context, v Verdict, audit AuditEntry, events []Event, outbox []Delivery) (Verdict, error)
	// Verdict returns an analysis's verdict, or ErrNotFound while it has none.
	Verdict(ctx context.Context, analysis string) (Verdict, error)
}

// AuditEntry is one thing a person did to an analysis.
type AuditEntry struct {
	ID       int64
	Analysis string
	Action   string           // "abort", "override"
	Decision verdict.Decision // an override's decision
	By       string           // who, as they named themselves
	Token    string           // the name of the API token that made the call
	Why      string
	At       time.Time
}

// Audit stores the audit log; entries are never changed or removed.
type Audit interface {
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// AuditLog returns an analysis's entries ("" = every analysis's), oldest first.
	AuditLog(ctx context.Context, analysis string) ([]AuditEntry, error)
}

// Retention deletes the decided analyses a daemon no longer keeps.
type Retention interface {
	// PruneAnalyses deletes up to limit decided analyses whose verdict was recorded (or last
	// overridden) before before, oldest first, each with its labels, events, snapshot, verdict
	// and deliveries, and returns their ids. A running analysis is never deleted, nor one
	// with a delivery still pending (it is, once delivered or given up). Audit entries are
	// kept: the audit log outlives the analyses it names. Replicas pruning at once delete
	// each analysis once, and neither fails on the other.
	PruneAnalyses(ctx context.Context, before time.Time, limit int) ([]string, error)
}

// Leases say which replica runs each running analysis. A lease is an owner (a replica's id)
// and an expiry; the owner renews it while it runs the analysis, and when it stops renewing
// (it died) the lease expires and another replica takes the analysis over. Taking and
// renewing are atomic: of two replicas that try at once, one gets the lease.
type Leases interface {
	// AcquireLease takes an analysis's lease for owner until now+ttl when it is free or
	// expired (its expiry at or before now), or renews it when owner holds it; ok is false
	// when another owner holds it.
	AcquireLease(ctx context.Context, analysis, owner string, ttl time.Duration, now time.Time) (ok bool, err error)
	// RenewLeases extends to now+ttl the leases owner holds among analyses; lost are those of
	// analyses it no longer holds (another owner took them after they expired, or they were
	// released).
	RenewLeases(ctx context.Context, owner string, analyses []string, ttl time.Duration, now time.Time) (lost []string, err error)
	// ReleaseLease gives up owner's lease of an analysis (nothing when another owner holds it).
	ReleaseLease(ctx context.Context, analysis, owner string) error
	// ExpiredLeases returns up to limit running analyses whose lease expired at now, or that
	// have none: those no replica runs. Oldest first.
	ExpiredLeases(ctx context.Context, now time.Time, limit int) ([]string, error)
}

// DeliveryState is where a delivery stands (verdict/emit's states).
type DeliveryState string

const (
	DeliveryPending   DeliveryState = "pending"   // waiting for its next attempt (or for its endpoint to be enabled)
	DeliveryDelivered DeliveryState = "delivered" // the receiver accepted it
	DeliveryDead      DeliveryState = "dead"      // given up
)

// DeliveryKey identifies a delivery: one event to one endpoint. The event id is the receiver's
// idempotency key (webhook-id), the same on every attempt and for every endpoint.
type DeliveryKey struct {
	EventID string
	Target  string
}

// Delivery is one message to send to one endpoint (a webhook, a CodeDeploy callback), written
// with the verdict it announces and sent later, at least once. It carries what verdict/emit's
// outbox records do, so that the store implements that outbox with a thin adapter.
type Delivery struct {
	// ID numbers the deliveries in the order they were enqueued (set by the store, never
	// reused): how the API names one.
	ID       int64
	Analysis string
	EventID  string
	Target   string // the configured endpoint
	Type     string // the event type (verdict.decided …)
	// Timestamp is when the event happened; Payload its JSON, the same bytes on every attempt.
	Timestamp time.Time
	Payload   json.RawMessage

	State DeliveryState
	// Attempts made since Since (when it was enqueued, or redelivered by hand), the last one's
	// error, when the next is due, and when it was delivered or given up.
	Attempts    int
	Since       time.Time
	NextAttempt time.Time
	LastError   string
	DoneAt      time.Time
	// ClaimedUntil: a sender claimed it and no other may until then.
	ClaimedUntil time.Time
}

// Key is the delivery's key.
func (d Delivery) Key() DeliveryKey { return DeliveryKey{EventID: d.EventID, Target: d.Target} }

// DeliveryFailure is a failed attempt as the outbox records it.
type DeliveryFailure struct {
	Attempts int       // attempts made, this one included
	At       time.Time // when this attempt ended
	Error    string
	// Dead: no attempt follows; otherwise Next is when the next one is due.
	Dead bool
	Next time.Time
}

// Outbox stores deliveries; RecordVerdict and ReviseVerdict enqueue them (due at once, or at
// their NextAttempt when set), and enqueueing a key already there leaves it as it is. A claim
// leases deliveries so that no other sender gets them; a lease that runs out without a mark
// (the sender died) makes the delivery due again.
type Outbox interface {
	// ClaimDeliveries returns up to limit pending deliveries due at now whose endpoints are
	// enabled, oldest due first, each leased until now+lease.
	ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Delivery, error)
	// NextDue is when the earliest pending delivery of an enabled endpoint is due (a leased
	// one: when its lease ends); ok is false when there is none.
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)
	// MarkDelivered records a successful attempt and ends the lease.
	MarkDelivered(ctx context.Context, k DeliveryKey, attempts int, at time.Time) error
	// MarkFailed records a failed attempt and ends the lease: due again at f.Next, or dead.
	MarkFailed(ctx context.Context, k DeliveryKey, f DeliveryFailure) error
	// DisableEndpoint stops claims of the endpoint's deliveries (they stay pending) until
	// EnableEndpoint; reason says why (a 410 Gone answer).
	DisableEndpoint(ctx context.Context, target, reason string, at time.Time) error
	EnableEndpoint(ctx context.Context, target string) error
	// DisabledEndpoints returns the disabled endpoints with their reasons.
	DisabledEndpoints(ctx context.Context) (map[string]string, error)
	// Redeliver makes a delivered or dead delivery pending again, due at now, with a new retry
	// window (Since = now, no attempts): an operator's manual redelivery.
	Redeliver(ctx context.Context, k DeliveryKey, now time.Time) error
	// Deliveries lists an analysis's deliveries in the order they were enqueued.
	Deliveries(ctx context.Context, analysis string) ([]Delivery, error)
	// Delivery returns one delivery by its ID, or ErrNotFound.
	Delivery(ctx context.Context, id int64) (Delivery, error)
	// ListDeliveries lists deliveries, newest first, without their payloads.
	ListDeliveries(ctx context.Context, q DeliveryQuery) (DeliveryPage, error)
	// CountDeliveries counts the deliveries by endpoint and state.
	CountDeliveries(ctx context.Context) ([]DeliveryCount, error)
}

// DeliveryQuery selects deliveries, newest first.
type DeliveryQuery struct {
	Analysis string        // "" = any
	State    DeliveryState // "" = any
	Target   string        // "" = any
	// After is the Next of the previous page ("" = the first page).
	After string
	// Limit is the page size (0 = DefaultPageSize, at most MaxPageSize).
	Limit int
}

// DeliveryPage is one page of deliveries; Next, when not empty, is the DeliveryQuery.After of
// the next page.
type DeliveryPage struct {
	Deliveries []Delivery
	Next       string
}

// DeliveryCount is how many deliveries to one endpoint are in one state.
type DeliveryCount struct {
	Target string
	State  DeliveryState
	N      int
}

// Change says that an analysis's events or verdict were committed, by this process or by
// another sharing the database (another replica).
type Change struct {
	Analysis string
	// LastEventID is the ID of the newest of the analysis's events committed with it (0: none).
	LastEventID int64
	// Decided: its verdict was recorded, or revised.
	Decided bool
	// Command is a command of the analysis that was added or done (0: none; see Commands).
	Command int64
	// Resync: changes may have been missed (the store lost its way of hearing of them for a
	// while, or the subscriber did not keep up): whoever follows the store reads it again.
	// Analysis is empty then.
	Resync bool
}

// Changes tells of commits made by anyone sharing the store, once they are committed: how a
// replica learns of the events and verdicts another one writes. A store that only this process
// writes (SQLite) need not provide it: the process knows its own commits.
type Changes interface {
	// Subscribe returns the changes committed from now on, until ctx ends or cancel is called,
	// after which the channel is closed (also when the store is closed). A Resync comes first,
	// once the store listens, and again whenever changes may have been lost meanwhile.
	Subscribe(ctx context.Context) (changes <-chan Change, cancel func())
}

// Command is a person's abort or override of a running analysis, asked of any replica and
// carried out by the one that runs the analysis (its lease owner), at most once: stored, taken
// by one replica, then done with the answer the API gives (Status and Result, its JSON body).
type Command struct {
	ID       int64
	Analysis string
	Kind     string           // "abort", "override"
	Decision verdict.Decision // an override's decision
	By       string           // who, as they named themselves
	Token    string           // the name of the API token that made the call
	Why      string
	Created  time.Time
	// TakenBy is the replica that took it to carry it out ("" while pending).
	TakenBy string
	// DoneAt is when it was carried out (zero until then), with the answer.
	DoneAt time.Time
	Status int
	Result json.RawMessage
}

// Commands stores the commands. Adding and finishing one tells the subscribers of Changes (a
// Change with Command set), so that the replica running the analysis, and the one waiting
// for the answer, hear of it.
type Commands interface {
	// AddCommand stores a pending command and returns it with its ID.
	AddCommand(ctx context.Context, c Command) (Command, error)
	// Command returns one command, or ErrNotFound.
	Command(ctx context.Context, id int64) (Command, error)
	// PendingCommands returns an analysis's commands no replica has taken, oldest first.
	PendingCommands(ctx context.Context, analysis string) ([]Command, error)
	// TakeCommand takes a pending command for owner; false when another took it first.
	TakeCommand(ctx context.Context, id int64, owner string) (bool, error)
	// FinishCommand records the answer of a command taken by owner.
	FinishCommand(ctx context.Context, id int64, owner string, status int, result json.RawMessage, at time.Time) error
}
