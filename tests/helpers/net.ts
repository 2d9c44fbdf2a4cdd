/** A TCP port on 127.0.0.1 that was free a moment ago (for servers that tests start): the one `cocoon up` uses. */
export { freePort } from '../../localnet/ports';
