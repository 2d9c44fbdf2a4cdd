import { CompilerConfig } from '@ton/blueprint';

export const compile: CompilerConfig = {
    lang: 'tact',
    target: 'contracts/code_librarian.tact',
    options: { debug: false, external: false, safety: { nullChecks: false } },
};
