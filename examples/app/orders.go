package app

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type createOrderRequest struct {
	Item     string `json:"item"`
	Quantity int    `json:"quantity"`
}

// orderV1 and orderV2 are the two wire and storage schemas. They differ
// only in how quantity is written, which is the kind of small change that
// passes review and still breaks an older reader.
type orderV1 struct {
	OrderID   string `json:"orderId"`
	Item      string `json:"item"`
	Quantity  int    `json:"quantity"`
	CreatedAt string `json:"createdAt"`
	Synthetic bool   `json:"synthetic"`
}

type orderV2 struct {
	OrderID   string `json:"orderId"`
	Item      string `json:"item"`
	Quantity  string `json:"quantity"`
	CreatedAt string `json:"createdAt"`
	Synthetic bool   `json:"synthetic"`
}

func (a *App) createOrder(w http.ResponseWriter, r *http.Request) {
	var req createOrderRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	switch {
	case strings.TrimSpace(req.Item) == "":
		writeError(w, http.StatusBadRequest, "item is required")
		return
	case req.Quantity <= 0:
		writeError(w, http.StatusBadRequest, "quantity must be a positive integer")
		return
	}
	o := Order{
		ID:        newOrderID(),
		Item:      req.Item,
		Quantity:  req.Quantity,
		CreatedAt: time.Now().UTC().Truncate(time.Second),
		Synthetic: a.synthetic(r),
		Format:    a.cfg.OrderFormat,
	}
	done := a.tr.dbSpan(r.Context(), "INSERT orders")
	a.store.put(o)
	done()
	a.writeOrder(w, http.StatusCreated, o)
}

func (a *App) getOrder(w http.ResponseWriter, r *http.Request) {
	done := a.tr.dbSpan(r.Context(), "SELECT orders")
	o, ok := a.store.Get(r.PathValue("id"))
	done()
	if !ok {
		writeError(w, http.StatusNotFound, "order not found")
		return
	}
	if a.cfg.StrictRead && o.Format > a.cfg.OrderFormat {
		writeError(w, http.StatusInternalServerError, "cannot decode order written by a newer version")
		return
	}
	a.writeOrder(w, http.StatusOK, o)
}

// writeOrder renders o in this app's own format, whatever format it was
// stored in.
func (a *App) writeOrder(w http.ResponseWriter, status int, o Order) {
	created := o.CreatedAt.Format(time.RFC3339)
	if a.cfg.OrderFormat == 2 {
		writeJSON(w, status, orderV2{o.ID, o.Item, strconv.Itoa(o.Quantity), created, o.Synthetic})
		return
	}
	writeJSON(w, status, orderV1{o.ID, o.Item, o.Quantity, created, o.Synthetic})
}

// synthetic reports whether the request is marked as probe traffic.
func (a *App) synthetic(r *http.Request) bool {
	v, err := strconv.ParseBool(r.Header.Get(a.cfg.SyntheticHeader))
	return err == nil && v
}

func newOrderID() string {
	var b [8]byte
	rand.Read(b[:])
	return "ord-" + hex.EncodeToString(b[:])
}
