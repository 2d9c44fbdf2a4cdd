import type { UIProvider } from '@ton/blueprint';

/**
 * Command-line arguments of the Cocoon scripts. Blueprint hands a script the words after its name; because
 * Blueprint itself rejects options it does not know, put the script's own options after `--`:
 *
 *   npx blueprint run openJob --testnet --tonconnect -- --model <hash> --max-price 2 --deadline 10m
 *
 * Accepted forms: `--name value`, `--name=value`, `name=value`, and bare `--flag` for flags. Options marked `env`
 * may also come from COCOON_<NAME> (upper case, dashes as underscores) when not given on the command line.
 */

export interface OptionSpec {
    name: string;
    /** What the value is, for --help, for the interactive prompt and for the "missing argument" error. */
    help: string;
    /** A boolean flag that takes no value. */
    flag?: boolean;
    /** Read COCOON_<NAME> when the option is not on the command line. */
    env?: boolean;
}

export interface ScriptSpec {
    name: string;
    summary: string;
    options: OptionSpec[];
    /** Common options this script does not take (deployRegistry computes the registry address itself). */
    without?: string[];
}

/** Options every script that talks to a registry understands. */
export const COMMON_OPTIONS: OptionSpec[] = [
    { name: 'registry', help: 'registry address (default: from deployments/<network>.json)', env: true },
    { name: 'network', help: 'deployment name, deployments/<network>.json (default: mainnet or testnet; devnet for a local --custom endpoint)', env: true },
    { name: 'deployments', help: 'folder of the deployment files (default: ./deployments)', env: true },
    { name: 'timeout', help: 'how long to wait for the change on-chain, e.g. 90 or 3m (default: 120 s)', env: true },
    { name: 'help', help: 'print the arguments of this script and exit', flag: true },
];

export function envName(option: string): string {
    return 'COCOON_' + option.toUpperCase().replace(/-/g, '_');
}

/** True when missing arguments may be asked for: a terminal on stdin and COCOON_NON_INTERACTIVE unset. */
export function isInteractive(): boolean {
    return Boolean(process.stdin.isTTY) && !process.env.COCOON_NON_INTERACTIVE && !process.env.CI;
}

export class Args {
    private constructor(
        readonly spec: ScriptSpec,
        private readonly values: Map<string, string>,
        private readonly ui: UIProvider | undefined,
        readonly interactive: boolean,
    ) {}

    /** Parses argv against the spec; unknown, repeated or malformed options throw. */
    static parse(spec: ScriptSpec, argv: string[], opts: { ui?: UIProvider; interactive?: boolean; env?: NodeJS.ProcessEnv } = {}): Args {
        const byName = new Map(spec.options.map((o) => [o.name, o]));
        const values = new Map<string, string>();
        const set = (name: string, value: string) => {
            if (values.has(name)) throw new Error(`--${name} is given twice`);
            values.set(name, value);
        };
        for (let i = 0; i < argv.length; i++) {
            const word = argv[i];
            if (word === '--') continue;
            let name: string;
            let inline: string | undefined;
            if (word.startsWith('--')) {
                const eq = word.indexOf('=');
                name = eq < 0 ? word.slice(2) : word.slice(2, eq);
                inline = eq < 0 ? undefined : word.slice(eq + 1);
            } else {
                const m = /^([a-z][a-z0-9-]*)=(.*)$/s.exec(word);
                if (!m) {
                    throw new Error(`unexpected argument ${JSON.stringify(word)}: give arguments as --name value (run ${spec.name} with --help to list them)`);
                }
                name = m[1];
                inline = m[2];
            }
            const opt = byName.get(name);
            if (!opt) throw new Error(`unknown argument --${name} for ${spec.name} (run it with --help to list its arguments)`);
            if (opt.flag) {
                if (inline !== undefined && !['true', '1', 'yes'].includes(inline)) throw new Error(`--${name} is a flag and takes no value`);
                set(name, 'true');
                continue;
            }
            if (inline !== undefined) {
                set(name, inline);
                continue;
            }
            const next = argv[i + 1];
            if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new Error(`--${name} needs a value: ${opt.help}`);
            set(name, next);
            i++;
        }
        const env = opts.env ?? process.env;
        for (const o of spec.options) {
            if (o.env && !values.has(o.name)) {
                const v = env[envName(o.name)];
                if (v !== undefined && v !== '') values.set(o.name, v);
            }
        }
        return new Args(spec, values, opts.ui, opts.interactive ?? isInteractive());
    }

    has(name: string): boolean {
        return this.values.has(this.known(name));
    }

    raw(name: string): string | undefined {
        return this.values.get(this.known(name));
    }

    flag(name: string): boolean {
        return this.values.get(this.known(name)) === 'true';
    }

    /** The parsed value of an optional argument, or `fallback` when it is absent. */
    optional<T>(name: string, parse: (name: string, value: string) => T): T | undefined;
    optional<T>(name: string, parse: (name: string, value: string) => T, fallback: T): T;
    optional<T>(name: string, parse: (name: string, value: string) => T, fallback?: T): T | undefined {
        const v = this.raw(name);
        return v === undefined ? fallback : parse(name, v);
    }

    /**
     * The parsed value of a required argument. When it is missing, asks for it through Blueprint's UI if the run
     * is interactive, and otherwise throws `missing argument --<name>: <help>`.
     */
    async required<T>(name: string, parse: (name: string, value: string) => T): Promise<T> {
        const v = this.raw(name);
        if (v !== undefined) return parse(name, v);
        const opt = this.spec.options.find((o) => o.name === name)!;
        if (!this.interactive || !this.ui) throw new Error(`missing argument --${name}: ${opt.help}`);
        const answer = await this.ui.input(`--${name} (${opt.help}):`);
        return parse(name, answer);
    }

    /** The usage text for --help. */
    usage(): string {
        const width = Math.max(...this.spec.options.map((o) => o.name.length + (o.flag ? 2 : 10)));
        const lines = this.spec.options.map((o) => {
            const left = o.flag ? `--${o.name}` : `--${o.name} <value>`;
            return `  ${left.padEnd(width + 2)} ${o.help}${o.env ? ` [env ${envName(o.name)}]` : ''}`;
        });
        return [
            `${this.spec.name}: ${this.spec.summary}`,
            '',
            `usage: npx blueprint run ${this.spec.name} <--testnet|--mainnet|--custom …> <--tonconnect|--mnemonic> -- [arguments]`,
            '',
            ...lines,
        ].join('\n');
    }

    private known(name: string): string {
        if (!this.spec.options.some((o) => o.name === name)) throw new Error(`internal: ${this.spec.name} does not declare --${name}`);
        return name;
    }
}
