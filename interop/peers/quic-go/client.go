// An HTTP/3 download client on quic-go for meshgate's interop runs: GETs every URL given
// (concurrently, on one QUIC connection), verifies the server against -ca with -servername,
// presents -cert, and saves each body under -out by its base name. With -resume it then opens a
// second connection with the TLS session of the first and prints whether it was resumed. Exit
// status 0 only if every request answered 200 and was saved (and, with -resume, resumed).
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	neturl "net/url"
	"os"
	"path"
	"path/filepath"
	"sync"

	"github.com/lucas-clemente/quic-go"
	"github.com/lucas-clemente/quic-go/http3"
)

func main() {
	caFile := flag.String("ca", "", "PEM CA the server certificate must chain to")
	certFile := flag.String("cert", "", "PEM client certificate")
	keyFile := flag.String("key", "", "PEM client key")
	serverName := flag.String("servername", "localhost", "name the server certificate must carry")
	out := flag.String("out", ".", "directory for the downloaded files")
	resume := flag.Bool("resume", false, "download again on a second connection resuming the first's TLS session")
	flag.Parse()

	tlsConf, err := tlsConfig(*caFile, *certFile, *keyFile)
	if err != nil {
		log.Fatalf("tls: %v", err)
	}
	tlsConf.ServerName = *serverName
	tlsConf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	failed, _ := downloadAll(tlsConf, flag.Args(), *out)
	if *resume && failed == 0 {
		var resumed bool
		failed, resumed = downloadAll(tlsConf, flag.Args(), *out)
		fmt.Printf("resumed=%v\n", resumed)
		if !resumed {
			failed++
		}
	}
	if failed > 0 {
		os.Exit(1)
	}
}

// downloadAll GETs every URL concurrently on one new connection; it returns the number of
// failures and whether the connection resumed an earlier TLS session.
func downloadAll(tlsConf *tls.Config, urls []string, out string) (int, bool) {
	rt := &http3.RoundTripper{TLSClientConfig: tlsConf, QuicConfig: &quic.Config{}}
	defer rt.Close()
	client := &http.Client{Transport: rt}

	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	resumed := false
	for _, url := range urls {
		wg.Add(1)
		go func(url string) {
			defer wg.Done()
			didResume, err := download(client, url, out)
			mu.Lock()
			resumed = resumed || didResume
			defer mu.Unlock()
			if err != nil {
				failed++
				fmt.Printf("FAIL %s: %v\n", url, err)
			} else {
				fmt.Printf("OK %s\n", url)
			}
		}(url)
	}
	wg.Wait()
	return failed, resumed
}

// download GETs one URL into out; it says whether the connection resumed a TLS session.
func download(client *http.Client, rawURL, out string) (bool, error) {
	target, err := neturl.Parse(rawURL)
	if err != nil {
		return false, err
	}
	resp, err := client.Get(rawURL)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	didResume := resp.TLS != nil && resp.TLS.DidResume
	if resp.StatusCode != 200 {
		return didResume, fmt.Errorf("status %d", resp.StatusCode)
	}
	if resp.Proto != "HTTP/3.0" {
		return didResume, fmt.Errorf("protocol %s", resp.Proto)
	}
	file, err := os.Create(filepath.Join(out, path.Base(target.Path)))
	if err != nil {
		return didResume, err
	}
	defer file.Close()
	_, err = io.Copy(file, resp.Body)
	return didResume, err
}
