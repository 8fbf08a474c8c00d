package sevsnp

import (
	"encoding/hex"
	"fmt"

	"github.com/inclavare/inclavare/framework/instance"
)

// Claims returns what a verifier vouches for once a has verified and
// validated. Binary values are lowercase hex; TCB values are given whole
// (16 hex digits of the TCB_VERSION, most significant byte first: microcode,
// SNP, 4 reserved, TEE, bootloader) and split into numbers:
//
//	measurement, host_data, report_data, chip_id, family_id, image_id,
//	id_key_digest, author_key_digest, report_id    hex
//	policy, vmpl, guest_svn, report_version        numbers
//	debug, simulated                               booleans
//	tcb_version                                    CURRENT_TCB, hex
//	tcb_bootloader, tcb_tee, tcb_snp, tcb_microcode its components
//	reported_tcb                                   REPORTED_TCB (the VCEK's), hex
//	reported_tcb_bootloader, ..._tee, ..._snp, ..._microcode
//	committed_tcb, launch_tcb                      hex
//	signing_key                                    "VCEK" or "VLEK"
//	product_line                                   "Milan", "Genoa", "Turin"
//	root                                           the trust anchor, e.g. "AMD ARK-Milan"
func Claims(a *Attestation) instance.Claims {
	p := a.Report.Proto
	cur, rep := a.Report.CurrentTCB(), a.Report.ReportedTCB()
	c := make(instance.Claims, 32)
	c["measurement"] = hex.EncodeToString(p.GetMeasurement())
	c["host_data"] = hex.EncodeToString(p.GetHostData())
	c["report_data"] = hex.EncodeToString(p.GetReportData())
	c["chip_id"] = hex.EncodeToString(p.GetChipId())
	c["family_id"] = hex.EncodeToString(p.GetFamilyId())
	c["image_id"] = hex.EncodeToString(p.GetImageId())
	c["id_key_digest"] = hex.EncodeToString(p.GetIdKeyDigest())
	c["author_key_digest"] = hex.EncodeToString(p.GetAuthorKeyDigest())
	c["report_id"] = hex.EncodeToString(p.GetReportId())
	c["policy"] = p.GetPolicy()
	c["vmpl"] = uint64(p.GetVmpl())
	c["guest_svn"] = uint64(p.GetGuestSvn())
	c["report_version"] = uint64(p.GetVersion())
	c["debug"] = a.Report.Debug()
	c["simulated"] = a.Simulated
	c["signing_key"] = a.Report.Signer.SigningKey.String()
	c["product_line"] = a.Root.ProductLine
	c["root"] = a.Root.Name()
	c["tcb_version"] = tcbHex(p.GetCurrentTcb())
	c["reported_tcb"] = tcbHex(p.GetReportedTcb())
	c["committed_tcb"] = tcbHex(p.GetCommittedTcb())
	c["launch_tcb"] = tcbHex(p.GetLaunchTcb())
	tcbClaims(c, "tcb_", cur)
	tcbClaims(c, "reported_tcb_", rep)
	return c
}

func tcbClaims(c instance.Claims, prefix string, t TCB) {
	c[prefix+"bootloader"] = uint64(t.Bootloader)
	c[prefix+"tee"] = uint64(t.TEE)
	c[prefix+"snp"] = uint64(t.SNP)
	c[prefix+"microcode"] = uint64(t.Microcode)
}

func tcbHex(v uint64) string { return fmt.Sprintf("%016x", v) }
