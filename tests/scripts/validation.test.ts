/**
 * scripts/lib: argument parsing and the validation helpers, each accepting what it should and rejecting the rest
 * with a message that names the argument and says what is expected.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { Address, toNano } from '@ton/core';
import {
    Args,
    formatDuration,
    hex256,
    parseAddress,
    parseAddressList,
    parseBps,
    parseChoice,
    parseDeploymentName,
    parseDuration,
    parseEndpoint,
    parseHash256,
    parseHashOrFile,
    parseInteger,
    parseJobRef,
    parseModelPrices,
    parseNetworkId,
    parseTon,
    readDeployment,
    ScriptSpec,
    writeDeployment,
    deploymentFile,
    defaultDeploymentName,
    paramsFromArgs,
    DEFAULT_PARAMS,
    PARAM_OPTIONS,
    when,
} from '../../scripts/lib';
import { NonInteractiveUI } from '../helpers/sandboxProvider';

const H = 'ab'.repeat(32);
const ADDR = Address.parse('0:' + '11'.repeat(32));
let tmp: string;

beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-validation-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('parseTon', () => {
    test.each([
        ['1', toNano('1')],
        ['1.5', toNano('1.5')],
        ['0.000000001', 1n],
        [' 12 ', toNano('12')],
        ['18446744073.709551615', (1n << 64n) - 1n],
    ])('accepts %j', (v, expected) => {
        expect(parseTon('amount', v)).toBe(expected);
    });

    test.each([
        ['abc', '--amount: expected an amount in TON like 1.5 (at most 9 decimals), got "abc"'],
        ['-1', '--amount: expected an amount in TON like 1.5 (at most 9 decimals), got "-1"'],
        ['1.0000000001', '--amount: expected an amount in TON like 1.5 (at most 9 decimals), got "1.0000000001"'],
        ['1e9', '--amount: expected an amount in TON like 1.5 (at most 9 decimals), got "1e9"'],
        ['', '--amount: expected an amount in TON like 1.5 (at most 9 decimals), got ""'],
        ['.5', '--amount: expected an amount in TON like 1.5 (at most 9 decimals), got ".5"'],
        ['0', '--amount: must be more than 0 TON, got "0"'],
        ['0.000', '--amount: must be more than 0 TON, got "0.000"'],
        ['18446744073.709551616', '--amount: at most 18446744073.709551615 TON, got "18446744073.709551616"'],
    ])('rejects %j', (v, message) => {
        expect(() => parseTon('amount', v)).toThrow(new Error(message));
    });

    test('zero when allowed, and a custom maximum', () => {
        expect(parseTon('min-stake', '0', { allowZero: true })).toBe(0n);
        expect(() => parseTon('max-price', '3', { max: toNano('2') })).toThrow(new Error('--max-price: at most 2 TON, got "3"'));
    });
});

describe('parseHash256', () => {
    test.each([
        [H, BigInt('0x' + H)],
        ['0x' + H, BigInt('0x' + H)],
        ['0X' + H.toUpperCase(), BigInt('0x' + H)],
        ['00'.repeat(32), 0n],
    ])('accepts %j', (v, expected) => {
        expect(parseHash256('model', v)).toBe(expected);
    });

    test.each([
        ['abc', '--model: expected a 256-bit hash as 64 hex characters (0x prefix optional), got 3 hex characters'],
        [H + 'a', '--model: expected a 256-bit hash as 64 hex characters (0x prefix optional), got 65 hex characters'],
        ['', '--model: expected a 256-bit hash as 64 hex characters (0x prefix optional), got 0 hex characters'],
        ['zz' + H.slice(2), `--model: expected a 256-bit hash as 64 hex characters (0x prefix optional), got "zz${H.slice(2, 45)}..."`],
        ['my-model', '--model: expected a 256-bit hash as 64 hex characters (0x prefix optional), got "my-model"'],
    ])('rejects %j', (v, message) => {
        expect(() => parseHash256('model', v)).toThrow(new Error(message));
    });
});

describe('parseHashOrFile', () => {
    test('a hex hash, or the sha256 of an existing file', () => {
        expect(parseHashOrFile('model', H)).toEqual({ hash: BigInt('0x' + H) });
        const file = path.join(tmp, 'm.onnx');
        fs.writeFileSync(file, 'model bytes');
        const digest = BigInt('0x' + createHash('sha256').update('model bytes').digest('hex'));
        expect(parseHashOrFile('model', file)).toEqual({ hash: digest, file });
    });

    test.each([
        ['/no/such/model.onnx', '--model: expected a 256-bit hash as 64 hex characters (0x prefix optional) or the path of an existing file, got "/no/such/model.onnx"'],
        ['abc', '--model: expected a 256-bit hash as 64 hex characters (0x prefix optional) or the path of an existing file, got "abc"'],
    ])('rejects %j', (v, message) => {
        expect(() => parseHashOrFile('model', v)).toThrow(new Error(message));
    });

    test('rejects a directory', () => {
        expect(() => parseHashOrFile('model', tmp)).toThrow(/^--model: expected a 256-bit hash as 64 hex characters \(0x prefix optional\) or the path of an existing file, got "/);
    });
});

describe('parseAddress', () => {
    test('accepts the raw and the user-friendly forms', () => {
        expect(parseAddress('treasury', ADDR.toRawString()).equals(ADDR)).toBe(true);
        expect(parseAddress('treasury', ADDR.toString()).equals(ADDR)).toBe(true);
        expect(parseAddress('treasury', ADDR.toString({ bounceable: false, testOnly: true })).equals(ADDR)).toBe(true);
    });

    test.each([
        ['EQ123', '--treasury: expected a TON address (EQ…, UQ…, kQ…, 0Q… or 0:<64 hex>), got "EQ123"'],
        ['0:1234', '--treasury: expected a TON address (EQ…, UQ…, kQ…, 0Q… or 0:<64 hex>), got "0:1234"'],
        ['', '--treasury: expected a TON address (EQ…, UQ…, kQ…, 0Q… or 0:<64 hex>), got ""'],
    ])('rejects %j', (v, message) => {
        expect(() => parseAddress('treasury', v)).toThrow(new Error(message));
    });

    test('a corrupted checksum is rejected', () => {
        const good = ADDR.toString();
        const bad = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A');
        expect(() => parseAddress('treasury', bad)).toThrow(new Error(`--treasury: expected a TON address (EQ…, UQ…, kQ…, 0Q… or 0:<64 hex>), got "${bad}"`));
    });
});

describe('parseAddressList', () => {
    const other = Address.parse('0:' + '22'.repeat(32));
    test('comma-separated addresses', () => {
        const list = parseAddressList('candidates', `${ADDR.toString()}, ${other.toRawString()}`);
        expect(list.map((a) => a.toRawString())).toEqual([ADDR.toRawString(), other.toRawString()]);
    });
    test.each([
        ['', '--candidates: expected one or more comma-separated TON addresses, got an empty list'],
        ['x', '--candidates: entry 1: expected a TON address (EQ…, UQ…, kQ…, 0Q… or 0:<64 hex>), got "x"'],
        [`${ADDR.toRawString()},${ADDR.toString()}`, `--candidates: entry 2: "${ADDR.toString()}" is listed twice`],
    ])('rejects %j', (v, message) => {
        expect(() => parseAddressList('candidates', v)).toThrow(new Error(message));
    });
    test('at most max', () => {
        expect(() => parseAddressList('candidates', `${ADDR.toRawString()},${other.toRawString()}`, { max: 1 })).toThrow(
            new Error('--candidates: at most 1 addresses, got 2'),
        );
    });
});

describe('parseDuration', () => {
    test.each([
        ['600', 600],
        ['600s', 600],
        ['10m', 600],
        ['2h', 7200],
        ['7d', 604800],
        ['0', 0],
    ])('accepts %j', (v, expected) => {
        expect(parseDuration('deadline', v)).toBe(expected);
    });

    test.each([
        ['10 minutes', '--deadline: expected a duration in seconds or with a unit s/m/h/d (e.g. 600, 10m, 1h, 7d), got "10 minutes"'],
        ['-5', '--deadline: expected a duration in seconds or with a unit s/m/h/d (e.g. 600, 10m, 1h, 7d), got "-5"'],
        ['1.5h', '--deadline: expected a duration in seconds or with a unit s/m/h/d (e.g. 600, 10m, 1h, 7d), got "1.5h"'],
        ['1w', '--deadline: expected a duration in seconds or with a unit s/m/h/d (e.g. 600, 10m, 1h, 7d), got "1w"'],
        ['', '--deadline: expected a duration in seconds or with a unit s/m/h/d (e.g. 600, 10m, 1h, 7d), got ""'],
    ])('rejects %j', (v, message) => {
        expect(() => parseDuration('deadline', v)).toThrow(new Error(message));
    });

    test('bounds', () => {
        expect(() => parseDuration('deadline', '30', { min: 60 })).toThrow(new Error('--deadline: at least 60 s (1m), got 30 s'));
        expect(() => parseDuration('cooldown', '2d', { max: 86400 })).toThrow(new Error('--cooldown: at most 86400 s (1d), got 172800 s'));
        expect(parseDuration('cooldown', '1d', { max: 86400 })).toBe(86400);
    });

    test('formatDuration', () => {
        expect(formatDuration(0)).toBe('0s');
        expect(formatDuration(600)).toBe('10m');
        expect(formatDuration(90061)).toBe('1d 1h 1m 1s');
    });
});

describe('integers, basis points, network ids, names, choices', () => {
    test('parseInteger', () => {
        expect(parseInteger('n', '-3', { min: -5, max: 5 })).toBe(-3);
        expect(() => parseInteger('n', '6', { min: -5, max: 5 })).toThrow(new Error('--n: expected an integer from -5 to 5, got "6"'));
        expect(() => parseInteger('n', '1.0', { min: -5, max: 5 })).toThrow(new Error('--n: expected an integer from -5 to 5, got "1.0"'));
    });

    test('parseBps', () => {
        expect(parseBps('fee-bps', '250', { max: 1000 })).toBe(250);
        expect(() => parseBps('fee-bps', '1001', { max: 1000 })).toThrow(new Error('--fee-bps: expected basis points from 0 to 1000 (0 % to 10 %), got "1001"'));
        expect(() => parseBps('lock-ratio-bps', '9999', { min: 10000, max: 100000 })).toThrow(
            new Error('--lock-ratio-bps: expected basis points from 10000 to 100000 (100 % to 1000 %), got "9999"'),
        );
        expect(() => parseBps('fee-bps', '2.5%', { max: 1000 })).toThrow(new Error('--fee-bps: expected basis points from 0 to 1000 (0 % to 10 %), got "2.5%"'));
    });

    test('parseNetworkId', () => {
        expect(parseNetworkId('network-id', 'mainnet')).toBe(-239);
        expect(parseNetworkId('network-id', 'testnet')).toBe(-3);
        expect(parseNetworkId('network-id', 'devnet')).toBe(0x434f43);
        expect(parseNetworkId('network-id', '-3')).toBe(-3);
        expect(parseNetworkId('network-id', '2147483647')).toBe(2147483647);
        for (const bad of ['2147483648', 'Mainnet', 'local', '']) {
            expect(() => parseNetworkId('network-id', bad)).toThrow(
                new Error(`--network-id: expected mainnet, testnet, devnet or a signed 32-bit integer, got ${JSON.stringify(bad)}`),
            );
        }
    });

    test('parseDeploymentName', () => {
        expect(parseDeploymentName('network', 'my-devnet_2')).toBe('my-devnet_2');
        expect(() => parseDeploymentName('network', '../etc')).toThrow(
            new Error('--network: expected a name of letters, digits, \'-\' or \'_\' (e.g. testnet), got "../etc"'),
        );
    });

    test('parseChoice', () => {
        expect(parseChoice('kind', 'model', ['measurement', 'model'])).toBe('model');
        expect(() => parseChoice('kind', 'models', ['measurement', 'model'])).toThrow(new Error('--kind: expected one of measurement, model, got "models"'));
    });

    test('parseEndpoint', () => {
        expect(parseEndpoint('endpoint', ' https://a.example ', 120)).toBe('https://a.example');
        expect(() => parseEndpoint('endpoint', 'x'.repeat(121), 120)).toThrow(new Error('--endpoint: at most 120 bytes, got 121'));
        expect(() => parseEndpoint('endpoint', 'é'.repeat(61), 120)).toThrow(new Error('--endpoint: at most 120 bytes, got 122'));
        expect(() => parseEndpoint('endpoint', '  ', 120)).toThrow(
            new Error('--endpoint: expected the endpoint where clients reach the worker (e.g. https://worker.example/cocoon), got an empty string'),
        );
    });

    test('parseJobRef', () => {
        expect(parseJobRef('job', '12')).toEqual({ id: 12n });
        const ref = parseJobRef('job', ADDR.toString());
        expect('address' in ref && ref.address.equals(ADDR)).toBe(true);
        expect(() => parseJobRef('job', '-1')).toThrow(new Error('--job: expected a job id (0, 1, …) or a job contract address, got "-1"'));
        expect(() => parseJobRef('job', 'first')).toThrow(new Error('--job: expected a job id (0, 1, …) or a job contract address, got "first"'));
    });
});

describe('parseModelPrices', () => {
    const H2 = 'cd'.repeat(32);
    test('hash=price entries, with an .onnx path as the hash', () => {
        const file = path.join(tmp, 'vad.onnx');
        fs.writeFileSync(file, 'vad');
        const m = parseModelPrices('models', `${H}=1.5, ${file}=0.25`);
        expect([...m]).toEqual([
            [BigInt('0x' + H), toNano('1.5')],
            [BigInt('0x' + createHash('sha256').update('vad').digest('hex')), toNano('0.25')],
        ]);
    });
    test.each([
        ['', '--models: expected one or more <model hash>=<price in TON> entries, got an empty list'],
        [H, `--models: entry 1: expected <model hash>=<price in TON>, got "${H.slice(0, 45)}..."`],
        [`${H}=1,=2`, '--models: entry 2: expected <model hash>=<price in TON>, got "=2"'],
        [`${H}=1,abc=2`, '--models entry 2: expected a 256-bit hash as 64 hex characters (0x prefix optional) or the path of an existing file, got "abc"'],
        [`${H}=free`, '--models entry 1: expected an amount in TON like 1.5 (at most 9 decimals), got "free"'],
        [`${H}=0`, '--models entry 1: must be more than 0 TON, got "0"'],
        [`${H}=1,0x${H}=2`, `--models: entry 2: model 0x${H} is listed twice`],
    ])('rejects %j', (v, message) => {
        expect(() => parseModelPrices('models', v)).toThrow(new Error(message));
    });
    test('at most max', () => {
        expect(() => parseModelPrices('models', `${H}=1,${H2}=1`, { max: 1 })).toThrow(new Error('--models: at most 1 models, got 2'));
    });
});

describe('Args', () => {
    const spec: ScriptSpec = {
        name: 'demo',
        summary: 'a demo',
        options: [
            { name: 'amount', help: 'TON to stake' },
            { name: 'all', help: 'everything', flag: true },
            { name: 'registry', help: 'registry address', env: true },
        ],
    };
    const parse = (argv: string[], env: NodeJS.ProcessEnv = {}, interactive = false, ui = new NonInteractiveUI()) =>
        Args.parse(spec, argv, { env, interactive, ui });

    test('--name value, --name=value, name=value, flags, and a leading --', () => {
        expect(parse(['--amount', '1']).raw('amount')).toBe('1');
        expect(parse(['--amount=1.5']).raw('amount')).toBe('1.5');
        expect(parse(['amount=2']).raw('amount')).toBe('2');
        expect(parse(['--', '--amount', '-3']).raw('amount')).toBe('-3');
        const a = parse(['--all']);
        expect(a.flag('all')).toBe(true);
        expect(a.has('amount')).toBe(false);
        expect(parse([]).flag('all')).toBe(false);
    });

    test.each([
        [['--amout', '1'], 'unknown argument --amout for demo (run it with --help to list its arguments)'],
        [['1'], 'unexpected argument "1": give arguments as --name value (run demo with --help to list them)'],
        [['--amount'], '--amount needs a value: TON to stake'],
        [['--amount', '--all'], '--amount needs a value: TON to stake'],
        [['--amount', '1', '--amount=2'], '--amount is given twice'],
        [['--all=no'], '--all is a flag and takes no value'],
    ])('rejects %j', (argv, message) => {
        expect(() => parse(argv)).toThrow(new Error(message));
    });

    test('env fallback only for options that declare it; the command line wins', () => {
        const env = { COCOON_REGISTRY: 'EQ-from-env', COCOON_AMOUNT: '5' };
        expect(parse([], env).raw('registry')).toBe('EQ-from-env');
        expect(parse(['--registry', 'EQ-from-cli'], env).raw('registry')).toBe('EQ-from-cli');
        expect(parse([], env).raw('amount')).toBeUndefined();
    });

    test('required: parsed when given, an error when missing and not interactive', async () => {
        expect(await parse(['--amount', '2']).required('amount', parseTon)).toBe(toNano('2'));
        await expect(parse([]).required('amount', parseTon)).rejects.toThrow(new Error('missing argument --amount: TON to stake'));
        await expect(parse(['--amount', 'x']).required('amount', parseTon)).rejects.toThrow(
            new Error('--amount: expected an amount in TON like 1.5 (at most 9 decimals), got "x"'),
        );
    });

    test('required: asks through the UI when interactive, and validates the answer', async () => {
        const asked: string[] = [];
        const ui = Object.assign(new NonInteractiveUI(), {
            input: async (m: string) => {
                asked.push(m);
                return asked.length === 1 ? '3' : 'three';
            },
        });
        expect(await parse([], {}, true, ui).required('amount', parseTon)).toBe(toNano('3'));
        expect(asked).toEqual(['--amount (TON to stake):']);
        await expect(parse([], {}, true, ui).required('amount', parseTon)).rejects.toThrow(
            new Error('--amount: expected an amount in TON like 1.5 (at most 9 decimals), got "three"'),
        );
    });

    test('optional with a fallback', () => {
        expect(parse([]).optional('amount', parseTon, 7n)).toBe(7n);
        expect(parse(['--amount', '1']).optional('amount', parseTon, 7n)).toBe(toNano('1'));
    });

    test('usage lists every option', () => {
        const u = parse([]).usage();
        expect(u).toContain('demo: a demo');
        expect(u).toContain('--amount <value>');
        expect(u).toContain('--all ');
        expect(u).toContain('[env COCOON_REGISTRY]');
    });
});

describe('network parameters', () => {
    const spec: ScriptSpec = { name: 'setParams', summary: '', options: PARAM_OPTIONS };
    const parse = (argv: string[]) => Args.parse(spec, argv, { env: {}, interactive: false });

    test('only the given ones change', () => {
        const { params, changed } = paramsFromArgs(parse(['--fee-bps', '100', '--cooldown', '1d', '--min-stake', '5']), DEFAULT_PARAMS);
        expect(params).toEqual({ ...DEFAULT_PARAMS, protocolFeeBps: 100n, unstakeCooldown: 86400n, minProviderStake: toNano('5') });
        expect(changed).toEqual(['min-stake', 'cooldown', 'fee-bps']);
    });

    test.each([
        [['--fee-bps', '1001'], '--fee-bps: expected basis points from 0 to 1000 (0 % to 10 %), got "1001"'],
        [['--slash-bps', '10001'], '--slash-bps: expected basis points from 0 to 10000 (0 % to 100 %), got "10001"'],
        [['--lock-ratio-bps', '5000'], '--lock-ratio-bps: expected basis points from 10000 to 100000 (100 % to 1000 %), got "5000"'],
        [['--cooldown', '366d'], '--cooldown: at most 31536000 s (365d), got 31622400 s'],
        [['--dispute-window', '31d'], '--dispute-window: at most 2592000 s (30d), got 2678400 s'],
        [['--max-job-duration', '0'], '--max-job-duration: at least 1 s (1s), got 0 s'],
    ])('the registry bounds: %j', (argv, message) => {
        expect(() => paramsFromArgs(parse(argv), DEFAULT_PARAMS)).toThrow(new Error(message));
    });
});

describe('deployment files', () => {
    test('written atomically, read back, and named after the network', () => {
        const d = {
            network: 'devnet',
            networkId: 0x434f43,
            chain: 'custom',
            registry: ADDR.toString(),
            owner: ADDR.toString(),
            treasury: ADDR.toString(),
            params: {},
            deployedAt: '2027-01-01T00:00:00.000Z',
        };
        const dir = path.join(tmp, 'deployments');
        const file = writeDeployment(d, dir);
        expect(file).toBe(deploymentFile('devnet', dir));
        expect(fs.readdirSync(dir)).toEqual(['devnet.json']);
        expect(readDeployment('devnet', dir)).toEqual(d);
        expect(readDeployment('testnet', dir)).toBeUndefined();
        expect(defaultDeploymentName('custom')).toBe('devnet');
        expect(defaultDeploymentName('testnet')).toBe('testnet');
        expect(defaultDeploymentName('testnet', 'https://testnet.toncenter.com/api/v2/jsonRPC')).toBe('testnet');
        expect(defaultDeploymentName('testnet', 'http://127.0.0.1:8081/jsonRPC')).toBe('devnet');
        expect(defaultDeploymentName('testnet', 'http://localhost:8081/jsonRPC')).toBe('devnet');
        expect(defaultDeploymentName('mainnet', 'https://node.example/jsonRPC')).toBe('mainnet');
    });

    test('a broken file is reported', () => {
        const dir = path.join(tmp, 'broken');
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, 'devnet.json'), '{"registry": "nope"}');
        expect(() => readDeployment('devnet', dir)).toThrow(new Error(`${path.join(dir, 'devnet.json')}: "registry" is not a TON address: "nope"`));
        fs.writeFileSync(path.join(dir, 'devnet.json'), '{');
        expect(() => readDeployment('devnet', dir)).toThrow(/devnet\.json is not valid JSON: /);
    });
});

test('hex256 and when', () => {
    expect(hex256(1n)).toBe('0x' + '0'.repeat(63) + '1');
    expect(when(1_800_000_600, 1_800_000_000)).toBe(`${new Date(1_800_000_600_000).toISOString()} (in 10m)`);
    expect(when(1_800_000_000, 1_800_000_600)).toBe(`${new Date(1_800_000_000_000).toISOString()} (10m ago)`);
});
