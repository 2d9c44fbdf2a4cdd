/** TEE kinds this project attests. 'simulated' is software only and gives NO hardware protection. */
export type TeeType = 'simulated' | 'tdx';

/** Length of the report data every quote carries (TDX REPORTDATA is 64 bytes; the simulated TEE mirrors it). */
export const REPORT_DATA_LENGTH = 64;

/**
 * Produces attestation quotes binding `reportData` (exactly 64 bytes, e.g. the enclave's Ed25519 ‖ X25519 public
 * keys) to the running image. With teeType 'simulated' the quote is signed by a software key and gives NO hardware
 * protection: the host can read everything.
 */
export interface AttestationProvider {
    teeType: TeeType;
    quote(reportData: Buffer): Promise<Buffer>;
}

export function checkReportData(reportData: Buffer): void {
    if (!Buffer.isBuffer(reportData) || reportData.length !== REPORT_DATA_LENGTH) {
        throw new Error(
            `report data must be exactly ${REPORT_DATA_LENGTH} bytes (got ${Buffer.isBuffer(reportData) ? reportData.length : typeof reportData}); hash or pad it explicitly`,
        );
    }
}
