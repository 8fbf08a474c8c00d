// Package csv is the home of Hygon CSV (China Secure Virtualization, an
// AMD SEV derivative) attestation in Rats-TLS, as far as it can be built
// from public information. The instances in attesters/csv and verifiers/csv
// are thin glue over it.
//
// # What is here
//
// Evidence of type "csv" travels under CBOR tag 0x1a7506 (see
// framework/dice). [ParseReport] reads only the leading fixed fields of a
// CSV attestation report, in the order of the csv_attestation_report
// structure published in Hygon's csv-guest headers and Inclavare's C librats
// (user public key digest, VM ID, VM version, user data, mnonce,
// measurement, policy, signature usage and algorithm, anonce). That layout
// is not a Hygon specification, and in it several of these fields are
// XOR-masked with anonce; this package neither unmasks them nor vouches for
// any of them. Everything after anonce (the SM2 signature, the PEK
// certificate, the chip ID, the HMAC) is left unparsed.
//
// The layout was checked field by field against csv_attestation_report in
// the C Rats-TLS header (src/include/rats-tls/csv.h): a report is one page,
// [ReportSize] bytes: the 192 bytes of fields read here, the SM2 signature
// (r and s, 72 bytes each), the PEK certificate (2084), the chip ID (64),
// 32 reserved bytes, the HMAC (32) and 1548 bytes of padding. The C
// attester's evidence appends the HSK and CEK certificates (832 + 2084
// bytes) and their length as a 32-bit integer.
//
// # What is missing
//
// Verifying a CSV report needs, and this package does not have:
//
//   - the Hygon Root Key (HRK): no Hygon root public key is embedded, and
//     Hygon publishes none in a form this project could pin;
//   - the certificate chain format: HRK -> HSK (Hygon Signing Key) -> CEK
//     (Chip Endorsement Key) -> PEK -> report signature, whose certificate
//     structures and signed byte ranges are not in a public specification
//     this package could implement and test against;
//   - the guest interface: the /dev/csv-guest ioctl ABI that produces
//     reports.
//
// So [Probe] (attester) and [ProbeVerifier] report instance.ErrUnavailable
// with these reasons, and [Verify] refuses every report, wrapping
// [ErrNoTrustRoot]. Nothing here ever accepts CSV evidence.
package csv
