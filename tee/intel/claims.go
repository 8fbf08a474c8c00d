package intel

import (
	"encoding/hex"
	"strings"

	"github.com/inclavare/inclavare/framework/instance"
)

// Claims returns what a verifier vouches for once a has verified and
// validated. Binary values are lowercase hex; lists are comma-separated.
//
// SGX quotes:
//
//	mrenclave, mrsigner, attributes, cpu_svn, report_data      hex
//	isv_prod_id, isv_svn, misc_select                          numbers
//	debug                                                      boolean
//
// TDX quotes:
//
//	mrtd, rtmr0, rtmr1, rtmr2, rtmr3, mrseam, mrsigner_seam,
//	mr_config_id, mr_owner, mr_owner_config, td_attributes,
//	seam_attributes, xfam, tee_tcb_svn, report_data           hex
//	mr_service_td, tee_tcb_svn2                                hex, TDX 1.5 only
//	debug                                                      boolean
//	tdx_module_id                                              "TDX_01", when matched
//
// Both:
//
//	tee                                     "sgx" or "tdx"
//	quote_version                           number
//	tcb_status                              "UpToDate", ...
//	advisory_ids                            "INTEL-SA-00289,INTEL-SA-00615" or ""
//	fmspc, pce_id                           hex, from the PCK certificate
//	pce_svn                                 number, from the PCK certificate
//	tcb_date                                the matched platform TCB level's date
//	tcb_evaluation_data_number              number
//	qe_svn                                  number, the QE report's ISVSVN
//	revocation_checked                      boolean
func Claims(a *Attestation) instance.Claims {
	q := a.Quote
	c := make(instance.Claims, 32)
	c["quote_version"] = uint64(q.Header.Version)
	c["tcb_status"] = string(a.TCBStatus)
	c["advisory_ids"] = strings.Join(a.AdvisoryIDs, ",")
	c["fmspc"] = hex.EncodeToString(a.PCKExtensions.FMSPC[:])
	c["pce_id"] = hex.EncodeToString(a.PCKExtensions.PCEID[:])
	c["pce_svn"] = uint64(a.PCKExtensions.PCESVN)
	if a.PlatformLevel != nil {
		c["tcb_date"] = a.PlatformLevel.TCBDate
	}
	c["tcb_evaluation_data_number"] = uint64(a.TCBEvaluationDataNumber())
	c["qe_svn"] = uint64(q.QEReport.ISVSVN)
	c["revocation_checked"] = a.RevocationChecked
	c["debug"] = q.Debug()
	c["report_data"] = hex.EncodeToString(q.ReportData())
	if e := q.Enclave; e != nil {
		c["tee"] = "sgx"
		c["mrenclave"] = hex.EncodeToString(e.MREnclave[:])
		c["mrsigner"] = hex.EncodeToString(e.MRSigner[:])
		c["attributes"] = hex.EncodeToString(e.Attributes[:])
		c["cpu_svn"] = hex.EncodeToString(e.CPUSVN[:])
		c["isv_prod_id"] = uint64(e.ISVProdID)
		c["isv_svn"] = uint64(e.ISVSVN)
		c["misc_select"] = uint64(e.MiscSelect)
		return c
	}
	td := q.TD
	c["tee"] = "tdx"
	c["mrtd"] = hex.EncodeToString(td.MRTD[:])
	for i := range td.RTMR {
		c["rtmr"+string(rune('0'+i))] = hex.EncodeToString(td.RTMR[i][:])
	}
	c["mrseam"] = hex.EncodeToString(td.MRSEAM[:])
	c["mrsigner_seam"] = hex.EncodeToString(td.MRSignerSEAM[:])
	c["mr_config_id"] = hex.EncodeToString(td.MRConfigID[:])
	c["mr_owner"] = hex.EncodeToString(td.MROwner[:])
	c["mr_owner_config"] = hex.EncodeToString(td.MROwnerCfg[:])
	c["td_attributes"] = hex.EncodeToString(td.TDAttributes[:])
	c["seam_attributes"] = hex.EncodeToString(td.SEAMAttributes[:])
	c["xfam"] = hex.EncodeToString(td.XFAM[:])
	c["tee_tcb_svn"] = hex.EncodeToString(td.TEETCBSVN[:])
	if q.BodyType == BodyTypeTD15 {
		c["tee_tcb_svn2"] = hex.EncodeToString(td.TEETCBSVN2[:])
		c["mr_service_td"] = hex.EncodeToString(td.MRServiceTD[:])
	}
	if a.TDXModuleID != "" {
		c["tdx_module_id"] = a.TDXModuleID
	}
	return c
}
