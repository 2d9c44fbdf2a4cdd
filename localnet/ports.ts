import * as net from 'net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago. Another process may take it before the caller binds it,
 * so whoever starts a server on it retries on EADDRINUSE (see startPrivateRedis).
 */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const port = (s.address() as net.AddressInfo).port;
            s.close(() => resolve(port));
        });
    });
}
