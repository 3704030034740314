package main

import (
	"net/http"
	"net/http/pprof"
)

// pprofHandler serves net/http/pprof's endpoints under /debug/pprof/, on a
// mux of its own rather than http.DefaultServeMux, so that they never
// reach the public listener.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
