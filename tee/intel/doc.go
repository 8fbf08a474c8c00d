// Package intel is the one home of Intel DCAP ECDSA quotes in Rats-TLS: SGX
// quotes (version 3, evidence type "sgx_ecdsa") and TDX quotes (versions 4
// and 5, "tdx_ecdsa"), their verification in pure Go against Intel's
// collateral, the policy a verifier applies, and the claims it vouches for.
// The SGX and TDX instances are thin glue over it. Nothing here touches the
// network: collateral comes with the evidence (endorsements) or from the
// verifier's configuration.
//
// The split follows go-sev-guest and go-tdx-guest:
//
//   - quote.go parses quotes ([ParseQuote], [ParseQuoteWith]): header, SGX
//     enclave report or TD report (TDX 1.0, or 1.5 in a v5 quote), the
//     ECDSA signature and attestation key, the QE report and its signature,
//     the QE authentication data and the certification data (for v4 and v5
//     inside the type 6 QE report certification data). Every length is
//     checked and every error names the field and its offset; trailing
//     bytes are refused unless allowed.
//   - pck.go reads PCK certificate chains (leaf, Intel SGX PCK Platform or
//     Processor CA, Intel SGX Root CA) and the SGX extensions of the PCK
//     certificate ([ParsePCKExtensions]: FMSPC, PCE-ID, the TCB's 16 CPUSVN
//     components and PCESVN, PPID).
//   - roots.go embeds the Intel SGX Root CA ([IntelRootCA]), checked
//     against [IntelRootCAFingerprint]; Options.Roots replaces it (with a
//     test root, for example).
//   - collateral.go and tcbinfo.go read collateral ([Collateral]) in the
//     JSON layout of Intel's PCS responses ([ParseCollateralJSON],
//     [CollateralFromPCS]) and verify it: the TCB info and QE identity
//     signatures (raw r||s ECDSA P-256 over the exact "tcbInfo" and
//     "enclaveIdentity" object bytes) by the Intel SGX TCB Signing
//     certificate up to the root, their issue and next-update dates, and
//     the PCK and root CA CRLs (signatures, dates, revoked serials).
//   - endorsements.go reads and writes the Rats-TLS endorsements, the CBOR
//     array of the C sgx_ql_qve_collateral_t ([DecodeEndorsements],
//     [EncodeEndorsements]).
//   - verify.go checks signatures, chains and the TCB ([Verifier]): see
//     [Verifier.Verify] for the order. tcb.go matches the QE identity and
//     the platform's TCB level (SGX: the PCK certificate's components and
//     PCESVN; TDX: also the TD report's TEE_TCB_SVN and the TDX module
//     identity) and combines the statuses as Intel's QVL does.
//   - validate.go applies policy to a verified quote, never signatures
//     ([Validate], [Policy]): report data, debug, accepted TCB statuses,
//     accepted measurements, minimum ISVSVN.
//   - claims.go turns a verified quote into instance.Claims ([Claims]).
//   - Package inteltest (tee/intel/inteltest) is a fake Intel: a test root,
//     PCK and TCB signing hierarchy that signs quotes and collateral, for
//     tests of every branch without hardware.
//
// # What is cached
//
// A [Cache] ([DefaultCache] unless Options.Cache says otherwise) keeps two
// things, each with the window of time in which it stays valid (the
// intersection of the certificates', CRLs' and collateral's validity):
//
//   - verified PCK chains, keyed by SHA-256 of the chain's PEM bytes: the
//     parsed PCK certificate, its key and SGX extensions, the CA and the
//     root they chained to;
//   - verified collateral, keyed by SHA-256 of every field of the
//     [Collateral]: the parsed TCB info (with its levels sorted) and QE
//     identity, and the revoked serial numbers of the CRLs.
//
// An entry is used only inside its window and only if its root is one of
// the verifier's roots; otherwise verification runs cold and explains
// what failed. Failures are never cached. A warm verification hashes the
// chain and the collateral, checks revocation (map look-ups), and verifies
// two ECDSA P-256 signatures: the QE report's by the PCK key and the
// quote's by the attestation key.
//
// # Statuses and errors
//
// A verified quote has a TCB status ([TCBStatus]) and Intel advisory IDs;
// Verify refuses none of the statuses, [Validate] accepts only UpToDate
// unless the policy says more. Errors wrap one sentinel per category
// ([ErrMalformedQuote], [ErrUnsupportedQuote], [ErrMissingPCK],
// [ErrPCKChain], [ErrRevoked], [ErrCRL], [ErrMalformedCollateral],
// [ErrCollateral], [ErrSignature], [ErrQEIdentity], [ErrTDXModule],
// [ErrTCBNotSupported], [ErrPolicy]) and, for dates, [ErrExpired] or
// [ErrNotYetValid] too.
package intel
