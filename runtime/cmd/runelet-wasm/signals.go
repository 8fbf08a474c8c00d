package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// stopSignals are the signals that stop the module: its context is
// cancelled with a signalError, and runelet-wasm exits with 128+signal.
var stopSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT}

// handleSignals cancels the module's context with the first stop signal
// and, as PID 1, reaps every child that exits (a process orphaned in the
// container is reparented to PID 1; runelet-wasm starts none of its own).
// The returned function stops both.
func handleSignals(cancel context.CancelCauseFunc, log *slog.Logger) func() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, stopSignals...)
	var chld chan os.Signal
	if os.Getpid() == 1 {
		chld = make(chan os.Signal, 1)
		signal.Notify(chld, syscall.SIGCHLD)
	}
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case sig := <-sigs:
				s := sig.(syscall.Signal)
				log.Info("stopping the wasm module", "signal", s)
				cancel(signalError{s})
			case <-chld:
				reap(log)
			case <-quit:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		if chld != nil {
			signal.Stop(chld)
		}
		close(quit)
		<-done
	}
}

// reap waits for every child that has exited, without blocking.
func reap(log *slog.Logger) {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue // interrupted (the Go runtime's own signals): try again
		}
		if pid <= 0 || err != nil {
			return
		}
		log.Debug("reaped an orphan", "pid", pid, "status", status.ExitStatus())
	}
}
