// Package sgxla is the one home of SGX local attestation ("sgx_la") in
// Rats-TLS: the REPORT's bytes, its claims, the MAC check, and the Gramine
// pseudo-files that produce reports. The instances in attesters/sgxla and
// verifiers/sgxla are thin glue over it.
//
// # Evidence
//
// Evidence of type "sgx_la" is a raw 432-byte SGX REPORT (Intel SDM vol. 3D,
// 38.15 "REPORT"): a 384-byte body (CPUSVN, MISCSELECT, ATTRIBUTES,
// MRENCLAVE, MRSIGNER, ISVPRODID, ISVSVN, REPORTDATA and more), then KEYID
// (32 bytes) and MAC (16 bytes). It travels under CBOR tag 60002 (see
// framework/dice). [ParseReport] reads it; [Claims] turns its body into
// instance.Claims.
//
// # What can and cannot be verified here
//
// EREPORT MACs the body with AES-128-CMAC (RFC 4493, [CMAC]) under the
// REPORT key of the target enclave named in the TARGETINFO it was given.
// That key is derived inside the CPU from the platform's fused secrets and
// the target's MRENCLAVE and KEYID; only the target enclave, on the same
// platform, can obtain it, with EGETKEY. No software outside SGX can.
//
// [Verify] therefore checks what it can (the sizes, and that REPORTDATA is
// the expected report data), then asks a [KeySource] for the REPORT key and
// checks the MAC with it. The only KeySource here is [HardwareKeySource],
// which always fails with an error wrapping instance.ErrUnavailable: this Go
// code does not run inside an enclave and cannot execute EGETKEY. So no
// sgx_la report is ever accepted by this package outside of tests, which use
// a test-only key to exercise the MAC code path. What is missing to verify
// real reports is an enclave runtime that can call EGETKEY(REPORT) for the
// target enclave on the platform that produced the report.
//
// # Producing reports
//
// Inside a Gramine SGX enclave, [Device] produces reports through Gramine's
// /dev/attestation pseudo-files, targeted at the enclave itself
// (/dev/attestation/my_target_info): only that same enclave can check them.
// Elsewhere [Probe] says what is missing.
package sgxla
