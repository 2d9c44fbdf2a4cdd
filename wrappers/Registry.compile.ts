import { CompilerConfig } from '@ton/blueprint';

export const compile: CompilerConfig = {
    lang: 'tact',
    target: 'contracts/registry.tact',
    // nullChecks off: every `!!` in contracts/ follows an explicit null or state check (status, approval != null),
    // so the compiler's extra run-time check only cost gas (~1,100 per job lifecycle).
    options: { debug: false, external: false, safety: { nullChecks: false } },
};
