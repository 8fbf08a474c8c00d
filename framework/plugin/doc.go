// Package plugin runs Rats-TLS instances of every kind (attester, verifier,
// TLS wrapper, crypto wrapper) as subprocess plugins, over
// github.com/hashicorp/go-plugin and gRPC.
//
// # Layout of a plugin directory
//
// A plugin is an executable named rats-tls-<kind>-<name> (for example
// rats-tls-attester-sgx_ecdsa) in the plugin directory, which is the
// --plugin-dir flag, else $RATS_TLS_PLUGIN_DIR, else
// /usr/local/lib/rats-tls/plugins (see [Dir]). Next to the plugins,
// rats-tls-plugins.sha256 ([ManifestName]) lists the SHA-256 of each, in
// sha256sum format; make build writes it with cmd/rats-tls-manifest
// ([WriteManifest]). [Discover] turns each plugin into a
// registry.Registration that a registry.Catalog selects from like a
// built-in: nothing starts until the registration is described, probed or
// asked for an instance.
//
// # Writing a plugin
//
// A plugin's main is one call to [Serve] with the registration of the
// instance it serves, usually the very registration that compiles the
// instance in:
//
//	func main() { plugin.Serve(nullattester.Registration) }
//
// cmd/plugins holds one such main per built-in instance. A plugin process
// serves exactly one instance: the host's Init call probes the registration
// and creates the instance with its New, later calls use it, and Close
// closes it. Anything the instance logs with log/slog reaches the host's
// logger at the same level.
//
// # The protocol
//
// Each kind is a gRPC service in framework/plugin/proto (protobuf package
// ratstls.plugin.v1) whose first calls are Describe, Probe, Init and Close;
// see the .proto files for the rest. The go-plugin handshake ([Handshake])
// carries a magic cookie and protocol version [ProtocolVersion]; only gRPC
// is accepted, over a Unix socket with mutual TLS set up afresh for every
// process (go-plugin AutoMTLS). Errors an instance returns travel as gRPC
// status messages, with instance.ErrUnsupported, instance.ErrUnavailable and
// [ErrKeyLost] carried as status codes, so that errors.Is works on the host
// as it does for a built-in.
//
// # TLS wrappers: the record layer stays in the host
//
// A TLS wrapper plugin never sees a record. Forwarding every record, or the
// connection itself, across a process boundary would cost a round trip per
// record and put the host's socket in a process it cannot vouch for. Instead
// a TLS wrapper served as a plugin must implement instance.TLSProfiler:
// it supplies its session configuration (an instance.TLSProfile: protocol,
// cipher suites, curves) and a peer check. The host-side proxy fetches the
// profile once, then runs every session in the host with
// framework/tlsengine; during each handshake it calls the plugin's CheckPeer
// with the peer's certificates first, then the framework's own VerifyPeer
// (the attestation checks). So a TLS plugin costs one call per handshake and
// none per record. [Serve] refuses to serve a TLS wrapper without a profile.
//
// # Crypto wrappers: keys stay in the plugin
//
// A crypto plugin's keys never leave its process. GenerateKey returns a
// crypto.Signer that holds a handle and the public key; each signature is
// one Sign call, and the host verifies every signature, certificate and
// public key it gets back before using it. Keys live as long as the plugin
// process: after a restart (see below) a key made before it is gone, and
// using it fails with an error wrapping [ErrKeyLost]; make a new one.
//
// # Integrity
//
// Before it starts a plugin the host refuses one that is writable by its
// group or others, is missing from the manifest, or does not match its
// checksum there ([ErrUntrusted], with a message that says which and what
// to do). It then hands the checksum to go-plugin's SecureConfig, which
// checks the file again just before running it.
//
// # Failures and bounds
//
// Every call is bounded: by its context's deadline, or else by
// Config.CallTimeout ([DefaultCallTimeout], 10s); starting a process is
// bounded by Config.StartTimeout ([DefaultStartTimeout], 10s). A plugin that
// crashes, hangs or answers garbage (a malformed handshake line, an empty
// evidence type, a key that does not parse, a signature that does not
// verify) makes the call fail within that bound with an error naming the
// plugin path and what happened, wrapping [ErrExited], [ErrTimeout] or
// [ErrMalformed]; the process is killed, and the instance's next call starts
// a fresh one and initialises it again with the same options. An error the
// instance itself reports (a verifier refusing evidence) is no failure and
// leaves the process running.
//
// No plugin outlives its host. Close stops the instance's process;
// [CleanupClients] stops them all, for a host on its way out. A host that is
// killed outright takes its plugins with it: the kernel sends them SIGKILL
// when their parent dies (PR_SET_PDEATHSIG on Linux, asked for by both
// sides), and each plugin also polls its parent PID every 250ms and exits
// when it is no longer the host's.
package plugin
