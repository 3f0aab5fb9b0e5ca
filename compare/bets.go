package compare

import (
	"math"
	"time"
)

// The monitor-fed checks (Latency, and ErrorRate fed event by event) decide with betting
// e-processes (Waudby-Smith & Ramdas, JRSS-B 2023): to test a null hypothesis under which a
// bounded statistic Z has conditional mean ≤ 0, bet a stake λ ≥ 0 on each observation; the
// wealth Π(1 + λZ) is a nonnegative supermartingale under the null, so by Ville's inequality it
// ever reaches 1/α with probability at most α. A fixed grid of stakes, averaged, is again such a
// process (a mixture), and wins close to the best stake in hindsight at the price of the log of
// the grid's size.
//
// Evidence per block. Observations are grouped into blocks of time (Config.Block) and each
// stake's wealth may grow by at most blockCap nats within one block: min(W_block, e^cap) has
// conditional mean ≤ 1 whenever W_block does, so the capped process is still a supermartingale
// under independence — nothing is lost in validity. What it buys is robustness when observations
// are not independent: a burst of errors or a latency episode that lasts a few seconds counts as
// at most one block's worth of evidence, so a decision needs evidence that persists over several
// blocks (at least ⌈(log(1/α) + log(stakes))/blockCap⌉ of them), however many observations a
// single block holds.

// DefaultBlock is the length of a block of evidence for checks fed by monitors.
const DefaultBlock = 5 * time.Second

// latencyCap and errorCap are the most log-wealth one stake may gain within one block of
// DefaultBlock; other block lengths get a cap in proportion.
var (
	latencyCap = 1.5
	errorCap   = 0.8
	growCap    = 2.5
)

// maxBlockObservations bounds the memory of an open block: a caller that never advances time
// gets its observations folded into a new block past this many (which only adds evidence a
// cap could have withheld; validity under independence does not depend on where blocks end).
const maxBlockObservations = 1 << 14

// stakes are the fractions s ∈ [0, 1) of the largest admissible stake that a quantile's mixture
// bets. Small ones win on small effects over many observations (down to the 0.1% a percentile
// moves between 10⁴ and 10⁵ samples), large ones on large effects quickly and bound a tail after
// few observations; the zero stake keeps the mixture from ever losing more than its share.
var stakes = []float64{0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.6, 0.85, 0.95}

// pairStakes are those of the error-rate tests on pairs, whose effects of interest (a point or
// more of errors) are larger.
var pairStakes = []float64{0, 0.2, 0.5, 0.8, 0.95}

// mixtureLog returns log((1/S)·Σ exp(lw[i])): the log-wealth of the equally weighted mixture.
func mixtureLog(lw []float64) float64 {
	m := math.Inf(-1)
	for _, v := range lw {
		m = math.Max(m, v)
	}
	if math.IsInf(m, -1) {
		return m
	}
	sum := 0.0
	for _, v := range lw {
		sum += math.Exp(v - m)
	}
	return m + math.Log(sum) - math.Log(float64(len(lw)))
}

// blockClock turns the elapsed time a caller reports into block numbers.
type blockClock struct {
	length time.Duration // 0: no blocks, no cap
	index  int64
	rate   float64 // the cap for a block of DefaultBlock
}

// advance reports whether elapsed has moved into a later block.
func (b *blockClock) advance(elapsed time.Duration) bool {
	if b.length <= 0 {
		return false
	}
	i := int64(elapsed / b.length)
	if i <= b.index {
		return false
	}
	b.index = i
	return true
}

// cap is the per-block cap in nats: none without blocks.
func (b *blockClock) cap() float64 {
	if b.length <= 0 {
		return math.Inf(1)
	}
	return b.rate * b.length.Seconds() / DefaultBlock.Seconds()
}
