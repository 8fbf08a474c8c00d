// Package sevsnp is the one home of AMD SEV-SNP in Rats-TLS: the report's
// bytes, its signature and certificate chain, the policy a verifier applies,
// the guest device, and the simulated TEE. The instances in attesters/sevsnp,
// attesters/sevsnpsim and verifiers/sevsnp are thin glue over it.
//
// The split follows go-sev-guest, which it builds on:
//
//   - report.go parses the 1184-byte ATTESTATION_REPORT ([ParseReport]).
//   - endorsements.go reads and writes the certificates that travel with a
//     report: the AMD certificate table (the GUID table an extended guest
//     request returns) inside one CBOR byte string ([EncodeEndorsements],
//     [DecodeEndorsements]).
//   - verify.go checks signatures only ([Verifier]): the report's ECDSA P-384
//     signature by the VCEK (or VLEK), and the VCEK -> ASK -> ARK chain up to
//     an AMD root embedded in go-sev-guest, or up to the simulated root.
//     Chain results are cached, so a warm verification costs one P-384
//     signature check.
//   - validate.go applies policy to a verified report, never signatures
//     ([Validate], [Policy]).
//   - claims.go turns a verified report into instance.Claims ([Claims]).
//   - device.go gets reports from the guest device ([Probe], [OpenDevice]).
//   - simulated.go is the simulated TEE ([Simulator]), signing with the
//     test-only hierarchy in package simulated.
//
// # Evidence and endorsements
//
// Evidence of type "sev_snp" is the raw report, as the C Rats-TLS sends it;
// it travels under CBOR tag 0x1a7504 (see framework/dice). Endorsements,
// when present, are one CBOR byte string holding the certificate table, under
// the same tag.
//
// # Where certificates come from
//
// From the endorsements, else from a local certificate directory
// ([Options.CertDir]), else from the roots' known endorsers (only the
// simulated root has one: its VCEK, so that simulated evidence verifies
// without endorsements). This package never fetches from AMD's Key
// Distribution Service: a verifier without the VCEK refuses the report and
// says so.
//
// # Chain cache
//
// A verified chain is cached ([ChainCache], shared per process by default)
// under SHA-256 of the VCEK (or VLEK) DER together with the root it chained
// to, with the parsed key and the chain's validity window. A warm
// verification hashes the VCEK, finds the entry (only for one of the
// verifier's own roots, only inside the window, only if the endorsements'
// ASK is the one the chain went through), checks the VCEK's binding to the
// report's CHIP_ID and REPORTED_TCB and verifies one ECDSA P-384 signature.
// Whether a simulated root is trusted is decided per verification, never
// cached.
package sevsnp
