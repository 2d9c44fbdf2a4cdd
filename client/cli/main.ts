import { formatHelp, parseArgs } from './args';
import { Command, CommandIO, UsageError } from './command';
import { commands } from './registry';

/** Entry point of the `cocoon` binary: finds the longest matching command path, then parses and runs it. */
export async function main(argv: string[], io: CommandIO = stdio(argv.includes('--json'))): Promise<number> {
    const command = findCommand(argv);
    if (!command) {
        const wantsHelp = argv.length === 0 || argv[0] === '--help' || argv[0] === 'help';
        (wantsHelp ? io.out : io.error)(topLevelHelp(wantsHelp ? undefined : argv.filter((a) => !a.startsWith('--')).join(' ')));
        return wantsHelp ? 0 : 2;
    }
    const rest = argv.slice(command.path.length);
    if (rest.includes('--help') || rest.includes('-h')) {
        io.out(formatHelp(command));
        return 0;
    }
    try {
        const args = parseArgs(command, rest);
        return await command.run(args, io);
    } catch (e) {
        if (e instanceof UsageError) {
            io.error(`cocoon ${command.path.join(' ')}: ${e.message}\nUsage: cocoon ${command.path.join(' ')} ${command.usage}\nRun with --help for details.`);
            return 2;
        }
        throw e;
    }
}

function findCommand(argv: string[]): Command | undefined {
    let best: Command | undefined;
    for (const c of commands) {
        if (c.path.every((p, i) => argv[i] === p) && (!best || c.path.length > best.path.length)) best = c;
    }
    return best;
}

function topLevelHelp(unknown?: string): string {
    const width = Math.max(...commands.map((c) => c.path.join(' ').length));
    return [
        ...(unknown !== undefined ? [`cocoon: unknown command "${unknown}"`, ''] : []),
        'Usage: cocoon <command> [options]   (every command takes --help and --json)',
        '',
        'Commands:',
        ...commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`),
    ].join('\n');
}

export function stdio(json: boolean): CommandIO {
    return {
        out: (line) => process.stdout.write(line + '\n'),
        progress: (line) => {
            if (!json) process.stderr.write(line + '\n');
        },
        error: (line) => process.stderr.write(line + '\n'),
    };
}
