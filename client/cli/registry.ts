import { Command } from './command';

/**
 * Every `cocoon` subcommand, in the order `cocoon --help` lists them. Each lives in commands/<area>.ts.
 */
export const commands: Command[] = [];
