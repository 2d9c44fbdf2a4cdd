import type { NetworkProvider, SenderWithSendResult, UIProvider } from '@ton/blueprint';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, Cell, Contract, ContractProvider, ContractState, OpenedContract, SenderArguments } from '@ton/core';
import { loadConfigParamsAsSlice, parseFullConfig } from '@ton/ton';

/**
 * A Blueprint NetworkProvider over a @ton/sandbox Blockchain, so that scripts' `run(provider, args)` can be tested
 * without a network. The sender is a sandbox treasury; every message it sends is processed to the end before
 * `send` returns, so the scripts' polling sees the new state on its first look. `ui()` is non-interactive: it
 * records what the script writes and refuses to prompt.
 */

type Network = ReturnType<NetworkProvider['network']>;
type Explorer = ReturnType<NetworkProvider['explorer']>;

export class NonInteractiveUI implements UIProvider {
    readonly lines: string[] = [];
    constructor(private readonly echo = false) {}
    write(message: string): void {
        this.lines.push(message);
        if (this.echo) console.log(message);
    }
    private refuse(message: string): never {
        throw new Error(`non-interactive UI: cannot prompt "${message}"`);
    }
    async prompt(message: string): Promise<boolean> {
        return this.refuse(message);
    }
    async inputAddress(message: string): Promise<Address> {
        return this.refuse(message);
    }
    async input(message: string): Promise<string> {
        return this.refuse(message);
    }
    async choose<T>(message: string): Promise<T> {
        return this.refuse(message);
    }
    setActionPrompt(): void {}
    clearActionPrompt(): void {}
}

export interface SandboxProviderOptions {
    network?: Network;
    ui?: UIProvider;
}

export class SandboxNetworkProvider implements NetworkProvider {
    readonly ui_: UIProvider;
    /** Messages the sender sent (each one a wallet transfer), to assert that a rejected script sent nothing. */
    readonly sent: SenderArguments[] = [];
    private readonly sender_: SenderWithSendResult;

    constructor(
        readonly blockchain: Blockchain,
        readonly wallet: SandboxContract<TreasuryContract>,
        private readonly opts: SandboxProviderOptions = {},
    ) {
        this.ui_ = opts.ui ?? new NonInteractiveUI();
        const sent = this.sent;
        this.sender_ = {
            address: wallet.address,
            // the opened treasury runs the whole message tree before returning
            send: async (args: SenderArguments) => {
                sent.push(args);
                await wallet.send(args);
            },
        };
    }

    /** The chain's clock (the scripts read it for deadlines and cooldowns). */
    now(): number {
        return this.blockchain.now ?? Math.floor(Date.now() / 1000);
    }

    network(): Network {
        return this.opts.network ?? 'custom';
    }

    explorer(): Explorer {
        return 'tonviewer';
    }

    sender(): SenderWithSendResult {
        return this.sender_;
    }

    api(): ReturnType<NetworkProvider['api']> {
        throw new Error('the sandbox provider has no TON client API');
    }

    provider(address: Address, init?: { code?: Cell; data?: Cell }): ContractProvider {
        const full = init && init.code && init.data ? { code: init.code, data: init.data } : undefined;
        return this.blockchain.provider(address, full);
    }

    async isContractDeployed(address: Address): Promise<boolean> {
        return (await this.blockchain.getContract(address)).accountState?.type === 'active';
    }

    async waitForDeploy(address: Address, attempts = 20, sleepDuration = 0): Promise<void> {
        for (let i = 0; i < attempts; i++) {
            if (await this.isContractDeployed(address)) return;
            if (sleepDuration > 0) await new Promise((r) => setTimeout(r, Math.min(sleepDuration, 50)));
        }
        throw new Error(`contract ${address.toString()} was not deployed after ${attempts} attempts`);
    }

    async waitForLastTransaction(): Promise<void> {}

    async getContractState(address: Address): Promise<ContractState> {
        return this.blockchain.provider(address).getState();
    }

    async getConfig(): Promise<ReturnType<typeof parseFullConfig>> {
        return parseFullConfig(loadConfigParamsAsSlice(this.blockchain.configBase64));
    }

    async deploy(contract: Contract, value: bigint, body?: Cell): Promise<void> {
        if (!contract.init) throw new Error('deploy: the contract has no init');
        await this.sender_.send({ to: contract.address, value, init: contract.init, body });
    }

    open<T extends Contract>(contract: T): OpenedContract<T> {
        return this.blockchain.openContract(contract) as unknown as OpenedContract<T>;
    }

    ui(): UIProvider {
        return this.ui_;
    }

    /** Lines the script wrote through ui().write (with the default non-interactive UI). */
    get lines(): string[] {
        return this.ui_ instanceof NonInteractiveUI ? this.ui_.lines : [];
    }
}

export function sandboxProvider(blockchain: Blockchain, wallet: SandboxContract<TreasuryContract>, opts?: SandboxProviderOptions): SandboxNetworkProvider {
    return new SandboxNetworkProvider(blockchain, wallet, opts);
}
