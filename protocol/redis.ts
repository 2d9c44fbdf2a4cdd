/**
 * How every Cocoon process connects to the network's Redis: one URL, a single node or a Redis Cluster.
 *
 *   redis://[user:pass@]host:port[/db]                        one node (rediss:// for TLS)
 *   redis+cluster://[user:pass@]host:port[,host:port...]      a Redis Cluster, given by one or more seed nodes
 *                                                             (rediss+cluster:// for TLS); no database number
 *
 * connectRedis() returns an ioredis `Redis` or `Cluster`; both speak the same commands, and every multi-key
 * operation Cocoon issues touches keys of one hash slot (protocol/work.ts says which keys share a slot), so the
 * callers do not care which one they hold.
 */
import IORedis, { Cluster, ClusterOptions, RedisOptions } from 'ioredis';

/** A connection to the network's Redis: one node or a cluster. */
export type RedisClient = IORedis | Cluster;

export type ParsedRedisUrl =
    | { kind: 'single'; options: RedisOptions }
    | { kind: 'cluster'; nodes: { host: string; port: number }[]; options: RedisOptions };

const SCHEMES = 'redis://host:port[/db], rediss://…, or redis+cluster://host:port,host:port for a Redis Cluster';

/** A URL without its password, for messages and logs. */
export function redactUrl(u: string): string {
    return u.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** True for redis+cluster:// and rediss+cluster:// URLs. */
export function isClusterUrl(url: string): boolean {
    return /^rediss?\+cluster:\/\//i.test(url.trim());
}

/** Parses and validates a Redis URL; throws naming what is wrong and what a right one looks like. */
export function parseRedisUrl(url: string): ParsedRedisUrl {
    const text = url.trim();
    const shown = JSON.stringify(redactUrl(text));
    const scheme = /^([a-z+]+):\/\//i.exec(text)?.[1]?.toLowerCase();
    if (!scheme) throw new Error(`the Redis URL ${shown} is not a URL: use ${SCHEMES}`);
    if (scheme === 'redis' || scheme === 'rediss') {
        if (/^[^/]*\/\/[^/]*,/.test(text)) throw new Error(`the Redis URL ${shown} names several hosts: a Redis Cluster is redis+cluster://host:port,host:port`);
        let u: URL;
        try {
            u = new URL(text);
        } catch {
            throw new Error(`the Redis URL ${shown} is not a URL: use ${SCHEMES}`);
        }
        const db = u.pathname.replace(/^\//, '');
        if (db !== '' && !/^\d+$/.test(db)) throw new Error(`the Redis URL's database must be a number, got "${db}"`);
        return {
            kind: 'single',
            options: {
                host: u.hostname || '127.0.0.1',
                port: u.port ? Number(u.port) : 6379,
                ...auth(u.username, u.password),
                ...(db !== '' ? { db: Number(db) } : {}),
                ...(scheme === 'rediss' ? { tls: {} } : {}),
            },
        };
    }
    if (scheme === 'redis+cluster' || scheme === 'rediss+cluster') {
        // URL cannot parse a host list: split it by hand
        let rest = text.slice(scheme.length + 3);
        let user = '';
        let pass = '';
        const at = rest.lastIndexOf('@');
        if (at >= 0) {
            const cred = rest.slice(0, at);
            rest = rest.slice(at + 1);
            const colon = cred.indexOf(':');
            user = colon >= 0 ? cred.slice(0, colon) : cred;
            pass = colon >= 0 ? cred.slice(colon + 1) : '';
        }
        const slash = rest.indexOf('/');
        if (slash >= 0) {
            const path = rest.slice(slash + 1);
            if (path !== '' && path !== '0') throw new Error(`the Redis Cluster URL ${shown} names database "${path}": a cluster has only database 0, drop the /${path}`);
            rest = rest.slice(0, slash);
        }
        const nodes = rest.split(',').map((hp) => hp.trim());
        if (nodes.length === 0 || nodes.some((n) => n === '')) throw new Error(`the Redis Cluster URL ${shown} lists no seed node: use redis+cluster://host:port,host:port`);
        const parsed = nodes.map((n) => {
            const m = /^(\[[0-9a-f:.]+\]|[^:\[\]]+):(\d{1,5})$/i.exec(n);
            const port = m ? Number(m[2]) : NaN;
            if (!m || port < 1 || port > 65535) throw new Error(`the Redis Cluster URL ${shown}: seed node "${n}" must be host:port (port 1-65535)`);
            return { host: m[1].replace(/^\[|\]$/g, ''), port };
        });
        return {
            kind: 'cluster',
            nodes: parsed,
            options: { ...auth(decodeURIComponent(user), decodeURIComponent(pass), true), ...(scheme === 'rediss+cluster' ? { tls: {} } : {}) },
        };
    }
    throw new Error(`the Redis URL must start with redis://, rediss://, redis+cluster:// or rediss+cluster://, got ${scheme}:// (${shown})`);
}

function auth(user: string, pass: string, decoded = false): RedisOptions {
    const d = (s: string) => (decoded ? s : decodeURIComponent(s));
    return { ...(user ? { username: d(user) } : {}), ...(pass ? { password: d(pass) } : {}) };
}

export interface ConnectOptions {
    /** ioredis options added to (and overriding) the URL's; for a cluster they apply to every node connection */
    redisOptions?: RedisOptions;
    /** ioredis Cluster options (ignored for a single node) */
    clusterOptions?: Omit<ClusterOptions, 'redisOptions'>;
}

/**
 * A connection for `url`: an ioredis Redis, or a Cluster for redis+cluster:// URLs. BullMQ connections need
 * `redisOptions: { maxRetriesPerRequest: null }`: with a Cluster that option must sit in every node's options,
 * which is where this puts it.
 */
export function connectRedis(url: string, opts: ConnectOptions = {}): RedisClient {
    const parsed = parseRedisUrl(url);
    if (parsed.kind === 'single') return new IORedis({ ...parsed.options, ...opts.redisOptions });
    return new Cluster(parsed.nodes, {
        // a freshly created cluster may still be agreeing on its slots: keep asking instead of failing the first command
        clusterRetryStrategy: (times) => Math.min(100 * times, 2_000),
        ...opts.clusterOptions,
        redisOptions: { ...parsed.options, ...opts.redisOptions },
    });
}

/** True when `redis` is a Cluster connection. */
export function isCluster(redis: RedisClient): redis is Cluster {
    return (redis as Cluster).isCluster === true;
}
