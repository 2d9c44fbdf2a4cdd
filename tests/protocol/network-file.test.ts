/**
 * The network file: written atomically and readable by its owner only (it may hold dev wallet seeds); every bad
 * field is refused with its name; a missing or non-JSON file says what to do.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ChainClient } from '../../protocol/chain';
import { NetworkFile, NetworkFileError, readNetworkFile, validateNetworkFile, walletFromSeed, writeNetworkFile } from '../../protocol/network-file';

const good: NetworkFile = {
    networkId: 4411203,
    endpoint: 'http://127.0.0.1:8081/jsonRPC',
    registry: 'EQDujhw1DyfxdzOseCORYj34IN7u68oB1irnNMpMGPwaRrxH',
    api: 'http://127.0.0.1:8080',
    tee: { type: 'simulated', vendorPublicKey: 'ab'.repeat(32), warning: 'simulated TEE: no hardware protection' },
    models: { ocr: 'cd'.repeat(32) },
    devWallets: { client: 'ef'.repeat(32) },
};

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-netfile-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('write then read round-trips, with mode 0600', () => {
    const file = path.join(dir, 'sub', 'network.json');
    writeNetworkFile(file, good);
    expect(readNetworkFile(file)).toEqual(good);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['network.json']); // no temp file left behind
});

test.each<[string, (n: Record<string, unknown>) => void, string]>([
    ['networkId', (n) => (n.networkId = 'devnet'), '"networkId" must be an integer'],
    ['endpoint', (n) => (n.endpoint = 'ftp://x'), '"endpoint" must be an http(s) URL'],
    ['registry', (n) => (n.registry = 'not-an-address'), '"registry" must be a TON address'],
    ['api', (n) => delete n.api, '"api" must be an http(s) URL'],
    ['tee', (n) => (n.tee = { type: 'sgx' }), '"tee" must be'],
    ['tee.vendorPublicKey', (n) => (n.tee = { type: 'simulated', vendorPublicKey: 'AB'.repeat(32) }), '"tee.vendorPublicKey" must be 64 lowercase hex digits'],
    ['models', (n) => (n.models = { ocr: 'xyz' }), '"models.ocr" must be 64 lowercase hex digits'],
    ['devWallets', (n) => (n.devWallets = { client: '00' }), '"devWallets.client" must be a 32-byte hex seed'],
])('refuses a bad %s, naming it', (_field, spoil, message) => {
    const n = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
    spoil(n);
    expect(() => validateNetworkFile(n, 'net.json')).toThrow(NetworkFileError);
    expect(() => validateNetworkFile(n, 'net.json')).toThrow(message);
    expect(() => writeNetworkFile(path.join(dir, 'bad.json'), n as unknown as NetworkFile)).toThrow(message);
    expect(fs.existsSync(path.join(dir, 'bad.json'))).toBe(false);
});

test('a missing file and a file that is not JSON say what is wrong and what to do', () => {
    expect(() => readNetworkFile(path.join(dir, 'nope.json'))).toThrow(/cannot read the network file .*nope\.json: ENOENT \(start a local network with `cocoon up`/);
    const broken = path.join(dir, 'broken.json');
    fs.writeFileSync(broken, '{"networkId": ');
    expect(() => readNetworkFile(broken)).toThrow(/is not valid JSON/);
    fs.writeFileSync(broken, '[1,2]');
    expect(() => readNetworkFile(broken)).toThrow('must hold a JSON object');
});

test('walletFromSeed takes 32 hex bytes (0x allowed) and refuses anything else', () => {
    const chain = new ChainClient({ endpoint: 'http://127.0.0.1:1/jsonRPC' });
    const a = walletFromSeed(chain, 'ef'.repeat(32));
    expect(walletFromSeed(chain, '0x' + 'EF'.repeat(32)).address.equals(a.address)).toBe(true);
    expect(() => walletFromSeed(chain, 'ef'.repeat(31))).toThrow('a wallet seed must be 32 bytes in hex');
});
