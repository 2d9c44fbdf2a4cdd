import { formatDuration } from './validate';

/** "2026-01-01T00:00:00.000Z (in 6d 23h)" or "(… ago)": a chain timestamp relative to `now`. */
export function when(timestamp: number, now: number): string {
    const iso = new Date(timestamp * 1000).toISOString();
    const d = timestamp - now;
    if (d === 0) return `${iso} (now)`;
    return d > 0 ? `${iso} (in ${formatDuration(d)})` : `${iso} (${formatDuration(-d)} ago)`;
}
