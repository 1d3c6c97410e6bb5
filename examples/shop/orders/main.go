// orders takes orders and keeps them in PostgreSQL.
//
//	POST /orders       {"product":"p1","qty":1} -> 201 {"id":"...","acknowledged":true} once the INSERT committed
//	GET  /orders/{id}  -> 200 the order, 404 if there is none
//	GET  /health       -> 200 while the process serves (GET /ready also pings the database)
//
// DATABASE_URL is a libpq URL (postgresql://shop@db/shop). SHOP_NAIVE=early_ack acknowledges
// an order before it is written (the write happens in the background), the bug this
// service once had.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const schema = `CREATE TABLE IF NOT EXISTS orders (
	id         text PRIMARY KEY,
	product    text NOT NULL,
	qty        integer NOT NULL CHECK (qty > 0),
	created_at timestamptz NOT NULL DEFAULT now()
)`

var (
	pool      *pgxpool.Pool
	schemaOK  atomic.Bool
	earlyAck  bool
	dbTimeout = 2 * time.Second
)

func naive(k string) bool {
	for _, v := range strings.Split(os.Getenv("SHOP_NAIVE"), ",") {
		v = strings.TrimSpace(v)
		if v == "1" || v == "all" || v == k {
			return true
		}
	}
	return false
}

func ensureSchema(ctx context.Context) error {
	if schemaOK.Load() {
		return nil
	}
	if _, err := pool.Exec(ctx, schema); err != nil {
		return err
	}
	schemaOK.Store(true)
	return nil
}

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "o-" + hex.EncodeToString(b)
}

type order struct {
	ID        string    `json:"id"`
	Product   string    `json:"product"`
	Qty       int       `json:"qty"`
	CreatedAt time.Time `json:"created_at,omitempty"`
}

func insert(ctx context.Context, o order) error {
	if err := ensureSchema(ctx); err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `INSERT INTO orders (id, product, qty) VALUES ($1, $2, $3)`, o.ID, o.Product, o.Qty); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func create(w http.ResponseWriter, r *http.Request) {
	var o order
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&o); err != nil || o.Product == "" || o.Qty <= 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {\"product\": \"p1\", \"qty\": 1}"})
		return
	}
	o.ID = newID()
	if earlyAck {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
			defer cancel()
			if err := insert(ctx, o); err != nil {
				log.Printf("order %s not stored: %v", o.ID, err)
			}
		}()
		writeJSON(w, http.StatusCreated, map[string]any{"id": o.ID, "acknowledged": true})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), dbTimeout)
	defer cancel()
	if err := insert(ctx, o); err != nil {
		log.Printf("order not stored: %v", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "order could not be stored, try again"})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"id": o.ID, "acknowledged": true})
}

func get(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), dbTimeout)
	defer cancel()
	if err := ensureSchema(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "database unavailable"})
		return
	}
	var o order
	err := pool.QueryRow(ctx, `SELECT id, product, qty, created_at FROM orders WHERE id = $1`, r.PathValue("id")).
		Scan(&o.ID, &o.Product, &o.Qty, &o.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such order"})
		return
	}
	if err != nil {
		log.Printf("reading order: %v", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "database unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, o)
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	earlyAck = naive("early_ack")
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		url = "postgresql://shop@db:5432/shop?sslmode=disable"
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		log.Fatalf("DATABASE_URL: %v", err)
	}
	cfg.MaxConns = 8
	cfg.ConnConfig.ConnectTimeout = time.Second
	cfg.HealthCheckPeriod = 2 * time.Second
	pool, err = pgxpool.NewWithConfig(context.Background(), cfg) // connects lazily
	if err != nil {
		log.Fatalf("database pool: %v", err)
	}
	http.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	http.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := pool.Ping(ctx); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	http.HandleFunc("POST /orders", create)
	http.HandleFunc("GET /orders/{id}", get)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8000"
	}
	addr := os.Getenv("HOST") + ":" + port
	log.Printf("orders listening on %s", addr)
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
