// pricing answers the current price of each product, from a JSON file the operators edit in place.
//
//	GET /prices?ids=p1,p2  -> {"currency":"EUR","prices":{"p1":1320,"p2":2750}}
//	GET /health            -> 200 once a config is loaded
//
// CONFIG_FILE is re-read every second; a file that does not parse or does not validate is
// rejected and the last good config stays in force (SHOP_NAIVE=validation applies it anyway).
// CURRENCY is the ISO code prices are quoted in (an environment variable, read at start).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

type Config struct {
	BaseCents       map[string]int `json:"base_cents"`
	MarkupPercent   int            `json:"markup_percent"`
	DiscountPercent int            `json:"discount_percent"`
}

func (c *Config) validate() error {
	if len(c.BaseCents) == 0 {
		return errors.New("base_cents is empty")
	}
	for id, v := range c.BaseCents {
		if v <= 0 || v > 1_000_000 {
			return fmt.Errorf("base_cents.%s = %d is out of range (1..1000000)", id, v)
		}
	}
	if c.MarkupPercent < 0 || c.MarkupPercent > 100 {
		return fmt.Errorf("markup_percent = %d is out of range (0..100)", c.MarkupPercent)
	}
	if c.DiscountPercent < 0 || c.DiscountPercent > 90 {
		return fmt.Errorf("discount_percent = %d is out of range (0..90)", c.DiscountPercent)
	}
	return nil
}

func (c *Config) price(id string) (int, bool) {
	base, ok := c.BaseCents[id]
	if !ok {
		return 0, false
	}
	return base * (100 + c.MarkupPercent) / 100 * (100 - c.DiscountPercent) / 100, true
}

var (
	mu      sync.RWMutex
	current *Config
	lastSum string
	naive   = naiveSet(os.Getenv("SHOP_NAIVE"))
)

func naiveSet(v string) map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Split(v, ",") {
		if k = strings.TrimSpace(k); k != "" && k != "0" {
			m[k] = true
		}
	}
	return m
}

func isNaive(k string) bool { return naive["1"] || naive["all"] || naive[k] }

func load(path string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		log.Printf("pricing config rejected: %v", err)
		return
	}
	sum := sha256.Sum256(raw)
	hexsum := hex.EncodeToString(sum[:])
	if hexsum == lastSum {
		return
	}
	lastSum = hexsum
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		log.Printf("pricing config rejected sha256=%s: %v", hexsum, err)
		return
	}
	if err := c.validate(); err != nil && !isNaive("validation") {
		log.Printf("pricing config rejected sha256=%s: %v", hexsum, err)
		return
	}
	mu.Lock()
	current = &c
	mu.Unlock()
	log.Printf("pricing config applied sha256=%s", hexsum)
}

var currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	path := os.Getenv("CONFIG_FILE")
	if path == "" {
		path = "config/pricing.json"
	}
	currency := os.Getenv("CURRENCY")
	if currency == "" {
		currency = "EUR"
	}
	if !currencyRe.MatchString(currency) {
		log.Fatalf("CURRENCY=%q is not an ISO 4217 code", currency)
	}
	load(path)
	go func() {
		for range time.Tick(time.Second) {
			load(path)
		}
	}()

	http.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		ok := current != nil
		mu.RUnlock()
		if !ok {
			http.Error(w, "no config loaded", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	http.HandleFunc("GET /prices", func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		c := current
		mu.RUnlock()
		if c == nil {
			http.Error(w, `{"error":"no config loaded"}`, http.StatusServiceUnavailable)
			return
		}
		prices := map[string]int{}
		for _, id := range strings.Split(r.URL.Query().Get("ids"), ",") {
			if id == "" {
				continue
			}
			p, ok := c.price(id)
			if !ok {
				continue
			}
			if p <= 0 { // only reachable when an unvalidated config was applied
				log.Printf("price of %s computed as %d", id, p)
				http.Error(w, `{"error":"price computation failed"}`, http.StatusInternalServerError)
				return
			}
			prices[id] = p
		}
		w.Header().Set("content-type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"currency": currency, "prices": prices})
	})
	host := os.Getenv("HOST")
	port := os.Getenv("PORT")
	if port == "" {
		port = "8000"
	}
	addr := host + ":" + port
	log.Printf("pricing listening on %s, currency %s, config %s", addr, currency, path)
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
