/**
 * The shape every `cocoon` subcommand implements. A command declares its options so that `--help`, validation
 * and config merging (flags > env > config file > defaults) are handled once, in args.ts.
 */
export type OptionType = 'string' | 'number' | 'boolean' | 'list';

export interface OptionSpec {
    /** Long flag name without dashes, e.g. `port` for `--port`. */
    name: string;
    type: OptionType;
    description: string;
    /** Environment variable that supplies the value when the flag is absent, e.g. `COCOON_PORT`. */
    env?: string;
    default?: string | number | boolean | string[];
    required?: boolean;
}

export interface ParsedArgs {
    /** Positional arguments after the command path. */
    positionals: string[];
    /** Option values after merging flags, env, config file and defaults. */
    options: Record<string, string | number | boolean | string[] | undefined>;
    json: boolean;
}

export interface CommandIO {
    /** Machine or human output (stdout). */
    out(line: string): void;
    /** Progress and diagnostics (stderr); silent when --json is set unless it is an error. */
    progress(line: string): void;
    error(line: string): void;
}

export interface Command {
    /** Command path, e.g. ['attest', 'verify']. */
    path: string[];
    summary: string;
    /** Usage line after `cocoon <path>`, e.g. '<quote-file> [--json]'. */
    usage: string;
    /** A complete example invocation shown in --help. */
    example: string;
    options: OptionSpec[];
    /** Returns the process exit code. Throw UsageError for bad input the user can fix. */
    run(args: ParsedArgs, io: CommandIO): Promise<number>;
}

/** Bad input the user can fix: printed as `cocoon <cmd>: <message>` with exit code 2, and the command's usage. */
export class UsageError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'UsageError';
    }
}
