/**
 * GET /dashboard: one self-contained HTML status page (inline CSS, no script, no framework, nothing fetched):
 * this instance, the queues, the providers and the recent jobs. Metadata only, every value HTML-escaped.
 */

export interface DashboardData {
    instance: string;
    leader: boolean;
    generatedAtMs: number;
    /** the simulated TEE gives no hardware protection: shown as a banner when the network uses it */
    simulatedTee: boolean;
    queues: Record<string, Record<string, number>>;
    providers: {
        owner: string;
        active: boolean;
        health: string;
        load: number;
        capacity: number;
        models: number;
        stake: string;
        locked: string;
        successes: number;
        failures: number;
        lastHeartbeatMs: number | null;
    }[];
    jobs: { jobId: string; job: string; state: string; attempts: number; owner: string | null; reason?: string; seenAtMs: number }[];
}

const esc = (v: unknown): string =>
    String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const short = (addr: string | null): string => (addr ? `${addr.slice(0, 8)}…${addr.slice(-6)}` : '—');

const ago = (ms: number | null, now: number): string => {
    if (ms === null || !Number.isFinite(ms)) return 'never';
    const s = Math.max(0, Math.round((now - ms) / 1000));
    return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
};

const ton = (nano: string): string => (Number(nano) / 1e9).toFixed(2);

function table(headers: string[], rows: string[][]): string {
    if (rows.length === 0) return '<p class="empty">none</p>';
    return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
        .map((r) => `<tr>${r.join('')}</tr>`)
        .join('')}</tbody></table>`;
}

const td = (v: unknown, cls = ''): string => `<td${cls ? ` class="${cls}"` : ''}>${esc(v)}</td>`;
const tdTitle = (text: string, title: string): string => `<td title="${esc(title)}">${esc(text)}</td>`;

export function renderDashboard(d: DashboardData): string {
    const now = d.generatedAtMs;
    const queueRows = Object.entries(d.queues).map(([name, c]) => [td(name), ...['waiting', 'active', 'delayed', 'completed', 'failed'].map((k) => td(c[k] ?? 0, 'num'))]);
    const providerRows = d.providers.map((p) => [
        tdTitle(short(p.owner), p.owner),
        td(p.active ? 'yes' : 'no'),
        td(p.health, p.health),
        td(`${p.load}/${p.capacity}`, 'num'),
        td(p.models, 'num'),
        td(ton(p.stake), 'num'),
        td(ton(p.locked), 'num'),
        td(`${p.successes}/${p.failures}`, 'num'),
        td(ago(p.lastHeartbeatMs, now)),
    ]);
    const jobRows = d.jobs.map((j) => [
        td(j.jobId, 'num'),
        tdTitle(short(j.job), j.job),
        td(j.state, j.state),
        td(j.attempts, 'num'),
        tdTitle(short(j.owner), j.owner ?? ''),
        td(j.reason ?? ''),
        td(ago(j.seenAtMs, now)),
    ]);
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>Cocoon orchestrator</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse}th,td{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.healthy,.committed{color:#176f2c}.stale,.dead{color:#b3261e}.draining,.routing,.queued{color:#8a5a00}.running{color:#0b57d0}
.banner{background:#fff4e5;border:1px solid #f0b400;padding:.5em 1em}.empty{color:#777}
</style></head><body>
<h1>Cocoon orchestrator <small>${esc(d.instance)}${d.leader ? ' — leader' : ''}</small></h1>
${d.simulatedTee ? '<p class="banner">This network uses the SIMULATED TEE: attestation gives no hardware protection. Development only.</p>' : ''}
<h2>Queues</h2>
${table(['queue', 'waiting', 'active', 'delayed', 'completed', 'failed'], queueRows)}
<h2>Providers (${d.providers.length})</h2>
${table(['owner', 'enclave', 'heartbeat', 'load', 'models', 'stake TON', 'locked TON', 'ok/failed', 'last beat'], providerRows)}
<h2>Recent jobs</h2>
${table(['job id', 'escrow', 'dispatch', 'attempts', 'provider', 'reason', 'seen'], jobRows)}
<p class="empty">Generated ${esc(new Date(now).toISOString())}; refreshes every 5 s.</p>
</body></html>
`;
}
