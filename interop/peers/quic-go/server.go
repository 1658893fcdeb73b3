// An HTTP/3 file server on quic-go for meshgate's interop runs: serves -www over HTTP/3 on -addr
// with mutual TLS (the client certificate must chain to -ca); -retry sends a Retry to every new
// client (address validation, RFC 9000 §8.1.2). Prints "listening" once the socket is bound.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/lucas-clemente/quic-go"
	"github.com/lucas-clemente/quic-go/http3"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4433", "UDP address to listen on")
	www := flag.String("www", ".", "directory to serve")
	caFile := flag.String("ca", "", "PEM CA the client certificate must chain to")
	certFile := flag.String("cert", "", "PEM server certificate")
	keyFile := flag.String("key", "", "PEM server key")
	retry := flag.Bool("retry", false, "send a Retry packet to every new connection")
	flag.Parse()

	tlsConf, err := tlsConfig(*caFile, *certFile, *keyFile)
	if err != nil {
		log.Fatalf("tls: %v", err)
	}
	tlsConf.ClientAuth = tls.RequireAndVerifyClientCert
	quicConf := &quic.Config{}
	if *retry {
		quicConf.RequireAddressValidation = func(net.Addr) bool { return true }
	}
	files := http.FileServer(http.Dir(*www))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("request %s %s %s from %s", r.Proto, r.Method, r.URL.Path, r.RemoteAddr)
		files.ServeHTTP(w, r)
	})
	udpAddr, err := net.ResolveUDPAddr("udp", *addr)
	if err != nil {
		log.Fatalf("address: %v", err)
	}
	conn, err := net.ListenUDP("udp", udpAddr)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	server := &http3.Server{Handler: handler, TLSConfig: tlsConf, QuicConfig: quicConf}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		server.Close()
		os.Exit(0)
	}()
	fmt.Printf("listening %s retry=%v\n", conn.LocalAddr(), *retry)
	if err := server.Serve(conn); err != nil {
		log.Fatalf("serve: %v", err)
	}
}
