import * as fs from 'fs';
import { Command, OptionSpec, ParsedArgs, UsageError } from './command';

/**
 * Parses argv for one command. Precedence: command-line flag, then the option's environment variable, then the
 * config file (`--config <file>` or env COCOON_CONFIG: a JSON object whose keys are option names), then the
 * declared default. Every value is validated against its declared type with a message naming the option.
 */
export function parseArgs(command: Command, argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
    const specs = new Map<string, OptionSpec>(command.options.map((o) => [o.name, o]));
    const flags: Record<string, string | boolean | string[]> = {};
    const positionals: string[] = [];
    let json = false;
    let configPath: string | undefined = env.COCOON_CONFIG;

    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === '--') {
            positionals.push(...argv.slice(i + 1));
            break;
        }
        if (!arg.startsWith('--')) {
            positionals.push(arg);
            continue;
        }
        const eq = arg.indexOf('=');
        const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
        const inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
        if (name === 'json') {
            json = true;
            continue;
        }
        if (name === 'config') {
            configPath = inline ?? argv[++i];
            if (!configPath) throw new UsageError('--config needs a file path');
            continue;
        }
        const spec = specs.get(name);
        if (!spec) throw new UsageError(`unknown option --${name} (see --help)`);
        if (spec.type === 'boolean') {
            flags[name] = inline === undefined ? true : inline !== 'false';
            continue;
        }
        const value = inline ?? argv[++i];
        if (value === undefined || (inline === undefined && value.startsWith('--'))) {
            throw new UsageError(`--${name} needs a value`);
        }
        if (spec.type === 'list') {
            flags[name] = [...((flags[name] as string[]) ?? []), value];
        } else {
            flags[name] = value;
        }
    }

    const fileConfig = configPath ? readConfigFile(configPath) : {};
    const options: ParsedArgs['options'] = {};
    for (const spec of command.options) {
        let raw: unknown = flags[spec.name];
        let source = `--${spec.name}`;
        if (raw === undefined && spec.env && env[spec.env] !== undefined) {
            raw = spec.type === 'list' ? env[spec.env]!.split(',').filter(Boolean) : env[spec.env];
            source = `env ${spec.env}`;
        }
        if (raw === undefined && fileConfig[spec.name] !== undefined) {
            raw = fileConfig[spec.name];
            source = `${configPath}: "${spec.name}"`;
        }
        if (raw === undefined) raw = spec.default;
        if (raw === undefined) {
            if (spec.required) throw new UsageError(`missing --${spec.name}: ${spec.description}`);
            continue;
        }
        options[spec.name] = coerce(spec, raw, source);
    }
    return { positionals, options, json };
}

function coerce(spec: OptionSpec, raw: unknown, source: string): string | number | boolean | string[] {
    switch (spec.type) {
        case 'number': {
            const n = typeof raw === 'number' ? raw : Number(raw);
            if (typeof raw === 'boolean' || raw === '' || !Number.isFinite(n)) {
                throw new UsageError(`${source} must be a number, got ${JSON.stringify(raw)}`);
            }
            return n;
        }
        case 'boolean':
            if (typeof raw === 'boolean') return raw;
            if (raw === 'true' || raw === '1') return true;
            if (raw === 'false' || raw === '0') return false;
            throw new UsageError(`${source} must be true or false, got ${JSON.stringify(raw)}`);
        case 'list':
            if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return raw as string[];
            if (typeof raw === 'string') return [raw];
            throw new UsageError(`${source} must be a list of strings`);
        default:
            if (typeof raw === 'string') return raw;
            if (typeof raw === 'number') return String(raw);
            throw new UsageError(`${source} must be a string, got ${JSON.stringify(raw)}`);
    }
}

function readConfigFile(path: string): Record<string, unknown> {
    let text: string;
    try {
        text = fs.readFileSync(path, 'utf8');
    } catch (e) {
        throw new UsageError(`cannot read config file ${path}: ${(e as Error).message}`);
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (e) {
        throw new UsageError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new UsageError(`config file ${path} must hold a JSON object of option names to values`);
    }
    return parsed as Record<string, unknown>;
}

export function formatHelp(command: Command): string {
    const lines = [`Usage: cocoon ${command.path.join(' ')} ${command.usage}`.trimEnd(), '', command.summary, ''];
    const opts = [
        ...command.options.map((o) => {
            const flag = o.type === 'boolean' ? `--${o.name}` : `--${o.name} <${o.type === 'list' ? 'value…' : o.type}>`;
            const extra = [o.env ? `env ${o.env}` : '', o.default !== undefined ? `default ${JSON.stringify(o.default)}` : '']
                .filter(Boolean)
                .join(', ');
            return [flag, o.description + (extra ? ` (${extra})` : '')];
        }),
        ['--json', 'print one JSON object for machines instead of text'],
        ['--config <file>', 'JSON file of option values (env COCOON_CONFIG); flags and env override it'],
        ['--help', 'show this help'],
    ];
    const width = Math.max(...opts.map(([f]) => f.length));
    lines.push('Options:');
    for (const [flag, desc] of opts) lines.push(`  ${flag.padEnd(width)}  ${desc}`);
    lines.push('', 'Example:', `  ${command.example}`);
    return lines.join('\n');
}
